"""Every dtype and shape goes in through convert() and comes back equal through plain TensorFlow."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dataprep
from tests.tables import CSV_FEATURES, SCHEMA, N, assert_equal, make_data
from tests.tf_oracle import manifest, read_csv_split, read_tfrecord_split


def _merged(folder, reader) -> dict:
    m = manifest(folder)
    parts = [reader(folder, s) for s in m["splits"]]
    out = {}
    for k in parts[0]:
        if isinstance(parts[0][k], list):
            out[k] = [x for p in parts for x in p[k]]
        else:
            out[k] = np.concatenate([p[k] for p in parts])
    order = np.argsort(out["id"])
    return {k: [v[i] for i in order] if isinstance(v, list) else v[order] for k, v in out.items()}


@pytest.mark.parametrize("compression", ["none", "gzip", "zlib"])
def test_tfrecord_every_dtype_and_shape(tmp_path, compression):
    data = make_data()
    out = tmp_path / "out"
    summary = dataprep.convert(data, SCHEMA, out, compression=compression, num_shards=3,
                               split="train=0.6,valid=0.2,test=0.2", seed=5)
    assert summary.rows_written == N and summary.splits == {"train": 180, "valid": 60, "test": 60}
    got = _merged(out, read_tfrecord_split)
    assert_equal(got, data, [f["name"] for f in SCHEMA["features"]])


def test_tfrecord_bytes_equal_protobuf_serialization(tmp_path):
    """Records equal tf.train.Example(...).SerializeToString(deterministic=True) for the same values."""
    import tensorflow as tf

    data = make_data(40)
    dataprep.convert(data, SCHEMA, tmp_path / "o", shuffle=False)
    raw = [r.numpy() for r in tf.data.TFRecordDataset(str(tmp_path / "o" / "train-00000-of-00001.tfrecord"))]
    for i, rec in enumerate(raw):
        ex = tf.train.Example()
        feat = ex.features.feature
        for f in SCHEMA["features"]:
            v = data[f["name"]][i]
            name, dtype = f["name"], f["dtype"]
            if dtype == "uint8":
                feat[name].bytes_list.value.append(np.asarray(v).tobytes())
            elif dtype in ("string", "bytes"):
                items = [v] if f["shape"] == [] else list(v)
                feat[name].bytes_list.value.extend([x.encode() if isinstance(x, str) else x for x in items])
            elif dtype == "float32":
                feat[name].float_list.value.extend(np.asarray(v, np.float32).reshape(-1).tolist())
            else:
                feat[name].int64_list.value.extend(np.asarray(v, np.int64).reshape(-1).tolist())
        assert rec == ex.SerializeToString(deterministic=True), i




@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_csv_every_fixed_dtype(tmp_path, compression):
    data = make_data()
    data["s_scalar"] = np.array([t for t in data["s_scalar"]], dtype=object)
    schema = {"features": [f for f in SCHEMA["features"] if f["name"] in CSV_FEATURES]}
    out = tmp_path / "csv"
    dataprep.convert(data, schema, out, format="csv", compression=compression, num_shards=2,
                     split="train=0.5,test=0.5")
    got = _merged(out, read_csv_split)
    assert_equal(got, data, [n for n in CSV_FEATURES if n not in ("s_scalar", "s_fixed", "img")])
    assert np.array_equal(got["img"].reshape(N, 4, 4, 1), data["img"])
    # TensorFlow's decode_csv and pandas both see the exact strings (quotes, commas, empty, unicode)
    assert [s.decode() for s in got["s_scalar"]] == list(data["s_scalar"])
    assert [[x.decode() for x in row] for row in got["s_fixed"]] == [list(r) for r in data["s_fixed"]]
    frames = [pd.read_csv(out / f["path"], keep_default_na=False, dtype=str)
              for s in manifest(out)["splits"].values() for f in s["files"]]
    df = pd.concat(frames).astype({"id": int}).sort_values("id")
    assert list(df["s_scalar"]) == list(data["s_scalar"])
    assert np.array_equal(df["f_scalar"].astype(np.float32).to_numpy(), data["f_scalar"])


def test_missing_values_take_defaults(tmp_path):
    df = pd.DataFrame({"x": [1.5, None, 3.0], "k": [4, None, 6], "s": ["a", None, "c"], "y": [0.0, 1.0, 2.0]})
    schema = {"features": [
        {"name": "x", "dtype": "float32", "shape": [], "default": -1.0},
        {"name": "k", "dtype": "int64", "shape": [], "default": 7},
        {"name": "s", "dtype": "string", "shape": [], "default": "zz"},
        {"name": "y", "dtype": "float32", "shape": [], "role": "label"},
    ]}
    dataprep.convert(df, schema, tmp_path / "o", shuffle=False)
    got = read_tfrecord_split(tmp_path / "o", "train")
    assert got["x"].tolist() == [1.5, -1.0, 3.0]
    assert got["k"].tolist() == [4, 7, 6]
    assert got["s"].tolist() == [b"a", b"zz", b"c"]


def test_seed_case_two_inputs_from_one_array(tmp_path):
    """The seed's x[:, :5] (wide) and x[:, 2:] (deep) taken from one [N, 8] array by the schema."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((50, 8)).astype(np.float32), rng.standard_normal(50).astype(np.float32)
    schema = {"features": [
        {"name": "wide", "source": "x", "select": "0:5", "dtype": "float32", "shape": [5], "group": "wide"},
        {"name": "deep", "source": "x", "select": "2:8", "dtype": "float32", "shape": [6], "group": "deep"},
        {"name": "y", "dtype": "float32", "shape": [], "role": "label"},
    ]}
    dataprep.convert({"x": x, "y": y}, schema, tmp_path / "o", shuffle=False)
    got = read_tfrecord_split(tmp_path / "o", "train")
    assert np.array_equal(got["wide"], x[:, :5]) and np.array_equal(got["deep"], x[:, 2:])
    assert np.array_equal(got["y"], y)
