"""The schema: every feature's source, dtype, shape, default, role and group, in one validated object.

It is the only place that maps dtypes: :data:`DTYPES` holds one row per dtype (its stored list kind, numpy,
Arrow, TensorFlow, Keras and CSV types, and what kind of values it holds), and every other module looks its
types up there. The encoder's storage layout, the manifest's description of the shards, the CSV header and
record defaults, and TensorFlow's parse specs are all derived from it here, so they cannot drift apart.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import SchemaError
from .limits import MAX_RECORD_BYTES
from .storage import fetch_inputs, is_remote

ROLES = ("feature", "label", "weight")
GROUPS = ("wide", "deep", "both")
OOV_POLICIES = ("error", "bucket", "keep")
NORMALIZERS = ("zscore", "minmax", "log", "none")
OOV_TOKEN = "[UNK]"
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # matched whole (fullmatch): "a\n" is not a name
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")  # no source column name holds these (they break CSV headers)

# Limits on what a schema may ask for, checked before anything is allocated (a hostile or mistyped schema
# must fail with one line, not exhaust memory).
MAX_SCHEMA_BYTES = 1 << 20  # a schema file over 1 MiB is refused unread: real ones are a few KiB
MAX_FEATURE_BYTES = 64 << 20  # one feature of one record (its fixed dimensions): 2^24 float32 values, or a
#                                4096x4096x4 image; a text or bytes element counts 8 bytes (its offset)
MAX_SHAPE_RANK = 32  # dimensions in one shape
MAX_CSV_COLUMNS = 1 << 16  # columns of a CSV shard (a 256x256 image as pixels is 65,536)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v: Any, low: int, high: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _fits_float64(v: Any) -> bool:
    """Whether ``v`` is a float64 value: an int beyond its range would overflow (floats always fit)."""
    if not _is_number(v):
        return False
    try:
        float(v)
    except OverflowError:
        return False
    return True


@dataclass(frozen=True)
class DType:
    """One schema dtype and every type it maps to: the registry row the encoders, readers, trainers and
    validation all look up, so that adding a dtype is one row here plus its codec.

    Types of other libraries are named by string (``tf``, ``keras``, ``csv`` are ``tf.dtypes`` names, ``arrow``
    a pyarrow type alias), so this module imports neither TensorFlow nor pyarrow."""

    name: str
    stored: str  # the tf.train.Feature list that holds it: float, int64 or bytes
    numpy: np.dtype | None  # one element in numpy (None: a bytes object)
    arrow: str  # one element in Arrow (pyarrow.type_for_alias)
    tf: str  # the tensors the TensorFlow readers give
    keras: str  # the dtype of its Keras Input
    csv: str | None  # the record type tf.io.decode_csv reads its CSV columns as (None: CSV cannot hold it)
    element_bytes: int  # one element in memory, for the size limits (text and bytes: their offset)
    valid_default: Callable[[Any], bool]  # whether a schema value may be its default
    encoding: str = "none"  # how the stored values encode it (the manifest's ``encoding``)
    numeric: bool = False  # numbers the models normalise
    text: bool = False  # UTF-8 strings (a vocabulary applies)
    pixels: bool = False  # an image: uint8 [h, w, c] once decoded
    encoded_image: bool = False  # stored as a PNG/JPEG/... file's bytes, decoded by the readers

    @property
    def arrow_type(self):
        """The Arrow type of one element (imports pyarrow)."""
        import pyarrow as pa

        return pa.type_for_alias(self.arrow)


# float64 has no list of its own in tf.train.Feature: its IEEE-754 bit patterns go into an Int64List (encoding
# ``float64_bits``), which every shape kind (fixed with defaults, varlen, ragged, feature lists) carries and
# tf.bitcast reads back exactly. decode_csv has no uint8: pixel columns are read as int32, then cast.
DTYPES: dict[str, DType] = {t.name: t for t in (
    #     name       stored   numpy                arrow      tf         keras      csv        bytes
    DType("float32", "float", np.dtype("float32"), "float32", "float32", "float32", "float32", 4,
          _is_number, numeric=True),
    DType("float64", "int64", np.dtype("float64"), "float64", "float64", "float64", "float64", 8,
          _fits_float64, encoding="float64_bits", numeric=True),
    DType("int64",   "int64", np.dtype("int64"),   "int64",   "int64",   "int64",   "int64",   8,
          lambda v: _is_int(v, INT64_MIN, INT64_MAX), numeric=True),
    DType("string",  "bytes", None,                "string",  "string",  "string",  "string",  8,
          lambda v: isinstance(v, str), encoding="utf8", text=True),
    DType("bytes",   "bytes", None,                "binary",  "string",  "string",  None,      8,
          lambda v: isinstance(v, str)),
    DType("uint8",   "bytes", np.dtype("uint8"),   "uint8",   "uint8",   "uint8",   "int32",   1,
          lambda v: _is_int(v, 0, 255), encoding="raw_uint8", pixels=True),
    DType("image",   "bytes", None,                "binary",  "uint8",   "uint8",   None,      1,
          lambda v: False, encoding="encoded_image", pixels=True, encoded_image=True),
)}
# Each list kind's own values: those of the dtype it stores unencoded (float32, int64, bytes).
STORED_TYPES: dict[str, DType] = {t.stored: t for t in DTYPES.values() if t.encoding == "none"}
FLOAT_DTYPES = tuple(t.name for t in DTYPES.values() if t.numeric and t.numpy is not None and t.numpy.kind == "f")
NUMBER_DTYPES = tuple(t.name for t in DTYPES.values() if t.numeric)

_FEATURE_KEYS = {"name", "source", "select", "dtype", "shape", "sparse", "parse", "default", "role", "group",
                 "vocabulary", "image", "oov", "allow_nan", "normalize", "description", "drift"}
SPARSE_INDEX_SUFFIX = "/indices"  # a sparse feature's indices are the Example key ``name/indices`` (no name has "/")
_SCHEMA_KEYS = {"name", "description", "features", "version", "record"}
RECORDS = ("example", "sequence_example")
IMAGE_FORMATS = ("keep", "jpeg", "png")


@dataclass(frozen=True)
class ImageOptions:
    """How an image feature is made at conversion: read from file paths in its column (``from_paths``),
    re-encoded (``format`` jpeg/png, JPEG ``quality``) and/or resized to the feature's shape (``resize``).
    By default the encoded bytes are stored as they are."""

    from_paths: bool = False
    format: str = "keep"
    quality: int = 90
    resize: bool = False

    @property
    def transforms(self) -> bool:
        """Whether stored bytes differ from the input file's (re-encoded or resized)."""
        return self.format != "keep" or self.resize

    def to_dict(self) -> dict:
        default = ImageOptions()
        return {k: v for k, v in self.__dict__.items() if v != getattr(default, k)}


