"""Schema inference: one streaming pass over a source picks dtypes, defaults and vocabularies.

Text columns (CSV) are tried as int64, then float, then string, promoting when a batch does not parse.
What convert would store exactly decides: digits with leading zeros (zip codes) and integers beyond int64
stay text, integers of any size within int64 stay int64, and text (vocabularies included) keeps its spaces.
A float column is float32 only when float32 keeps every value as written (the shortest float32 text of each
value is its shortest float64 text), float64 otherwise; the feature's description says which and why.
An image folder gives an image feature (shape of its first image), the path and a label whose vocabulary is
the class names. Feature columns with blanks get a default (the mean for numbers, the most frequent value for
categoricals, "" for free text); labels and weights never do, so rows missing them are bad rows. Strings with
few distinct values become categoricals with a vocabulary ordered by frequency. Text columns whose every value
is a date or time in one of :data:`~dataprep.dates.INFERRED_FORMATS` (2012-01-01, 2012/01/01,
2020-01-01T10:00:00) become int64 seconds since 1970-01-01 UTC with that ``parse`` format, as Arrow dates and
timestamps do. Text of "index:value" entries (LIBSVM style, some value holding several) becomes a sparse feature
of size the largest index + 1. Features get the wide&deep groups of :func:`dataprep.model_inputs.default_groups`
(categoricals wide, numbers deep); free text, strings with too many values and integers that count the rows
(0, 1, 2, ... : an id) get none, and their description says why.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .dates import INFERRED_FORMATS, parse_alias, parse_dates
from .errors import SourceError, UsageError
from .images import image_shape
from .model_inputs import default_groups, unusable
from .schema import FLOAT_DTYPES, INT64_MAX, INT64_MIN, Feature, Schema
from .sources import IMAGE_FOLDER, iter_batches, resolve_source

MAX_TRACKED = 1000  # distinct values remembered per column
_LEADING_ZERO = r"^[+-]?0[0-9]+$"
_INT_TEXT = r"^[+-]?[0-9]+$"
_SPARSE_TEXT = r"^[0-9]+:[^:\s]+(\s+[0-9]+:[^:\s]+)*$"  # "3:0.5 17:1"


@dataclass
class _ColumnStats:
    kind: str = "int"  # int -> float -> string, or a fixed Arrow-derived dtype
    shape: tuple = ()
    count: int = 0
    missing: int = 0  # nulls (empty fields, NA markers)
    blank: int = 0  # whitespace-only text: missing for a number, a value for text
    total: float = 0.0
    numeric: int = 0
    values: Counter | None = field(default_factory=Counter)
    float32_change: tuple[str, str] | None = None  # the first value float32 would change: (as written, float32)
    date_formats: tuple[str, ...] = INFERRED_FORMATS  # the date formats that read every text value so far
    date_total: int = 0  # the sum of the dates' seconds (in the first of date_formats), for a default
    date_count: int = 0
    sparse_size: int | None = 0  # "index:value" text: 1 + the largest index so far (None: not such text)
    sparse_several: bool = False  # whether a value holds several entries (one "10:30" alone is more likely a time)
    low: float = math.inf  # of the numbers
    high: float = -math.inf

    def track_dates(self, text: pa.Array) -> None:
        """Keep the date formats that read every value of this batch of text (no nulls) exactly."""
        if not self.date_formats or not len(text):
            return
        kept = []
        for fmt in self.date_formats:
            seconds, bad = parse_dates(text, fmt)
            if not bad.any():
                kept.append(fmt)
                if len(kept) == 1:
                    self.date_total += int(pc.sum(seconds).as_py())
                    self.date_count += len(text)
        self.date_formats = tuple(kept)

    def track_sparse(self, text: pa.Array) -> None:
        """Whether this batch of text (no nulls) is "index:value" entries with number values, and its size."""
        if self.sparse_size is None or not len(text):
            return
        if not pc.all(pc.match_substring_regex(text, _SPARSE_TEXT)).as_py():
            self.sparse_size = None
            return
        lists = pc.utf8_split_whitespace(text)
        parts = pc.extract_regex(pc.list_flatten(lists), r"^(?P<index>[0-9]+):(?P<value>.*)$")
        try:
            index, values = pc.cast(parts.field("index"), pa.int64()), pc.cast(parts.field("value"), pa.float64())
        except pa.ArrowInvalid:  # an index beyond int64, a value that is not a number
            self.sparse_size = None
            return
        self.sparse_size = max(self.sparse_size, int(pc.max(index).as_py()) + 1)
        self.sparse_several = self.sparse_several or bool(pc.max(pc.list_value_length(lists)).as_py() > 1)
        _check_float32(self, values)

    def track(self, arr: pa.Array) -> None:
        if self.values is None:
            return
        counts = pc.value_counts(pc.drop_null(arr))
        for item in counts.to_pylist():
            self.values[item["values"]] += item["counts"]
        if len(self.values) > MAX_TRACKED:
            self.values = None


def infer_schema(source: Any, label: Sequence[str] | str | None = None, weight: str | None = None,
                 max_categories: int = 50, name: str = "") -> Schema:
    """Infer a schema from ``source`` (any input :func:`dataprep.convert` accepts)."""
    labels = [label] if isinstance(label, str) else list(label or [])
    source = resolve_source(source)
    if source.kind == IMAGE_FOLDER:
        classes = tuple(sorted(set(source.labels)))
        height, width, channels = image_shape(source.files[0].read_bytes())
        return Schema(features=(
            Feature(name="image", dtype="image", shape=(height, width, channels),
                    description="encoded images; readers decode and resize them to this shape"),
            Feature(name="path", dtype="string", shape=(), description="the image file, for provenance"),
            Feature(name="label", dtype="string", shape=(), role="label", vocabulary=classes,
                    description="the class folder")),
            name=name, description=f"inferred from {len(source.files)} images")
    stats: dict[str, _ColumnStats] = {}
    rows = 0
    for batch in iter_batches(source):
        for col, arr in batch.columns.items():
            st = stats.setdefault(col, _ColumnStats())
            _observe(st, arr, col)
        rows += batch.num_rows
    if not stats:
        raise SourceError("source has no columns")
    for col in labels + ([weight] if weight else []):
        if col not in stats:
            raise UsageError(f"--label/--weight column {col!r} is not in the source; it has {', '.join(stats)}")
    features = []
    used: set[str] = set()
    for col, st in stats.items():
        fname = _feature_name(col, used)
        role = "label" if col in labels else "weight" if col == weight else "feature"
        features.append(_feature(fname, col, st, role, max_categories))
    return Schema(features=tuple(_grouped(features, stats.values())), name=name,
                  description=f"inferred from {rows} rows")


def _grouped(features: list[Feature], stats) -> list[Feature]:
    """The features with their default wide&deep groups; those a model cannot use say why they have none."""
    why = {f.name: unusable(f) or ("consecutive integers, one per row: an id" if _counts_rows(st) else None)
           for f, st in zip(features, stats) if f.role == "feature"}
    groups = default_groups([f for f in features if f.name in why and why[f.name] is None])
    out = []
    for f in features:
        if f.name in groups:
            f = replace(f, group=groups[f.name])
        elif why.get(f.name):
            f = replace(f, description="; ".join(filter(None, [f.description, f"no wide&deep group: {why[f.name]}"])))
        out.append(f)
    return out


def _counts_rows(st: _ColumnStats) -> bool:
    """An integer column holding each of low..high once (a row number or id): count and sum both match."""
    n = st.count
    return (st.kind == "int" and st.shape == () and st.missing + st.blank == 0 and n >= 20
            and st.high - st.low + 1 == n and st.total == n * (st.low + st.high) / 2)


def _observe(st: _ColumnStats, arr, col: str) -> None:
    if isinstance(arr, np.ndarray):
        if arr.ndim > 1:
            st.kind = "float" if arr.dtype.kind == "f" else "int" if arr.dtype.kind in "iub" else "string"
            if arr.dtype == np.float64:
                _check_float32(st, pa.array(arr.reshape(-1)))
            st.kind = "uint8" if arr.dtype == np.uint8 and arr.ndim >= 3 else st.kind
            st.shape = tuple(arr.shape[1:])
            st.count += len(arr)
            st.values = None
            return
        arr = pa.array(arr.astype(object) if arr.dtype.kind in "US" else arr)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    st.count += len(arr)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        inner = t.value_type
        st.kind = "float" if pa.types.is_floating(inner) else "int" if pa.types.is_integer(inner) else "string"
        st.shape = (t.list_size,) if pa.types.is_fixed_size_list(t) else (None,)
        if pa.types.is_float64(inner):
            _check_float32(st, pc.list_flatten(arr))
        st.values = None
        return
    st.missing += arr.null_count
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):  # CSV fields arrive as bytes: text if UTF-8
        try:
            arr, t = pc.cast(arr, pa.string()), pa.string()
        except pa.ArrowInvalid:
            pass
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        text = pc.utf8_trim_whitespace(arr)  # numbers may be padded, as convert reads them
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        st.blank += text.null_count - arr.null_count
        if st.kind in ("int", "float") and pc.any(pc.match_substring_regex(text, _LEADING_ZERO)).as_py():
            st.kind = "string"  # zip codes, ids: the zeros are part of the value
        for kind, target in (("int", pa.int64()), ("float", pa.float64())):
            if st.kind == kind:
                try:
                    _numbers(st, pc.cast(text, target))
                    break
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    whole = pc.all(pc.match_substring_regex(pc.drop_null(text), _INT_TEXT)).as_py()
                    st.kind = "float" if kind == "int" and not whole else "string"  # beyond int64: text
        if st.kind == "string":
            st.track_dates(pc.drop_null(text))
            st.track_sparse(pc.drop_null(text))
        st.track(arr)  # text is kept as it is written, spaces included
        return
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        st.kind, st.values = "bytes", None
    elif pa.types.is_floating(t):
        st.kind = "float"
        _numbers(st, arr, exact32=not pa.types.is_float64(t))
    elif pa.types.is_integer(t) or pa.types.is_boolean(t):
        if pa.types.is_uint64(t) and pc.any(pc.greater(arr, pa.scalar(INT64_MAX, pa.uint64()))).as_py():
            st.kind, st.values = "string", None  # unsigned integers beyond int64 stay exact as text
        if st.kind != "string":
            st.kind = "float" if st.kind == "float" else "int"
            _numbers(st, pc.cast(arr, pa.int64()))
    elif pa.types.is_null(t):
        pass
    elif pa.types.is_timestamp(t) or pa.types.is_date(t):  # taken as whole seconds (convert refuses fractions)
        st.kind, st.values = "string", None
        st.date_formats = ("%Y-%m-%d",) if pa.types.is_date(t) else ("%Y-%m-%dT%H:%M:%S",)
        seconds = pc.drop_null(pc.cast(pc.cast(arr, pa.timestamp("s"), safe=False), pa.int64()))
        st.date_total += int(pc.sum(seconds).as_py() or 0)
        st.date_count += len(seconds)
    else:
        raise SourceError(f"column {col!r}: unsupported type {t}")


def _numbers(st: _ColumnStats, arr: pa.Array, exact32: bool = False) -> None:
    """Add a batch of numbers to the sums; unless they are float32 already (``exact32``), note whether
    float32 would change one (integers too: a column of them may turn out to hold floats)."""
    valid = pc.drop_null(arr)
    if len(valid):
        st.total += float(pc.sum(pc.cast(valid, pa.float64(), safe=False)).as_py())  # a mean: may round
        st.numeric += len(valid)
        bounds = pc.min_max(valid)
        st.low, st.high = min(st.low, bounds["min"].as_py()), max(st.high, bounds["max"].as_py())
        if not exact32:
            _check_float32(st, valid)


def _check_float32(st: _ColumnStats, values: pa.Array) -> None:
    """Remember the first value whose shortest float32 text is not its shortest float64 text."""
    if st.float32_change is not None or not len(values):
        return
    as64 = pc.cast(values, pa.float64(), safe=False)
    with np.errstate(over="ignore"):
        as32 = pa.array(as64.to_numpy(zero_copy_only=False).astype(np.float32))
    text64, text32 = pc.cast(as64, pa.string()), pc.cast(as32, pa.string())
    changed = pc.fill_null(pc.not_equal(text64, text32), False)
    if pc.any(changed).as_py():
        i = pc.index(changed, True).as_py()
        st.float32_change = (text64[i].as_py(), text32[i].as_py())


def _feature_name(col: str, used: set[str]) -> str:
    name = re.sub(r"\W", "_", col.strip()) or "column"
    if name[0].isdigit():
        name = "_" + name
    base, i = name, 2
    while name in used:
        name, i = f"{base}_{i}", i + 1
    used.add(name)
    return name


def _feature(name: str, col: str, st: _ColumnStats, role: str, max_categories: int) -> Feature:
    source = None if name == col else col
    missing = st.missing + (st.blank if st.kind in ("int", "float") else 0)
    kind = "float" if st.count == missing and st.kind == "int" else st.kind  # all blank: nothing to go on
    dtype = {"int": "int64", "float": "float32", "string": "string", "bytes": "bytes", "uint8": "uint8"}[kind]
    dates = kind == "string" and st.shape == () and bool(st.date_formats) and st.date_count > 0
    if dates:  # every value a date or time in one format: int64 seconds, missing ones (blank) as missing
        dtype, missing = "int64", st.missing + st.blank
    sparse = kind == "string" and st.shape == () and not dates and bool(st.sparse_size) and st.sparse_several
    if sparse:  # a blank value has no entries
        dtype = "float64" if st.float32_change is not None else "float32"
    if dtype == "float32" and st.float32_change is not None:
        dtype = "float64"
    default: float | int | str | None = None
    vocabulary = None
    nullable = missing > 0
    impute = nullable and role == "feature" and not sparse  # a missing label or weight is a bad row, never made up
    if dtype == "string" and st.values is not None and st.shape == () and not dates and not sparse:
        distinct = len(st.values)
        if 0 < distinct <= max_categories and distinct <= max(2, 0.5 * (st.count - missing)):
            vocabulary = tuple(v for v, _ in sorted(st.values.items(), key=lambda kv: (-kv[1], kv[0])))
    if impute:
        mean = st.total / st.numeric if st.numeric else 0.0
        if dtype in FLOAT_DTYPES:
            default = float(f"{mean:.6g}")
        elif dates:  # the mean date (at midnight when the format has no time of day)
            default = st.date_total // st.date_count
            default -= default % 86400 if "%H" not in st.date_formats[0] else 0
        elif dtype == "int64":
            default = min(max(int(round(mean)), INT64_MIN), INT64_MAX)
        elif dtype == "string":
            default = vocabulary[0] if vocabulary else ""
        elif dtype == "bytes":
            default = ""
    notes = [f"{missing} of {st.count} values missing"] if nullable else []
    if sparse:
        notes.append(f"'index:value' text: a sparse vector of size {st.sparse_size} (1 + its largest index)")
    if dtype == "float64":
        assert st.float32_change is not None  # the reason the column is float64
        notes.append("float64: float32 would change {} to {}".format(*st.float32_change))
    elif dtype == "float32" and st.count > st.missing:
        notes.append("float32 keeps every value as written")
    elif dates:
        notes.append(f"dates/times {st.date_formats[0]} as int64 seconds since 1970-01-01 UTC")
    desc = "; ".join(notes)
    return Feature(name=name, dtype=dtype, shape=(st.sparse_size,) if sparse else st.shape, sparse=sparse,
                   source=source, default=default, role=role, vocabulary=vocabulary, description=desc,
                   parse=parse_alias(st.date_formats[0]) if dates else None)
