"""The demo, shipped in the package: its sample data and schemas (``sample_data/``, ``schemas/`` here; the
repository's top-level folders of those names link to them) and the commands of ``make demo``, so that a
``pip install dataprep`` user can run it too (``dataprep demo [FOLDER]`` or ``python -m dataprep.demo``).

:func:`write_demo` copies the files into a folder of the user's, never over a file that is not an identical
copy of ours, and writes ``demo.sh`` with the commands to run there.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import UsageError

DEFAULT_FOLDER = "dataprep-demo"
FILES = ("sample_data/README.md", "sample_data/penguins.csv", "sample_data/digits.npz", "schemas/penguins.yaml",
         "schemas/digits.yaml")  # what the demo reads, relative to this package and to the demo folder
# The commands of `make demo` (tests/test_demo.py checks the Makefile runs the same), run in the demo folder.
COMMANDS = (
    ("convert", "sample_data/penguins.csv", "--schema", "schemas/penguins.yaml", "--out", "out/penguins",
     "--split", "train=0.8,valid=0.1,test=0.1", "--on-error", "skip", "--seed", "42", "--overwrite"),
    ("convert", "sample_data/digits.npz", "--schema", "schemas/digits.yaml", "--out", "out/digits",
     "--split", "train=0.8,valid=0.1,test=0.1", "--num-shards", "2", "--compression", "gzip", "--seed", "42",
     "--overwrite"),
    ("validate", "out/digits"),
    ("train", "wide-deep", "out/penguins", "--variant", "two-input", "--out", "runs/penguins", "--quiet"),
    ("train", "cnn", "out/digits", "--epochs", "15", "--out", "runs/digits", "--quiet"),
)
SCRIPT = "demo.sh"


@dataclass(frozen=True)
class DemoFolder:
    """A folder :func:`write_demo` filled: the files it wrote and those already there as identical copies."""

    path: Path
    written: tuple[str, ...]
    kept: tuple[str, ...]


def command_lines() -> list[str]:
    """The demo's commands as shell lines, to run in the demo folder."""
    return [shlex.join(("dataprep", *c)) for c in COMMANDS]


def script() -> str:
    """``demo.sh``: the demo's commands, run from the script's own folder."""
    lines = ["#!/bin/sh", "# The dataprep demo (as `make demo` in the repository); run it from anywhere.", "set -e",
             'cd "$(dirname "$0")"']
    return "\n".join(lines + command_lines()) + "\n"


def write_demo(folder: str | os.PathLike = DEFAULT_FOLDER) -> DemoFolder:
    """Copy the demo's sample data and schemas, and ``demo.sh``, into ``folder`` (made when missing). Every
    target is checked before anything is written: one that exists must already be an identical copy (kept),
    so a folder of the user's may hold other files but none of them is ever replaced."""
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root}: exists and is not a folder")
    package = resources.files(__name__)
    contents = {name: package.joinpath(name).read_bytes() for name in FILES}
    contents[SCRIPT] = script().encode("utf-8")
    kept = []
    for name, data in contents.items():
        target = root / name
        if target.is_symlink() or target.exists():
            if not target.is_file() or target.is_symlink() or target.read_bytes() != data:
                raise UsageError(f"{target}: exists and is not the demo's copy; nothing was written (choose "
                                 "another folder, or move that file)")
            kept.append(name)
    written = []
    for name, data in contents.items():
        if name in kept:
            continue
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as fh:  # exclusive: a file that appeared since the check is not replaced
            fh.write(data)
        written.append(name)
    (root / SCRIPT).chmod(0o755)
    return DemoFolder(root, tuple(written), tuple(kept))


def run_demo(folder: str | os.PathLike, echo: Callable[[str], None] = print) -> int:
    """Run the demo's commands in ``folder`` (written by :func:`write_demo`) with this interpreter's dataprep,
    each shown through ``echo`` first; stops at the first that fails and returns its exit status (0: all ran)."""
    for command in COMMANDS:
        echo(f"$ {shlex.join(('dataprep', *command))}")
        code = subprocess.run([sys.executable, "-m", "dataprep", *command], cwd=folder).returncode
        if code:
            return code
    return 0