@dataclass(frozen=True)
class Feature:
    """One feature of a record.

    ``shape`` is ``()`` for a scalar, ``(k, ...)`` for a fixed tensor, and ``(None, k, ...)`` for a
    variable-length list (``(None,)``) or a ragged list of fixed-size rows; with ``sparse`` it is ``(size,)``, the
    dense shape of a ``tf.SparseTensor`` of which each record stores only the (index, value) entries it has.
    ``source`` names the input column
    (or a list of scalar columns stacked in order); ``select`` takes a ``start:stop`` slice of the last axis
    of an array-valued source column, as in the seed's ``x[:, :5]``.
    """

    name: str
    dtype: str
    shape: tuple = ()
    sparse: bool = False
    parse: str | None = None  # dates/times: a strptime format or alias, stored as int64 seconds (dataprep.dates)
    source: str | tuple[str, ...] | None = None
    select: tuple[int, int] | None = None
    default: Any = None
    role: str = "feature"
    group: str | None = None
    vocabulary: tuple[str, ...] | None = None
    vocabulary_from_stats: bool = False  # the vocabulary is the training split's values (open at conversion)
    oov: str = "error"
    allow_nan: bool = True
    normalize: str | None = None
    image: ImageOptions | None = None
    description: str = ""
    drift: tuple[tuple[str, float], ...] = ()  # drift thresholds of this feature (dataprep.drift), by check

    # --- derived layout -------------------------------------------------------------------------------------
    @property
    def sources(self) -> tuple[str, ...]:
        """The input column names this feature reads."""
        if self.source is None:
            return (self.name,)
        return self.source if isinstance(self.source, tuple) else (self.source,)

    @property
    def is_fixed(self) -> bool:
        """Whether every record holds the same number of elements (a sparse feature holds its entries)."""
        return not self.sparse and all(d is not None for d in self.shape)

    @property
    def kind(self) -> str:
        """How the Example holds it: ``fixed`` (known element count), ``varlen`` or ``ragged`` ([None, k...]),
        or ``sparse`` (its values under its name, their int64 indices under :attr:`index_key`)."""
        if self.sparse:
            return "sparse"
        if self.is_fixed:
            return "fixed"
        return "varlen" if len(self.shape) == 1 else "ragged"

    @property
    def index_key(self) -> str:
        """The Example key of a sparse feature's indices (its values are under its name)."""
        return self.name + SPARSE_INDEX_SUFFIX

    def stored_features(self) -> tuple[Feature, ...]:
        """The features the Example holds for this one: itself, or for a sparse feature its values (a
        variable-length list under its name) and its indices (int64 under :attr:`index_key`), in the order
        of ``tf.io.SparseFeature(index_key, value_key)``. The encoder and the TF-free readers work on these."""
        if not self.sparse:
            return (self,)
        return (replace(self, shape=(None,), sparse=False), Feature(self.index_key, "int64", (None,)))

    @property
    def inner_size(self) -> int:
        """Elements per row of the variable dimension (1 for ``[None]``); the whole size when fixed."""
        dims = self.shape if self.is_fixed else self.shape[1:] if not self.sparse else ()
        return int(math.prod(dims))

    @property
    def type_info(self) -> DType:
        """The registry row of its dtype: its numpy, Arrow, TensorFlow, Keras and CSV types."""
        return DTYPES[self.dtype]

    @property
    def is_numeric(self) -> bool:
        """float32, float64 or int64 numbers."""
        return self.type_info.numeric

    @property
    def is_text(self) -> bool:
        """UTF-8 strings."""
        return self.type_info.text

    @property
    def is_categorical(self) -> bool:
        """Strings from a listed vocabulary (``from_stats`` ones are listed by the trainers)."""
        return self.is_text and bool(self.vocabulary)

    @property
    def is_image(self) -> bool:
        """Pixels: a uint8 array, or an encoded image the readers decode to uint8 [h, w, c]."""
        return self.type_info.pixels

    @property
    def stored_dtype(self) -> str:
        """The ``tf.train.Feature`` list kind: ``float``, ``int64`` or ``bytes``."""
        return self.type_info.stored

    @property
    def encoding(self) -> str:
        """``raw_uint8``: the whole pixel array is one bytes value; ``encoded_image``: a PNG/JPEG/... file's
        bytes, decoded and resized to ``shape`` by the readers; ``utf8``: text; ``float64_bits``: each int64
        is a float64's bit pattern (``tf.bitcast(x, tf.float64)``); ``none`` otherwise."""
        return self.type_info.encoding

    @property
    def elements_per_record(self) -> int | None:
        """How many list entries one Example holds for this feature, or None when variable."""
        if self.is_image:  # one bytes value: the pixel array, or the image file
            return 1
        return self.inner_size if self.is_fixed else None

    @property
    def csv_record_default(self) -> str | None:
        """Its CSV columns' ``record_default``: ``""`` for text, since every field is written and only text
        can be empty; None (the field is required) otherwise."""
        return "" if self.is_text else None

    def filled_default(self) -> Any:
        """The default as a flat list of stored values (one per element), or None when there is none."""
        if self.default is None:
            return None
        if self.encoding == "raw_uint8":
            vals = self.default if isinstance(self.default, list) else [self.default] * self.inner_size
            return [bytes(bytearray(vals))]
        if isinstance(self.default, list):
            return list(self.default)
        return [self.default] * self.inner_size

    def stored_default(self) -> Any:
        """The default as the record's list holds it (float64: int64 bit patterns), or None."""
        values = self.filled_default()
        if values is None or self.encoding != "float64_bits":
            return values
        return np.asarray(values, np.float64).view(np.int64).tolist()

    def storage(self) -> dict:
        """How this feature sits in each ``tf.train.Example``: enough for any TensorFlow user to parse it."""
        out = {
            "key": self.name,
            "kind": self.kind,
            "stored_dtype": self.stored_dtype,
            "shape": list(self.shape),
            "encoding": self.encoding,
            "elements_per_record": self.elements_per_record,
        }
        if self.sparse:
            out["index_key"] = self.index_key
        if self.parse is not None:
            out["parse"] = self.parse
        if self.default is not None:
            out["default"] = self.stored_default() if self.encoding != "raw_uint8" else self.default
        return out

    def to_dict(self) -> dict:
        """The feature as it is written in a schema file, leaving out what is at its default."""
        d: dict[str, Any] = {"name": self.name}
        if self.source is not None:
            d["source"] = list(self.source) if isinstance(self.source, tuple) else self.source
        if self.select is not None:
            d["select"] = f"{self.select[0]}:{self.select[1]}"
        d["dtype"] = self.dtype
        d["shape"] = list(self.shape)
        if self.sparse:
            d["sparse"] = True
        if self.parse is not None:
            d["parse"] = self.parse
        if self.default is not None:
            d["default"] = self.default
        if self.role != "feature":
            d["role"] = self.role
        if self.group is not None:
            d["group"] = self.group
        if self.vocabulary_from_stats:
            d["vocabulary"] = "from_stats"
        if self.vocabulary is not None:
            d["vocabulary"] = list(self.vocabulary)
            d["oov"] = self.oov
        if not self.allow_nan:
            d["allow_nan"] = False
        if self.normalize is not None:
            d["normalize"] = self.normalize
        if self.image is not None and self.image.to_dict():
            d["image"] = self.image.to_dict()
        if self.description:
            d["description"] = self.description
        if self.drift:
            d["drift"] = dict(self.drift)
        return d


