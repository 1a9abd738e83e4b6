"""The package's import graph: no module of dataprep imports, directly or through others, a module that
imports it back.

An import circle is a seam placed one module too high (the object two layers exchange should sit below
both), so this test parses every module's imports with ``ast``, those inside functions included (a deferred
import hides a circle from Python, not from the design), and fails naming each circle it finds.
"""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "dataprep"
BOTTOM = ("dataprep.batch", "dataprep.errors", "dataprep.limits", "dataprep.version")  # import no dataprep module


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, for its ``__init__.py``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Each dataprep module and the dataprep modules it imports anywhere in its body."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[:len(here) - node.level + 1] + [node.module or ""]).strip(".") \
                    if node.level else node.module or ""
                targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
        deps = set()
        for target in targets:
            while target not in modules and "." in target:  # an attribute of a module: the module
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name:
                deps.add(target)
        graph[name] = deps
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle ``[a, b, ..., a]`` through each group of modules that import each other (Tarjan's strongly
    connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:  # v is the first of its group on the stack: pop the group
            group = {stack.pop()}
            while v not in group:
                group.add(stack.pop())
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_path_back(min(g), g, graph) for g in groups]


def _path_back(start: str, group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """The shortest import path from ``start`` back to itself inside ``group``."""
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for w in sorted(graph[path[-1]] & group):
            if w == start:
                return path + [start]
            if w not in seen:
                seen.add(w)
                paths.append(path + [w])
    return [start]


def test_the_graph_sees_relative_absolute_and_deferred_imports():
    graph = import_graph()
    assert "dataprep.batch" in graph["dataprep.columns"]  # from .batch import ... at the top
    assert "dataprep.sources.csv_files" in graph["dataprep.sources"]  # from .csv_files import ...
    assert "dataprep.encode.parse" in graph["dataprep.sources.tfrecord_files"]  # imported in a function
    assert "dataprep.readers" in graph["dataprep"]  # from . import readers, in a function
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_circles():
    found = circles(import_graph())
    assert not found, "import circles: " + "; ".join(" -> ".join(c) for c in found)


def test_the_bottom_modules_import_no_dataprep_module():
    graph = import_graph()
    assert {m: sorted(graph[m]) for m in BOTTOM if graph[m]} == {}
