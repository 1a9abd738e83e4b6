"""Fuzzing: random schemas, CSV bytes, TFRecord framing, compressed streams, protobuf wire bytes and record
index sidecars either work or raise the documented error, never anything else. Bounded by example counts so
that CI stays fast; the properties over TensorFlow-free code run in a subprocess whose address space is
capped, so a runaway allocation (a decompression bomb, a length header believed) fails the test instead of
exhausting the machine."""
from __future__ import annotations

import gzip
import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import dataprep
from dataprep import DataprepError, Schema, SchemaError, load_schema
from dataprep.encode.parse import WireError, parse_example
from dataprep.tfrecord import FramingError, check_framing, iter_records
from tests.framing import frame, len_field, run_capped

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-300, 300), st.floats(allow_nan=True),
                    st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                      max_leaves=12)
feature = st.fixed_dictionaries({"name": st.one_of(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True),
                                                   scalars)},
                                optional={"dtype": st.sampled_from(["float32", "int64", "string", "bytes", "uint8",
                                                                    "float64", 3]),
                                          "shape": st.one_of(st.lists(st.one_of(st.none(), st.integers(-1, 4)),
                                                                      max_size=3), scalars),
                                          "default": values, "role": st.sampled_from(["feature", "label", "x"]),
                                          "group": st.sampled_from(["wide", "deep", "both", None, "q"]),
                                          "vocabulary": values, "oov": scalars, "source": values,
                                          "select": scalars, "normalize": scalars, "allow_nan": scalars})


@FUZZ
@given(st.one_of(values, st.fixed_dictionaries({"features": st.lists(feature, max_size=4)})))
def test_random_schema_documents(doc):
    """A document is refused with a SchemaError, or makes a schema that its own document makes again."""
    try:
        schema = Schema.from_dict(doc)
    except SchemaError:
        return
    assert Schema.from_dict(schema.to_dict()) == schema


@FUZZ
@given(st.text(max_size=300))
def test_random_yaml_text(text):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "s.yaml"
        path.write_text(text)
        try:
            load_schema(path)
        except SchemaError:
            pass


CSV_SCHEMA = {"features": [{"name": "a", "dtype": "int64", "shape": [], "default": 0},
                           {"name": "b", "dtype": "float32", "shape": []},
                           {"name": "c", "dtype": "string", "shape": [], "vocabulary": ["x", "y"], "oov": "bucket"}]}


# pyarrow cannot hand a malformed row whose text is not UTF-8 to the row handler (it reports the decoding
# error as "unraisable" and fails the read); dataprep then raises its SourceError, which this test accepts.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["fail", "skip"]), st.sampled_from(["tfrecord", "csv"]))
def test_random_csv_bytes(body, policy, fmt):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "in.csv"
        path.write_bytes(b"a,b,c\n" + body)
        try:
            s = dataprep.convert(path, CSV_SCHEMA, Path(d) / "out", on_error=policy, format=fmt)
            assert s.rows_read == s.rows_written + s.rows_set_aside
            assert policy == "skip" or s.rows_set_aside == 0  # "fail" either raises or had no bad row
        except DataprepError:
            pass


# --- TFRecord framing, compressed streams, wire bytes and index sidecars --------------------------------------
CAPPED = settings(max_examples=40, deadline=None, database=None)
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
float32s = st.floats(width=32, allow_nan=False)
int64s = st.integers(-(1 << 63), (1 << 63) - 1)
feature_lists = st.one_of(st.tuples(st.just("float"), st.lists(float32s, max_size=4)),
                          st.tuples(st.just("int64"), st.lists(int64s, max_size=4)),
                          st.tuples(st.just("bytes"), st.lists(st.binary(max_size=8), max_size=3)))
examples = st.dictionaries(names, feature_lists, max_size=4)


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def encode(features: dict) -> bytes:
    """An Example serialized by hand from the protobuf spec (packed floats and int64s), the oracle for
    :func:`parse_example`."""
    entries = b""
    for key, (kind, values) in features.items():
        if kind == "float":
            body = len_field(2, len_field(1, struct.pack(f"<{len(values)}f", *values)))
        elif kind == "int64":
            body = len_field(3, len_field(1, b"".join(_varint(v) for v in values)))
        else:
            body = len_field(1, b"".join(len_field(1, v) for v in values))
        entries += len_field(1, len_field(1, key.encode()) + len_field(2, body))
    return len_field(1, entries)