@dataclass(frozen=True)
class Schema:
    """An ordered, validated set of features; build it with :func:`load_schema` or :meth:`from_dict`."""

    features: tuple[Feature, ...]
    name: str = ""
    description: str = ""
    record: str = "example"  # or "sequence_example": variable-length features become feature lists
    _by_name: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.features})

    def __getitem__(self, name: str) -> Feature:
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemaError(f"schema has no feature {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def labels(self) -> list[Feature]:
        return [f for f in self.features if f.role == "label"]

    @property
    def inputs(self) -> list[Feature]:
        return [f for f in self.features if f.role == "feature"]

    @property
    def source_columns(self) -> list[str]:
        """Every input column some feature reads, in first-use order."""
        return list(dict.fromkeys(c for f in self.features for c in f.sources))

    def with_features(self, features: Iterable[Feature]) -> Schema:
        return replace(self, features=tuple(features), _by_name={})

    def with_image_options(self, format: str | None = None, quality: int | None = None,
                           size: tuple[int, int] | None = None) -> Schema:
        """Every image feature (dtype image, or uint8 pixels read from images) re-encoded to ``format`` at
        ``quality`` and/or resized to ``size`` (height, width): the command line's ``--image-*`` options."""
        if format is None and quality is None and size is None:
            return self

        def is_image(f: Feature) -> bool:  # encoded, or pixels read from image files
            return f.is_image and (f.type_info.encoded_image or f.image is not None)

        def changed(f: Feature) -> Feature:
            raw = {**(f.image or ImageOptions()).__dict__, **({"format": format} if format else {}),
                   **({"quality": quality} if quality is not None else {}), **({"resize": True} if size else {})}
            shape = _parse_shape([*size, f.shape[2]], f"feature {f.name!r}", f.dtype) if size else f.shape
            return replace(f, shape=shape, image=_parse_image(raw, f.dtype, shape, f"feature {f.name!r}"))

        if not any(is_image(f) for f in self.features):
            raise SchemaError("--image-format/--quality/--image-size: the schema has no image feature")
        return self.with_features(changed(f) if is_image(f) else f for f in self.features)

    # --- derived views --------------------------------------------------------------------------------------
    @property
    def feature_lists(self) -> list[Feature]:
        """Features stored as ``FeatureList``s of a ``tf.train.SequenceExample`` (one ``Feature`` per step):
        the variable-length ones when ``record`` is ``sequence_example``; the rest are its context."""
        if self.record != "sequence_example":
            return []
        return [f for f in self.features if not f.is_fixed and not f.sparse]

    def stored_features(self, features: Iterable[Feature] | None = None) -> list[Feature]:
        """The Example's features of ``features`` (default: all): sparse ones as their values and indices
        (:meth:`Feature.stored_features`)."""
        return [s for f in (self.features if features is None else features) for s in f.stored_features()]

    @property
    def context(self) -> list[Feature]:
        """Features stored in the record's ``Features`` map (all of them for a ``tf.train.Example``)."""
        lists = {f.name for f in self.feature_lists}
        return [f for f in self.features if f.name not in lists]

    def storage(self) -> dict:
        lists = {f.name for f in self.feature_lists}
        out = {f.name: f.storage() for f in self.features}
        if self.record == "sequence_example":
            for name, d in out.items():
                d["in"] = "feature_lists" if name in lists else "context"
        return out

    def csv_columns(self) -> list[tuple[str, Feature, int]]:
        """CSV header layout: (column name, feature, flat element index); fixed tensors take one column each."""
        cols = []
        width = sum(f.inner_size for f in self.features if f.is_fixed)
        if width > MAX_CSV_COLUMNS:
            raise SchemaError(f"the features take {width:,} CSV columns, over the limit of {MAX_CSV_COLUMNS:,} "
                              "(MAX_CSV_COLUMNS); use --format tfrecord")
        for f in self.features:
            if not f.is_fixed:
                raise SchemaError(f"feature {f.name!r}: shape {list(f.shape)} is "
                                  f"{'sparse' if f.sparse else 'variable-length'}; CSV holds fixed shapes only, "
                                  "use --format tfrecord")
            if f.type_info.csv is None:
                raise SchemaError(f"feature {f.name!r}: dtype {f.dtype} cannot be stored in CSV text; "
                                  "use --format tfrecord")
            n = f.inner_size
            cols += [(f.name, f, 0)] if f.shape == () else [(f"{f.name}_{i}", f, i) for i in range(n)]
        writer: dict[str, Feature] = {}
        for name, f, _ in cols:
            other = writer.setdefault(name, f)
            if other is not f:
                raise SchemaError(f"CSV column {name!r} would be written by both feature {other.name!r} "
                                  f"(shape {list(other.shape)}) and feature {f.name!r}; rename one of them")
        return cols

    def sequence_parse_spec(self) -> tuple[dict, dict]:
        """``tf.io.parse_sequence_example`` specs: (context features, sequence features). Each step of a
        ``[None, *dims]`` feature list is one ``Feature`` of ``dims`` values (imports TensorFlow)."""
        import tensorflow as tf

        sequence = {f.name: tf.io.FixedLenSequenceFeature(list(f.shape[1:]),
                                                            tf.as_dtype(STORED_TYPES[f.stored_dtype].tf))
                    for f in self.feature_lists}
        return self.parse_spec(self.context), sequence

    def parse_spec(self, features: Iterable[Feature] | None = None) -> dict:
        """The ``tf.io.parse_example`` spec for ``features`` (default: all; imports TensorFlow). float64
        features parse as their int64 bit patterns: ``tf.bitcast(x, tf.float64)`` gives the values. A sparse
        feature parses as two ragged lists, its values and (under ``index_key``) its indices, which
        ``readers.decode`` joins into a ``tf.SparseTensor``."""
        import tensorflow as tf

        spec = {}
        for f in self.features if features is None else features:
            dt = tf.as_dtype(STORED_TYPES[f.stored_dtype].tf)
            if f.sparse:  # its values and indices: the readers join them (tf.io.SparseFeature's path is deprecated)
                spec[f.name] = tf.io.RaggedFeature(dt, row_splits_dtype=tf.int64)
                spec[f.index_key] = tf.io.RaggedFeature(tf.int64, row_splits_dtype=tf.int64)
            elif f.is_image:
                spec[f.name] = tf.io.FixedLenFeature([], tf.string, default_value=f.filled_default()[0]
                                                     if f.default is not None else None)
            elif f.is_fixed:
                default = f.stored_default()
                spec[f.name] = tf.io.FixedLenFeature(list(f.shape), dt, default_value=default)
            else:
                parts = [tf.io.RaggedFeature.UniformRowLength(d) for d in f.shape[1:]]
                spec[f.name] = tf.io.RaggedFeature(dt, partitions=parts,
                                                   row_splits_dtype=tf.int64)
        return spec

    def csv_parse_spec(self) -> tuple[list, dict[str, list[int]]]:
        """The ``tf.io.decode_csv`` record defaults of a CSV shard, one per column of :meth:`csv_columns`, and
        each feature's column positions (imports TensorFlow). Columns read as the dtype's ``csv`` record type
        (pixels as int32: the reader casts them to uint8)."""
        import tensorflow as tf

        defaults: list = []
        positions: dict[str, list[int]] = {}
        for i, (_, f, _) in enumerate(self.csv_columns()):
            default = f.csv_record_default
            defaults.append(tf.constant([] if default is None else [default], tf.as_dtype(f.type_info.csv)))
            positions.setdefault(f.name, []).append(i)
        return defaults, positions

    # --- (de)serialisation ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d: dict[str, Any] = {"version": 1}
        if self.name:
            d["name"] = self.name
        if self.description:
            d["description"] = self.description
        if self.record != "example":
            d["record"] = self.record
        d["features"] = [f.to_dict() for f in self.features]
        return d

    def to_yaml(self) -> str:
        """The schema as the YAML text of a schema file."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=None,
                              width=110)

    def save(self, path: str | Path, header: str = "") -> None:
        """Write as YAML, after ``header`` (or as JSON when the name ends in .json)."""
        path = Path(path)
        if path.suffix == ".json":
            path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            return
        path.write_text(header + self.to_yaml(), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: Mapping, origin: str = "schema") -> Schema:
        """Validate a parsed schema document; errors name the origin, the feature and its line when known."""
        if not isinstance(data, Mapping):
            raise SchemaError(f"{origin}: expected a mapping with a 'features' list, got {type(data).__name__}")
        unknown = set(data) - _SCHEMA_KEYS
        if unknown:
            raise SchemaError(f"{origin}{_at(data)}: unknown key(s) {sorted(unknown)}; "
                              f"allowed: {sorted(_SCHEMA_KEYS)}")
        feats = data.get("features")
        if not isinstance(feats, list) or not feats:
            raise SchemaError(f"{origin}{_at(data)}: 'features' must be a non-empty list")
        features = []
        seen: dict[str, int] = {}
        for i, raw in enumerate(feats):
            feat = _parse_feature(raw, f"{origin}{_at(raw)}: feature #{i + 1}")
            if feat.name in seen:
                raise SchemaError(f"{origin}{_at(raw)}: duplicate feature name {feat.name!r} "
                                  f"(also feature #{seen[feat.name] + 1})")
            seen[feat.name] = i
            features.append(feat)
        total = sum(f.inner_size * f.type_info.element_bytes for f in features)
        if total > MAX_RECORD_BYTES:
            raise SchemaError(f"{origin}: the features take {total:,} bytes per record, over the limit of "
                              f"{MAX_RECORD_BYTES >> 20} MiB (MAX_RECORD_BYTES)")
        record = data.get("record", "example")
        if record not in RECORDS:
            raise SchemaError(f"{origin}{_at(data)}: record must be one of {', '.join(RECORDS)}, got {record!r}")
        schema = cls(features=tuple(features), name=str(data.get("name") or ""),
                     description=str(data.get("description") or ""), record=record)
        if record == "sequence_example":
            if not schema.feature_lists:
                raise SchemaError(f"{origin}{_at(data)}: record sequence_example needs at least one feature of "
                                  "shape [null, ...] (a feature list)")
            sparse = [f.name for f in schema.features if f.sparse]
            if sparse:
                raise SchemaError(f"{origin}: feature {sparse[0]!r}: sparse features are stored in Examples "
                                  "(record: example), not in a sequence_example")
            for f in schema.feature_lists:
                if f.is_image or None in f.shape[1:]:
                    raise SchemaError(f"{origin}: feature {f.name!r}: a feature list holds steps of fixed "
                                      f"numbers or text, not dtype {f.dtype} with shape {list(f.shape)}")
        return schema


# --- loading ------------------------------------------------------------------------------------------------
class _LineDict(dict):
    """A mapping that remembers the line it started on in the YAML file, for error messages."""

    line: int | None = None


class _LineLoader(yaml.SafeLoader):
    """A safe loader that refuses anchors and aliases (``&a`` / ``*a``): a few hundred bytes of nested
    aliases expand to gigabytes ("billion laughs"), and a schema has no need for them."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (&name, *name) are not allowed "
                                              "in a schema file", event.start_mark)
        return super().compose_node(parent, index)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _LineDict:
    d = _LineDict(loader.construct_mapping(node, deep=True))
    d.line = node.start_mark.line + 1
    return d


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _at(obj: Any) -> str:
    line = getattr(obj, "line", None)
    return f" line {line}" if line else ""


