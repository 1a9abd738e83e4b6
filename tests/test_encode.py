"""The vectorised encoder agrees with protobuf's own serializer for random schemas; CRC and framing match."""
from __future__ import annotations

import crc32c
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.columns import Column
from dataprep.encode.example import encode_examples
from dataprep.encode.wire import varint_matrix
from dataprep.ragged import Ragged, concat_rows
from dataprep.schema import Schema
from dataprep.tfrecord import crc32c_rows, frame_parts, frame_records

DTYPES = ["float32", "int64", "string", "bytes", "uint8"]
int64s = st.integers(-(2**63), 2**63 - 1)
floats = st.floats(width=32, allow_nan=False)
blobs = st.binary(max_size=40)


@st.composite
def schema_and_rows(draw):
    nfeat = draw(st.integers(1, 5))
    names = draw(st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True), min_size=nfeat,
                          max_size=nfeat, unique=True))
    n = draw(st.integers(0, 6))
    features, columns = [], {}
    for name in names:
        dtype = draw(st.sampled_from(DTYPES))
        variable = dtype != "uint8" and draw(st.booleans())
        size = draw(st.integers(1, 4))
        shape = [None] if variable else ([size] if size > 1 or dtype == "uint8" else [])
        counts = [draw(st.integers(0, 4)) if variable else size for _ in range(n)]
        elem = {"float32": floats, "int64": int64s, "uint8": st.integers(0, 255)}.get(dtype, blobs)
        values = [draw(elem) for _ in range(sum(counts))]
        splits = np.r_[0, np.cumsum(counts)].astype(np.int64)
        if dtype in ("string", "bytes"):
            col = Column(Ragged.from_list(values), splits)
        elif dtype == "uint8":
            col = Column(Ragged.from_list([bytes(values[splits[i]:splits[i + 1]]) for i in range(n)]),
                         np.arange(n + 1, dtype=np.int64))
        else:
            col = Column(np.array(values, dtype=np.float32 if dtype == "float32" else np.int64), splits)
        features.append({"name": name, "dtype": "bytes" if dtype == "string" else dtype, "shape": shape})
        columns[name] = (col, dtype, values, splits)
    return Schema.from_dict({"features": features}), columns, n


@settings(max_examples=150, deadline=None)
@given(schema_and_rows())
def test_encoder_equals_protobuf(case):
    schema, columns, n = case
    records = encode_examples(schema, {k: c for k, (c, *_) in columns.items()}, n)
    for i in range(n):
        ex = tf.train.Example()
        for name, (_, dtype, values, splits) in columns.items():
            feat = ex.features.feature[name]
            row = values[splits[i]:splits[i + 1]]
            if dtype == "float32":
                feat.float_list.value.extend(row)
                feat.float_list.SetInParent()
            elif dtype == "int64":
                feat.int64_list.value.extend(row)
                feat.int64_list.SetInParent()
            elif dtype == "uint8":
                feat.bytes_list.value.append(bytes(row))
            else:
                feat.bytes_list.value.extend(row)
                feat.bytes_list.SetInParent()
        assert tf.train.Example.FromString(records.row(i)) == ex
        names = list(columns)
        if not any(a != b and b.startswith(a) for a in names for b in names):
            # key order is plain byte order (C++ protobuf's deterministic order; upb differs only when one
            # key is a prefix of another), so the bytes are equal too
            assert records.row(i) == ex.SerializeToString(deterministic=True)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=600), max_size=30))
def test_crc_matches_library(items):
    rows = Ragged.from_list(items)
    assert crc32c_rows(rows).tolist() == [crc32c.crc32c(b) for b in items]


def test_crc_vectorised_paths():
    rng = np.random.default_rng(0)
    same = [bytes(rng.integers(0, 256, 50, dtype=np.uint8)) for _ in range(100)]
    close = [bytes(rng.integers(0, 256, int(k), dtype=np.uint8)) for k in rng.integers(40, 60, 100)]
    for items in (same, close):
        assert crc32c_rows(Ragged.from_list(items)).tolist() == [crc32c.crc32c(b) for b in items]


def test_varints_match_protobuf():
    values = np.array([0, 1, 127, 128, 300, 2**31, 2**63 - 1, 2**64 - 1], dtype=np.uint64)
    mat, nbytes = varint_matrix(values)
    ex = tf.train.Int64List()
    for v, row, k in zip(values.tolist(), mat, nbytes):
        ex.Clear()
        ex.value.append(int(np.uint64(v).astype(np.int64)))
        assert ex.SerializeToString()[2:] == bytes(row[:k])


