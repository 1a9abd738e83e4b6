"""The dtype registry: every row's numpy, Arrow, TensorFlow, Keras and CSV types agree with what the
readers give and with plain TensorFlow (tests/tf_oracle.py), and the Feature predicates read the rows."""
from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
from PIL import Image

import dataprep
from dataprep.encode.wire import LIST_TAG
from dataprep.schema import DTYPES, FLOAT_DTYPES, NUMBER_DTYPES, STORED_TYPES, Feature, Schema
from tests.tf_oracle import read_tfrecord_split

N = 6
SHAPES = {"float32": [2], "float64": [], "int64": [], "string": [], "bytes": [], "uint8": [2, 2, 1],
          "image": [2, 2, 1]}


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((2, 2), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _values(dtype: str) -> np.ndarray:
    i = np.arange(N)
    return {"float32": np.stack([i, -i], 1).astype(np.float32) / 4, "float64": i / 3, "int64": i - 3,
            "string": np.array([f"s{k}" for k in i]), "bytes": np.array([bytes([k, 0]) for k in i], object),
            "uint8": np.arange(N * 4, dtype=np.uint8).reshape(N, 2, 2, 1),
            "image": np.array([_png(k) for k in i], object)}[dtype]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Folders holding one feature of every dtype a format can store (images apart: the oracle parses no
    encoded images)."""
    root = tmp_path_factory.mktemp("dtypes")
    out = {}
    for fmt, names in (("tfrecord", [n for n, t in DTYPES.items() if not t.encoded_image]),
                       ("image", [n for n, t in DTYPES.items() if t.encoded_image]),
                       ("csv", [n for n, t in DTYPES.items() if t.csv is not None])):
        schema = {"features": [{"name": f"f_{n}", "source": n, "dtype": n, "shape": SHAPES[n]} for n in names]}
        out[fmt] = root / fmt
        dataprep.convert({n: _values(n) for n in names}, schema, out[fmt], format="csv" if fmt == "csv" else
                         "tfrecord", num_shards=1, shuffle=False)
    return out


def _tf_batch(folder) -> dict:
    return next(iter(dataprep.make_dataset(folder, batch_size=N, shuffle=False, num_epochs=1)))


@pytest.mark.parametrize("name", list(DTYPES))
def test_tfrecord_types_are_the_rows(folders, name):
    """Plain TF parses the stored list as the kind's TF type; the TF and numpy readers give the row's types."""
    t = DTYPES[name]
    folder = folders["image" if t.encoded_image else "tfrecord"]
    if t.encoding == "raw_uint8":  # the oracle decodes the pixel bytes itself
        assert read_tfrecord_split(folder, "train")[f"f_{name}"].dtype == np.uint8
    elif not t.encoded_image:
        raw = read_tfrecord_split(folder, "train")[f"f_{name}"]
        assert tf.as_dtype(raw.dtype if raw.dtype != object else tf.string) == tf.as_dtype(STORED_TYPES[t.stored].tf)
    assert _tf_batch(folder)[f"f_{name}"].dtype == tf.as_dtype(t.tf)
    got = next(dataprep.iter_batches(folder, batch_size=N))[f"f_{name}"]
    assert got.dtype == (t.numpy if t.numpy is not None else object)
    if t.numpy is not None and not t.encoded_image:
        assert np.array_equal(got, _values(name))


@pytest.mark.parametrize("name", [n for n, t in DTYPES.items() if t.csv is not None])
def test_csv_gives_what_the_tfrecords_give(folders, name):
    """decode_csv reads the row's record type; both readers then give the same dtypes and values as for
    TFRecord shards (uint8 pixels: read as int32, cast to uint8 in both)."""
    t = DTYPES[name]
    schema = dataprep.load_manifest(folders["csv"]).schema
    defaults, positions = schema.csv_parse_spec()
    assert {defaults[i].dtype for i in positions[f"f_{name}"]} == {tf.as_dtype(t.csv)}
    tf_csv, tf_tfr = _tf_batch(folders["csv"])[f"f_{name}"], _tf_batch(folders["tfrecord"])[f"f_{name}"]
    assert tf_csv.dtype == tf_tfr.dtype == tf.as_dtype(t.tf)
    assert np.array_equal(tf_csv.numpy(), tf_tfr.numpy())
    np_csv = next(dataprep.iter_batches(folders["csv"], batch_size=N))[f"f_{name}"]
    np_tfr = next(dataprep.iter_batches(folders["tfrecord"], batch_size=N))[f"f_{name}"]
    assert np_csv.dtype == np_tfr.dtype and np.array_equal(np_csv, np_tfr)


@pytest.mark.parametrize("name", list(DTYPES))
def test_row_types_agree(name):
    """Arrow and numpy name the same element type; the Keras Input takes what make_dataset gives."""
    import keras

    t = DTYPES[name]
    if t.numpy is not None:
        assert np.dtype(t.arrow_type.to_pandas_dtype()) == t.numpy
        assert t.element_bytes == t.numpy.itemsize
    else:
        assert (pa.types.is_string if t.text else pa.types.is_binary)(t.arrow_type)
    assert tf.as_dtype(keras.Input(shape=(), dtype=t.keras).dtype) == tf.as_dtype(t.tf)
    assert t.stored in LIST_TAG


def test_derived_tables():
    assert FLOAT_DTYPES == ("float32", "float64")
    assert NUMBER_DTYPES == ("float32", "float64", "int64")
    assert {k: t.name for k, t in STORED_TYPES.items()} == {"float": "float32", "int64": "int64", "bytes": "bytes"}


@pytest.mark.parametrize("kind, feature", [
    ("bytes", tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a"]))),
    ("float", tf.train.Feature(float_list=tf.train.FloatList(value=[1.0]))),
    ("int64", tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))),
])
def test_list_tags_are_protobufs(kind, feature):
    assert feature.SerializeToString()[:1] == LIST_TAG[kind]


@pytest.mark.parametrize("raw, numeric, text, categorical, image", [
    ({"dtype": "float32"}, True, False, False, False),
    ({"dtype": "float64"}, True, False, False, False),
    ({"dtype": "int64"}, True, False, False, False),
    ({"dtype": "string"}, False, True, False, False),
    ({"dtype": "string", "vocabulary": ["a", "b"]}, False, True, True, False),
    ({"dtype": "string", "vocabulary": "from_stats"}, False, True, False, False),
    ({"dtype": "bytes"}, False, False, False, False),
    ({"dtype": "uint8", "shape": [2, 2, 1]}, False, False, False, True),
    ({"dtype": "image", "shape": [2, 2, 1]}, False, False, False, True),
])
def test_feature_predicates(raw, numeric, text, categorical, image):
    f: Feature = Schema.from_dict({"features": [{"name": "x", "shape": [], **raw}]})["x"]
    assert (f.is_numeric, f.is_text, f.is_categorical, f.is_image) == (numeric, text, categorical, image)


def test_float64_arrays_convert_to_text_features(tmp_path):
    """A float64 numpy column for a string feature is text like any other number column (it crashed: numpy
    compares float64 == None as true, so the column passed as already-typed)."""
    schema = {"features": [{"name": "s", "dtype": "string", "shape": []}]}
    for dtype in (np.float32, np.float64):
        dataprep.convert({"s": np.array([1.5, 2.0], dtype)}, schema, tmp_path / dtype.__name__, num_shards=1,
                         shuffle=False)
    assert dataprep.read_record(tmp_path / "float32", "train", 0) == dataprep.read_record(tmp_path / "float64",
                                                                                          "train", 0)


def test_to_yaml_loads_back_and_is_what_save_writes(tmp_path):
    schema = dataprep.load_schema({"features": [{"name": "x", "dtype": "float32", "shape": [2], "default": 0.5},
                                                {"name": "y", "dtype": "string", "shape": [], "role": "label",
                                                 "vocabulary": ["a", "b"]}]})
    schema.save(tmp_path / "s.yaml", header="# h\n")
    assert (tmp_path / "s.yaml").read_text() == "# h\n" + schema.to_yaml()
    assert dataprep.load_schema(tmp_path / "s.yaml") == schema