def load_schema(path: str | Path | Mapping | Schema) -> Schema:
    """Load and validate a schema from a YAML or JSON file (or pass through a dict / Schema)."""
    if isinstance(path, Schema):
        return path
    if isinstance(path, Mapping):
        return Schema.from_dict(path)
    path = fetch_inputs(str(path), lambda name: True)[0] if is_remote(path) else Path(path)
    text = _read_schema_text(path)
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SchemaError(f"{path} line {e.lineno}: invalid JSON: {e.msg}") from None
        except (ValueError, RecursionError) as e:  # an integer of too many digits, nesting too deep
            raise SchemaError(f"{path}: invalid JSON: {_short(e)}") from None
    else:
        try:
            data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            where = f" line {mark.line + 1}" if mark else ""
            raise SchemaError(f"{path}{where}: invalid YAML: {e.problem or e.context}") from None
        except (yaml.YAMLError, ValueError, RecursionError) as e:
            raise SchemaError(f"{path}: invalid YAML: {_short(e)}") from None
    return Schema.from_dict(data, origin=str(path))


def _read_schema_text(path: Path) -> str:
    """The file's text, read no further than :data:`MAX_SCHEMA_BYTES` (+1 to tell that it is longer)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SCHEMA_BYTES + 1)
    except FileNotFoundError:
        raise SchemaError(f"schema file not found: {path}") from None
    except OSError as e:
        raise SchemaError(f"cannot read schema file {path}: {e}") from None
    if len(raw) > MAX_SCHEMA_BYTES:
        raise SchemaError(f"schema file {path} is over {MAX_SCHEMA_BYTES >> 20} MiB; a schema is a few KiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SchemaError(f"cannot read schema file {path}: {e}") from None


def _short(e: Exception) -> str:
    text = str(e) or type(e).__name__
    return text if len(text) <= 200 else text[:200] + "..."


# --- feature validation -------------------------------------------------------------------------------------
def _parse_feature(raw: Any, where: str) -> Feature:
    if not isinstance(raw, Mapping):
        raise SchemaError(f"{where}: expected a mapping, got {_brief(raw)}")
    unknown = set(raw) - _FEATURE_KEYS
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise SchemaError(f"{where}: 'name' must be an identifier (letters, digits, _), got {_brief(name)}")
    where = f"{where} {name!r}"
    if unknown:
        raise SchemaError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_FEATURE_KEYS)}")

    dtype = raw.get("dtype")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise SchemaError(f"{where}: unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    sparse = raw.get("sparse", False)
    if not isinstance(sparse, bool):
        raise SchemaError(f"{where}: 'sparse' must be true or false")
    shape = _parse_shape(raw.get("shape", []), where, dtype, sparse)
    if sparse:
        _check_sparse(raw, dtype, shape, where)
    if dtype == "uint8" and None in shape:
        raise SchemaError(f"{where}: uint8 arrays need a fixed shape such as [8, 8, 1]")
    if dtype == "image" and (len(shape) != 3 or None in shape):
        raise SchemaError(f"{where}: an image needs the shape readers decode it to: [height, width, channels]")

    source = raw.get("source")
    if isinstance(source, list):
        if not source or not all(isinstance(s, str) and s for s in source):
            raise SchemaError(f"{where}: 'source' list must hold column names")
        if shape not in ((len(source),), (None, len(source))):
            raise SchemaError(f"{where}: a source list of {len(source)} columns needs shape [{len(source)}] "
                              f"(one value each) or [null, {len(source)}] (a sequence each)")
        source = tuple(source)
    elif source is not None and (not isinstance(source, str) or not source):
        raise SchemaError(f"{where}: 'source' must be a column name or a list of them")
    for column in (source,) if isinstance(source, str) else source or ():
        if CONTROL_RE.search(column):
            raise SchemaError(f"{where}: source column name {_brief(column)} holds a control character "
                              "(newline, tab, NUL, ...)")

    select = _parse_select(raw.get("select"), shape, where)
    role = raw.get("role", "feature")
    if role not in ROLES:
        raise SchemaError(f"{where}: unknown role {role!r}; expected one of {', '.join(ROLES)}")
    group = raw.get("group")
    if group is not None and group not in GROUPS:
        raise SchemaError(f"{where}: unknown group {group!r}; expected one of {', '.join(GROUPS)}")
    if group is not None and role != "feature":
        raise SchemaError(f"{where}: only role 'feature' can belong to a group, this one is a {role}")

    vocabulary = raw.get("vocabulary")
    oov = raw.get("oov", "error")
    from_stats = vocabulary == "from_stats"
    if from_stats:
        if not DTYPES[dtype].text:
            raise SchemaError(f"{where}: a vocabulary needs dtype string, not {dtype}")
        vocabulary = None
    if vocabulary is not None:
        if not DTYPES[dtype].text:
            raise SchemaError(f"{where}: a vocabulary needs dtype string, not {dtype}")
        if not isinstance(vocabulary, list) or not all(isinstance(v, str) for v in vocabulary):
            raise SchemaError(f"{where}: 'vocabulary' must be a list of strings or from_stats")
        if len(set(vocabulary)) != len(vocabulary):
            raise SchemaError(f"{where}: 'vocabulary' has duplicate entries")
        vocabulary = tuple(vocabulary)
    if oov not in OOV_POLICIES:
        raise SchemaError(f"{where}: unknown oov policy {oov!r}; expected one of {', '.join(OOV_POLICIES)}")
    allow_nan = raw.get("allow_nan", True)
    if not isinstance(allow_nan, bool):
        raise SchemaError(f"{where}: 'allow_nan' must be true or false")
    normalize = raw.get("normalize")
    if normalize is not None:
        if normalize not in NORMALIZERS:
            raise SchemaError(f"{where}: unknown normalize {normalize!r}; expected one of {', '.join(NORMALIZERS)}")
        if not DTYPES[dtype].numeric:
            raise SchemaError(f"{where}: 'normalize' applies to {', '.join(NUMBER_DTYPES)} features, not {dtype}")

    parse = raw.get("parse")
    if parse is not None:
        _check_parse(parse, dtype, sparse, where)
    feat = Feature(name=name, dtype=dtype, shape=shape, sparse=sparse, parse=parse, source=source, select=select,
                   role=role, group=group, vocabulary=vocabulary, vocabulary_from_stats=from_stats, oov=oov,
                   allow_nan=allow_nan,
                   normalize=normalize, image=_parse_image(raw.get("image"), dtype, shape, where),
                   description=str(raw.get("description") or ""), drift=_parse_drift(raw.get("drift"), where))
    default = _check_default(raw.get("default"), feat, where)
    if default is not None and vocabulary is not None and oov == "error" and default not in vocabulary:
        raise SchemaError(f"{where}: default {default!r} is not in the vocabulary")
    return replace(feat, default=default)


def _parse_drift(raw: Any, where: str) -> tuple[tuple[str, float], ...]:
    """A feature's ``drift:`` mapping of check name to threshold (see :class:`dataprep.drift.DriftThresholds`)."""
    from .drift_thresholds import DriftThresholds

    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not raw:
        raise SchemaError(f"{where}: 'drift' must map check names to thresholds, e.g. {{jensen_shannon: 0.05}}")
    DriftThresholds().updated(dict(raw), where)
    return tuple((str(k), float(v)) for k, v in raw.items())


