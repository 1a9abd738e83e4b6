"""The protobuf wire format of ``tf.train.Example``: field numbers, wire types, tags and varints, once.

The encoder (:mod:`dataprep.encode.example`) and the TF-free parser (:mod:`dataprep.encode.parse`) both read
their tags from here, so the two directions cannot disagree on a field number. The messages, from
``example.proto`` / ``feature.proto``::

    Example  { Features features = 1; }
    SequenceExample { Features context = 1; FeatureLists feature_lists = 2; }
    Features { map<string, Feature> feature = 1; }        # map entry: { string key = 1; Feature value = 2; }
    FeatureLists { map<string, FeatureList> feature_list = 1; }   FeatureList { repeated Feature feature = 1; }
    Feature  { oneof { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
    FloatList / Int64List { repeated ... value = 1 [packed = true]; }   BytesList { repeated bytes value = 1; }
"""
from __future__ import annotations

import numpy as np

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5  # the wire types Examples use

FEATURES = 1  # Example.features, SequenceExample.context
FEATURE_LISTS = 2  # SequenceExample.feature_lists
ENTRY = 1  # Features.feature / FeatureLists.feature_list (map entries), FeatureList.feature
KEY, VALUE = 1, 2  # a map entry's fields
LIST_FIELD = {"bytes": 1, "float": 2, "int64": 3}  # Feature's oneof, by stored kind
LIST_KIND = {number: kind for kind, number in LIST_FIELD.items()}
ELEMENTS = 1  # the values of a Float/Int64/BytesList


def tag(number: int, wire: int = LENGTH) -> bytes:
    """The key of field ``number`` (all Example fields have numbers below 16: one byte)."""
    return bytes([number << 3 | wire])


LIST_TAG = {kind: tag(number) for kind, number in LIST_FIELD.items()}

_VARINT_LIMITS = np.array([1 << (7 * k) for k in range(1, 10)], np.uint64)
U64 = (1 << 64) - 1
MAX_VARINT = 10  # bytes: 64 bits in 7-bit groups


def varint(value: int) -> bytes:
    """The varint of a non-negative ``value``."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint_matrix(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Protobuf varints of uint64 ``values``: a [n, w] byte matrix and the number of bytes used per row."""
    v = values.astype(np.uint64, copy=False)
    nbytes = 1 + (v[:, None] >= _VARINT_LIMITS[None, :]).sum(axis=1)
    width = int(nbytes.max()) if len(v) else 1
    shifts = np.arange(width, dtype=np.uint64) * np.uint64(7)
    mat = ((v[:, None] >> shifts[None, :]) & np.uint64(0x7F)).astype(np.uint8)
    mat |= (np.arange(width)[None, :] < (nbytes[:, None] - 1)).astype(np.uint8) << 7
    return mat, nbytes
