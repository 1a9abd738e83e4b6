"""Input files by name: the suffix of each input kind, and paths, globs, folders and lists of them
expanded into the files they name, in a stable order, without dataprep's own outputs.
"""
from __future__ import annotations

import glob
import itertools
import os
from pathlib import Path
from typing import Any

from ..errors import SourceError
from ..outputs import is_ours
from ..storage import fetch_inputs, is_remote

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".tsv", ".tsv.gz")
TFRECORD_SUFFIXES = (".tfrecord", ".tfrecord.gz", ".tfrecord.zz", ".tfrecords", ".tfr")
PARQUET_SUFFIXES = (".parquet", ".pq")
NPZ_SUFFIXES = (".npz",)


def expand_paths(source: Any) -> list[Path]:
    """Files named by a path, a glob, a folder (its data files) or a list of those, in a stable order.

    A folder or glob skips dataprep's own outputs under it (output and work folders, quarantine CSVs: see
    :func:`dataprep.outputs.is_ours`): an output kept inside its input folder would otherwise be read back as
    input by the next run, which would then convert its own earlier shards too. A path named exactly is
    always read. URLs (``s3://``, ``gs://``) are fetched into the local input cache first (see
    :func:`dataprep.storage.fetch_inputs`)."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    paths: list[Path] = []
    for item in items:
        text = os.fspath(item)
        seen: dict[Path, bool] = {}
        if is_remote(item):
            paths += fetch_inputs(text, lambda name: file_kind(Path(name)) is not None)
        elif any(ch in text for ch in "*?["):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise SourceError(f"no files match {text}")
            root = Path(_literal_prefix(text))
            paths += [Path(p) for p in matches if not _under_ours(Path(p), root, seen)]
        elif os.path.isdir(text):
            found = sorted(p for p in Path(text).rglob("*") if p.is_file() and file_kind(p) is not None
                           and not _under_ours(p, Path(text), seen))
            if not found:
                raise SourceError(f"{text}: folder holds no CSV, Parquet, .npz or TFRecord files")
            paths += found
        elif not os.path.exists(text):
            raise SourceError(f"input not found: {text}")
        else:
            paths.append(Path(text))
    for p in paths:
        if file_kind(p) is None:
            raise SourceError(f"{p}: unknown input type; expected one of "
                              f"{', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES + NPZ_SUFFIXES + TFRECORD_SUFFIXES)}")
    return paths


def _literal_prefix(pattern: str) -> str:
    """The folder a glob pattern starts from: its path up to the first part with a wildcard."""
    parts = Path(pattern).parts
    literal = list(itertools.takewhile(lambda part: not any(ch in part for ch in "*?["), parts))
    return str(Path(*literal)) if literal else "."


def _under_ours(path: Path, root: Path, seen: dict[Path, bool]) -> bool:
    """Whether ``path`` is one of dataprep's outputs, or lies in one, below ``root`` (``seen``: folders
    already looked at)."""
    if is_ours(path):
        return True
    for folder in itertools.takewhile(lambda p: p != root and p != p.parent, path.parents):
        if folder not in seen:
            seen[folder] = is_ours(folder)
        if seen[folder]:
            return True
    return False


def file_kind(path: Path) -> str | None:
    name = path.name.lower()
    for kind, suffixes in (("csv", CSV_SUFFIXES), ("parquet", PARQUET_SUFFIXES), ("npz", NPZ_SUFFIXES),
                           ("tfrecord", TFRECORD_SUFFIXES)):
        if name.endswith(suffixes):
            return kind
    return None