def _parse_image(raw: Any, dtype: str, shape: tuple, where: str) -> ImageOptions | None:
    if raw is None:
        return None
    if not DTYPES[dtype].pixels or len(shape) != 3:
        raise SchemaError(f"{where}: 'image' options apply to dtype image, or uint8 pixels of shape [h, w, c]")
    if not isinstance(raw, Mapping) or set(raw) - set(ImageOptions.__dataclass_fields__):
        raise SchemaError(f"{where}: 'image' takes from_paths, format, quality and resize, got {raw!r}")
    options = ImageOptions(**raw)
    if not isinstance(options.from_paths, bool) or not isinstance(options.resize, bool):
        raise SchemaError(f"{where}: image from_paths and resize are true or false")
    if options.format not in IMAGE_FORMATS:
        raise SchemaError(f"{where}: image format must be one of {', '.join(IMAGE_FORMATS)}, got {options.format!r}")
    if isinstance(options.quality, bool) or not isinstance(options.quality, int) or not 1 <= options.quality <= 100:
        raise SchemaError(f"{where}: image quality must be an integer from 1 to 100")
    if dtype == "uint8" and options.format != "keep":
        raise SchemaError(f"{where}: uint8 pixels are stored raw; 'format' applies to dtype image")
    if options.format == "jpeg" and shape[2] not in (1, 3):
        raise SchemaError(f"{where}: JPEG holds 1 or 3 channels, the shape has {shape[2]}")
    return options