def _parsed(features: dict) -> dict:
    return {k: (kind, [float(np.float32(v)) for v in vals] if kind == "float" else vals)
            for k, (kind, vals) in features.items()}


def _read(path: Path, compression: str) -> tuple[list[bytes], FramingError | None]:
    got: list[bytes] = []
    try:
        for rec in iter_records(path, compression):
            got.append(rec.data)
    except FramingError as e:
        return got, e
    return got, None


@CAPPED
@given(st.lists(st.lists(examples.map(encode), max_size=3), min_size=1, max_size=3),
       st.sampled_from(["whole", "cut", "trailing"]), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=16))
def _gzip_streams(members, damage, cut, garbage):
    """Concatenated members are read whole; a cut stream or bytes after it are a FramingError after the
    records that precede the damage."""
    wanted = [r for m in members for r in m]
    packed = [gzip.compress(b"".join(frame(r) for r in m), mtime=0) for m in members]
    blob = b"".join(packed)
    ends = np.cumsum([len(p) for p in packed]).tolist()
    if damage == "cut":
        blob = blob[:cut % len(blob)]
    elif damage == "trailing":
        garbage = b"x" + garbage if garbage[:2] == b"\x1f\x8b" else garbage
        blob += garbage
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.tfrecord.gz"
        path.write_bytes(blob)
        got, error = _read(path, "gzip")
        if damage == "whole" or len(blob) in ends:
            whole = [r for m in members[:ends.index(len(blob)) + 1] for r in m]
            assert (got, error) == (whole, None)
            assert check_framing(path) == len(whole)
        elif damage == "trailing":
            assert got == wanted
            assert f"{len(garbage)} bytes after the end of the gzip stream at compressed offset {ends[-1]}" \
                in error.problem
            with pytest.raises(FramingError, match="bytes after the end"):
                check_framing(path)
        else:
            assert error is not None and got == wanted[:len(got)] and error.record == len(got)
            with pytest.raises(FramingError):
                check_framing(path)


@CAPPED
@given(st.lists(examples.map(encode), max_size=3), st.integers(0, (1 << 64) - 1) | st.integers(0, 80),
       st.binary(max_size=80), st.sampled_from(["none", "gzip", "zlib"]))
def _length_headers(records, length, tail, compression):
    """A header with a sound CRC and any length (up to 2^64 - 1) after sound records: those come back, then
    a FramingError at the claimed record, without buffering what the header claims."""
    good = b"".join(frame(r) for r in records)
    head = struct.pack("<Q", length)
    blob = good + head + frame(head)[8:12] + tail  # frame(head)[8:12] is the masked CRC of the 8 length bytes
    packed = {"none": lambda b: b, "gzip": gzip.compress, "zlib": zlib.compress}[compression](blob)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.tfrecord"
        path.write_bytes(packed)
        got, error = _read(path, compression)
        assert got == records
        assert error is not None and (error.record, error.offset) == (len(records), len(good)), error
        try:
            count = check_framing(path, compression)
        except FramingError as e:
            assert e.record >= len(records)
        else:  # the claimed record fits exactly: only its data CRC (not checked here) is wrong
            assert count == len(records) + 1 and length + 4 == len(tail)


