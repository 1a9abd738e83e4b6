"""Every input kind as one stream of column batches with bounded memory.

Paths (CSV, optionally compressed; Parquet; ``.npz``; TFRecord files of ``tf.train.Example``), lists and
globs of them, folders of such files, image folders (one subfolder per class), pandas DataFrames, pyarrow
Tables and dicts of numpy arrays all come out as :class:`~dataprep.batch.Batch` objects: Arrow or numpy
columns plus the file and row they came from, so later errors can name them. The input is classified once
(:func:`resolve_source`); one module per input kind reads it.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..batch import Batch
from ..errors import DataprepError, SourceError
from ..storage import fetched_from
from .csv_files import CsvPart, MalformedHandler, csv_batches
from .image_folders import image_folder_batches
from .paths import file_kind
from .sequences import RowGrouping, group_sequences
from .source import ARRAYS, DATAFRAME, FILES, IMAGE_FOLDER, RECORD_BATCH, TABLE, Source, resolve_source
from .tables import dataframe_batches, first_line, npz_batches, numpy_batches, parquet_batches, table_batches
from .tfrecord_files import tfrecord_batches

DEFAULT_BATCH_ROWS = 65536
ONE_RECORD_PER_ROW = RowGrouping()  # the default grouping (frozen, so one instance serves every call)

__all__ = ["DEFAULT_BATCH_ROWS", "FILES", "IMAGE_FOLDER", "RowGrouping", "Source", "iter_batches", "resolve_source"]


def iter_batches(source: Any, columns: Sequence[str] | None = None, batch_size: int = DEFAULT_BATCH_ROWS,
                 on_malformed: MalformedHandler | None = None, grouping: RowGrouping = ONE_RECORD_PER_ROW
                 ) -> Iterator[Batch]:
    """Yield column batches of ``columns`` (all when None) from any supported source (or a resolved
    :class:`Source`).

    Text inputs (CSV) give their fields as raw bytes (binary columns): the schema-driven conversion decodes
    and parses them, so a bad value (even invalid UTF-8) is reported with its line. Typed inputs keep their
    types. A malformed CSV row (the wrong number of fields, or a line of a record whose quoted field never
    closes) is passed to ``on_malformed(file, text, line, row, why)``, which returns True to skip it (it has
    counted it); without it, or when it returns False, the row is an error.
    ``grouping`` turns rows into records: with ``per_file`` every file is one record whose columns hold the
    file's rows as lists (a folder of per-sequence CSV files, say); with ``sequence_id`` (a long table) the
    rows sharing an id are one record (see :mod:`dataprep.sources.sequences`).
    """
    src = resolve_source(source)
    if grouping.sequence_id is not None:
        wanted = list(dict.fromkeys([*(columns or []), *grouping.columns])) if columns else None
        steps = iter_batches(src, wanted, batch_size, on_malformed)
        yield from group_sequences(steps, grouping.sequence_id, grouping.sequence_order,
                                   [grouping.sequence_id, *grouping.context_columns], batch_size)
    elif grouping.per_file:
        if src.kind != FILES:
            raise SourceError(f"{', '.join(src.description)}: one record per file needs CSV, Parquet, .npz or "
                              "TFRecord files")
        yield from _per_file_batches(list(src.files), columns, batch_size, on_malformed)
    elif src.kind == IMAGE_FOLDER:
        yield from image_folder_batches(Path(src.given[0]), src.files, src.labels, columns, batch_size)
    elif src.kind == FILES:
        for path in src.files:
            url = fetched_from(path)  # rows of an object fetched from storage are named by its URL
            for batch in _file_batches(path, columns, batch_size, on_malformed, src.row_groups, src.csv_part):
                yield batch if url is None else replace(batch, origin=url)
    elif src.kind == ARRAYS:
        yield from numpy_batches(src.data, columns, "<arrays>", batch_size)
    elif src.kind == TABLE:
        yield from table_batches(src.data, columns, "<Table>", batch_size)
    elif src.kind == RECORD_BATCH:
        yield from table_batches(pa.Table.from_batches([src.data]), columns, "<RecordBatch>", batch_size)
    elif src.kind == DATAFRAME:
        yield from dataframe_batches(src.data, columns, batch_size)


def _file_batches(path: Path, columns, batch_size: int, on_malformed,
                  row_groups: tuple[int, int] | None = None, csv_part: CsvPart | None = None) -> Iterator[Batch]:
    kind = file_kind(path)
    try:
        if kind == "csv":
            yield from csv_batches(path, columns, on_malformed, csv_part)
        elif kind == "parquet":
            yield from parquet_batches(path, columns, batch_size, row_groups)
        elif kind == "tfrecord":
            yield from tfrecord_batches(path, columns, batch_size)
        else:
            yield from npz_batches(path, columns, batch_size)
    except PermissionError as e:
        raise SourceError(f"{path}: cannot read: {e.strerror}") from None
    except (pa.ArrowInvalid, OSError, ValueError) as e:
        if isinstance(e, DataprepError):
            raise
        raise SourceError(f"{path}: cannot read {kind}: {first_line(e)}") from None


def _per_file_batches(paths: list[Path], columns, batch_size: int, on_malformed) -> Iterator[Batch]:
    """One record per file: each column becomes one list holding all of the file's values, in order."""
    for start in range(0, len(paths), batch_size):
        group = paths[start:start + batch_size]
        lists: dict[str, list] = {}
        for path in group:
            parts = list(_file_batches(path, columns, DEFAULT_BATCH_ROWS, on_malformed))
            names = columns or (list(parts[0].columns) if parts else [])
            for name in names:
                chunks = [b.columns[name] for b in parts]
                values = pa.concat_arrays([c.combine_chunks() if isinstance(c, pa.ChunkedArray) else
                                           (pa.array(c) if isinstance(c, np.ndarray) else c) for c in chunks]) \
                    if chunks else pa.array([], pa.binary())
                lists.setdefault(name, []).append(values)
        cols = {}
        for name, arrays in lists.items():
            offsets = np.zeros(len(arrays) + 1, np.int32)
            np.cumsum([len(a) for a in arrays], out=offsets[1:])
            cols[name] = pa.ListArray.from_arrays(pa.array(offsets), pa.concat_arrays(arrays))
        yield Batch(cols, len(group), os.path.dirname(os.fspath(group[0])) or ".", start,
                    row_names=[str(p) for p in group])
