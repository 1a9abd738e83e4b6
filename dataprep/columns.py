"""Feature columns: the typed, defaults-filled form every encoder consumes.

A :class:`Column` holds the flat element values of one feature for a batch of records and the row splits
that say which elements belong to which record, so fixed, variable-length and ragged features share one
layout. :func:`to_columns` builds them from a source batch as the schema says. It is the only place where
input values are checked, and it checks whole columns at once: every bad row is found, with a reason and a
message naming the origin, line or row, and column, so a policy can fail on the first or set them aside.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrow_numpy import to_numpy
from .batch import Batch, Problem
from .dates import date_format, parse_dates
from .errors import DataError
from .ragged import Ragged
from .schema import FLOAT_DTYPES, INT64_MAX, INT64_MIN, OOV_TOKEN, Feature, ImageOptions, Schema

Values: TypeAlias = np.ndarray | Ragged
_INT_RE = r"^[+-]?[0-9]+$"
_FLOAT_RE = r"^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|inf|infinity|nan)$"


def as_ragged(values: Values) -> Ragged:
    """Values that are byte strings by the feature's dtype (text, bytes, images), as such."""
    if not isinstance(values, Ragged):
        raise TypeError(f"expected byte strings, got an array of {values.dtype}")
    return values


def as_array(values: Values) -> np.ndarray:
    """Values that are numbers by the feature's dtype, as such."""
    if not isinstance(values, np.ndarray):
        raise TypeError("expected numbers, got byte strings")
    return values


@dataclass(frozen=True)
class Column:
    """One feature over ``n`` records: ``values`` (float32/float64/int64 array, or Ragged bytes elements) and
    ``row_splits`` (int64 [n+1]): record ``i`` holds elements ``row_splits[i]:row_splits[i+1]``."""

    values: Values
    row_splits: np.ndarray

    @property
    def byte_values(self) -> Ragged:
        """``values`` of a text, bytes or image feature: its elements as byte strings."""
        return as_ragged(self.values)

    def take(self, index: np.ndarray) -> Column:
        """The records at ``index``, in that order."""
        counts = np.diff(self.row_splits)[index]
        splits = np.zeros(len(index) + 1, np.int64)
        np.cumsum(counts, out=splits[1:])
        elem = np.repeat(self.row_splits[index] - splits[:-1], counts) + np.arange(splits[-1])
        vals = self.values.take(elem) if isinstance(self.values, Ragged) else self.values[elem]
        return Column(vals, splits)


@dataclass
class _Checks:
    """Collects problems while one batch is converted; positions may be elements mapped to rows."""

    batch: Batch
    problems: list[Problem] = field(default_factory=list)
    allow_paths_outside: bool = False  # image paths may lead out of the input's folder (see _read_image_files)

    def flag(self, bad: np.ndarray, column: str, reason: str, detail: Callable[[int], str],
             splits: np.ndarray | None = None) -> None:
        """Record the positions where ``bad`` holds; with ``splits`` positions are list elements and
        element ``e`` belongs to row ``r`` when ``splits[r] <= e < splits[r + 1]``."""
        pos = np.flatnonzero(bad)
        if not len(pos):
            return
        if splits is not None:
            row_ids, first_of = np.unique(np.searchsorted(splits, pos, side="right") - 1, return_index=True)
            firsts = pos[first_of]
        else:
            row_ids = firsts = pos
        batch = self.batch

        def describe(k: int) -> str:
            return f"{batch.where(int(row_ids[k]), column)}: {detail(int(firsts[k]))}"

        self.problems.append(Problem(reason, column, row_ids, describe(0), describe))


# Feature kinds converted in modules of their own, which build on this one: name -> the columns of a feature.
# dataprep.columns_sparse registers "sparse" (``import dataprep`` loads it).
KIND_COLUMNS: dict[str, Callable[[Batch, Feature, _Checks], dict[str, Column]]] = {}


def to_columns(batch: Batch, schema: Schema, allow_paths_outside: bool = False
               ) -> tuple[dict[str, Column], list[Problem]]:
    """Convert a source batch into one :class:`Column` per feature, filling defaults and checking values.

    A sparse feature gives two columns, its values under its name and its indices under its ``index_key``.
    Bad values are replaced by placeholders and reported as problems, so the caller decides whether to
    fail on the first or to drop the rows (and count them). ``allow_paths_outside`` lets image paths lead
    out of the input's folder.
    """
    checks = _Checks(batch, allow_paths_outside=allow_paths_outside)
    columns: dict[str, Column] = {}
    for f in schema.features:
        if f.sparse:  # its values and its indices
            columns.update(KIND_COLUMNS["sparse"](batch, f, checks))
        else:
            columns[f.name] = _feature_column(batch, f, checks)
    return columns, checks.problems


