"""Shard layout, splits, seeds, manifest checksums, atomic output and the bad-row policy."""
from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np
import pytest

import dataprep
from dataprep import DataError, UsageError
from dataprep.splits import parse_split, split_sizes
from tests.conftest import PENGUINS, PENGUINS_SCHEMA
from tests.tf_oracle import manifest, read_tfrecord_split

SCHEMA = {"features": [{"name": "id", "dtype": "int64", "shape": []},
                       {"name": "v", "dtype": "float32", "shape": [2]},
                       {"name": "user", "dtype": "string", "shape": []}]}


def data(n=1000):
    ids = np.arange(n)
    return {"id": ids, "v": np.stack([ids * 0.5, -ids], axis=1).astype(np.float32),
            "user": np.array([f"u{i % 37}" for i in ids], dtype=object)}


def file_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_shard_names_counts_and_manifest(tmp_path):
    out = tmp_path / "o"
    s = dataprep.convert(data(), SCHEMA, out, num_shards=4, compression="gzip",
                         split="train=0.8,valid=0.1,test=0.1", seed=42)
    names = sorted(p.name for p in out.iterdir() if p.is_file())
    stems = [f"{sp}-{i:05d}-of-00004" for sp in ("test", "train", "valid") for i in range(4)]
    assert names == ["manifest.json"] + [f"{stem}.tfrecord.gz" for stem in stems]
    assert sorted(p.name for p in (out / "index").iterdir()) == [f"{stem}.idx" for stem in stems]
    m = manifest(out)
    assert {k: v["num_records"] for k, v in m["splits"].items()} == {"train": 800, "valid": 100, "test": 100}
    assert m["rows"] == {"read": 1000, "written": 1000, "set_aside": 0, "set_aside_by_reason": {}}
    for split in m["splits"].values():
        counts = [f["num_records"] for f in split["files"]]
        assert max(counts) - min(counts) <= 1 and sum(counts) == split["num_records"]
        for f in split["files"]:
            blob = (out / f["path"]).read_bytes()
            assert f["num_bytes"] == len(blob) and f["sha256"] == hashlib.sha256(blob).hexdigest()
            # the index: each record's offset in the uncompressed stream, then the end
            stream = gzip.decompress(blob)
            index = np.frombuffer((out / f["index"]).read_bytes(), "<i8")
            assert len(index) == f["num_records"] + 1 and index[-1] == len(stream) == f["uncompressed_bytes"]
            for start, end in zip(index[:-1], index[1:]):
                assert int.from_bytes(stream[start:start + 8], "little") == end - start - 16
    assert s.num_shards == 12 and s.rows_written == 1000
    ids = np.concatenate([read_tfrecord_split(out, sp)["id"] for sp in m["splits"]])
    assert sorted(ids.tolist()) == list(range(1000))


def test_rows_per_shard(tmp_path):
    dataprep.convert(data(), SCHEMA, tmp_path / "o", rows_per_shard=300)
    files = manifest(tmp_path / "o")["splits"]["train"]["files"]
    assert [f["path"] for f in files] == [f"train-{i:05d}-of-00004.tfrecord" for i in range(4)]
    assert [f["num_records"] for f in files] == [300, 300, 300, 100]