@CAPPED
@given(st.lists(examples.map(encode), min_size=1, max_size=4), st.data())
def _flipped_bits(records, data):
    """A bit flipped anywhere in record k's framing or data is a FramingError at record k and its offset."""
    frames = [frame(r) for r in records]
    offsets = np.cumsum([0] + [len(f) for f in frames]).tolist()
    bit = data.draw(st.integers(0, offsets[-1] * 8 - 1))
    blob = bytearray(b"".join(frames))
    blob[bit // 8] ^= 1 << bit % 8
    k = int(np.searchsorted(offsets, bit // 8, side="right")) - 1
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.tfrecord"
        path.write_bytes(bytes(blob))
        got, error = _read(path, "none")
        assert got == records[:k] and (error.record, error.offset) == (k, offsets[k]), error


@CAPPED
@given(examples, st.binary(max_size=40), st.integers(0, 1 << 16), st.sampled_from(["cut", "insert", "flip"]))
def _wire_bytes(features, noise, where, how):
    """parse_example reads hand-encoded Examples exactly, and any damaged or random bytes either parse or
    raise WireError, in time linear in their length."""
    raw = encode(features)
    assert parse_example(raw) == _parsed(features)
    at = where % (len(raw) + 1)
    damaged = {"cut": raw[:at], "insert": raw[:at] + noise + raw[at:],
               "flip": raw[:at] + bytes([(raw[at] if at < len(raw) else 0) ^ 0x80]) + raw[at + 1:]}[how]
    for candidate in (damaged, noise):
        try:
            parse_example(candidate)
        except WireError:
            pass


_INDEX_DATA = {"x": np.arange(40, dtype=np.float32), "t": np.arange(40).astype(np.int64)}


def index_folder_path() -> Path:
    return Path(tempfile.gettempdir()) / f"dataprep-fuzz-index-{os.getpid()}"


def _index_folder() -> Path:
    """One small converted folder per process (its index is damaged and restored by each example)."""
    folder = index_folder_path()
    if not (folder / "manifest.json").is_file():
        dataprep.convert(_INDEX_DATA, {"features": [{"name": "x", "dtype": "float32", "shape": []},
                                                    {"name": "t", "dtype": "int64", "shape": []}]},
                         folder, num_shards=2, shuffle=False, overwrite=True)
    return folder


@settings(CAPPED, max_examples=25, phases=[Phase.explicit, Phase.generate])  # no shrinking: each example converts
@given(st.sampled_from(["truncate", "extend", "overwrite"]), st.integers(0, 400), st.binary(min_size=1, max_size=24))
def _index_sidecars(how, at, payload):
    """A damaged ``index/*.idx`` sidecar (8 bytes per record + 1) gives back the records exactly or raises a
    DataprepError; never other records, fewer records, or another exception."""
    folder = _index_folder()
    index = sorted((folder / "index").glob("*.idx"))[0]
    original = index.read_bytes()
    at %= len(original) + 1
    damaged = {"truncate": original[:at], "extend": original + payload,
               "overwrite": original[:at] + payload + original[at + len(payload):]}[how]
    index.write_bytes(damaged)
    try:
        reader = dataprep.SplitReader(folder, "train")
        got = [reader[i] for i in range(len(reader))]
        batches = list(reader.iter_batches(batch_size=7))
    except DataprepError:
        return
    finally:
        index.write_bytes(original)
    assert [int(r["t"]) for r in got] == _INDEX_DATA["t"].tolist()
    assert np.concatenate([b["t"] for b in batches]).tolist() == _INDEX_DATA["t"].tolist()


@pytest.mark.parametrize("prop", ["_gzip_streams", "_length_headers", "_flipped_bits", "_wire_bytes",
                                  "_index_sidecars"])
def test_capped_properties(prop):
    """Each property runs its examples in a subprocess capped at 512 MiB over its imports."""
    run_capped(f"import shutil, tests.test_fuzz as t\ntry:\n    t.{prop}()\n"
               "finally:\n    shutil.rmtree(t.index_folder_path(), ignore_errors=True)", timeout=300)


def _example_blob(values: list[float]) -> bytes:
    return b"".join(frame(encode({"x": ("float", [v])})) for v in values)


@settings(FUZZ, max_examples=40)
@given(st.lists(float32s, max_size=5), st.integers(0, 400), st.binary(max_size=20))
def test_random_and_truncated_tfrecord_bytes(values, cut, noise):
    """validate counts exactly the whole records before the damage, and is ok only for undamaged files."""
    from dataprep.readers.validate import validate

    blob = _example_blob(values)
    sizes = [len(frame(encode({"x": ("float", [v])}))) for v in values]
    ends = np.cumsum([0] + sizes).tolist()
    blob = blob[:cut] + noise if cut < len(blob) else blob + noise
    sound = max(i for i, e in enumerate(ends) if e <= min(cut, ends[-1]))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.tfrecord"
        path.write_bytes(blob)
        report = validate(path)
        rep = report.files[0]
        assert rep.records == sound, rep
        assert report.ok == (len(blob) == ends[sound]), rep
        if not report.ok:
            assert rep.problems[0].startswith(f"record {sound} at offset {ends[sound]}"), rep.problems