def first_error(problems: list[Problem]) -> DataError:
    """The problem at the earliest row, as the error a fail-fast policy raises."""
    first = min(problems, key=lambda p: int(p.rows[0]))
    return DataError(first.message)


# --- per feature ----------------------------------------------------------------------------------------------
def _feature_column(batch: Batch, f: Feature, checks: _Checks) -> Column:
    n = batch.num_rows
    if isinstance(f.source, tuple) and f.shape[0] is None:
        return _stacked_sequences(batch, f, checks)
    if isinstance(f.source, tuple):
        parts = [_scalar_values(batch.columns[c], f, c, checks) for c in f.source]
        if isinstance(parts[0], Ragged):
            order = np.arange(n * len(parts)).reshape(len(parts), n).T.reshape(-1)
            values: Values = Ragged.concat([as_ragged(p) for p in parts]).take(order)
        else:
            values = np.stack([as_array(p) for p in parts], axis=1).reshape(-1)
        return _finish(f, values, np.arange(n + 1, dtype=np.int64) * len(parts), n)

    column = f.sources[0]
    col = batch.columns[column]
    if f.shape == () and not _is_flat(col) and not isinstance(col, np.ndarray):  # one-element lists (Examples)
        one = _list_column(batch, replace(f, shape=(1,)), col, checks)
        return _finish(f, one.values, np.arange(n + 1, dtype=np.int64), n) if f.encoding == "raw_uint8" else one
    if f.encoding == "encoded_image" or f.image is not None:  # one image file per row
        return _image_column(batch, f, column, col, checks)
    if f.shape == () or _is_flat(col):
        if f.shape != ():
            raise DataError(f"{batch.where(0, column)}: feature {f.name!r} needs shape {list(f.shape)} "
                            "but the column holds one scalar per row")
        values = _scalar_values(col, f, column, checks)
        if f.encoding == "raw_uint8":
            values = Ragged.from_matrix(as_array(values).reshape(n, 1))
        return Column(values, np.arange(n + 1, dtype=np.int64))
    if isinstance(col, np.ndarray) and col.dtype != object:
        return _dense_array_column(batch, f, col, checks)
    return _list_column(batch, f, col, checks)


def _stacked_sequences(batch: Batch, f: Feature, checks: _Checks) -> Column:
    """Columns of equal-length lists stacked into rows of a [null, k] feature (k = number of columns)."""
    n, k = batch.num_rows, len(f.sources)
    cols = [_list_column(batch, replace(f, shape=(None,), source=c, default=None), batch.columns[c], checks)
            for c in f.sources]
    counts = np.stack([np.diff(c.row_splits) for c in cols])
    ragged = (counts != counts[0]).any(axis=0)
    checks.flag(ragged, f.sources[0], "wrong_shape",
                lambda i: f"feature {f.name!r}: its columns hold {counts[:, i].tolist()} values in this row; "
                          "they must be equally long")
    if ragged.any():  # flagged rows are dropped or fail; give them an empty, consistent layout
        cols = [c.take(np.flatnonzero(~ragged)) for c in cols]
        keep = np.flatnonzero(~ragged)
        per_row = np.zeros(n, np.int64)
        per_row[keep] = np.diff(cols[0].row_splits)
    else:
        per_row = counts[0]
    splits = np.zeros(n + 1, np.int64)
    np.cumsum(per_row * k, out=splits[1:])
    if isinstance(cols[0].values, Ragged):
        total = len(cols[0].values)
        order = (np.arange(total)[:, None] + np.arange(k)[None, :] * total).reshape(-1)
        return Column(Ragged.concat([c.byte_values for c in cols]).take(order), splits)
    return Column(np.stack([as_array(c.values) for c in cols], axis=1).reshape(-1), splits)


def _is_flat(col) -> bool:
    if isinstance(col, np.ndarray):
        return col.ndim == 1 and col.dtype != object
    return not _is_list_type(col.type)


