"""Feature columns: the typed, defaults-filled form every encoder consumes.

A :class:`Column` holds the flat element values of one feature for a batch of records and the row splits
that say which elements belong to which record, so fixed, variable-length and ragged features share one
layout. ``to_columns`` builds them from a source batch as the schema says, and is the only place where
input values are checked: every error names the origin, the row and the column.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import DataError
from .ragged import Ragged
from .schema import NUMPY_DTYPE, OOV_TOKEN, Feature, Schema

Values = Union[np.ndarray, Ragged]


@dataclass(frozen=True)
class Column:
    """One feature over ``n`` records: ``values`` (float32/int64 array, or Ragged bytes elements) and
    ``row_splits`` (int64 [n+1]): record ``i`` holds elements ``row_splits[i]:row_splits[i+1]``."""

    values: Values
    row_splits: np.ndarray

    def take(self, index: np.ndarray) -> Column:
        """The records at ``index``, in that order."""
        counts = np.diff(self.row_splits)[index]
        splits = np.zeros(len(index) + 1, np.int64)
        np.cumsum(counts, out=splits[1:])
        elem = np.repeat(self.row_splits[index] - splits[:-1], counts) + np.arange(splits[-1])
        vals = self.values.take(elem) if isinstance(self.values, Ragged) else self.values[elem]
        return Column(vals, splits)


@dataclass(frozen=True)
class Batch:
    """A source's column batch: named columns (Arrow arrays or numpy arrays) and where the rows came from."""

    columns: dict
    num_rows: int
    origin: str  # file path, or a description such as "<DataFrame>"
    row_start: int  # 0-based index of the first row within the origin
    line_of: object = None  # callable(row index within origin) -> line number, for text sources
    rows: np.ndarray | None = None  # batch position -> row within the batch, when positions are elements

    def rows_index(self) -> np.ndarray:
        return self.rows if self.rows is not None else np.arange(self.num_rows, dtype=np.int64)

    def where(self, row: int, column: str | None = None) -> str:
        """'file, line L (row R), column C' for error messages; ``row`` is a position in this batch."""
        r = self.row_start + (int(self.rows[row]) if self.rows is not None else row)
        loc = f"{self.origin}, row {r + 1}"
        if self.line_of is not None:
            loc = f"{self.origin}, line {self.line_of(r)} (row {r + 1})"
        return loc + (f", column {column!r}" if column else "")


def to_columns(batch: Batch, schema: Schema) -> dict[str, Column]:
    """Convert a source batch into one :class:`Column` per feature, filling defaults and checking values."""
    return {f.name: _feature_column(batch, f) for f in schema.features}


# --- per feature ----------------------------------------------------------------------------------------------
def _feature_column(batch: Batch, f: Feature) -> Column:
    n = batch.num_rows
    if isinstance(f.source, tuple):
        parts = [_scalar_values(batch, f, c) for c in f.source]
        if isinstance(parts[0], Ragged):
            order = np.arange(n * len(parts)).reshape(len(parts), n).T.reshape(-1)
            values: Values = _concat_ragged(parts).take(order)
        else:
            values = np.stack(parts, axis=1).reshape(-1)
        return Column(values, np.arange(n + 1, dtype=np.int64) * len(parts))

    col = batch.columns[f.sources[0]]
    if f.shape == () or (f.is_fixed and _is_flat(col)):
        if f.shape != ():
            raise DataError(f"{batch.where(0, f.sources[0])}: feature {f.name!r} needs shape {list(f.shape)} "
                            "but the column holds scalars")
        values = _scalar_values(batch, f, f.sources[0])
        if f.encoding == "raw_uint8":
            values = Ragged.from_matrix(values.reshape(n, 1))
        return Column(values, np.arange(n + 1, dtype=np.int64))
    return _array_column(batch, f, col)


def _is_flat(col) -> bool:
    if isinstance(col, np.ndarray):
        return col.ndim == 1 and col.dtype != object
    return not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)
                or pa.types.is_fixed_size_list(col.type))


def _concat_ragged(parts: list[Ragged]) -> Ragged:
    data = np.concatenate([p.data[p.offsets[0]:p.offsets[-1]] for p in parts])
    lengths = np.concatenate([p.lengths for p in parts])
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Ragged(data, offsets)


def _scalar_values(batch: Batch, f: Feature, column: str) -> Values:
    """One value per row from a scalar column, as the feature's element type, defaults filled."""
    col = batch.columns[column]
    if isinstance(col, np.ndarray) and col.ndim != 1:
        raise DataError(f"{batch.where(0, column)}: feature {f.name!r} has shape {list(f.shape)} but the "
                        f"array has shape {list(col.shape[1:])} per row")
    arr = col if isinstance(col, pa.Array) else _numpy_to_arrow(col, batch, f, column)
    if f.stored_dtype == "bytes" and f.encoding != "raw_uint8":
        return _text_values(arr, batch, f, column)
    return _numeric_values(arr, batch, f, column)


