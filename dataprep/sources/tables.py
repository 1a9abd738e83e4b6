"""Typed tables as column batches: Parquet and ``.npz`` files, pyarrow Tables and RecordBatches, pandas
DataFrames and dicts of numpy arrays keep their types; a batch holds at most ``batch_size`` rows.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..batch import Batch
from ..errors import SourceError


def select_columns(origin: str, have: Sequence[str], want: Sequence[str] | None) -> list[str]:
    """The columns to read: ``want`` (all of ``have`` when None), each of which ``origin`` must have."""
    if want is None:
        return list(have)
    missing = [c for c in want if c not in have]
    if missing:
        shown = ", ".join(list(have)[:20]) + (" ..." if len(have) > 20 else "")
        raise SourceError(f"{origin}: column(s) {', '.join(map(repr, missing))} not found; it has: {shown}")
    return list(want)


def first_line(e: Exception) -> str:
    """An exception's first line, for a message naming the file."""
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def parquet_batches(path: Path, columns, batch_size: int, row_groups: tuple[int, int] | None = None
                    ) -> Iterator[Batch]:
    """The file's batches, or those of its row groups ``[first, stop)`` (rows numbered as in the whole file)."""
    with pq.ParquetFile(str(path)) as pf:  # closed here, not at interpreter shutdown
        wanted = select_columns(str(path), pf.schema_arrow.names, columns)
        groups = range(*row_groups) if row_groups else None
        start = sum(pf.metadata.row_group(g).num_rows for g in range(groups.start)) if groups else 0
        for rb in pf.iter_batches(batch_size=batch_size, columns=wanted, row_groups=groups):
            yield Batch({n: rb.column(i) for i, n in enumerate(rb.schema.names)}, rb.num_rows, str(path), start)
            start += rb.num_rows


def npz_batches(path: Path, columns, batch_size: int) -> Iterator[Batch]:
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    yield from numpy_batches(arrays, columns, str(path), batch_size)


def dataframe_batches(frame: Any, columns, batch_size: int) -> Iterator[Batch]:
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as e:
        raise SourceError(f"<DataFrame>: cannot convert to Arrow: {e}") from None
    yield from table_batches(table, columns, "<DataFrame>", batch_size)


def table_batches(table: pa.Table, columns, origin: str, batch_size: int) -> Iterator[Batch]:
    names = [str(c) for c in table.column_names]
    wanted = select_columns(origin, names, columns)
    table = table.select(wanted)
    start = 0
    for rb in table.to_batches(max_chunksize=batch_size):
        yield Batch({n: rb.column(i) for i, n in enumerate(wanted)}, rb.num_rows, origin, start)
        start += rb.num_rows


def numpy_batches(arrays: dict, columns, origin: str, batch_size: int) -> Iterator[Batch]:
    names = [str(k) for k in arrays]
    wanted = select_columns(origin, names, columns)
    arrs = {c: _rows_array(arrays[c]) for c in wanted}
    scalars = [c for c, a in arrs.items() if not a.ndim]
    if scalars:
        raise SourceError(f"{origin}: array(s) {scalars} are 0-d; each array needs one entry per row")
    lengths = {c: a.shape[0] for c, a in arrs.items()}
    if len(set(lengths.values())) > 1:
        raise SourceError(f"{origin}: arrays have different numbers of rows: {lengths}")
    n = next(iter(lengths.values()), 0)
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        yield Batch({c: a[start:stop] for c, a in arrs.items()}, stop - start, origin, start)


def _rows_array(value: Any) -> Any:
    """An array whose rows are sliced into batches: numpy as it is, a scipy.sparse matrix as CSR (the rows
    of a sparse feature; scipy is not imported), anything else through ``np.asarray``."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "tocsr") and getattr(value, "ndim", 0) == 2:
        return value.tocsr()
    return np.asarray(value)