def _is_list_type(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _scalar_values(col, f: Feature, column: str, checks: _Checks, splits: np.ndarray | None = None,
                   fill: bool = True) -> Values:
    """One value per position of a flat column as the feature's element type; missing -> default."""
    target = f.type_info.numpy  # None: text and bytes, whose elements are byte strings
    if isinstance(col, np.ndarray) and target is not None and col.dtype == target and \
            (f.dtype not in FLOAT_DTYPES or f.allow_nan):
        return np.ascontiguousarray(col)  # already the stored type: nothing to parse, fill or check
    arr = col if isinstance(col, (pa.Array, pa.ChunkedArray)) else _numpy_to_arrow(col, f, column, checks)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if target is None:
        return _text_values(arr, f, column, checks, splits, fill)
    return _numeric_values(arr, f, column, checks, splits, fill)


def _numpy_to_arrow(col: np.ndarray, f: Feature, column: str, checks: _Checks) -> pa.Array:
    if col.dtype.kind in "fiub":
        return pa.array(col)
    if col.dtype.kind in "US":
        return pa.array(col.astype(object))
    try:
        return pa.array(col, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise DataError(f"{checks.batch.where(0, column)}: feature {f.name!r}: values of mixed or unsupported "
                        f"types ({e})") from None


def _fill_missing(arr: pa.Array, f: Feature, column: str, checks: _Checks, splits, fill: bool) -> pa.Array:
    """Missing values take the default; without one (or inside lists) they are flagged."""
    if arr.null_count == 0:
        return arr
    missing = to_numpy(arr.is_null())
    if fill and f.default is not None:
        default = f.default[0] if isinstance(f.default, list) else f.default
        return pc.fill_null(arr, pa.scalar(default, arr.type))
    what = "missing value and feature has no default" if fill else "missing value inside a list"
    checks.flag(missing, column, "missing", lambda i: f"{what} (feature {f.name!r})", splits)
    return pc.fill_null(arr, pa.scalar("" if _is_text(arr.type) else 0, arr.type))


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) \
        or pa.types.is_large_binary(t)


def _numeric_values(arr: pa.Array, f: Feature, column: str, checks: _Checks, splits, fill: bool) -> np.ndarray:
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):  # CSV fields arrive as bytes
        arr = _decode_utf8(arr, f, column, checks, splits)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        arr = _parse_date_text(arr, f, column, checks, splits) if f.parse else \
            _parse_numbers(arr, f, column, checks, splits)
    elif f.parse and (pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type)):
        arr = _timestamp_seconds(arr, f, column, checks)
    elif pa.types.is_null(arr.type):
        arr = pa.nulls(len(arr), pa.int64() if _is_integer(f) else pa.float64())
    elif pa.types.is_boolean(arr.type):
        arr = pc.cast(arr, pa.int64())
    elif not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
        raise DataError(f"{checks.batch.where(0, column)}: feature {f.name!r} is a {f.dtype} "
                        f"{'scalar' if f.shape == () else 'element'} but the column holds {arr.type}")
    if f.dtype == "float64" and not pa.types.is_floating(arr.type):  # integers: the nearest float64
        arr = pc.cast(arr, pa.float64(), safe=False)
    arr = _fill_missing(arr, f, column, checks, splits, fill)
    values = to_numpy(arr)
    if f.dtype == "float64":  # never narrowed: the value parsed or given, bit for bit
        out = values.astype(np.float64)
        if not f.allow_nan:
            checks.flag(~np.isfinite(out), column, "not_finite",
                        lambda i: f"{out[i].item()!r} is not finite and feature {f.name!r} sets allow_nan: false",
                        splits)
        return out
    if f.dtype == "float32":
        with np.errstate(over="ignore", invalid="ignore"):
            out = values.astype(np.float32)
        if values.dtype == np.float64:
            overflow = np.isinf(out) & np.isfinite(values)
            checks.flag(overflow, column, "out_of_range",
                        lambda i: f"{values[i].item()!r} overflows float32 (feature {f.name!r})", splits)
        if not f.allow_nan:
            checks.flag(~np.isfinite(out), column, "not_finite",
                        lambda i: f"{values[i].item()!r} is not finite and feature {f.name!r} sets allow_nan: false",
                        splits)
        return out
    target = f.type_info.numpy
    info = np.iinfo(target)
    if values.dtype.kind == "f":  # whole floats are integers (exactly: a float64 holds them or is not whole)
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(values) & (values == np.round(values))
        checks.flag(~whole, column, "not_integer",
                    lambda i: f"{values[i].item()!r} is not an integer, feature {f.name!r} is {f.dtype}", splits)
        bad = whole & ((values < info.min) | (values >= float(info.max) + 1))
        keep = whole & ~bad
    elif values.dtype == np.uint64:
        bad = values > np.uint64(info.max)
        keep = ~bad
    else:
        bad = (values < info.min) | (values > info.max)
        keep = ~bad
    checks.flag(bad, column, "out_of_range",
                lambda i: f"{values[i].item()!r} is out of range for {f.dtype} (feature {f.name!r})", splits)
    return np.where(keep, values, 0).astype(target)