def _check_parse(parse: Any, dtype: str, sparse: bool, where: str) -> None:
    """Dates and times: a strptime format (or ``date``, ``datetime``) read into int64 seconds."""
    from .dates import DATE_ALIASES

    if not isinstance(parse, str) or not (parse in DATE_ALIASES or "%" in parse):
        raise SchemaError(f"{where}: 'parse' is a strptime format such as '%Y/%m/%d', or one of "
                          f"{', '.join(DATE_ALIASES)}; got {_brief(parse)}")
    if dtype != "int64" or sparse:
        raise SchemaError(f"{where}: 'parse' stores dates as int64 seconds since 1970-01-01: dtype must be int64, "
                          f"not {'sparse ' if sparse else ''}{dtype}")


def _check_sparse(raw: Mapping, dtype: str, shape: tuple, where: str) -> None:
    """A sparse feature: numbers of a one-dimensional dense shape, from one column, with no default."""
    if len(shape) != 1 or shape[0] is None:
        raise SchemaError(f"{where}: a sparse feature needs its dense size as shape [size], got {list(shape)}")
    if not DTYPES[dtype].numeric:
        raise SchemaError(f"{where}: a sparse feature holds {', '.join(NUMBER_DTYPES)} values, not {dtype}")
    given = sorted(k for k in ("default", "select", "vocabulary", "image") if raw.get(k) is not None)
    if given:
        raise SchemaError(f"{where}: a sparse feature takes no {', '.join(given)} (an absent entry is zero)")
    if isinstance(raw.get("source"), list):
        raise SchemaError(f"{where}: a sparse feature reads one column ('index:value' text, (index, value) "
                          "pairs or a scipy.sparse matrix), not a list of columns")