def _numpy_to_arrow(col: np.ndarray, batch: Batch, f: Feature, column: str) -> pa.Array:
    if col.dtype.kind in "fiub":
        return pa.array(col)
    if col.dtype.kind in "US":
        return pa.array(col.astype(object))
    if col.dtype == object:
        try:
            return pa.array(col, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise DataError(f"{batch.where(0, column)}: feature {f.name!r}: values of mixed or unsupported "
                            f"types ({e})") from None
    raise DataError(f"{batch.where(0, column)}: feature {f.name!r}: numpy dtype {col.dtype} is not supported")


def _fill(arr: pa.Array, batch: Batch, f: Feature, column: str) -> pa.Array:
    """Replace missing values by the default, or fail naming the first missing row."""
    if arr.null_count == 0:
        return arr
    if f.default is None:
        row = pc.index(pc.is_null(arr), True).as_py()
        raise DataError(f"{batch.where(row, column)}: missing value and feature {f.name!r} has no default")
    default = f.default if not isinstance(f.default, list) else f.default[0]
    return pc.fill_null(arr, pa.scalar(default, arr.type) if not pa.types.is_null(arr.type)
                        else pa.scalar(default))


def _numeric_values(arr: pa.Array, batch: Batch, f: Feature, column: str) -> np.ndarray:
    target = NUMPY_DTYPE[f.dtype]
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        arr = _parse_text_numbers(arr, batch, f, column)
    elif pa.types.is_null(arr.type):
        arr = pa.nulls(len(arr), pa.float64() if f.dtype == "float32" else pa.int64())
    elif not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_boolean(arr.type)):
        raise DataError(f"{batch.where(0, column)}: feature {f.name!r} is {f.dtype} but the column holds "
                        f"{arr.type}")
    arr = _fill(arr, batch, f, column)
    if pa.types.is_boolean(arr.type):
        arr = pc.cast(arr, pa.int64())
    values = arr.to_numpy(zero_copy_only=False)
    if f.dtype == "float32":
        out = values.astype(np.float32)
        if not f.allow_nan:
            bad = ~np.isfinite(out)
            if bad.any():
                row = int(np.argmax(bad))
                raise DataError(f"{batch.where(row, column)}: {values[row]!r} is not finite and feature "
                                f"{f.name!r} sets allow_nan: false")
        if values.dtype == np.float64:
            overflow = np.isinf(out) & np.isfinite(values)
            if overflow.any():
                row = int(np.argmax(overflow))
                raise DataError(f"{batch.where(row, column)}: {values[row]!r} overflows float32")
        return out
    # integer targets: the values must be whole and in range
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(f"{batch.where(row, column)}: {values[row]!r} is not an integer, feature "
                            f"{f.name!r} is {f.dtype}")
    info = np.iinfo(target)
    if values.dtype == np.uint64:
        bad = values > np.uint64(info.max)
    else:
        bad = (values < info.min) | (values > info.max)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{batch.where(row, column)}: {values[row]!r} is out of range for {f.dtype}")
    return values.astype(target)