def _is_integer(f: Feature) -> bool:
    """Whether text parses as exact integers (int64, uint8) rather than through float64."""
    return f.type_info.numpy is not None and f.type_info.numpy.kind in "iu"


def _parse_numbers(arr: pa.Array, f: Feature, column: str, checks: _Checks, splits) -> pa.Array:
    """Parse text as numbers; text that is not a number is flagged and treated as missing.

    Integer features parse exactly (never through a float) and accept whole numbers written as floats
    ("3.0", "3e2"). A float that only overflows in parsing ("1e400") is out of range, as "1e39" is for
    float32; only "inf" and "infinity" are infinite.
    """
    text = pc.utf8_trim_whitespace(arr)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)
    if _is_integer(f):
        return _parse_integers(text, f, column, checks, splits)
    target = pa.float64()
    parsed = _cast_or_none(text, target)
    if parsed is None:
        ok = pc.fill_null(pc.match_substring_regex(text, _FLOAT_RE, ignore_case=True), True)
        ok_np = to_numpy(ok)
        checks.flag(~ok_np, column, "unparseable",
                    lambda i: f"cannot parse {text[i].as_py()!r} as {f.dtype} (feature {f.name!r})", splits)
        parsed = pc.cast(pc.if_else(ok, text, pa.scalar(None, text.type)), target)
    if pc.any(pc.is_inf(parsed)).as_py():
        literal = pc.match_substring_regex(text, r"^[+-]?inf(inity)?$", ignore_case=True)
        overflow = pc.fill_null(pc.and_(pc.is_inf(parsed), pc.invert(literal)), False)
        checks.flag(to_numpy(overflow), column, "out_of_range",
                    lambda i: f"{text[i].as_py()} overflows {f.dtype} (feature {f.name!r})", splits)
    return parsed


def _parse_date_text(arr: pa.Array, f: Feature, column: str, checks: _Checks, splits) -> pa.Array:
    """Dates and times as int64 seconds (see :mod:`dataprep.dates`); text that is not a date written as the
    feature's format writes it is flagged and treated as missing."""
    fmt = date_format(f.parse or "")
    text = pc.utf8_trim_whitespace(arr)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)
    seconds, bad = parse_dates(text, fmt)
    checks.flag(bad, column, "unparseable",
                lambda i: f"cannot parse {text[i].as_py()!r} as a date {fmt} (feature {f.name!r})", splits)
    return seconds


def _timestamp_seconds(arr: pa.Array, f: Feature, column: str, checks: _Checks) -> pa.Array:
    """Arrow dates and timestamps as int64 seconds since 1970-01-01 UTC; a fraction of a second is refused,
    since the feature would lose it."""
    try:
        return pc.cast(pc.cast(arr, pa.timestamp("s", getattr(arr.type, "tz", None))), pa.int64())
    except pa.ArrowInvalid as e:
        raise DataError(f"{checks.batch.where(0, column)}: feature {f.name!r} stores whole seconds: {e}") from None