def test_framed_records_read_by_tensorflow(tmp_path):
    items = [b"", b"a", b"x" * 1000, bytes(range(256))]
    framed = frame_records(Ragged.from_list(items))
    path = tmp_path / "f.tfrecord"
    path.write_bytes(framed.data.tobytes())
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(path))] == items


@pytest.mark.parametrize("widths", [(4, 1, 3), (8, 2), (5, 100)])  # odd slots; more slot bytes than the tables take
def test_template_framing_matches_framing_each_record(widths):
    """Fixed-layout records filled from a template carry the same bytes and CRCs as records framed one by one."""
    rng = np.random.default_rng(0)
    parts = [b"\x0a\x03"]
    for w in widths:
        parts += [rng.integers(0, 256, (50, w), dtype=np.uint8), b"\x12"]
    records = concat_rows(parts, 50)
    assert frame_parts(parts, 50).data.tobytes() == frame_records(records).data.tobytes()
    assert frame_records(records).to_list() == [
        len(r).to_bytes(8, "little") + _masked(crc32c.crc32c(len(r).to_bytes(8, "little"))).to_bytes(4, "little")
        + r + _masked(crc32c.crc32c(r)).to_bytes(4, "little") for r in records.to_list()]


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_concat_rows_mixes_constant_fixed_and_ragged():
    ragged = Ragged.from_list([b"ab", b"", b"cde"])
    out = concat_rows([b"<", np.array([[1], [2], [3]], np.uint8), ragged, b">"], 3)
    assert out.to_list() == [b"<\x01ab>", b"<\x02>", b"<\x03cde>"]
    assert ragged.take(np.array([2, 0])).to_list() == [b"cde", b"ab"]


@st.composite
def sequence_schema_and_rows(draw):
    """A SequenceExample schema: 1-3 feature lists ([None] or [None, k] of float/int64/bytes) and an int64
    context feature, with 0-5 steps per record."""
    n = draw(st.integers(0, 5))
    nlists = draw(st.integers(1, 3))
    names = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), min_size=nlists + 1,
                          max_size=nlists + 1, unique=True))
    ids = [draw(int64s) for _ in range(n)]
    features = [{"name": names[0], "dtype": "int64", "shape": []}]
    columns = {names[0]: Column(np.array(ids, np.int64), np.arange(n + 1, dtype=np.int64))}
    truth = {names[0]: ("context", "int64", [[v] for v in ids], 1)}
    for name in names[1:]:
        dtype = draw(st.sampled_from(["float32", "int64", "bytes"]))
        k = draw(st.integers(1, 3))
        steps = [draw(st.integers(0, 5)) for _ in range(n)]
        elem = {"float32": floats, "int64": int64s}.get(dtype, blobs)
        rows = [[draw(elem) for _ in range(s * k)] for s in steps]
        flat = [v for r in rows for v in r]
        splits = np.r_[0, np.cumsum([len(r) for r in rows])].astype(np.int64)
        values = Ragged.from_list(flat) if dtype == "bytes" else \
            np.array(flat, dtype=np.float32 if dtype == "float32" else np.int64)
        columns[name] = Column(values, splits)
        features.append({"name": name, "dtype": dtype, "shape": [None] if k == 1 else [None, k]})
        truth[name] = ("list", dtype, rows, k)
    return Schema.from_dict({"record": "sequence_example", "features": features}), columns, truth, n


@settings(max_examples=150, deadline=None)
@given(sequence_schema_and_rows())
def test_sequence_example_encoder_equals_protobuf(case):
    schema, columns, truth, n = case
    records = encode_examples(schema, columns, n)
    kind = {"float32": "float_list", "int64": "int64_list", "bytes": "bytes_list"}
    for i in range(n):
        ex = tf.train.SequenceExample()
        for name, (where, dtype, rows, k) in truth.items():
            if where == "context":
                getattr(ex.context.feature[name], kind[dtype]).value.extend(rows[i])
                continue
            feature_list = ex.feature_lists.feature_list[name]
            for s in range(len(rows[i]) // k):
                step = getattr(feature_list.feature.add(), kind[dtype])
                step.value.extend(rows[i][s * k:(s + 1) * k])
                step.SetInParent()
        assert tf.train.SequenceExample.FromString(records.row(i)) == ex
        names = list(truth)
        if not any(a != b and b.startswith(a) for a in names for b in names):
            assert records.row(i) == ex.SerializeToString(deterministic=True)
