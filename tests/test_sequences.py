"""Sequences: a folder of per-sequence CSV files becomes one record per file with a ragged [null, k]
feature, read back exactly by plain TensorFlow, the readers and the TF-free reader."""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import dataprep
from dataprep import DataError
from dataprep.records import SplitReader
from tests.conftest import needs_shared, shared

CHORALES = shared("jsb_chorales.tgz")
SCHEMA = {"features": [{"name": "notes", "dtype": "int64", "shape": [None, 4],
                        "source": ["note0", "note1", "note2", "note3"]}]}
SEQUENCE_SCHEMA = {**SCHEMA, "record": "sequence_example"}


def plain_tf(folder: Path) -> list[np.ndarray]:
    """Every record's notes, parsed by plain TensorFlow with a spec written here (Example or
    SequenceExample, as the manifest says)."""
    m = dataprep.load_manifest(folder)
    out = []
    for raw in tf.data.TFRecordDataset([str(p) for p in m.files("train")]).batch(64):
        if m.data["record"] == "tf.train.SequenceExample":
            _, steps, lengths = tf.io.parse_sequence_example(
                raw, sequence_features={"notes": tf.io.FixedLenSequenceFeature([4], tf.int64)})
            out += [steps["notes"][i, :lengths["notes"][i]].numpy() for i in range(len(raw))]
        else:
            spec = {"notes": tf.io.RaggedFeature(tf.int64, partitions=[tf.io.RaggedFeature.UniformRowLength(4)],
                                                 row_splits_dtype=tf.int64)}
            out += [np.asarray(r).reshape(-1, 4) for r in tf.io.parse_example(raw, spec)["notes"].to_list()]
    return out


def write_sequences(folder: Path, lengths) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    folder.mkdir()
    seqs = []
    for i, n in enumerate(lengths):
        seq = rng.integers(30, 90, (n, 4))
        pd.DataFrame(seq, columns=[f"note{j}" for j in range(4)]).to_csv(folder / f"s{i:03d}.csv", index=False)
        seqs.append(seq)
    return seqs


@pytest.mark.parametrize("schema", [SCHEMA, SEQUENCE_SCHEMA], ids=["example", "sequence_example"])
def test_sequence_files_round_trip(tmp_path, schema):
    seqs = write_sequences(tmp_path / "seq", [5, 1, 12, 0, 7])
    dataprep.convert(tmp_path / "seq", schema, tmp_path / "o", sequence_per_file=True, shuffle=False)
    got = plain_tf(tmp_path / "o")
    assert [g.tolist() for g in got] == [s.tolist() for s in seqs]
    x = next(iter(dataprep.make_dataset(tmp_path / "o", batch_size=5, shuffle=False)))
    assert isinstance(x["notes"], tf.RaggedTensor) and x["notes"].to_list() == [s.tolist() for s in seqs]
    r = SplitReader(tmp_path / "o", "train")
    assert r[2]["notes"].tolist() == seqs[2].tolist()


def test_bad_value_in_a_sequence_names_the_file(tmp_path):
    write_sequences(tmp_path / "seq", [3, 4])
    path = tmp_path / "seq" / "s001.csv"
    path.write_text(path.read_text().replace("\n", "\nx,1,2,3\n", 1))
    with pytest.raises(DataError, match=r"seq/s001.csv, column 'note0': cannot parse 'x' as int64"):
        dataprep.convert(tmp_path / "seq", SCHEMA, tmp_path / "o", sequence_per_file=True)


@needs_shared(CHORALES.name)
@pytest.mark.parametrize("schema", [SCHEMA, SEQUENCE_SCHEMA], ids=["example", "sequence_example"])
def test_bach_chorales(tmp_path, schema):
    with tarfile.open(CHORALES) as tar:
        tar.extractall(tmp_path / "jsb", filter="data")
    files = sorted((tmp_path / "jsb").rglob("*.csv"))
    s = dataprep.convert(files, schema, tmp_path / "o", sequence_per_file=True, shuffle=False)
    assert s.rows_written == 382 == len(files)
    got = plain_tf(tmp_path / "o")
    lengths = []
    for f, g in zip(files, got):
        truth = pd.read_csv(f).to_numpy()
        assert np.array_equal(g, truth), f
        lengths.append(len(truth))
    assert min(lengths) >= 100 and max(lengths) <= 640
    ds = dataprep.make_dataset(tmp_path / "o", batch_size=64, shuffle=False, num_epochs=1)
    ragged = [np.asarray(r) for batch in ds for r in batch["notes"].to_list()]
    assert len(ragged) == 382 and all(np.array_equal(a, b) for a, b in zip(ragged, got))
    reader = SplitReader(tmp_path / "o", "train")
    assert all(np.array_equal(reader[i]["notes"], got[i]) for i in (0, 200, 381))