def _parse_integers(text: pa.Array, f: Feature, column: str, checks: _Checks, splits) -> pa.Array:
    """Integer text as exact int64 (missing where flagged); values beyond int64 are out of range."""
    whole = pc.replace_substring_regex(text, r"^([+-]?[0-9]+)\.0*$", r"\1")  # "3.0" is 3
    parsed = _cast_or_none(whole, pa.int64())
    if parsed is not None:
        return parsed
    looks_int = pc.fill_null(pc.match_substring_regex(whole, _INT_RE), False)
    ints = _cast_or_none(pc.if_else(looks_int, whole, pa.scalar(None, whole.type)), pa.int64())
    present = to_numpy(pc.is_valid(whole))
    result = np.zeros(len(whole), np.int64)
    todo = present.copy()
    if ints is not None:  # the integers fit; the rest is not integer text
        looks = to_numpy(looks_int)
        result[looks] = to_numpy(pc.fill_null(ints, 0))[looks]
        todo &= ~looks
    texts = text.to_pylist()
    found = {"unparseable": np.zeros(len(whole), bool), "not_integer": np.zeros(len(whole), bool),
             "out_of_range": np.zeros(len(whole), bool)}
    for i in np.flatnonzero(todo).tolist():
        kind, value = _exact_integer(texts[i])
        if kind == "ok":
            assert value is not None  # an "ok" integer has its value
            result[i] = value
        else:
            found[kind][i] = True
    checks.flag(found["unparseable"], column, "unparseable",
                lambda i: f"cannot parse {texts[i]!r} as {f.dtype} (feature {f.name!r})", splits)
    checks.flag(found["not_integer"], column, "not_integer",
                lambda i: f"{texts[i]} is not an integer, feature {f.name!r} is {f.dtype}", splits)
    checks.flag(found["out_of_range"], column, "out_of_range",
                lambda i: f"{texts[i]} is out of range for int64 (feature {f.name!r})", splits)
    bad = found["unparseable"] | found["not_integer"] | found["out_of_range"]
    return pa.array(result, pa.int64(), mask=~present | bad)


def _exact_integer(text: str) -> tuple[str, int | None]:
    """("ok", value) for a number that is whole and fits int64, else the reason it is not, exactly."""
    if not re.fullmatch(_FLOAT_RE, text, re.IGNORECASE):
        return "unparseable", None
    number = Decimal(text)
    if not number.is_finite() or number != number.to_integral_value():
        return "not_integer", None
    if not INT64_MIN <= number <= INT64_MAX:
        return "out_of_range", None
    return "ok", int(number)


def _cast_or_none(arr: pa.Array, target: pa.DataType) -> pa.Array | None:
    try:
        return pc.cast(arr, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _text_values(arr: pa.Array, f: Feature, column: str, checks: _Checks, splits, fill: bool) -> Ragged:
    if pa.types.is_null(arr.type):
        arr = pa.nulls(len(arr), pa.string())
    if f.is_text:
        if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
            arr = _decode_utf8(arr, f, column, checks, splits)
        elif not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = pc.cast(arr, pa.large_string())
    elif not _is_text(arr.type):
        raise DataError(f"{checks.batch.where(0, column)}: feature {f.name!r} is bytes but the column holds "
                        f"{arr.type}")
    arr = _fill_missing(arr, f, column, checks, splits, fill)
    if f.vocabulary is not None and f.oov != "keep":
        known = pc.is_in(arr, value_set=pa.array(f.vocabulary, arr.type))
        if f.oov == "error":
            checks.flag(~to_numpy(known), column, "not_in_vocabulary",
                        lambda i: f"{arr[i].as_py()!r} is not in the vocabulary of feature {f.name!r}", splits)
        else:
            arr = pc.if_else(known, arr, pa.scalar(OOV_TOKEN, arr.type))
    return arrow_binary_ragged(arr)


def _image_column(batch: Batch, f: Feature, column: str, col, checks: _Checks) -> Column:
    """One image per row: read from its path (``image: {from_paths: true}``), checked to decode, kept as it
    is or re-encoded/resized as the feature's image options say; a uint8 feature stores the decoded pixels.
    Images that are missing, unreadable, undecodable, far larger than the shape (checked from the header,
    before decoding) or (pixels, not resized) of another size are flagged."""
    from . import images

    n = batch.num_rows
    options = f.image or ImageOptions()
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else \
        pa.array(col) if isinstance(col, np.ndarray) else col
    names = None
    if options.from_paths:
        arr, names = _read_image_files(arr, batch, f, column, checks)
    if not (pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type)):
        raise DataError(f"{batch.where(0, column)}: feature {f.name!r} is an image but the column holds "
                        f"{arr.type}" + ("" if options.from_paths else "; file paths need image: {from_paths: true}"))
    arr = _fill_missing(arr, f, column, checks, None, fill=False) if arr.null_count else arr
    blobs = arr.to_pylist()
    made: list[np.ndarray | bytes | images.Rejection | None]
    if f.dtype == "uint8":
        made = [images.pixels(b, f.shape, options.resize) if b is not None else None for b in blobs]
    else:
        made = [images.prepare(b, options, f.shape) if b is not None else None for b in blobs]
    refused = {i: m for i, m in enumerate(made) if isinstance(m, images.Rejection)}
    for reason in dict.fromkeys(r.reason for r in refused.values()):
        checks.flag(np.array([i in refused and refused[i].reason == reason for i in range(len(made))]), column,
                    reason,
                    lambda i: f"{'' if names is None else f'image file {names[i]!r}: '}{refused[i].detail} "
                              f"(feature {f.name!r})")
    checks.flag(np.array([b is not None and m is None for b, m in zip(blobs, made)]), column, "undecodable_image",
                lambda i: f"cannot decode the image (feature {f.name!r})")
    if f.dtype == "uint8":
        shapes = [m.shape if isinstance(m, np.ndarray) else None for m in made]
        checks.flag(np.array([s is not None and s != f.shape for s in shapes]), column, "wrong_shape",
                    lambda i: f"the image is {'x'.join(map(str, shapes[i] or ()))}, feature {f.name!r} holds "
                              f"{'x'.join(map(str, f.shape))} (set image: {{resize: true}} to resize)")
        matrix = np.zeros((n, f.inner_size), np.uint8)
        for i, p in enumerate(made):
            if isinstance(p, np.ndarray) and p.shape == f.shape:
                matrix[i] = p.reshape(-1)
        return Column(Ragged.from_matrix(matrix), np.arange(n + 1, dtype=np.int64))
    stored = [m if isinstance(m, bytes) else b"" for m in made]  # refused and undecodable rows are flagged
    return Column(Ragged.from_list(stored), np.arange(n + 1, dtype=np.int64))


