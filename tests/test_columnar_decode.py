"""The lockstep decoder (dataprep.encode.columnar) against the per-record parser and TensorFlow: the same values
for every dtype and shape of records dataprep writes, and None (so the parser decides, with its errors) for any
record laid out otherwise: foreign key order, unpacked int64, a missing feature, truncated or damaged bytes."""
from __future__ import annotations

import struct

import numpy as np
import pytest

import dataprep
from dataprep import Schema
from dataprep.encode.columnar import decode_block
from dataprep.encode.parse import WireError
from dataprep.records import RaggedArray, SplitReader, _decode_examples, _parse_examples
from tests.framing import len_field
from tests.tables import SCHEMA, make_data


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        x, y = a[k], b[k]
        if isinstance(y, RaggedArray):
            x = RaggedArray(*x) if isinstance(x, tuple) else x
            assert np.array_equal(x.row_splits, y.row_splits), k
            x, y = x.values, y.values
        assert x.dtype == y.dtype and x.shape == y.shape, (k, x.dtype, y.dtype, x.shape, y.shape)
        if x.dtype.kind == "f":  # bit for bit: NaN payloads and -0.0 included
            x, y = x.view(f"u{x.itemsize}"), y.view(f"u{y.itemsize}")
        assert x.tolist() == y.tolist(), k


def converted(tmp_path, doc, data, n):
    dataprep.convert(data, doc, tmp_path / "o", num_shards=1, shuffle=False)
    reader = SplitReader(tmp_path / "o", "train")
    return reader.schema.features, [reader.raw(i) for i in range(n)]


@pytest.mark.parametrize("name", [f["name"] for f in SCHEMA["features"]])
def test_each_dtype_and_shape_decodes_as_the_parser_does(tmp_path, name):
    doc = {"features": [f for f in SCHEMA["features"] if f["name"] == name]}
    features, raws = converted(tmp_path, doc, make_data(60), 60)
    got = decode_block(features, raws)
    assert got is not None
    assert_same(got, _parse_examples(features, raws))


def test_every_feature_at_once_and_each_batch_size(tmp_path):
    features, raws = converted(tmp_path, SCHEMA, make_data(90), 90)
    for b in (1, 2, 7, 90):
        for i in range(0, 90, b):
            got = decode_block(features, raws[i:i + b])
            assert got is not None
            assert_same(got, _parse_examples(features, raws[i:i + b]))


def test_float64_bits_and_empty_lists(tmp_path):
    x = np.array([0.0, -0.0, np.nan, np.inf, 1e-310, -1.5], np.float64)
    x[2] = np.frombuffer(struct.pack("<Q", 0x7FF0000000000ABC), np.float64)[0]  # a NaN with a payload
    data = {"x": x, "v": np.array([[], [1.0], [], [2.0, 3.0], [], []] + [None], dtype=object)[:-1],
            "s": np.array([[], ["a"], [], ["", "b"], [], []] + [None], dtype=object)[:-1]}
    doc = {"features": [{"name": "x", "dtype": "float64", "shape": []},
                        {"name": "v", "dtype": "float32", "shape": [None]},
                        {"name": "s", "dtype": "string", "shape": [None]}]}
    features, raws = converted(tmp_path, doc, data, 6)
    got = decode_block(features, raws)
    assert got is not None
    assert got["x"].view(np.uint64).tolist() == x.view(np.uint64).tolist()
    assert_same(got, _parse_examples(features, raws))


def _entry(key: bytes, feature: bytes) -> bytes:
    return len_field(1, len_field(1, key) + len_field(2, feature))


def _floats(*bits: int) -> bytes:
    return len_field(2, len_field(1, b"".join(struct.pack("<I", b) for b in bits)))


def _varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v >> 7 else 0))
        v >>= 7
        if not v:
            return bytes(out)


FEATURES = Schema.from_dict({"features": [{"name": "a", "dtype": "float32", "shape": []},
                                          {"name": "i", "dtype": "int64", "shape": [None]}]}).features
EDGE_INTS = [0, 1, -1, 127, 128, 2**63 - 1, -(2**63), 300, -300]


def _record(a_bits: int, ints: list[int], order=("a", "i"), packed=True) -> bytes:
    packed_ints = len_field(3, len_field(1, b"".join(_varint(v) for v in ints)) if ints else b"") if packed else \
        len_field(3, b"".join(b"\x08" + _varint(v) for v in ints))
    entries = {"a": _entry(b"a", _floats(a_bits)), "i": _entry(b"i", packed_ints)}
    return len_field(1, b"".join(entries[k] for k in order))


def test_signalling_nan_bits_come_back_exactly():
    raws = [_record(0x7F800001, [1]), _record(0xFFA00000, [2]), _record(0x7FC00000, [])]
    got = decode_block(FEATURES, raws)
    assert got is not None
    assert got["a"].view(np.uint32).tolist() == [0x7F800001, 0xFFA00000, 0x7FC00000]
    assert _decode_examples(FEATURES, raws)["a"].view(np.uint32).tolist() == [0x7F800001, 0xFFA00000, 0x7FC00000]


