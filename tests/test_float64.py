"""dtype float64 end to end: every value comes back bit for bit, through plain TensorFlow and our readers.

The oracle is TensorFlow alone, following the README's recipe: TFRecords through ``tf.io.parse_example``
(or ``parse_sequence_example``) and ``tf.bitcast`` of the int64 bit patterns, CSV shards through
``tf.io.decode_csv`` with ``tf.float64`` record defaults. Nothing from dataprep takes part in the reading.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf

import dataprep
from dataprep import DataError, SchemaError, load_schema
from dataprep.columns import Column
from dataprep.encode.example import encode_examples
from dataprep.feature_stats import folder_stats
from dataprep.records import RaggedArray, SplitReader, iter_batches


def _bits(*patterns: int) -> list[float]:
    return np.array(patterns, np.uint64).view(np.float64).tolist()


# 31.95376472 is the example (float32 made it 31.953764); then the edges of float64
VALUES = [31.95376472, 0.1, 1 / 3, 1e-308, 5e-324, 1.7976931348623157e308, -0.0, float(2**24 + 1),
          float(2**53), -123456789.12345679, float("inf"), float("-inf"), float("nan"),
          *_bits(0xFFF8000000000001, 0x7FF0000000000123)]  # NaNs with a sign and payloads
TEXT_SAFE = [v for v in VALUES if v == v]  # NaN text cannot carry a sign or payload
COMPRESSIONS = {"none": "", "gzip": "GZIP"}


def bits(values) -> np.ndarray:
    return np.asarray(values, np.float64).view(np.int64)


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


# --- the plain-TensorFlow oracle (the README's recipe) -------------------------------------------------------
def tf_read_examples(folder: Path, split: str = "train") -> dict:
    """parse_example with the manifest's spec; ``float64_bits`` features through tf.bitcast."""
    m = manifest(folder)
    kinds = {"float": tf.float32, "int64": tf.int64, "bytes": tf.string}
    spec = {}
    for key, f in m["features"].items():
        if f["kind"] == "fixed":
            spec[key] = tf.io.FixedLenFeature(f["shape"], kinds[f["stored_dtype"]], default_value=f.get("default"))
        else:
            spec[key] = tf.io.RaggedFeature(kinds[f["stored_dtype"]], row_splits_dtype=tf.int64,
                                            partitions=[tf.io.RaggedFeature.UniformRowLength(d)
                                                        for d in f["shape"][1:]])
    files = [str(folder / f["path"]) for f in m["splits"][split]["files"]]
    ds = tf.data.TFRecordDataset(files, compression_type=COMPRESSIONS[m["compression"]]).batch(1000)
    out: dict[str, list] = {k: [] for k in spec}
    for raw in ds:
        for k, x in tf.io.parse_example(raw, spec).items():
            if m["features"][k]["encoding"] == "float64_bits":
                x = tf.ragged.map_flat_values(tf.bitcast, x, tf.float64) if isinstance(x, tf.RaggedTensor) \
                    else tf.bitcast(x, tf.float64)
            out[k] += x.to_list() if isinstance(x, tf.RaggedTensor) else list(x.numpy())
    return out


def tf_read_csv(folder: Path, split: str = "train") -> list[np.ndarray]:
    """decode_csv with record defaults of the manifest's dtypes; one array per CSV column."""
    m = manifest(folder)
    kinds = {"float32": tf.float32, "float64": tf.float64, "int64": tf.int64, "string": tf.string}
    defaults = [tf.constant([], kinds[c["dtype"]]) for c in m["csv"]["columns"]]
    files = [str(folder / f["path"]) for f in m["splits"][split]["files"]]
    comp = COMPRESSIONS[m["compression"]]
    lines = tf.data.Dataset.from_tensor_slices(files).flat_map(
        lambda f: tf.data.TextLineDataset(f, compression_type=comp).skip(1)).batch(1000)
    parts = [tf.io.decode_csv(batch, record_defaults=defaults) for batch in lines]
    return [np.concatenate([p[i].numpy() for p in parts]) for i in range(len(defaults))]