def _read_image_files(arr: pa.Array, batch: Batch, f: Feature, column: str, checks: _Checks
                      ) -> tuple[pa.Array, list]:
    """The bytes of the image files a column names, and the names. Relative paths start at the input
    file's folder (the working folder for in-memory tables) and must stay inside it, symlinks followed;
    absolute paths and paths leading out are flagged ``path_outside`` unless ``allow_paths_outside``. Only
    regular files of a bounded size are read (see :func:`dataprep.images.read_image_file`)."""
    import os
    from pathlib import Path

    from .images import Rejection, read_image_file

    base = Path(batch.origin).parent if os.path.isfile(batch.origin) else Path.cwd()
    root = None if checks.allow_paths_outside else Path(os.path.realpath(base))
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        arr = pc.cast(arr, pa.string())
    names = arr.to_pylist()
    data: list = [None] * len(names)
    refused: list = [None] * len(names)
    for i, name in enumerate(names):
        if name is None or not name.strip():
            continue
        path = Path(name.strip())
        if path.is_absolute() and root is not None:
            refused[i] = Rejection("path_outside", f"image file {name!r} is an absolute path; paths are relative "
                                                   f"to {base} (pass --allow-paths-outside to read it)")
            continue
        blob = read_image_file(path if path.is_absolute() else base / path, root)
        if not isinstance(blob, Rejection):
            data[i] = blob
        elif blob.reason == "missing_file":
            refused[i] = blob._replace(detail=f"cannot read image file {name!r} (relative paths start at {base})")
        else:
            hint = "; pass --allow-paths-outside to read it" if blob.reason == "path_outside" else ""
            refused[i] = blob._replace(detail=f"image file {blob.detail}{hint}")
    for reason in dict.fromkeys(r.reason for r in refused if r is not None):
        checks.flag(np.array([r is not None and r.reason == reason for r in refused]), column, reason,
                    lambda i: refused[i].detail)
    return pa.array(data, pa.binary()), names


def _decode_utf8(arr: pa.Array, f: Feature, column: str, checks: _Checks, splits) -> pa.Array:
    """Binary values as text; values that are not valid UTF-8 are flagged and become missing."""
    try:
        return pc.cast(arr, pa.large_string())
    except pa.ArrowInvalid:
        pass
    flags = np.array([v is not None and not _utf8_ok(v) for v in arr.to_pylist()], bool)
    what = "text" if f.is_text else f"a {f.dtype} value"
    checks.flag(flags, column, "invalid_utf8",
                lambda i: f"invalid UTF-8 where {what} was expected (feature {f.name!r})", splits)
    return pc.cast(pc.if_else(pa.array(~flags), arr, pa.scalar(None, arr.type)), pa.large_string())


