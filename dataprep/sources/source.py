"""The input of a run, resolved once: what kind it is, the files it reads, and how a run names and
fingerprints it.

Every layer that needs to know about the input (reading it, the manifest's ``sources``, the resume
fingerprint, what ``--overwrite`` must never replace, the Beam runner's units of work) asks one
:class:`Source` instead of classifying the user's object again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..checksum import sha256_file
from ..errors import SourceError
from .csv_files import CsvPart, csv_parts
from .image_folders import image_files, is_image_folder
from .paths import expand_paths, file_kind

FILES, IMAGE_FOLDER = "files", "image_folder"  # the kinds read from paths
ARRAYS, TABLE, RECORD_BATCH, DATAFRAME = "arrays", "table", "record_batch", "dataframe"  # held in memory


@dataclass(frozen=True, eq=False)
class Source:
    """One input: its ``kind``, the paths as ``given`` and every file it reads (path kinds; for an image
    folder the images, with each one's class in ``labels``), or the in-memory ``data``."""

    kind: str
    given: tuple[str | os.PathLike, ...] = ()
    files: tuple[Path, ...] = ()
    labels: tuple[str, ...] = ()
    data: Any = None
    row_groups: tuple[int, int] | None = None  # a part of one Parquet file: its row groups [first, stop)
    csv_part: CsvPart | None = None  # a part of one plain CSV file: a range of its records

    @property
    def is_path(self) -> bool:
        """Read from files (rather than data held in memory)."""
        return self.kind in (FILES, IMAGE_FOLDER)

    @property
    def description(self) -> list[str]:
        """What the manifest's ``sources`` records: the paths as given, or ``<type>`` of in-memory data."""
        return [os.fspath(s) for s in self.given] if self.is_path else [f"<{type(self.data).__name__}>"]

    @property
    def inputs(self) -> list[Path]:
        """Every input path, resolved: the files read and the paths given (a folder is an input too); what an
        output or quarantine file must never be or hold."""
        named = [Path(p).resolve() for p in self.given if not any(ch in os.fspath(p) for ch in "*?[")]
        return list(dict.fromkeys(named + [p.resolve() for p in self.files]))

    def fingerprint(self) -> list[dict] | None:
        """Every input file's resolved name, size and SHA-256 (a file edited in place with its size and
        modification time restored is a changed input); None for in-memory data, which cannot be resumed."""
        if not self.is_path:
            return None
        return [{"path": str(p.resolve()), "size": p.stat().st_size, "sha256": sha256_file(p)} for p in self.files]

    def units(self, split_files: bool = False, csv_part_bytes: int = 64 << 20) -> list[Source]:
        """The source cut into independent units of work: one per data file (an image folder is one), or with
        ``split_files`` one per row group of a Parquet file and one per ``csv_part_bytes`` of a plain CSV file
        (see :func:`~dataprep.sources.csv_files.csv_parts`), so one large file spreads over many workers."""
        if self.kind == IMAGE_FOLDER:
            return [self]
        units = []
        for p in self.files:
            kind = file_kind(p) if split_files else None
            groups = _row_groups(p) if kind == "parquet" else 1
            parts = csv_parts(p, csv_part_bytes) if kind == "csv" else None
            if parts:
                units += [Source(FILES, (p,), (p,), csv_part=c) for c in parts]
            else:
                units += [Source(FILES, (p,), (p,), row_groups=(g, g + 1) if groups > 1 else None)
                          for g in range(groups)]
        return units


def _row_groups(path: Path) -> int:
    import pyarrow.parquet as pq

    with pq.ParquetFile(str(path)) as pf:
        return pf.metadata.num_row_groups


def resolve_source(source: Any) -> Source:
    """Classify ``source`` (a path, a list or glob of paths, a folder, an image folder, a pandas DataFrame,
    a pyarrow Table or RecordBatch, a dict of numpy arrays) and list the files it reads."""
    if isinstance(source, Source):
        return source
    if isinstance(source, (str, os.PathLike)) and is_image_folder(Path(source)):
        items = image_files(Path(source))
        return Source(IMAGE_FOLDER, (source,), tuple(p for p, _ in items), tuple(c for _, c in items))
    if isinstance(source, (str, os.PathLike)) or _is_path_list(source):
        given = (source,) if isinstance(source, (str, os.PathLike)) else tuple(source)
        return Source(FILES, given, tuple(expand_paths(list(given))))
    if isinstance(source, dict):
        return Source(ARRAYS, data=source)
    if isinstance(source, pa.Table):
        return Source(TABLE, data=source)
    if isinstance(source, pa.RecordBatch):
        return Source(RECORD_BATCH, data=source)
    if _is_dataframe(source):
        return Source(DATAFRAME, data=source)
    raise SourceError(f"unsupported source {type(source).__name__}: give a path, a list or glob of paths, "
                      "a pandas DataFrame, a pyarrow Table or a dict of numpy arrays")


def _is_path_list(source: Any) -> bool:
    return isinstance(source, (list, tuple)) and bool(source) and \
        all(isinstance(s, (str, os.PathLike)) for s in source)


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns") and hasattr(obj, "to_numpy")