# --- a table of every shape kind ----------------------------------------------------------------------------
SCHEMA = {"features": [
    {"name": "s", "dtype": "float64", "shape": []},
    {"name": "v", "dtype": "float64", "shape": [2]},
    {"name": "d", "dtype": "float64", "shape": [], "default": 0.1},
    {"name": "dv", "dtype": "float64", "shape": [2], "default": [-0.0, 31.95376472]},
    {"name": "var", "dtype": "float64", "shape": [None]},
    {"name": "rag", "dtype": "float64", "shape": [None, 2]},
    {"name": "i", "dtype": "int64", "shape": []},
]}


def table() -> tuple[pa.Table, dict]:
    """One row per value; every other row misses ``d`` and ``dv`` (their defaults apply)."""
    n = len(VALUES)
    x = np.array(VALUES)
    pairs = np.stack([x, x[::-1]], axis=1)
    var = [VALUES[:i % 4] for i in range(n)]
    rag = [VALUES[i:i + 2 * (i % 3)] if i + 2 * (i % 3) <= n else [] for i in range(n)]
    d = [VALUES[i] if i % 2 else None for i in range(n)]
    dv = [pairs[i].tolist() if i % 2 else None for i in range(n)]
    columns = {"s": pa.array(x), "v": pa.array(pairs.tolist(), pa.list_(pa.float64())), "d": pa.array(d, pa.float64()),
               "dv": pa.array(dv, pa.list_(pa.float64())), "var": pa.array(var, pa.list_(pa.float64())),
               "rag": pa.array(rag, pa.list_(pa.float64())), "i": pa.array(np.arange(n))}
    expected = {"s": x, "v": pairs, "d": [v if v is not None else 0.1 for v in d],
                "dv": [v if v is not None else [-0.0, 31.95376472] for v in dv], "var": var, "rag": rag}
    return pa.table(columns), expected


def same_bits(got, want) -> bool:
    def flat(a):
        return bits(np.concatenate([np.ravel(np.asarray(r, np.float64)) for r in a]) if len(a) else [])

    return np.array_equal(flat(got), flat(want)) and [np.size(r) for r in got] == [np.size(r) for r in want]


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_tfrecord_round_trip_through_plain_tensorflow_is_bit_exact(tmp_path, compression):
    source, expected = table()
    out = tmp_path / "o"
    dataprep.convert(source, SCHEMA, out, shuffle=False, compression=compression)
    got = tf_read_examples(out)
    for name, want in expected.items():
        rows = [np.reshape(r, (-1, 2)) if name == "rag" else r for r in want]
        got_rows = [np.reshape(r, (-1, 2)) for r in got[name]] if name == "rag" else got[name]
        assert same_bits(got_rows, rows), name
    m = manifest(out)
    assert m["features"]["s"]["stored_dtype"] == "int64" and m["features"]["s"]["encoding"] == "float64_bits"
    assert m["features"]["dv"]["default"] == bits([-0.0, 31.95376472]).tolist()


def test_manifest_defaults_are_parse_example_defaults():
    """A record without the feature parses to the default through the manifest's stored bit patterns."""
    schema = load_schema(SCHEMA)
    spec = {k: tf.io.FixedLenFeature(st["shape"], tf.int64, default_value=st["default"])
            for k, st in schema.storage().items() if k in ("d", "dv")}
    parsed = tf.io.parse_example(tf.constant([tf.train.Example().SerializeToString()]), spec)
    assert bits(tf.bitcast(parsed["d"], tf.float64).numpy()).tolist() == bits([0.1]).tolist()
    assert bits(tf.bitcast(parsed["dv"], tf.float64).numpy()[0]).tolist() == bits([-0.0, 31.95376472]).tolist()
    # dataprep's own spec carries the same defaults
    own = schema.parse_spec([schema["dv"]])
    assert bits(tf.bitcast(tf.io.parse_example(tf.constant([b""]), own)["dv"], tf.float64).numpy()[0]).tolist() \
        == bits([-0.0, 31.95376472]).tolist()