def test_same_seed_same_bytes_other_seed_other_order(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        dataprep.convert(data(), SCHEMA, tmp_path / name, num_shards=3, split="train=0.5,test=0.5", seed=seed,
                         workers=1 if name == "a" else 2)
    assert file_bytes(tmp_path / "a") == file_bytes(tmp_path / "b")
    assert file_bytes(tmp_path / "a") != file_bytes(tmp_path / "c")
    train = read_tfrecord_split(tmp_path / "a", "train")["id"]
    assert len(train) == 500 and not np.array_equal(train, np.sort(train))  # shuffled


def test_large_spools_go_through_buckets_with_the_same_bytes(tmp_path, monkeypatch):
    """Spools too large for memory are scattered to per-shard buckets: the output must not change."""
    kw = dict(num_shards=3, split="train=0.6,test=0.4", seed=2, compression="gzip")
    dataprep.convert(data(), SCHEMA, tmp_path / "memory", **kw)
    monkeypatch.setattr("dataprep.shards.IN_MEMORY_BYTES", 0)
    monkeypatch.setattr("dataprep.shards._SCAN_BYTES", 5000)  # many spool chunks
    monkeypatch.setattr("dataprep.shards._MAX_OPEN_BUCKETS", 4)  # several passes over the spool
    dataprep.convert(data(), SCHEMA, tmp_path / "buckets", **kw)
    assert file_bytes(tmp_path / "memory") == file_bytes(tmp_path / "buckets")


def test_no_shuffle_keeps_input_order(tmp_path):
    dataprep.convert(data(), SCHEMA, tmp_path / "o", num_shards=3, split="train=0.7,test=0.3", shuffle=False)
    for split in ("train", "test"):
        ids = read_tfrecord_split(tmp_path / "o", split)["id"]
        assert np.array_equal(ids, np.sort(ids))


def test_split_by_column_is_stable(tmp_path):
    d = data()
    dataprep.convert(d, SCHEMA, tmp_path / "a", split="train=0.7,test=0.3", split_by="user", seed=1)
    perm = np.random.default_rng(0).permutation(1000)
    shuffled = {k: v[perm] for k, v in d.items()}
    dataprep.convert(shuffled, SCHEMA, tmp_path / "b", split="train=0.7,test=0.3", split_by="user", seed=9)
    for split in ("train", "test"):
        a = set(read_tfrecord_split(tmp_path / "a", split)["user"].tolist())
        b = set(read_tfrecord_split(tmp_path / "b", split)["user"].tolist())
        assert a == b and a  # the same users land in the same split whatever the order or seed
    assert not a & set(read_tfrecord_split(tmp_path / "a", "train")["user"].tolist())


def test_split_parsing():
    assert parse_split(None) == {"train": 1.0}
    assert parse_split("train=0.8,valid=0.1,test=0.1") == {"train": 0.8, "valid": 0.1, "test": 0.1}
    for bad, msg in (("train=0.8,test=0.1", "sum to 0.9"), ("train", "NAME=RATIO"), ("a-b=1", "letters"),
                     ("train=0,test=1", "> 0"), ("x=0.5,x=0.5", "twice")):
        with pytest.raises(UsageError, match=msg):
            parse_split(bad)
    assert split_sizes(20640, {"train": 0.8, "valid": 0.1, "test": 0.1}) == \
        {"train": 16512, "valid": 2064, "test": 2064}
    assert sum(split_sizes(7, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}).values()) == 7


def test_existing_output_needs_overwrite_and_is_replaced_atomically(tmp_path):
    out = tmp_path / "o"
    dataprep.convert(data(10), SCHEMA, out)
    with pytest.raises(UsageError, match="not empty; pass --overwrite"):
        dataprep.convert(data(10), SCHEMA, out)
    bad = data(10)
    bad["v"] = np.zeros((10, 3), np.float32)
    before = file_bytes(out)
    with pytest.raises(DataError):
        dataprep.convert(bad, SCHEMA, out, overwrite=True)
    assert file_bytes(out) == before  # a failed run leaves the previous output untouched
    dataprep.convert(data(20), SCHEMA, out, overwrite=True)
    assert manifest(out)["rows"]["written"] == 20
    assert sorted(os.listdir(tmp_path)) == ["o"]  # no temporary or old folders left