def _parse_shape(shape: Any, where: str, dtype: str, sparse: bool = False) -> tuple:
    """A shape as a tuple; its fixed dimensions may take at most :data:`MAX_FEATURE_BYTES` of ``dtype``
    (a sparse one's dense size only has to be an int64: its records hold their entries alone)."""
    if not isinstance(shape, list):
        raise SchemaError(f"{where}: 'shape' must be a list such as [], [8] or [null, 4], got {_brief(shape)}")
    if len(shape) > MAX_SHAPE_RANK:
        raise SchemaError(f"{where}: a shape has at most {MAX_SHAPE_RANK} dimensions, got {len(shape)}")
    elements = 1
    for i, d in enumerate(shape):
        if d is None:
            if i != 0:
                raise SchemaError(f"{where}: only the first dimension of a shape may be null, got {shape}")
        elif isinstance(d, bool) or not isinstance(d, int) or d <= 0:
            raise SchemaError(f"{where}: shape dimensions must be positive integers or null, got {shape}")
        elif sparse:
            if d > INT64_MAX:
                raise SchemaError(f"{where}: a sparse size must fit int64, got {d}")
        else:
            elements *= d
            if elements * DTYPES[dtype].element_bytes > MAX_FEATURE_BYTES:
                raise SchemaError(f"{where}: shape {shape} of {dtype} takes over {MAX_FEATURE_BYTES >> 20} MiB per "
                                  "record (the limit per feature, MAX_FEATURE_BYTES)")
    return tuple(shape)


