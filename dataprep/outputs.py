"""What a conversion may replace, delete, or must not read back as input: dataprep's own files, known by content.

A conversion writes three kinds of things among a user's files, and each is recognised by what it holds, not
by its name alone:

- an output folder: a ``manifest.json`` with the ``dataprep_manifest`` key, plus only the files it lists (shards
  and record indexes) and ``stats.json``;
- a work folder: ``.{out}.partial`` beside the output, holding ``run.json`` (see :mod:`dataprep.workdir`);
- a quarantine CSV: its first line starts with :data:`QUARANTINE_HEADER`, which
  :class:`~dataprep.badrows.BadRows` writes.

``--overwrite`` replaces only these, and a folder or glob expanded into input files skips them, so an output
kept inside an input folder is never read back as input.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from .errors import DataprepError, UsageError
from .manifest import MANIFEST, STATS
from .schema import load_schema

RUN = "run.json"
QUARANTINE_HEADER = ["file", "line", "row", "reason", "column", "message"]  # then the source columns
PNG_METADATA = {"Software": "dataprep"}  # the text chunk our pictures carry, so a later run may replace them
_SHOWN = 3  # foreign files named in a message
_STATS_START = b'{\n  "path": '  # how StatsReport.write begins


def work_folder(out: Path) -> Path:
    """The hidden folder beside ``out`` where a conversion writes everything before renaming it into place."""
    return out.parent / f".{out.name}.partial"


def is_work_folder(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(".partial") and (path / RUN).is_file()


def listed_files(folder: Path) -> set[str] | None:
    """The paths (relative, ``/``-separated) that ``folder``'s dataprep manifest accounts for: itself,
    ``stats.json``, every shard and record index it lists. None when ``folder`` has no dataprep manifest."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return listed_in(data)


def listed_in(data: object) -> set[str] | None:
    """The paths a loaded manifest accounts for (see :func:`listed_files`); None when it is not a dataprep one."""
    try:
        listed = {MANIFEST, STATS}
        for split in data["splits"].values():  # type: ignore[index]
            for f in split["files"]:
                listed.update(p for p in (f["path"], f.get("index")) if isinstance(p, str))
    except (KeyError, TypeError, AttributeError):
        return None
    return listed if isinstance(data, dict) and "dataprep_manifest" in data else None


def is_output_folder(path: Path) -> bool:
    return path.is_dir() and listed_files(path) is not None