def _utf8_ok(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def arrow_binary_ragged(arr: pa.Array) -> Ragged:
    """The elements of an Arrow string/binary array (no nulls) as Ragged bytes, without copying the data."""
    arr = pc.cast(arr, pa.large_binary()) if not pa.types.is_large_binary(arr.type) else arr
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, np.int64)[arr.offset:arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return Ragged(data, offsets)


# --- array-valued sources -----------------------------------------------------------------------------------
def _dense_array_column(batch: Batch, f: Feature, arr: np.ndarray, checks: _Checks) -> Column:
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
    splits = np.arange(n + 1, dtype=np.int64) * per_row
    values = _scalar_values(arr.reshape(-1), replace(f, shape=()), column, checks, splits, fill=False)
    return _finish(f, values, splits, n)


def _list_column(batch: Batch, f: Feature, col, checks: _Checks) -> Column:
    """Object arrays of lists and Arrow list columns: flatten nesting, check element counts per row.

    A missing list is an empty list for variable-length features, and takes the default (or is flagged)
    for fixed shapes.
    """
    n = batch.num_rows
    column = f.sources[0]
    if f.select is not None:
        raise DataError(f"{batch.where(0, column)}: 'select' needs a 2-D numpy array source")
    arr = col if isinstance(col, (pa.Array, pa.ChunkedArray)) else _numpy_to_arrow(col, f, column, checks)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    offsets = np.arange(n + 1, dtype=np.int64)  # row -> range of items at the current nesting level
    values = arr
    missing = np.zeros(n, bool)
    while _is_list_type(values.type):
        if values.null_count:
            nulls = np.flatnonzero(to_numpy(values.is_null()))
            missing[np.searchsorted(offsets, nulls, side="right") - 1] = True
        offsets = _list_offsets(values)[offsets]
        values = values.values
    values = values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    splits = offsets - offsets[0]
    counts = np.diff(splits)
    ok = counts == f.inner_size if f.is_fixed else counts % f.inner_size == 0
    if f.is_fixed:
        fill = missing & (f.default is not None)
        checks.flag(missing & ~fill, column, "missing",
                    lambda i: f"missing value and feature {f.name!r} has no default")
        ok |= missing
    want = f"{f.inner_size}" if f.is_fixed else f"a multiple of {f.inner_size}"
    checks.flag(~ok, column, "wrong_shape",
                lambda i: f"feature {f.name!r} has {counts[i]} elements, shape {list(f.shape)} needs {want}")
    elems = _scalar_values(values, replace(f, shape=(), default=None), column, checks, splits, fill=False)
    result = Column(elems, splits)
    if f.is_fixed and missing.any():
        result = _with_defaults(result, f, missing, n)
    if not ok.all() and ok.any():  # flagged rows borrow a valid row's layout; they are never written
        result = result.take(np.where(ok, np.arange(n), int(np.argmax(ok))))
    return _finish(f, result.values, result.row_splits, n)


def _with_defaults(col: Column, f: Feature, missing: np.ndarray, n: int) -> Column:
    """Fixed-shape rows that were missing get the default's elements (others keep theirs)."""
    default = f.filled_default() or [0] * f.inner_size
    fill: Values
    if isinstance(col.values, Ragged):
        fill = Ragged.from_list([v.encode("utf-8") for v in default] * int(missing.sum()))
    else:
        fill = np.tile(np.asarray(default, col.values.dtype), int(missing.sum()))
    merged = Column(_concat_values(col.values, fill), np.r_[col.row_splits,
                    col.row_splits[-1] + np.arange(1, int(missing.sum()) + 1) * f.inner_size])
    index = np.arange(n)
    index[missing] = n + np.arange(int(missing.sum()))
    return merged.take(index)


def _concat_values(a: Values, b: Values) -> Values:
    if isinstance(a, Ragged):
        return Ragged.concat([a, as_ragged(b)])
    return np.concatenate([a, as_array(b)])


def _finish(f: Feature, values: Values, splits: np.ndarray, n: int) -> Column:
    """Pixel arrays become one raw bytes value per record; everything else keeps its elements."""
    if f.encoding == "raw_uint8":
        return Column(Ragged.from_matrix(as_array(values).reshape(n, f.inner_size)), np.arange(n + 1, dtype=np.int64))
    return Column(values, splits)


def _list_offsets(arr: pa.Array) -> np.ndarray:
    """Offsets of a list array into its (unsliced) child ``arr.values``, as int64 [len + 1]."""
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        return (np.arange(len(arr) + 1, dtype=np.int64) + arr.offset) * size
    return to_numpy(arr.offsets).astype(np.int64)
