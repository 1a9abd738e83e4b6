"""Fuzzing: random schemas, CSV bytes and TFRecord bytes either work or raise a DataprepError, never
anything else. Bounded by example counts so that CI stays fast."""
from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import crc32c
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dataprep
from dataprep import DataprepError, Schema, SchemaError, load_schema
from dataprep.readers.validate import validate

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
    try:
        Schema.from_dict(doc)
    except SchemaError:
        pass


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
        except DataprepError:
            pass


def _frame(data: bytes) -> bytes:
    def masked(b: bytes) -> int:
        c = crc32c.crc32c(b)
        return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked(length)) + data + struct.pack("<I", masked(data))


@FUZZ
@given(st.lists(st.binary(max_size=60), max_size=5), st.integers(0, 400), st.binary(max_size=20))
def test_random_and_truncated_tfrecord_bytes(records, cut, noise):
    blob = b"".join(_frame(r) for r in records)
    blob = blob[:cut] + noise if cut < len(blob) else blob + noise
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.tfrecord"
        path.write_bytes(blob)
        report = validate(path)  # a report, whatever the bytes
        assert report.ok == (not report.files[0].problems)