def is_quarantine_file(path: Path) -> bool:
    """A CSV whose header row starts with the quarantine columns (the source columns follow them)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            first = next(csv.reader([fh.readline(1 << 16)]), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return first[:len(QUARANTINE_HEADER)] == QUARANTINE_HEADER


def is_ours(path: Path) -> bool:
    """An output folder, a work folder or a quarantine CSV of a conversion (what input expansion skips)."""
    if path.is_dir():
        return is_work_folder(path) or is_output_folder(path)
    return path.name.lower().endswith(".csv") and is_quarantine_file(path)


def check_out(out: Path, inputs: list[Path], overwrite: bool) -> None:
    """Refuse an ``out`` that a conversion could not create, or whose replacement would destroy files that are
    not ours: it is (or holds) an input or the current folder, or holds files its manifest does not list."""
    real = out.resolve()
    if not real.name or real == Path.cwd().resolve() or real in Path.cwd().resolve().parents:
        raise UsageError(f"--out {out} is the current folder or above it; give a new folder for the output")
    if out.is_symlink():
        raise UsageError(f"--out {out} is a symbolic link; give the folder itself")
    for p in inputs:
        if real == p or real in p.parents:
            raise UsageError(f"--out {out} holds an input ({p}); give a folder of its own for the output")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    _check_writable_parent(out, "--out")
    if not out.exists() or not any(out.iterdir()):
        return
    foreign = foreign_files(out)
    if foreign is None:
        raise UsageError(f"--out {out} holds files that are not a dataprep output (no dataprep {MANIFEST}); "
                         "--overwrite replaces only a dataprep output folder: give another --out")
    if foreign:
        raise UsageError(f"--out {out} holds a dataprep output and also files that are not part of it "
                         f"({_names(foreign)}); move them out first, --overwrite replaces only dataprep's files")
    if not overwrite:
        raise UsageError(f"output folder {out} is not empty; pass --overwrite to replace it (a dataprep output)")


def foreign_files(folder: Path) -> list[str] | None:
    """Everything under ``folder`` its dataprep manifest does not list (None: no dataprep manifest)."""
    listed = listed_files(folder)
    if listed is None:
        return None
    parents = {q.as_posix() for p in listed for q in Path(p).parents}
    foreign = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for name in sorted(dirs + files):
            path = (rel / name).as_posix()
            if path in listed and (folder / path).is_file() or path in parents and (folder / path).is_dir():
                continue
            foreign.append(path)
        dirs[:] = [d for d in dirs if (rel / d).as_posix() in parents]
    return sorted(foreign)


def check_quarantine(path: Path, out: Path, inputs: list[Path], overwrite: bool) -> None:
    """Refuse a quarantine file that would replace an input or a file we did not write, or that lies inside
    the output or work folder (replaced at the end of the run, so it would be lost)."""
    real = path.resolve()
    if real in inputs:
        raise UsageError(f"--quarantine {path} is an input; give another file for the rows set aside")
    for folder in (out.resolve(), work_folder(out).resolve()):
        if folder == real or folder in real.parents:
            raise UsageError(f"--quarantine {path} is or lies inside the output folder {out}, which the "
                             f"conversion replaces; put it beside it (default: {out.name}.quarantine.csv)")
    if path.exists() or path.is_symlink():
        if not path.is_file() or path.is_symlink():
            raise UsageError(f"--quarantine {path} exists and is not a plain file")
        if not is_quarantine_file(path):
            raise UsageError(f"--quarantine {path} exists and is not a dataprep quarantine file; give another "
                             "file, dataprep never replaces one it did not write")
        if not overwrite:
            raise UsageError(f"quarantine file {path} exists (an earlier run's); pass --overwrite to replace it")
    _check_writable_parent(path, "--quarantine")


def check_file_target(path: str | os.PathLike, inputs: list[Path], kind: str, option: str) -> None:
    """A file a command writes (``kind``: ``schema``, ``stats`` or ``png``) never replaces an input, nor an
    existing file of another kind: one is replaced only when it is what the command writes (a schema that
    loads, a ``stats.json`` of ours, a PNG we drew), so a mistyped ``-o`` cannot destroy a user's file."""
    path = Path(path)
    if not path.exists():
        _check_writable_parent(path, option)
        return
    if not path.is_file():
        raise UsageError(f"{option} {path}: exists and is not a file")
    if any(_same(path, p) for p in inputs):
        raise UsageError(f"{option} {path}: is an input of this command; choose another file")
    if not _is_kind(path, kind):
        raise UsageError(f"{option} {path}: exists and is not a {_KINDS[kind]} dataprep wrote; choose another "
                         "file or remove it")


_KINDS = {"schema": "schema file", "stats": "stats.json", "png": "PNG picture", "html": "HTML report"}


def _is_kind(path: Path, kind: str) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if kind == "png":
        return head.startswith(b"\x89PNG") and b"Software\x00dataprep" in head
    if kind == "stats":
        return head.startswith(_STATS_START)
    if kind == "html":  # dataprep.report's pages
        return head.startswith(b"<!DOCTYPE html>") and b'<meta name="generator" content="dataprep ' in head
    try:
        load_schema(path)
    except DataprepError:
        return False
    return True


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def staging(path: Path) -> Path:
    """Where the quarantine CSV is written until the conversion commits (no data suffix: never read as input)."""
    return path.parent / f".{path.name}.partial"


def _check_writable_parent(path: Path, option: str) -> None:
    """The nearest existing folder above ``path`` must be a folder we may create files in."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot create files in {parent} (permission denied)")


def _names(paths: list[str]) -> str:
    return ", ".join(paths[:_SHOWN]) + (f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else "")