def _brief(value: Any) -> str:
    """``repr(value)`` cut to 80 characters, for messages about values a file may make arbitrarily large."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _parse_select(select: Any, shape: tuple, where: str) -> tuple[int, int] | None:
    if select is None:
        return None
    m = re.fullmatch(r"\s*(\d*)\s*:\s*(\d+)\s*", str(select))
    if not m:
        raise SchemaError(f"{where}: 'select' must be a slice 'start:stop' of the source's last axis")
    start, stop = int(m.group(1) or 0), int(m.group(2))
    if stop <= start:
        raise SchemaError(f"{where}: 'select' {select!r} is empty")
    if len(shape) != 1 or shape[0] != stop - start:
        raise SchemaError(f"{where}: 'select' {select!r} takes {stop - start} columns, so shape must be "
                          f"[{stop - start}], got {list(shape)}")
    return start, stop


def _check_default(default: Any, feat: Feature, where: str) -> Any:
    """Validate the default against the dtype; a scalar applies to every element of a fixed shape."""
    if default is None:
        return None
    if not feat.is_fixed:
        raise SchemaError(f"{where}: variable-length features take no default (missing means an empty list)")
    values = default if isinstance(default, list) else [default]
    if isinstance(default, list) and len(values) != feat.inner_size:
        raise SchemaError(f"{where}: default has {len(values)} values, shape {list(feat.shape)} needs "
                          f"{feat.inner_size} (or give one scalar)")
    for v in values:
        if not feat.type_info.valid_default(v):
            raise SchemaError(f"{where}: default {v!r} is not a valid {feat.dtype} value")
    if feat.dtype in FLOAT_DTYPES:
        values = [float(v) for v in values]
    return values if isinstance(default, list) else values[0]

