"""make_dataset: exactly-once epochs, shuffling, workers, input modes, shapes; load_numpy/as_dataframe."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import dataprep
from dataprep import SchemaError

N = 2000
SCHEMA = {"features": [
    {"name": "id", "dtype": "int64", "shape": [], "role": "feature"},
    {"name": "a", "dtype": "float32", "shape": [], "group": "wide"},
    {"name": "b", "dtype": "float32", "shape": [2], "group": "both"},
    {"name": "c", "dtype": "string", "shape": [], "vocabulary": ["x", "y", "z"], "group": "wide"},
    {"name": "d", "dtype": "int64", "shape": [], "group": "deep"},
    {"name": "y", "dtype": "float32", "shape": [], "role": "label"},
]}


def data(n=N):
    rng = np.random.default_rng(0)
    return {"id": np.arange(n), "a": rng.standard_normal(n).astype(np.float32),
            "b": rng.standard_normal((n, 2)).astype(np.float32),
            "c": np.array(["x", "y", "z"])[np.arange(n) % 3], "d": np.arange(n) % 7,
            "y": np.arange(n, dtype=np.float32) / n}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("readers")
    out = {}
    for fmt, comp in (("tfrecord", "gzip"), ("csv", "none")):
        out[fmt] = root / fmt
        dataprep.convert(data(), SCHEMA, out[fmt], format=fmt, compression=comp, num_shards=4,
                         split="train=0.75,test=0.25", seed=1)
    out["one"] = root / "one"
    dataprep.convert(data(), SCHEMA, out["one"], num_shards=1, seed=1)
    return out


def ids(ds) -> list[int]:
    return [int(i) for x, _ in ds for i in x["id"].numpy()]


@pytest.fixture(params=["whole", "streamed"])
def read_path(request, monkeypatch):
    """Both record sources: shards read whole through their index, or streamed in windows."""
    if request.param == "streamed":
        monkeypatch.setattr("dataprep.readers.dataset.WHOLE_SHARD_MAX_BYTES", 0)
    return request.param


@pytest.mark.parametrize("fmt", ["tfrecord", "csv", "one"])
def test_one_epoch_is_exactly_the_split_shuffled(folders, fmt, read_path):
    split = "train"
    plain = ids(dataprep.make_dataset(folders[fmt], split, batch_size=100, shuffle=False, num_epochs=1))
    shuffled = ids(dataprep.make_dataset(folders[fmt], split, batch_size=64, seed=5, num_epochs=1))
    assert sorted(shuffled) == sorted(plain) and len(set(plain)) == len(plain)
    pos = {v: i for i, v in enumerate(plain)}
    corr = np.corrcoef([pos[v] for v in shuffled], np.arange(len(shuffled)))[0, 1]
    assert abs(corr) < 0.1, corr
    # a window smaller than the split: records are permuted within windows of shuffle_window records
    windowed = ids(dataprep.make_dataset(folders[fmt], split, batch_size=64, seed=5, num_epochs=1,
                                         shuffle_window=500, cycle_length=1, deterministic=True))
    assert sorted(windowed) == sorted(plain)
    if fmt == "one" and read_path == "streamed":
        assert sorted(windowed[:500]) == sorted(plain[:500]) and windowed[:500] != plain[:500]


@pytest.mark.parametrize("fmt, workers", [("tfrecord", 2), ("tfrecord", 3), ("one", 2), ("csv", 4)])
def test_workers_split_records_without_overlap_or_gap(folders, fmt, workers, read_path):
    all_ids = ids(dataprep.make_dataset(folders[fmt], "train", shuffle=False, num_epochs=1))
    parts = [ids(dataprep.make_dataset(folders[fmt], "train", num_epochs=1, seed=2, num_shards=workers,
                                       shard_index=i)) for i in range(workers)]
    assert sorted(sum(parts, [])) == sorted(all_ids) and all(parts)
    ctx = tf.distribute.InputContext(num_input_pipelines=workers, input_pipeline_id=1)
    assert sorted(ids(dataprep.make_dataset(folders[fmt], "train", num_epochs=1, input_context=ctx))) == \
        sorted(parts[1])


def test_seeded_order_is_reproducible(folders, read_path):
    def order(seed):
        return ids(dataprep.make_dataset(folders["tfrecord"], "train", batch_size=50, seed=seed, num_epochs=2,
                                         deterministic=True))
    first = order(7)
    assert first == order(7) and first != order(8)
    assert first[:1500] != first[1500:]  # every epoch is shuffled anew
    assert sorted(first[:1500]) == sorted(first[1500:])


@pytest.mark.parametrize("fmt", ["tfrecord", "csv"])
def test_cache_with_shuffle_reads_every_record_once_per_epoch_in_a_new_order(folders, fmt, read_path):
    """``cache=True`` keeps the shards' records after the first epoch and still shuffles every epoch (it
    once raised NameError when shuffling)."""
    plain = ids(dataprep.make_dataset(folders[fmt], "train", shuffle=False, num_epochs=1))
    both = ids(dataprep.make_dataset(folders[fmt], "train", batch_size=64, seed=3, num_epochs=2, cache=True,
                                     deterministic=True))
    first, second = both[:len(plain)], both[len(plain):]
    assert sorted(first) == sorted(second) == sorted(plain) and first != second and first != plain


def test_tfrecord_and_csv_give_equal_tensors(folders, read_path):
    def table(fmt):
        got = {}
        for x, y in dataprep.make_dataset(folders[fmt], "test", batch_size=128, shuffle=False, num_epochs=1):
            for k, v in {**x, "y": y}.items():
                got.setdefault(k, []).append(v.numpy())
        got = {k: np.concatenate(v) for k, v in got.items()}
        order = np.argsort(got["id"])
        return {k: v[order] for k, v in got.items()}
    t, c = table("tfrecord"), table("csv")
    assert t.keys() == c.keys()
    for k in t:
        assert t[k].dtype == c[k].dtype and np.array_equal(t[k], c[k]), k


def test_element_spec_and_input_modes(folders):
    ds = dataprep.make_dataset(folders["tfrecord"], "train", batch_size=8, num_epochs=1)
    x, y = ds.element_spec
    assert x["b"].shape.as_list() == [None, 2] and x["b"].dtype == tf.float32
    assert x["c"].dtype == tf.string and x["d"].dtype == tf.int64 and y.shape.as_list() == [None]
    tup, _ = next(iter(dataprep.make_dataset(folders["tfrecord"], "train", batch_size=8, inputs="tuple",
                                             features=["a", "d"])))
    assert len(tup) == 2 and tup[1].dtype == tf.int64
    wd, _ = next(iter(dataprep.make_dataset(folders["tfrecord"], "train", batch_size=8, shuffle=False,
                                            inputs="wide_deep")))
    # wide: a (1) + b (2) + c one-hot (3 + OOV); deep: b (2) + d (1)
    assert wd["wide"].shape == (8, 7) and wd["deep"].shape == (8, 3)
    assert np.array_equal(wd["wide"][:, 3:].numpy().sum(axis=1), np.ones(8))


def test_wide_deep_matches_the_seed_column_slicing(tmp_path):
    rng = np.random.default_rng(3)
    x, yv = rng.standard_normal((300, 8)).astype(np.float32), rng.standard_normal(300).astype(np.float32)
    schema = {"features": [
        {"name": "x_wide", "source": "x", "select": "0:5", "dtype": "float32", "shape": [5], "group": "wide"},
        {"name": "x_deep", "source": "x", "select": "2:8", "dtype": "float32", "shape": [6], "group": "deep"},
        {"name": "y", "dtype": "float32", "shape": [], "role": "label"}]}
    dataprep.convert({"x": x, "y": yv}, schema, tmp_path / "o", shuffle=False)
    batch, label = next(iter(dataprep.make_dataset(tmp_path / "o", batch_size=300, shuffle=False,
                                                   inputs="wide_deep")))
    assert np.array_equal(batch["wide"].numpy(), x[:, :5]) and np.array_equal(batch["deep"].numpy(), x[:, 2:])
    assert np.array_equal(label.numpy(), yv)


def test_ragged_images_multi_label_and_weights(tmp_path):
    n = 40
    rng = np.random.default_rng(0)
    seqs = np.empty(n, object)
    seqs[:] = [rng.integers(0, 9, (k, 2)).tolist() for k in rng.integers(0, 5, n)]
    arrays = {"seq": seqs, "img": rng.integers(0, 256, (n, 3, 3, 1), dtype=np.uint8),
              "y1": np.arange(n), "y2": np.arange(n) * 0.5, "w": np.ones(n)}
    schema = {"features": [{"name": "seq", "dtype": "int64", "shape": [None, 2]},
                           {"name": "img", "dtype": "uint8", "shape": [3, 3, 1]},
                           {"name": "y1", "dtype": "int64", "shape": [], "role": "label"},
                           {"name": "y2", "dtype": "float32", "shape": [], "role": "label"},
                           {"name": "w", "dtype": "float32", "shape": [], "role": "weight"}]}
    dataprep.convert(arrays, schema, tmp_path / "o", shuffle=False)
    x, y, w = next(iter(dataprep.make_dataset(tmp_path / "o", batch_size=n, shuffle=False)))
    assert isinstance(x["seq"], tf.RaggedTensor) and x["seq"].shape.as_list() == [n, None, 2]
    assert x["seq"].to_list() == list(seqs)
    assert x["img"].dtype == tf.uint8 and np.array_equal(x["img"].numpy(), arrays["img"])
    assert set(y) == {"y1", "y2"} and np.array_equal(y["y1"].numpy(), np.arange(n)) and w.shape == (n,)
    xf, _, _ = next(iter(dataprep.make_dataset(tmp_path / "o", batch_size=n, shuffle=False, images="float")))
    assert np.allclose(xf["img"].numpy(), arrays["img"] / 255.0)
    np_data = dataprep.load_numpy(tmp_path / "o")
    assert np.array_equal(np_data["img"], arrays["img"]) and [a.tolist() for a in np_data["seq"]] == list(seqs)
    df = dataprep.as_dataframe(tmp_path / "o")
    assert df["y1"].tolist() == list(range(n)) and df["seq"].tolist() == list(seqs)


def test_wide_deep_needs_groups(tmp_path):
    dataprep.convert({"a": np.zeros(3, np.float32)}, {"features": [{"name": "a", "dtype": "float32", "shape": []}]},
                     tmp_path / "o")
    with pytest.raises(SchemaError, match="group 'wide'"):
        dataprep.make_dataset(tmp_path / "o", inputs="wide_deep")


def _corrupt_copy(folder, tmp_path, compression):
    import shutil

    out = tmp_path / "c"
    shutil.copytree(folder, out)
    m = dataprep.load_manifest(out)
    entry = m.split("train")["files"][1]
    path = out / entry["path"]
    blob = bytearray(path.read_bytes())
    index = np.frombuffer((out / entry["index"]).read_bytes(), "<i8")
    if compression == "none":
        blob[int(index[10]) + 20] ^= 0xFF  # inside record 10's data
    else:
        blob = blob[: len(blob) // 2]  # a truncated gzip stream
    path.write_bytes(bytes(blob))
    return out, entry


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_damaged_shards_raise_or_are_skipped(tmp_path, compression, read_path):
    src = tmp_path / "src"
    dataprep.convert(data(), SCHEMA, src, num_shards=3, compression=compression, seed=1)
    out, entry = _corrupt_copy(src, tmp_path, compression)
    with pytest.raises(Exception) as err:
        ids(dataprep.make_dataset(out, num_epochs=1, seed=1))
    text = str(err.value)
    assert entry["path"] in text
    if compression == "none":
        index = np.frombuffer((out / entry["index"]).read_bytes(), "<i8")
        assert f"record 10 at offset {index[10]}: data CRC mismatch" in text
    else:
        assert "gzip stream is truncated" in text or "corrupt" in text
    ds = dataprep.make_dataset(out, num_epochs=1, seed=1, on_corrupt="skip")
    got = ids(ds)
    assert len(ds.dataprep_skipped) == 1 and entry["path"] in ds.dataprep_skipped[0]
    damaged = read_all_ids(src, entry)
    lost = len(got) - (N - len(damaged))
    assert 0 <= lost < len(damaged) and len(set(got)) == len(got)
    if compression == "none":
        assert lost == 10  # the ten records before the damage are kept


def read_all_ids(folder, entry):
    import tensorflow as tf

    spec = {"id": tf.io.FixedLenFeature([], tf.int64)}
    comp = {"none": "", "gzip": "GZIP"}[dataprep.load_manifest(folder).compression]
    raw = tf.data.TFRecordDataset(str(folder / entry["path"]), compression_type=comp)
    return [int(tf.io.parse_single_example(r, spec)["id"]) for r in raw]


def test_an_epoch_logs_nothing_at_tensorflows_default_log_level(tmp_path):
    """With TF_CPP_MIN_LOG_LEVEL unset (a library user's default), reading writes no TensorFlow error lines:
    a slice of a shard's tensor merged by rebatch used to log "Tensor RefCount not reliable" per block."""
    import os
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    dataprep.convert({"x": rng.standard_normal(5000).astype(np.float32), "y": rng.standard_normal(5000)},
                     {"features": [{"name": "x", "dtype": "float32", "shape": []},
                                   {"name": "y", "dtype": "float32", "shape": [], "role": "label"}]},
                     tmp_path / "o", num_shards=4)
    code = (f"import dataprep\nds = dataprep.make_dataset({str(tmp_path / 'o')!r}, batch_size=100, num_epochs=2)\n"
            "print(sum(len(y) for _, y in ds))")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "10000", done.stderr[-2000:]
    assert "RefCount" not in done.stderr, done.stderr.count("\n")