def _parse_text_numbers(arr: pa.Array, batch: Batch, f: Feature, column: str) -> pa.Array:
    """Parse a text column as numbers; on failure name the first row that does not parse."""
    target = pa.float64() if f.dtype == "float32" else pa.int64()
    stripped = pc.utf8_trim_whitespace(arr)
    stripped = pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)
    try:
        return pc.cast(stripped, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    for row, text in enumerate(stripped.to_pylist()):
        if text is None:
            continue
        try:
            pc.cast(pa.array([text]), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise DataError(f"{batch.where(row, column)}: cannot parse {text!r} as {f.dtype} "
                            f"(feature {f.name!r})") from None
    raise DataError(f"{batch.where(0, column)}: cannot parse column as {f.dtype}")  # pragma: no cover


def _text_values(arr: pa.Array, batch: Batch, f: Feature, column: str) -> Ragged:
    if pa.types.is_null(arr.type):
        arr = pa.nulls(len(arr), pa.string())
    if f.dtype == "string":
        if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
            try:
                arr = pc.cast(arr, pa.large_string())
            except pa.ArrowInvalid:
                for row, b in enumerate(arr.to_pylist()):
                    try:
                        b is None or b.decode("utf-8")
                    except UnicodeDecodeError:
                        raise DataError(f"{batch.where(row, column)}: invalid UTF-8 in feature {f.name!r}; "
                                        "use dtype bytes for binary data") from None
                raise
        elif not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = pc.cast(arr, pa.large_string())
    elif not (pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type)
              or pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise DataError(f"{batch.where(0, column)}: feature {f.name!r} is bytes but the column holds {arr.type}")
    arr = _fill(arr, batch, f, column)
    if f.vocabulary is not None and f.oov != "keep":
        known = pc.is_in(arr, value_set=pa.array(f.vocabulary, arr.type))
        if not pc.all(known).as_py():
            if f.oov == "error":
                row = pc.index(known, False).as_py()
                raise DataError(f"{batch.where(row, column)}: {arr[row].as_py()!r} is not in the vocabulary "
                                f"of feature {f.name!r}")
            arr = pc.if_else(known, arr, pa.scalar(OOV_TOKEN, arr.type))
    return arrow_binary_ragged(arr)


def arrow_binary_ragged(arr: pa.Array) -> Ragged:
    """The elements of an Arrow string/binary array (no nulls) as Ragged bytes, without copying the data."""
    arr = pc.cast(arr, pa.large_binary()) if not pa.types.is_large_binary(arr.type) else arr
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, np.int64)[arr.offset:arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return Ragged(data, offsets)


def _array_column(batch: Batch, f: Feature, col) -> Column:
    """Array-valued sources: numpy [n, ...] arrays, object arrays of lists, Arrow list columns."""
    n = batch.num_rows
    column = f.sources[0]
    if isinstance(col, np.ndarray) and col.dtype != object:
        return _dense_array_column(batch, f, col)
    if f.select is not None:
        raise DataError(f"{batch.where(0, column)}: 'select' needs a 2-D numpy array source")
    arr = col if isinstance(col, (pa.Array, pa.ChunkedArray)) else _numpy_to_arrow(col, batch, f, column)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    offsets = np.arange(n + 1, dtype=np.int64)  # row -> range of items at the current nesting level
    values = arr
    while _is_list_type(values.type):
        if values.null_count:
            item = int(np.argmax(values.is_null().to_numpy(zero_copy_only=False)))
            row = int(np.searchsorted(offsets, item, side="right") - 1)
            raise DataError(f"{batch.where(row, column)}: missing list value for feature {f.name!r}")
        offsets = _list_offsets(values)[offsets]
        values = values.values
    values = values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    splits = offsets - offsets[0]
    counts = np.diff(splits)
    ok = counts == f.inner_size if f.is_fixed else counts % f.inner_size == 0
    if not ok.all():
        row = int(np.argmin(ok))
        want = f"{f.inner_size}" if f.is_fixed else f"a multiple of {f.inner_size}"
        raise DataError(f"{batch.where(row, column)}: feature {f.name!r} has {counts[row]} elements, "
                        f"shape {list(f.shape)} needs {want}")
    rows = np.repeat(batch.rows_index(), counts)
    sub = Batch({column: values}, len(values), batch.origin, batch.row_start, batch.line_of, rows)
    element = replace(f, shape=(), default=None)
    if f.stored_dtype == "bytes" and f.encoding != "raw_uint8":
        return Column(_text_values(values, sub, element, column), splits)
    flat = _numeric_values(values, sub, element, column)
    if f.encoding == "raw_uint8":
        return Column(Ragged.from_matrix(flat.reshape(n, f.inner_size)), np.arange(n + 1, dtype=np.int64))
    return Column(flat, splits)


def _dense_array_column(batch: Batch, f: Feature, arr: np.ndarray) -> Column:
    """A numpy [n, ...] source: slice with ``select``, check the per-row shape, flatten."""
    n = batch.num_rows
    column = f.sources[0]
    if f.select is not None:
        if arr.ndim != 2 or arr.shape[1] < f.select[1]:
            raise DataError(f"{batch.where(0, column)}: feature {f.name!r} selects {f.select[0]}:{f.select[1]} "
                            f"but the array has shape {list(arr.shape[1:])} per row")
        arr = arr[:, f.select[0]:f.select[1]]
    if f.is_fixed:
        if int(np.prod(arr.shape[1:])) != f.inner_size:
            raise DataError(f"{batch.where(0, column)}: feature {f.name!r} needs shape {list(f.shape)} "
                            f"per row, the array has {list(arr.shape[1:])}")
        per_row = f.inner_size
    else:
        if tuple(arr.shape[2:]) != tuple(f.shape[1:]):
            raise DataError(f"{batch.where(0, column)}: feature {f.name!r} needs rows of shape "
                            f"{list(f.shape[1:])}, the array has {list(arr.shape[2:])}")
        per_row = int(np.prod(arr.shape[1:]))
    element = replace(f, shape=(), default=None)
    rows = np.repeat(batch.rows_index(), per_row)
    sub = Batch({column: None}, n * per_row, batch.origin, batch.row_start, batch.line_of, rows)
    if f.stored_dtype == "bytes" and f.encoding != "raw_uint8":
        values = _text_values(_numpy_to_arrow(arr.reshape(-1), sub, element, column), sub, element, column)
        return Column(values, np.arange(n + 1, dtype=np.int64) * per_row)
    flat = _numeric_values(pa.array(arr.reshape(-1)), sub, element, column)
    if f.encoding == "raw_uint8":
        return Column(Ragged.from_matrix(flat.reshape(n, per_row)), np.arange(n + 1, dtype=np.int64))
    return Column(flat, np.arange(n + 1, dtype=np.int64) * per_row)


def _is_list_type(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _list_offsets(arr: pa.Array) -> np.ndarray:
    """Offsets of a list array into its (unsliced) child ``arr.values``, as int64 [len + 1]."""
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        return (np.arange(len(arr) + 1, dtype=np.int64) + arr.offset) * size
    return arr.offsets.to_numpy().astype(np.int64)