def test_int64_varints_of_every_length():
    raws = [_record(0, EDGE_INTS), _record(0, []), _record(0, EDGE_INTS[::-1][:4])]
    got = decode_block(FEATURES, raws)
    assert got is not None
    values, splits = got["i"]
    assert values.tolist() == EDGE_INTS + EDGE_INTS[::-1][:4] and splits.tolist() == [0, 9, 9, 13]
    assert_same(got, _parse_examples(FEATURES, raws))


@pytest.mark.parametrize("foreign", [
    _record(0, [5], order=("i", "a")),  # keys not in byte order
    _record(0, [5, -7], packed=False),  # one varint field per value
    len_field(1, _entry(b"a", _floats(0))),  # a feature missing
    _record(0, [5]) + b"\x12\x00",  # an empty FeatureLists after the features
], ids=["key_order", "unpacked_int64", "missing_feature", "trailing_field"])
def test_records_laid_out_otherwise_go_to_the_parser(foreign):
    raws = [_record(0x3F800000, [1]), foreign]
    assert decode_block(FEATURES, raws) is None
    assert_same(_decode_examples(FEATURES, raws), _parse_examples(FEATURES, raws))


def test_records_written_by_tensorflow_decode_as_tensorflow_parses_them():
    tf = pytest.importorskip("tensorflow")
    raws = []
    for k in range(5):
        ex = tf.train.Example(features=tf.train.Features(feature={
            "i": tf.train.Feature(int64_list=tf.train.Int64List(value=EDGE_INTS[:k])),
            "a": tf.train.Feature(float_list=tf.train.FloatList(value=[k / 3])),
        }))
        raws.append(ex.SerializeToString(deterministic=k % 2 == 0))
    spec = {"a": tf.io.FixedLenFeature([], tf.float32), "i": tf.io.RaggedFeature(tf.int64)}
    want = tf.io.parse_example(tf.constant(raws), spec)
    got = _decode_examples(FEATURES, raws)
    assert got["a"].tolist() == want["a"].numpy().tolist()
    assert got["i"].values.tolist() == want["i"].flat_values.numpy().tolist()
    assert got["i"].row_splits.tolist() == want["i"].row_splits.numpy().tolist()


def _error(raws):
    try:
        _parse_examples(FEATURES, raws)
    except (WireError, ValueError) as e:
        return type(e), str(e)
    return None


def test_truncated_and_damaged_records_give_the_parsers_errors():
    good = _record(0x3F800000, EDGE_INTS)
    for cut in range(len(good)):
        raws = [good, good[:cut]]
        assert decode_block(FEATURES, raws) is None, cut
        with pytest.raises(Exception) as err:
            _decode_examples(FEATURES, raws)
        assert (type(err.value), str(err.value)) == _error(raws), cut
    for at in range(len(good)):
        for flip in (0x80, 0x01):
            bad = bytearray(good)
            bad[at] ^= flip
            raws = [good, bytes(bad)]
            expected = _error(raws)
            try:
                got = _decode_examples(FEATURES, raws)
            except Exception as e:
                assert (type(e), str(e)) == expected, at
            else:
                assert expected is None, at
                assert_same(got, _parse_examples(FEATURES, raws))


def test_fixed_float_and_image_records_decode_through_their_template_exactly(tmp_path):
    """Records of fixed-size floats and images only have one layout: its template gives the walk's values bit
    for bit (images included: their entry's width is the array's size); one changed head byte anywhere makes
    it refuse the block, so the walk and the parser decide."""
    from dataprep.encode.fixed import template

    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 3)).astype(np.float32)
    x.view(np.uint32)[0, 0] = 0x7F800001  # a signalling NaN
    data = {"x": x, "img": rng.integers(0, 256, (300, 4, 4, 1), dtype=np.uint8), "y": x[:, 0].copy()}
    doc = {"features": [{"name": "x", "dtype": "float32", "shape": [3]},
                        {"name": "img", "dtype": "uint8", "shape": [4, 4, 1]},
                        {"name": "y", "dtype": "float32", "shape": [], "role": "label"}]}
    features, raws = converted(tmp_path, doc, data, 300)
    stream = np.frombuffer(b"".join(b"\0" * 12 + r + b"\0" * 4 for r in raws), np.uint8)  # framed as in a shard
    starts = np.arange(300, dtype=np.int64) * (len(raws[0]) + 16) + 12
    ends = starts + len(raws[0])
    layout = template(features)
    assert layout is not None
    fast = layout.decode(stream, starts, ends)
    assert fast is not None
    assert_same(fast, data)  # the signalling NaN's bits too (the parser, through Python floats, would quiet it)
    damaged = stream.copy()
    damaged[int(starts[150]) + 3] ^= 0x01  # inside the first feature's head, mid-block
    assert layout.decode(damaged, starts, ends) is None
    assert layout.decode(damaged, starts[:150], ends[:150]) is not None
