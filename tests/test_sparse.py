"""Sparse features: scipy.sparse rows, (index, value) pairs and "index:value" CSV text, written as Examples that
plain TensorFlow parses with tf.io.SparseFeature, read back exactly by make_dataset (tf.SparseTensor) and by the
TF-free readers ((indices, values)); bad entries go through the bad-row policy with file, row and column."""
from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow as pa
import pytest

import dataprep
from dataprep.errors import DataError, SchemaError
from dataprep.records import SparseArray, SplitReader
from dataprep.schema import Schema

from . import tf_oracle

SIZE = 1000


def schema(dtype: str = "float32", size: int = SIZE) -> dict:
    return {"features": [{"name": "x", "dtype": dtype, "shape": [size], "sparse": True},
                         {"name": "y", "dtype": "int64", "role": "label"}]}


def entries(dtype: str, n: int = 300, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per record its sorted distinct indices and values (float64: -0.0, NaN, subnormals and extremes too)."""
    rng = np.random.default_rng(seed)
    specials = {"float32": [-0.0, np.nan, 1e-45, 3.4028235e38],
                "float64": [-0.0, np.nan, 5e-324, 1.7976931348623157e308],
                "int64": [-(2**63), 2**63 - 1, 0, -1]}[dtype]
    out = []
    for i in range(n):
        k = int(rng.integers(0, 8)) if i % 7 else 0  # some records have no entry at all
        idx = np.sort(rng.choice(SIZE, k, replace=False)).astype(np.int64)
        if dtype == "int64":
            vals = rng.integers(-(2**40), 2**40, k).astype(np.int64)
        else:
            vals = rng.normal(0, 1e3, k).astype(dtype)
        if k:
            vals[0] = specials[i % len(specials)]
        out.append((idx, vals))
    return out


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal element for element, floats compared by their bits (NaN and -0.0 count)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f":
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.view(f"i{a.itemsize}"),
                                                                            b.view(f"i{b.itemsize}"))
    return a.dtype == b.dtype and np.array_equal(a, b)


def check_read_back(folder, want: list[tuple[np.ndarray, np.ndarray]], dtype: str) -> None:
    """The TF-free readers, plain TensorFlow's SparseFeature and make_dataset all give ``want``, exactly."""
    reader = SplitReader(folder, "train")
    assert len(reader) == len(want)
    for i in (0, 1, len(want) - 1):
        idx, vals = reader[i]["x"]
        assert same(idx, want[i][0]) and same(vals, want[i][1]), i
    batches = list(reader.iter_batches(128))
    assert all(isinstance(b["x"], SparseArray) for b in batches)
    got = [(b["x"].indices[s:e], b["x"].values[s:e]) for b in batches
           for s, e in zip(b["x"].row_splits[:-1], b["x"].row_splits[1:])]
    assert all(same(g[0], w[0]) and same(g[1], w[1]) for g, w in zip(got, want)) and len(got) == len(want)

    oracle = tf_oracle.read_tfrecord_split(folder, "train")["x"]  # float64 as its int64 bit patterns
    stored = [(i, v.view(np.int64) if dtype == "float64" else v) for i, v in want]
    assert all(same(o[0], w[0]) and same(o[1], w[1]) for o, w in zip(oracle, stored)) and len(oracle) == len(want)

    import tensorflow as tf
    ds = dataprep.make_dataset(folder, "train", batch_size=64, shuffle=False, num_epochs=1)
    rows = []
    for x, _ in ds:
        sp = x["x"]
        assert isinstance(sp, tf.SparseTensor) and sp.dtype == tf.as_dtype(dtype) and int(sp.dense_shape[1]) == SIZE
        r, c, v = sp.indices[:, 0].numpy(), sp.indices[:, 1].numpy(), sp.values.numpy()
        rows += [(c[r == k], v[r == k]) for k in range(int(sp.dense_shape[0]))]
    assert all(same(g[0], w[0]) and same(g[1], w[1]) for g, w in zip(rows, want)) and len(rows) == len(want)
    shuffled, labels = [], []  # shuffled: the same records (y is the input row), in another order
    for x, y in dataprep.make_dataset(folder, "train", batch_size=64, seed=1, num_epochs=1):
        dense = tf.sparse.to_dense(x["x"]).numpy()
        shuffled += list(dense)
        labels += y.numpy().tolist()
    assert sorted(labels) == list(range(len(want))) and labels != sorted(labels)
    for row, k in zip(shuffled, labels):
        assert np.flatnonzero(row != 0).tolist() == [i for i, v in zip(*want[k]) if v != 0]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_scipy_rows_round_trip_exactly(tmp_path, dtype):
    sparse = pytest.importorskip("scipy.sparse")
    want = entries(dtype)
    indptr = np.cumsum([0] + [len(i) for i, _ in want])
    matrix = sparse.csr_matrix((np.concatenate([v for _, v in want]), np.concatenate([i for i, _ in want]), indptr),
                               shape=(len(want), SIZE))
    summary = dataprep.convert({"x": matrix, "y": np.arange(len(want))}, schema(dtype), tmp_path / "out",
                               split="train=1", shuffle=False, batch_size=100)
    assert summary.rows_written == len(want)
    check_read_back(tmp_path / "out", want, dtype)
    storage = json.loads((tmp_path / "out" / "manifest.json").read_text())["features"]["x"]
    assert storage["kind"] == "sparse" and storage["index_key"] == "x/indices" and storage["shape"] == [SIZE]


def test_pairs_and_text_give_the_same_bytes_as_scipy(tmp_path):
    """Lists of (index, value) pairs (Python, Arrow structs) and LIBSVM text in a CSV file write the same records."""
    sparse = pytest.importorskip("scipy.sparse")
    want = [(i, np.nan_to_num(v, nan=1.0)) for i, v in entries("float32", n=50)]  # NaN in an object array: missing
    pairs = np.empty(len(want), dtype=object)
    pairs[:] = [list(zip(i.tolist(), v.astype(np.float64).tolist())) for i, v in want]
    structs = pa.array([[{"i": int(a), "v": float(b)} for a, b in zip(i, v)] for i, v in want])
    text = [" ".join(f"{a}:{float(b)!r}" for a, b in zip(i, v)) for i, v in want]
    path = tmp_path / "in.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["x", "y"])
        w.writerows([t, k] for k, t in enumerate(text))
    indptr = np.cumsum([0] + [len(i) for i, _ in want])
    matrix = sparse.csr_matrix((np.concatenate([v for _, v in want]), np.concatenate([i for i, _ in want]), indptr),
                               shape=(len(want), SIZE))
    y = np.arange(len(want))
    for name, source in [("scipy", {"x": matrix, "y": y}), ("pairs", {"x": pairs, "y": y}),
                         ("structs", pa.table({"x": structs, "y": y})), ("csv", path)]:
        dataprep.convert(source, schema(), tmp_path / name, split="train=1", shuffle=False)
    shards = {name: b"".join(p.read_bytes() for p in sorted((tmp_path / name).glob("train*.tfrecord*")))
              for name in ("scipy", "pairs", "structs", "csv")}
    assert shards["scipy"] and len(set(shards.values())) == 1
    check_read_back(tmp_path / "csv", want, "float32")


def test_unsorted_indices_are_stored_sorted(tmp_path):
    """Entries in any order are the same tensor: they are written in index order, values following (as
    tf.sparse.reorder orders them), so every reader gets sorted indices."""
    dataprep.convert({"x": np.array(["9:1 2:2 5:3", "", "7:-1"], dtype=object), "y": np.arange(3)}, schema(),
                     tmp_path / "out", split="train=1", shuffle=False)
    reader = SplitReader(tmp_path / "out", "train")
    idx, vals = reader[0]["x"]
    assert idx.tolist() == [2, 5, 9] and vals.tolist() == [2, 3, 1]
    assert reader[1]["x"][0].tolist() == [] and reader[2]["x"][0].tolist() == [7]


BAD = [
    ("out_of_range", "3:1 1000:2", "index 1000 is outside the dense shape [1000]"),
    ("out_of_range", "-1:2", "index -1 is outside"),
    ("duplicate_index", "4:1 4:2", "index 4 appears twice"),
    ("unparseable", "4:1 7", "cannot read '7' as index:value"),
    ("unparseable", "4:1 7:abc", "cannot parse 'abc' as float32"),
    ("unparseable", "x:1", "cannot parse 'x' as int64"),
]


@pytest.mark.parametrize("reason, field, fragment", BAD, ids=[f"{r}-{f}" for r, _, f in BAD])
def test_bad_entries_name_file_row_and_column(tmp_path, runner, reason, field, fragment):
    path = tmp_path / "in.csv"
    path.write_text(f"x,y\n1:1 2:2,0\n{field},1\n3:0.5,2\n")
    with pytest.raises(DataError) as err:
        dataprep.convert(path, schema(), tmp_path / "out", split="train=1")
    message = str(err.value)
    assert "in.csv, line 3 (row 2), column 'x'" in message and fragment in message, message
    assert not (tmp_path / "out").exists()

    summary = dataprep.convert(path, schema(), tmp_path / "out", split="train=1", shuffle=False,
                               on_error="quarantine", quarantine=str(tmp_path / "q.csv"))
    assert (summary.rows_read, summary.rows_written, summary.set_aside_by_reason) == (3, 2, {reason: 1})
    quarantined = list(csv.DictReader(open(tmp_path / "q.csv")))
    assert len(quarantined) == 1 and quarantined[0]["reason"] == reason and fragment in quarantined[0]["message"]
    reader = SplitReader(tmp_path / "out", "train")
    assert [reader[i]["x"][0].tolist() for i in range(2)] == [[1, 2], [3]]


def test_bad_pairs_are_flagged(tmp_path):
    pairs = np.empty(3, dtype=object)
    pairs[:] = [[(1, 0.5)], [(1, 0.5, 2.0)], [(2.5, 1.0)]]
    summary = dataprep.convert({"x": pairs, "y": np.arange(3)}, schema(), tmp_path / "out", split="train=1",
                               on_error="skip")
    assert summary.set_aside_by_reason == {"wrong_shape": 1, "not_integer": 1} and summary.rows_written == 1


@pytest.mark.parametrize("change, fragment", [
    ({"shape": [None]}, "needs its dense size as shape [size]"),
    ({"shape": [4, 4]}, "needs its dense size as shape [size]"),
    ({"dtype": "string"}, "holds float32, float64, int64 values"),
    ({"default": 0.0}, "takes no default"),
    ({"sparse": "yes"}, "'sparse' must be true or false"),
    ({"source": ["a", "b"], "shape": [2]}, "reads one column"),
])
def test_schema_refuses_what_a_sparse_feature_cannot_be(change, fragment):
    doc = schema()
    doc["features"][0].update(change)
    with pytest.raises(SchemaError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        Schema.from_dict(doc)


def test_schema_round_trips_and_is_not_csv():
    s = Schema.from_dict(schema(size=2**40))  # the dense size is not allocated: any int64 will do
    assert Schema.from_dict(s.to_dict()) == s and s["x"].kind == "sparse" and not s["x"].is_fixed
    assert [f.name for f in s.stored_features()] == ["x", "x/indices", "y"]
    with pytest.raises(SchemaError, match="is sparse; CSV holds fixed shapes only"):
        s.csv_columns()
    doc = {"record": "sequence_example", "features": [*schema()["features"],
                                                      {"name": "steps", "dtype": "float32", "shape": [None]}]}
    with pytest.raises(SchemaError, match="not in a sequence_example"):
        Schema.from_dict(doc)


def test_readme_recipe_parses_with_plain_tensorflow(tmp_path, monkeypatch):
    """The plain-TF recipe of docs/output-format.md, run as written there, reads sparse float32 and float64
    features back."""
    import re

    import tensorflow as tf

    from .conftest import ROOT

    page = (ROOT / "docs" / "output-format.md").read_text()
    recipe = next(block for block in re.findall(r"```python\n(.*?)```", page, re.S)
                  if 'json.load(open("out/manifest.json"))' in block)
    doc = {"features": [*schema()["features"], {"name": "z", "dtype": "float64", "shape": [8], "sparse": True}]}
    dataprep.convert({"x": np.array(["3:0.5 17:1", ""], dtype=object), "y": np.arange(2),
                      "z": np.array(["7:-0.0 2:0.1", "0:1e-300"], dtype=object)}, doc, tmp_path / "out",
                     split="train=1", shuffle=False)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(recipe, namespace)  # noqa: S102 - the README's own code
    batch = next(iter(namespace["ds"]))
    assert isinstance(batch["x"], tf.SparseTensor) and batch["z"].dtype == tf.float64
    dense = tf.sparse.to_dense(batch["x"]).numpy()
    assert dense.shape == (2, SIZE) and dense[0, 3] == 0.5 and dense[0, 17] == 1 and dense.sum() == 1.5
    assert batch["z"].indices.numpy().tolist() == [[0, 2], [0, 7], [1, 0]]
    assert same(batch["z"].values.numpy(), np.array([0.1, -0.0, 1e-300]))


def test_stats_and_head_show_the_entries(tmp_path):
    """Statistics cover a sparse feature's stored entries (as convert --stats does); head shows {index: value}."""
    from dataprep.readers.inspect import describe, head

    dataprep.convert({"x": np.array(["1:2 3:4", "", "5:6"], dtype=object), "y": np.arange(3)}, schema(),
                     tmp_path / "out", split="train=1", shuffle=False, stats=True)
    written = json.loads((tmp_path / "out" / "stats.json").read_text())["splits"]["train"]["x"]
    report = dataprep.stats(tmp_path / "out").to_dict()["splits"]["train"]["x"]
    assert written == report and report["count"] == 3 and report["mean"] == 4.0
    assert head(tmp_path / "out")["x"].tolist() == [{1: 2.0, 3: 4.0}, {}, {5: 6.0}]
    assert dataprep.as_dataframe(tmp_path / "out")["x"].tolist() == [{1: 2.0, 3: 4.0}, {}, {5: 6.0}]
    assert describe(tmp_path / "out")["features"]["x"] == f"float32 sparse[{SIZE}] feature"


def test_wide_deep_trains_on_a_sparse_wide_side_and_a_date(tmp_path):
    """The trainer takes a sparse feature on the wide side (a linear map of its entries) and a date's calendar
    inputs on the deep side; the saved model loads and predicts from a tf.SparseTensor."""
    import keras
    import tensorflow as tf

    from dataprep.train.fitting import fit

    rng = np.random.default_rng(0)
    n = 300
    text = np.array([" ".join(f"{i}:1" for i in np.sort(rng.choice(50, 3, replace=False))) for _ in range(n)],
                    dtype=object)
    days = (np.datetime64("2015-01-01") + rng.integers(0, 2000, n)).astype(str).astype(object)
    doc = {"features": [{"name": "x", "dtype": "float32", "shape": [50], "sparse": True, "group": "wide"},
                        {"name": "day", "dtype": "int64", "parse": "date", "group": "deep"},
                        {"name": "y", "dtype": "float32", "role": "label"}]}
    dataprep.convert({"x": text, "day": days, "y": rng.normal(size=n)}, doc, tmp_path / "data",
                     split="train=0.8,test=0.2")
    fit("wide-deep", tmp_path / "data", tmp_path / "run", epochs=1, variant="two-input", verbose=False)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert np.isfinite(metrics["test"]["rmse"]) and np.isfinite(metrics["linear_regression_baseline"]["test_rmse"])
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    x = tf.SparseTensor([[0, 3], [1, 7]], tf.constant([1.0, 1.0]), [2, 50])
    out = model({"x": x, "day": tf.constant([0, 10**9], tf.int64)})
    assert np.isfinite(np.asarray(tf.nest.flatten(out)[0])).all()


def test_schema_infer_finds_libsvm_text(tmp_path):
    """A column of "index:value" entries is inferred sparse (size: largest index + 1, float32 when it keeps
    every value); a lone "10:30" per row (a time, more likely) and free text are not."""
    path = tmp_path / "in.csv"
    path.write_text("x,t,note,y\n3:0.5 17:1,10:30,a:b c:d,1\n,11:45,x,2\n2:0.25,09:00,y,3\n")
    inferred = dataprep.infer_schema(path, label="y")
    x = inferred["x"]
    assert (x.dtype, x.shape, x.sparse, x.default) == ("float32", (18,), True, None)
    assert not inferred["t"].sparse and not inferred["note"].sparse
    dataprep.convert(path, inferred, tmp_path / "out", split="train=1", shuffle=False)
    reader = SplitReader(tmp_path / "out", "train")
    assert [reader[i]["x"][0].tolist() for i in range(3)] == [[3, 17], [], [2]]
    assert reader[0]["x"][1].tolist() == [0.5, 1.0]


def test_a_sparse_feature_is_refused_on_the_deep_side():
    from dataprep.train.prep import TrainStats, encode, feature_input

    f = Schema.from_dict(schema())["x"]
    with pytest.raises(SchemaError, match="joins the wide side only"):
        encode([f], {"x": feature_input(f)}, TrainStats(), "deep")
    huge = Schema.from_dict(schema(size=2**40))["x"]  # refused before any weight is allocated
    with pytest.raises(SchemaError, match="hash its indices into fewer"):
        encode([huge], {"x": feature_input(huge)}, TrainStats(), "wide")


def test_tfrecords_holding_sparse_features_are_reconverted(tmp_path):
    """TFRecord files of Examples with a sparse feature (values under its key, indices under key/indices, as
    dataprep writes them and tf.io.SparseFeature reads them) convert again to the same records; a record whose
    indices and values differ in number is a bad row."""
    want = entries("float32", n=40)
    text = np.array([" ".join(f"{a}:{float(b)!r}" for a, b in zip(i, v)) for i, v in want], dtype=object)
    dataprep.convert({"x": text, "y": np.arange(len(want))}, schema(), tmp_path / "a", split="train=1",
                     shuffle=False)
    shard = next((tmp_path / "a").glob("train*.tfrecord"))
    dataprep.convert(shard, schema(), tmp_path / "b", split="train=1", shuffle=False)
    assert next((tmp_path / "b").glob("train*.tfrecord")).read_bytes() == shard.read_bytes()

    import tensorflow as tf

    def example(indices, values, y):
        return tf.train.Example(features=tf.train.Features(feature={
            "x": tf.train.Feature(float_list=tf.train.FloatList(value=values)),
            "x/indices": tf.train.Feature(int64_list=tf.train.Int64List(value=indices)),
            "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[y]))})).SerializeToString()

    with tf.io.TFRecordWriter(str(tmp_path / "tf.tfrecord")) as w:
        for record in (example([5, 1], [1.0, 2.0], 0), example([3], [1.0, 2.0], 1), example([], [], 2)):
            w.write(record)
    summary = dataprep.convert(tmp_path / "tf.tfrecord", schema(), tmp_path / "c", split="train=1", shuffle=False,
                               on_error="skip")
    assert summary.set_aside_by_reason == {"wrong_shape": 1} and summary.rows_written == 2
    reader = SplitReader(tmp_path / "c", "train")
    assert [reader[i]["x"][0].tolist() for i in range(2)] == [[1, 5], []]
    assert reader[0]["x"][1].tolist() == [2.0, 1.0]