def test_bad_rows_fail_or_are_counted(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,v0,v1,user\n1,1,2,a\nx,1,2,b\n3,1,,c\n4,1,2,d\n5,nan,2,\n")
    schema = {"features": [{"name": "id", "dtype": "int64", "shape": []},
                           {"name": "v", "source": ["v0", "v1"], "dtype": "float32", "shape": [2],
                            "allow_nan": False},
                           {"name": "user", "dtype": "string", "shape": []}]}
    with pytest.raises(DataError, match=r"in.csv, line 3 \(row 2\), column 'id': cannot parse 'x' as int64"):
        dataprep.convert(src, schema, tmp_path / "o")
    s = dataprep.convert(src, schema, tmp_path / "o", on_error="skip", shuffle=False)
    assert (s.rows_read, s.rows_written, s.rows_set_aside) == (5, 2, 3)
    assert s.set_aside_by_reason == {"unparseable": 1, "missing": 2}
    assert read_tfrecord_split(tmp_path / "o", "train")["id"].tolist() == [1, 4]
    rows = manifest(tmp_path / "o")["rows"]
    assert rows["read"] == rows["written"] + rows["set_aside"]


@pytest.mark.parametrize("kwargs, message", [
    ({"format": "parquet"}, "unknown format"),
    ({"compression": "lz4"}, "unknown compression"),
    ({"format": "csv", "compression": "zlib"}, "gzip only"),
    ({"num_shards": 2, "rows_per_shard": 5}, "not both"),
    ({"num_shards": 0}, "positive integer"),
    ({"on_error": "ignore"}, "unknown --on-error"),
])
def test_bad_options(tmp_path, kwargs, message):
    with pytest.raises(UsageError, match=message):
        dataprep.convert(data(5), SCHEMA, tmp_path / "o", **kwargs)


def test_empty_split_still_has_its_shards(tmp_path):
    s = dataprep.convert(data(3), SCHEMA, tmp_path / "o", split="train=0.9,test=0.1", num_shards=2)
    assert s.splits == {"train": 3, "test": 0}
    assert len(manifest(tmp_path / "o")["splits"]["test"]["files"]) == 2
    assert read_tfrecord_split(tmp_path / "o", "test")["id"].tolist() == []


def test_beam_runner_without_beam_says_how_to_install(tmp_path):
    """Beam is tested against the local runner in its own environment (tests/test_beam.py)."""
    try:
        import apache_beam  # noqa: F401
        pytest.skip("Apache Beam is installed here")
    except ImportError:
        pass
    with pytest.raises(UsageError, match=r"pip install 'dataprep\[beam\]'"):
        dataprep.convert(PENGUINS, PENGUINS_SCHEMA, tmp_path / "o", runner="beam", on_error="skip")
    with pytest.raises(UsageError, match="unknown runner"):
        dataprep.convert(PENGUINS, PENGUINS_SCHEMA, tmp_path / "o", runner="spark")
    assert not (tmp_path / "o").exists() and not (tmp_path / ".o.partial").exists()


def test_split_column_names_each_rows_split(tmp_path):
    n = 50
    part = np.array(["train", "valid", "test", "train", "train"] * (n // 5))
    data = {**globals()["data"](n), "part": part}
    s = dataprep.convert(data, SCHEMA, tmp_path / "o", split_column="part", shuffle=False)
    assert s.splits == {"train": 30, "valid": 10, "test": 10}
    for split in ("train", "valid", "test"):
        got = read_tfrecord_split(tmp_path / "o", split)["id"]
        assert got.tolist() == np.flatnonzero(part == split).tolist()
    bad = dict(data, part=np.where(np.arange(n) == 7, "tset", part))
    with pytest.raises(DataError, match=r"row 8, column 'part': split 'tset' is not one of train, valid, test"):
        dataprep.convert(bad, SCHEMA, tmp_path / "b", split_column="part")
    with pytest.raises(UsageError, match="not both"):
        dataprep.convert(data, SCHEMA, tmp_path / "c", split_column="part", split_by="id")


def test_the_last_pass_over_a_large_spool_frees_its_disk_space(tmp_path, monkeypatch):
    """Spool and buckets together hold about one copy of the records: the last scatter pass punches out what
    it has read, and the shards still get every byte (the bucket path above checks them against memory)."""
    from dataprep.ragged import Ragged
    from dataprep.shards import Shard, Spool, _scatter, punch_hole

    monkeypatch.setattr("dataprep.shards._SCAN_BYTES", 1 << 16)
    spool = Spool(tmp_path / "records.spool")
    lengths = np.full(4096, 256, np.int64)
    payload = np.random.default_rng(0).integers(0, 256, int(lengths.sum()), dtype=np.uint8)
    spool.append(Ragged(payload, np.concatenate([[0], np.cumsum(lengths)]), 256))
    spool.finish()
    with open(spool.path, "r+b") as fh:
        if not punch_hole(fh.fileno(), len(payload), 4096):  # past the end: changes nothing
            pytest.skip("this file system cannot punch holes (the spool is then freed when removed)")
    ids = np.arange(4096)
    shards = [Shard("train", i, 2, ids[i::2], ".tfrecord") for i in range(2)]
    before = os.stat(spool.path).st_blocks
    buckets = _scatter(spool, shards, tmp_path, last=True)
    assert os.stat(spool.path).st_blocks < before // 50
    records = payload.reshape(4096, 256)
    for i, bucket in enumerate(buckets):
        assert bucket.read_bytes() == records[i::2].tobytes()