def test_encoder_equals_protobuf_int64_list_of_bit_patterns():
    schema = load_schema({"features": [{"name": "x", "dtype": "float64", "shape": [None]}]})
    splits = np.array([0, 3, 3, len(VALUES)], np.int64)
    records = encode_examples(schema, {"x": Column(np.array(VALUES), splits)}, 3)
    for i in range(3):
        ex = tf.train.Example()
        row = bits(VALUES[splits[i]:splits[i + 1]]).tolist()
        if row:
            ex.features.feature["x"].int64_list.value.extend(row)
        else:
            ex.features.feature["x"].int64_list.SetInParent()
        assert records.row(i) == ex.SerializeToString(deterministic=True)


def test_sequence_example_context_and_feature_lists(tmp_path):
    steps = [VALUES[:4], VALUES[4:8], [], VALUES[8:14]]
    source = pa.table({"c": pa.array([VALUES[0], None, VALUES[5], VALUES[-1]], pa.float64()),
                       "steps": pa.array(steps, pa.list_(pa.float64()))})
    schema = {"record": "sequence_example", "features": [
        {"name": "c", "dtype": "float64", "shape": [], "default": 5e-324},
        {"name": "steps", "dtype": "float64", "shape": [None, 2]}]}
    out = tmp_path / "o"
    dataprep.convert(source, schema, out, shuffle=False)
    m = manifest(out)
    files = [str(out / f["path"]) for f in m["splits"]["train"]["files"]]
    raw = next(iter(tf.data.TFRecordDataset(files).batch(10)))
    ctx, seq, _ = tf.io.parse_sequence_example(
        raw, context_features={"c": tf.io.FixedLenFeature([], tf.int64)},
        sequence_features={"steps": tf.io.FixedLenSequenceFeature([2], tf.int64)})
    assert bits(tf.bitcast(ctx["c"], tf.float64).numpy()).tolist() == \
        bits([VALUES[0], 5e-324, VALUES[5], VALUES[-1]]).tolist()
    padded = tf.bitcast(seq["steps"], tf.float64).numpy()
    for row, want in zip(padded, steps):
        assert bits(row[:len(want) // 2].reshape(-1)).tolist() == bits(want).tolist()
    ours = next(iter(dataprep.make_dataset(out, "train", batch_size=10, shuffle=False)))
    assert ours["c"].dtype == tf.float64 and ours["steps"].dtype == tf.float64
    assert same_bits([r for r in ours["steps"].to_list()], [np.reshape(s, (-1, 2)) for s in steps])
    batch = next(iter_batches(out, "train"))
    assert isinstance(batch["steps"], RaggedArray) and batch["steps"].values.dtype == np.float64
    assert bits(batch["steps"].values.reshape(-1)).tolist() == bits([v for s in steps for v in s]).tolist()


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_csv_shards_hold_shortest_round_trip_text(tmp_path, compression):
    x = np.array(VALUES)
    source = {"s": x, "v": np.stack([x, x[::-1]], axis=1)}
    schema = {"features": [{"name": "s", "dtype": "float64", "shape": []},
                           {"name": "v", "dtype": "float64", "shape": [2]}]}
    out = tmp_path / "o"
    dataprep.convert(source, schema, out, format="csv", compression=compression, shuffle=False)
    m = manifest(out)
    assert [c["dtype"] for c in m["csv"]["columns"]] == ["float64"] * 3
    shard = out / m["splits"]["train"]["files"][0]["path"]
    text = (gzip.decompress(shard.read_bytes()) if compression == "gzip" else shard.read_bytes()).decode()
    first = [line.split(",")[0] for line in text.splitlines()[1:]]
    assert first[:6] == ["31.95376472", "0.1", "0.3333333333333333", "1e-308", "5e-324", "1.7976931348623157e+308"]
    assert first[6:] == ["-0", "16777217", "9.007199254740992e+15", "-123456789.12345679", "inf", "-inf",
                         "nan", "nan", "nan"]
    s, v0, v1 = tf_read_csv(out)
    assert s.dtype == np.float64
    nan = np.isnan(x)
    assert bits(s[~nan]).tolist() == bits(x[~nan]).tolist() and np.isnan(s[nan]).all()
    assert bits(v1[::-1][~nan]).tolist() == bits(x[~nan]).tolist()
    ours = np.concatenate([b["s"] for b in iter_batches(out, "train")])
    assert ours.dtype == np.float64 and bits(ours[~nan]).tolist() == bits(x[~nan]).tolist()
    dataset = next(iter(dataprep.make_dataset(out, "train", batch_size=100, shuffle=False)))
    assert dataset["v"].dtype == tf.float64 and bits(dataset["v"].numpy()[~nan, 0]).tolist() == bits(x[~nan]).tolist()


def test_csv_source_to_float64_keeps_every_digit(tmp_path):
    """The issue's case: 31.95376472 in a CSV became 31.953764 in CSV shards."""
    src = tmp_path / "in.csv"
    texts = ["31.95376472", "0.1", "1e-308", "5e-324", "1.7976931348623157e308", "-0.0", "16777217",
             "4.35", "2.2250738585072014e-308", "inf"]
    src.write_text("x\n" + "\n".join(texts) + "\n")
    schema = {"features": [{"name": "x", "dtype": "float64", "shape": []}]}
    for fmt in ("tfrecord", "csv"):
        out = tmp_path / fmt
        dataprep.convert(src, schema, out, format=fmt, shuffle=False)
        got = tf_read_examples(out)["x"] if fmt == "tfrecord" else tf_read_csv(out)[0]
        assert bits(got).tolist() == bits([float(t) for t in texts]).tolist()
    lines = (tmp_path / "csv" / manifest(tmp_path / "csv")["splits"]["train"]["files"][0]["path"]).read_text()
    assert lines.splitlines()[1] == "31.95376472"


@pytest.mark.parametrize("text", ["1e400", "-1e400", "1.7976931348623159e308"])
def test_text_beyond_float64_is_out_of_range(tmp_path, text):
    src = tmp_path / "in.csv"
    src.write_text(f"x\n1.5\n{text}\n2.5\n")
    schema = {"features": [{"name": "x", "dtype": "float64", "shape": []}]}
    with pytest.raises(DataError, match=rf"in.csv, line 3 \(row 2\), column 'x': {text} overflows "
                                        r"float64 \(feature 'x'\)"):
        dataprep.convert(src, schema, tmp_path / "o")
    summary = dataprep.convert(src, schema, tmp_path / "skip", on_error="skip", shuffle=False)
    assert summary.rows_written == 2 and summary.set_aside_by_reason == {"out_of_range": 1}
    assert tf_read_examples(tmp_path / "skip")["x"] == [1.5, 2.5]


def test_allow_nan_false_flags_inf_and_nan(tmp_path):
    schema = {"features": [{"name": "x", "dtype": "float64", "shape": [], "allow_nan": False}]}
    summary = dataprep.convert({"x": np.array([1.0, np.nan, np.inf, 2.0])}, schema, tmp_path / "o",
                               on_error="skip", shuffle=False)
    assert summary.rows_written == 2 and summary.set_aside_by_reason == {"not_finite": 2}
    src = tmp_path / "in.csv"
    src.write_text("x\n1.0\n-inf\n")
    with pytest.raises(DataError, match=r"line 3 \(row 2\), column 'x': -inf is not finite"):
        dataprep.convert(src, schema, tmp_path / "p")


def test_integer_sources_become_the_exact_float64(tmp_path):
    ints = np.array([2**24 + 1, 2**53, -(2**40) - 3, 7], np.int64)
    schema = {"features": [{"name": "x", "dtype": "float64", "shape": []},
                           {"name": "y", "dtype": "float64", "shape": [], "default": 0.5}]}
    source = pa.table({"x": pa.array(ints), "y": pa.array([1, None, 3, None], pa.int64())})
    dataprep.convert(source, schema, tmp_path / "o", shuffle=False)
    got = tf_read_examples(tmp_path / "o")
    assert got["x"] == ints.astype(np.float64).tolist() and got["y"] == [1.0, 0.5, 3.0, 0.5]


def test_tf_free_readers_and_make_dataset_give_float64(tmp_path):
    source, expected = table()
    out = tmp_path / "o"
    dataprep.convert(source, SCHEMA, out, shuffle=False, rows_per_shard=6)
    reader = SplitReader(out, "train")
    for i in (0, 5, 6, len(VALUES) - 1):  # across shards
        rec = reader[i]
        assert rec["s"].dtype == np.float64 and bits(rec["s"]).tolist() == bits(VALUES[i]).tolist()
        assert bits(rec["dv"]).tolist() == bits(expected["dv"][i]).tolist()
        assert bits(rec["rag"].reshape(-1)).tolist() == bits(expected["rag"][i]).tolist()
    batches = list(iter_batches(out, "train", batch_size=4))
    s = np.concatenate([b["s"] for b in batches])
    assert bits(s).tolist() == bits(VALUES).tolist()
    var = [b["var"] for b in batches]
    assert all(v.values.dtype == np.float64 for v in var)
    assert bits(np.concatenate([v.values for v in var])).tolist() == \
        bits([x for r in expected["var"] for x in r]).tolist()
    loaded = dataprep.load_numpy(out)
    assert loaded["v"].dtype == np.float64 and bits(loaded["v"]).tolist() == bits(expected["v"]).tolist()
    assert same_bits(list(loaded["var"]), expected["var"])
    fixed = dataprep.convert(source.select(["s", "v", "d", "dv", "i"]), {"features": [
        *SCHEMA["features"][:4], SCHEMA["features"][-1]]}, tmp_path / "fixed", shuffle=False, rows_per_shard=6)
    assert fixed.rows_written == len(VALUES)
    for folder in (out, tmp_path / "fixed"):  # ragged (parsed per batch) and all-fixed (parsed per shard)
        ds = dataprep.make_dataset(folder, "train", batch_size=len(VALUES), shuffle=False)
        batch = next(iter(ds))
        order = np.argsort(batch["i"].numpy())  # shards are interleaved
        assert batch["s"].dtype == tf.float64 and batch["dv"].dtype == tf.float64
        assert bits(batch["s"].numpy()[order]).tolist() == bits(VALUES).tolist()
        assert bits(batch["dv"].numpy()[order]).tolist() == bits(expected["dv"]).tolist()
    batch = next(iter(dataprep.make_dataset(out, "train", batch_size=len(VALUES), shuffle=False)))
    ragged = [batch["rag"].to_list()[j] for j in np.argsort(batch["i"].numpy())]
    assert batch["rag"].dtype == tf.float64 and same_bits(ragged, [np.reshape(r, (-1, 2)) for r in expected["rag"]])


def test_stats_of_float64_are_exact(tmp_path):
    x = np.array([0.1, 31.95376472, 1e-308])
    dataprep.convert({"x": x}, {"features": [{"name": "x", "dtype": "float64", "shape": []}]}, tmp_path / "o",
                     shuffle=False)
    st = folder_stats(tmp_path / "o").to_dict()["splits"]["train"]["x"]
    assert st["min"] == 1e-308 and st["max"] == 31.95376472 and st["50%"] == 0.1 and st["count"] == 3


def test_schema_float64_defaults_and_normalize():
    f = load_schema({"features": [{"name": "x", "dtype": "float64", "shape": [2], "default": 1,
                                   "normalize": "zscore"}]})["x"]
    assert f.default == 1.0 and isinstance(f.default, float) and f.storage()["default"] == bits([1.0, 1.0]).tolist()
    with pytest.raises(SchemaError, match="default 10000000000.* is not a valid float64 value"):
        load_schema({"features": [{"name": "x", "dtype": "float64", "shape": [], "default": 10**400}]})


def test_keras_input_is_float64():
    from dataprep.train.prep import feature_input

    schema = load_schema(SCHEMA)
    assert feature_input(schema["v"]).dtype == "float64"


# --- schema infer ---------------------------------------------------------------------------------------------
def test_infer_picks_float64_when_float32_changes_a_value_and_says_so(tmp_path):
    src = tmp_path / "in.csv"
    rows = ["exact,halves,big,wide"] + [f"{31.95376472 + i},{i / 2},{2**24 + i},{1.5 if i else 1e39}"
                                          for i in range(5)]
    src.write_text("\n".join(rows) + "\n")
    schema = dataprep.infer_schema(src)
    assert schema["exact"].dtype == "float64"
    assert schema["exact"].description == "float64: float32 would change 31.95376472 to 31.953764"
    assert schema["halves"].dtype == "float32"
    assert schema["halves"].description == "float32 keeps every value as written"
    assert schema["big"].dtype == "int64"  # integers stay integers
    assert schema["wide"].dtype == "float64" and schema["wide"].description.endswith("1e+39 to inf")
    # what infer chose converts that file exactly
    out = tmp_path / "o"
    dataprep.convert(src, schema, out, shuffle=False)
    got = tf_read_examples(out)
    assert bits(got["exact"]).tolist() == bits([31.95376472 + i for i in range(5)]).tolist()
    assert got["wide"][0] == 1e39


def test_infer_checks_integers_that_join_a_float_column_and_arrays():
    src = {"x": np.array([0.5, 0.25], np.float32), "y": np.array([0.5, 1 / 3]), "z": np.full((2, 3), 0.5),
           "w": np.full((2, 3), 0.1 + 0.2)}
    schema = dataprep.infer_schema(src)
    assert [schema[c].dtype for c in "xyzw"] == ["float32", "float64", "float32", "float64"]
    table = pa.table({"l": pa.array([[0.5], [0.1, 1e-50]], pa.list_(pa.float64()))})
    assert dataprep.infer_schema(table)["l"].dtype == "float64"


def test_infer_text_ints_then_a_float(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("x\n" + "\n".join([str(2**24 + 1)] * 3 + ["0.5"]) + "\n")
    schema = dataprep.infer_schema(src)
    assert schema["x"].dtype == "float64" and schema["x"].description.endswith("16777217 to 16777216")


def test_numpy_source_keeps_nan_payloads_and_signs(tmp_path):
    x = np.array(VALUES)
    dataprep.convert({"x": x, "v": np.stack([x, x], axis=1)}, {"features": [
        {"name": "x", "dtype": "float64", "shape": []}, {"name": "v", "dtype": "float64", "shape": [2]}]},
        tmp_path / "o", shuffle=False)
    got = tf_read_examples(tmp_path / "o")
    assert bits(got["x"]).tolist() == bits(x).tolist()
    assert bits(got["v"]).tolist() == bits(np.stack([x, x], axis=1)).tolist()


def test_wide_deep_trains_on_float64_features_and_label(tmp_path):
    from dataprep.train import fit

    rng = np.random.default_rng(0)
    a = rng.standard_normal(120)
    schema = {"features": [{"name": "a", "dtype": "float64", "shape": [], "group": "both"},
                           {"name": "y", "dtype": "float64", "shape": [], "role": "label"}]}
    dataprep.convert({"a": a, "y": 3 * a + 31.95376472}, schema, tmp_path / "d", split="train=0.8,valid=0.2")
    result = fit("wide-deep", tmp_path / "d", tmp_path / "m", hidden=(4,), epochs=1, verbose=False,
                     plot=False, linear_baseline=False, test=False)
    assert (tmp_path / "m" / "model.keras").is_file() and result.model.input["a"].dtype == "float64"
    assert result.metrics["epochs_run"] == 1 and "test" not in result.metrics
    assert np.isfinite(result.metrics["valid"]["rmse"]) and result.metrics["label"] == "y"


def test_converting_our_own_float64_shards_again_gives_the_values_not_their_bit_patterns(tmp_path):
    """A dataprep shard stores float64 as int64 bit patterns; read as a TFRecord source (with its manifest
    beside it) those are the float64 values again, bit for bit, fixed and variable-length alike."""
    x = np.array([0.1, -0.0, np.nan, 1e300, -5e-324, 2.0**60], np.float64)
    y = x[~np.isnan(x)]
    v = np.empty(6, object)
    v[:] = [y[:i] for i in range(6)]
    doc = {"features": [{"name": "x", "dtype": "float64", "shape": []},
                        {"name": "v", "dtype": "float64", "shape": [None]}]}
    dataprep.convert({"x": x, "v": v}, doc, tmp_path / "a", num_shards=1, shuffle=False)
    shard = tmp_path / "a" / dataprep.load_manifest(tmp_path / "a").split("train")["files"][0]["path"]
    dataprep.convert(str(shard), doc, tmp_path / "b", num_shards=1, shuffle=False)
    got = SplitReader(tmp_path / "b", "train")
    assert np.array_equal(np.array([got[i]["x"] for i in range(6)]).view(np.uint64), x.view(np.uint64))
    for i in range(6):
        assert np.array_equal(np.asarray(got[i]["v"]).view(np.uint64), y[:i].view(np.uint64))