def test_padded_and_bucketed_batches(tmp_path):
    import pyarrow as pa

    lengths = [5, 1, 12, 0, 7, 30, 31, 2, 29, 6]
    rng = np.random.default_rng(0)
    seqs = [rng.integers(30, 90, (n, 4)) for n in lengths]
    table = pa.table({"notes": pa.array([s.tolist() for s in seqs], pa.list_(pa.list_(pa.int64(), 4))),
                      "id": np.arange(len(lengths))})
    schema = {"record": "sequence_example", "features": [{"name": "notes", "dtype": "int64", "shape": [None, 4]},
                                                         {"name": "id", "dtype": "int64", "shape": []}]}
    dataprep.convert(table, schema, tmp_path / "o", shuffle=False)
    x = next(iter(dataprep.make_dataset(tmp_path / "o", batch_size=10, shuffle=False, padded=True)))
    assert x["notes"].shape == (10, 31, 4) and x["id"].numpy().tolist() == list(range(10))
    for i, s in enumerate(seqs):
        assert np.array_equal(x["notes"][i, :len(s)], s) and not np.any(x["notes"][i, len(s):])
    seen = []
    for b in dataprep.make_dataset(tmp_path / "o", batch_size=4, seed=1, num_epochs=1, bucket_boundaries=[8, 20]):
        ids = b["id"].numpy().tolist()
        seen += ids
        # one bucket per batch (shorter than 8, 8 to 19, 20 and longer), padded to its own longest
        assert len({int(np.searchsorted([8, 20], lengths[i], side="right")) for i in ids}) == 1
        assert b["notes"].shape[1] == max(lengths[i] for i in ids)
        for row, i in enumerate(ids):
            assert np.array_equal(b["notes"][row, :lengths[i]], seqs[i])
    assert sorted(seen) == list(range(len(lengths)))


def test_long_table_with_id_and_order_columns(tmp_path):
    """One row per step (id, time, voices, a per-sequence label), steps shuffled within each sequence and
    batches cutting through sequences: one SequenceExample per id, steps in time order, the label as
    context; read back by plain TensorFlow."""
    seqs = write_sequences(tmp_path / "seq", [5, 1, 12, 7, 3])
    rng = np.random.default_rng(2)
    frames = []
    for i, s in enumerate(seqs):
        df = pd.DataFrame(s, columns=[f"note{j}" for j in range(4)])
        df.insert(0, "time", np.arange(len(s)) * 0.25)
        df.insert(0, "chorale", f"c{i}")
        df["mode"] = "major" if i % 2 else "minor"
        frames.append(df.sample(frac=1, random_state=int(rng.integers(100))))
    long = tmp_path / "long.csv"
    pd.concat(frames).to_csv(long, index=False)
    schema = {"record": "sequence_example", "features": [
        *SCHEMA["features"], {"name": "chorale", "dtype": "string", "shape": []},
        {"name": "mode", "dtype": "string", "shape": [], "role": "label"}]}
    s = dataprep.convert(long, schema, tmp_path / "o", sequence_id="chorale", sequence_order="time",
                         shuffle=False, batch_size=4)
    assert s.rows_written == 5
    m = dataprep.load_manifest(tmp_path / "o")
    raw = next(iter(tf.data.TFRecordDataset([str(p) for p in m.files("train")]).batch(10)))
    ctx, steps, lengths = tf.io.parse_sequence_example(
        raw, context_features={"chorale": tf.io.FixedLenFeature([], tf.string),
                               "mode": tf.io.FixedLenFeature([], tf.string)},
        sequence_features={"notes": tf.io.FixedLenSequenceFeature([4], tf.int64)})
    assert ctx["chorale"].numpy().tolist() == [b"c0", b"c1", b"c2", b"c3", b"c4"]
    assert ctx["mode"].numpy().tolist() == [b"minor", b"major"] * 2 + [b"minor"]
    for i, seq in enumerate(seqs):
        assert np.array_equal(steps["notes"][i, :lengths["notes"][i]].numpy(), seq)


def test_long_table_errors_name_the_sequence(tmp_path):
    path = tmp_path / "long.csv"
    schema = {"features": [{"name": "x", "dtype": "float32", "shape": [None]},
                           {"name": "y", "dtype": "int64", "shape": []}]}
    path.write_text("id,t,x,y\na,0,1.0,1\na,1,2.0,1\nb,0,3.0,0\na,2,4.0,1\n")
    with pytest.raises(DataError, match=r"long.csv, sequence id='a': its rows are not together.*sort the table"):
        dataprep.convert(path, schema, tmp_path / "o", sequence_id="id", sequence_order="t")
    path.write_text("id,t,x,y\na,0,1.0,1\na,1,2.0,0\n")
    with pytest.raises(DataError, match=r"sequence id='a', column 'y': a per-sequence value must be the same"):
        dataprep.convert(path, schema, tmp_path / "o", sequence_id="id", sequence_order="t")
    path.write_text("id,t,x,y\na,zero,1.0,1\n")
    with pytest.raises(DataError, match=r"sequence id='a', column 't': the order column must hold numbers"):
        dataprep.convert(path, schema, tmp_path / "o", sequence_id="id", sequence_order="t")
    assert not (tmp_path / "o").exists()


def test_rows_read_counts_sequences_not_input_rows(tmp_path):
    """A long table of 560 rows in 5 sequences: 5 records read and written (the manifest's counts too, which
    must add up: read = written + set aside), the input rows being steps of the records."""
    frame = pd.DataFrame({"id": np.repeat(np.arange(5), 112), "t": np.tile(np.arange(112), 5),
                          "v": np.arange(560, dtype=np.float32)})
    frame.to_csv(tmp_path / "long.csv", index=False)
    schema = {"features": [{"name": "id", "dtype": "int64", "shape": []},
                           {"name": "v", "dtype": "float32", "shape": [None]}]}
    s = dataprep.convert(tmp_path / "long.csv", schema, tmp_path / "o", sequence_id="id", sequence_order="t",
                         split="train=0.6,valid=0.2,test=0.2")
    assert (s.rows_read, s.rows_written, sum(s.splits.values())) == (5, 5, 5)
    assert dataprep.load_manifest(tmp_path / "o").data["rows"]["read"] == 5
