"""How input rows become records (:class:`RowGrouping`), and long tables as sequences: the rows that share
a sequence id become one record.

A long table has one row per time step: an id column naming the sequence, an order column (time, step) and
the step's values. Grouping streams: the rows of one sequence must be adjacent (as exports sorted by id
are), so only the sequence being read is held; an id that comes back after another is an error. Within a
sequence rows are sorted by the order column. Columns that feed fixed-shape features (the id, a label, any
per-sequence value) keep the sequence's one value and must be constant within it; the others become lists.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..arrow_numpy import to_numpy
from ..batch import Batch
from ..errors import DataError, UsageError


@dataclass(frozen=True)
class RowGrouping:
    """How input rows become records: one per row (default), one per file (``per_file``), or one per
    sequence of a long table (``sequence_id``, ordered by ``sequence_order``; ``context_columns`` keep the
    sequence's one value)."""

    per_file: bool = False
    sequence_id: str | None = None
    sequence_order: str | None = None
    context_columns: tuple[str, ...] = field(default=(), metadata={"recorded": False})  # from the schema

    def __post_init__(self) -> None:
        if self.per_file and self.sequence_id:
            raise UsageError("give --sequence-per-file or --sequence-id, not both")
        if self.sequence_order and not self.sequence_id:
            raise UsageError("--sequence-order needs --sequence-id")

    @property
    def columns(self) -> list[str]:
        """The input columns the grouping itself reads."""
        return [c for c in (self.sequence_id, self.sequence_order) if c]


def group_sequences(batches: Iterator[Batch], id_column: str, order_column: str | None,
                    context_columns: Sequence[str], batch_size: int) -> Iterator[Batch]:
    """Batches of sequences (one row per sequence id) from batches of steps (one row per step)."""
    seen: set = set()
    pending: pa.Table | None = None  # rows of the sequence still being read (it may continue)
    origin = ""
    out: list[tuple[pa.Table, str]] = []
    for batch in batches:
        table = pa.table({name: _arrow(col, batch, name) for name, col in batch.columns.items()})
        if pending is not None and batch.origin != origin:  # a file ends every sequence in it
            out.append(_finish(pending, id_column, order_column, context_columns, origin, seen))
            pending = None
        if pending is None:
            origin = batch.origin
        table = table if pending is None else pa.concat_tables([pending, table.cast(pending.schema)])
        ids = table[id_column].combine_chunks()
        change = np.flatnonzero(to_numpy(pc.not_equal(ids[1:], ids[:-1]))) + 1 \
            if len(ids) > 1 else np.zeros(0, np.int64)
        starts = np.r_[0, change]
        for a, b in zip(starts[:-1], starts[1:]):
            out.append(_finish(table.slice(a, b - a), id_column, order_column, context_columns, origin, seen))
        pending = table.slice(starts[-1]) if len(table) else None
        while len(out) >= batch_size:
            yield _batch(out[:batch_size], origin)
            out = out[batch_size:]
    if pending is not None and len(pending):
        out.append(_finish(pending, id_column, order_column, context_columns, origin, seen))
    for start in range(0, len(out), batch_size):
        yield _batch(out[start:start + batch_size], origin)


def _arrow(col, batch: Batch, name: str) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks()
    if isinstance(col, np.ndarray):
        if col.ndim != 1:
            raise DataError(f"{batch.where(0, name)}: a long table holds one value per row and column, this "
                            f"column has shape {list(col.shape[1:])} per row")
        return pa.array(col)
    return col


def _finish(rows: pa.Table, id_column: str, order_column: str | None, context: Sequence[str], origin: str,
            seen: set) -> tuple[pa.Table, str]:
    """One sequence: a one-row table of lists (sorted by ``order_column``) and context values, and its name
    for messages."""
    key = rows[id_column][0].as_py()
    name = f"{origin}, sequence {id_column}={_text(key)!r}"
    if key in seen:
        raise DataError(f"{name}: its rows are not together (the id comes back after other sequences); "
                        f"sort the table by {id_column!r}")
    seen.add(key)
    if order_column is not None:
        order = _numbers(rows[order_column].combine_chunks(), name, order_column)
        rows = rows.take(np.argsort(order, kind="stable"))
    out = {}
    for column in rows.column_names:
        values = rows[column].combine_chunks()
        if column in context:
            if len(pc.unique(values)) > 1:
                raise DataError(f"{name}, column {column!r}: a per-sequence value must be the same on every "
                                f"row of the sequence; it varies (use shape [null] to keep every step)")
            out[column] = values.slice(0, 1)
        else:
            out[column] = pa.ListArray.from_arrays(pa.array([0, len(values)], pa.int32()), values)
    return pa.table(out), name


def _numbers(values: pa.Array, name: str, column: str) -> np.ndarray:
    if pa.types.is_binary(values.type) or pa.types.is_string(values.type):
        try:
            values = pc.cast(pc.cast(values, pa.string()), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise DataError(f"{name}, column {column!r}: the order column must hold numbers") from None
    if values.null_count:
        raise DataError(f"{name}, column {column!r}: the order column has missing values")
    return to_numpy(values)


def _batch(sequences: list[tuple[pa.Table, str]], origin: str) -> Batch:
    """Sequences as one batch; each row is named by its file and id in messages."""
    table = pa.concat_tables([t for t, _ in sequences]).combine_chunks()
    return Batch({c: table[c].combine_chunks() for c in table.column_names}, len(table), origin, 0,
                 row_names=[name for _, name in sequences])


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
