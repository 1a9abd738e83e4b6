"""Random access: ``SplitReader.take`` gives the records asked for, in their order, for every dtype, format and
compression; ``reader[i]`` agrees; a shard that is damaged or changes after it was mapped is an error, never
records."""
from __future__ import annotations

import os

import numpy as np
import pytest

import dataprep
from dataprep.encode.fixed import template
from dataprep.errors import OutputError, UsageError
from dataprep.records import SplitReader
from dataprep.shardstreams import ShardStreams
from tests.batches import FIXED, merged
from tests.tables import CSV_FEATURES, SCHEMA, assert_equal, make_data

N = 90
RAGGED = ("f_var", "i_var", "s_var", "f_rag")


def rows(data: dict, idx: np.ndarray) -> dict:
    return {k: v[idx] for k, v in data.items()}


@pytest.mark.parametrize("schema", [SCHEMA, FIXED], ids=["all_dtypes", "fixed_layout"])
@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_take_in_any_order(tmp_path, schema, compression):
    data = make_data(N)
    dataprep.convert(data, schema, tmp_path / "o", compression=compression, num_shards=4, shuffle=False)
    reader = SplitReader(tmp_path / "o", "train")
    names = [f["name"] for f in schema["features"]]
    idx = np.random.default_rng(1).permutation(N)
    assert_equal(merged([reader.take(idx)]), rows(data, idx), names)
    repeats = np.array([5, 5, 89, 0, 44, 5, 23])  # repeats, several shards, out of order
    assert_equal(merged([reader.take(repeats)]), rows(data, repeats), names)
    assert_equal(merged([reader.take([7])]), rows(data, np.array([7])), names)
    for i in (0, 22, 23, 89):  # reader[i], on the fixed layout's own path too
        one = reader[i]
        assert_equal({n: [v] if n in RAGGED else np.stack([v]) for n, v in one.items()}, rows(data, np.array([i])),
                     names)
    assert (template(reader.schema.features) is not None) == (schema is FIXED)


def test_take_from_csv_shards(tmp_path):
    data = make_data(N)
    schema = {"features": [f for f in SCHEMA["features"] if f["name"] in CSV_FEATURES]}
    dataprep.convert(data, schema, tmp_path / "o", format="csv", num_shards=3, shuffle=False)
    idx = np.array([80, 3, 3, 41, 0])
    assert_equal(SplitReader(tmp_path / "o", "train").take(idx), rows(data, idx), CSV_FEATURES)


def test_compressed_shards_kept_within_budget(tmp_path):
    data = make_data(N)
    dataprep.convert(data, FIXED, tmp_path / "o", compression="gzip", num_shards=3, shuffle=False)
    reader = SplitReader(tmp_path / "o", "train")
    reader._streams = ShardStreams(reader.manifest, budget=1)  # one inflated shard at a time
    idx = np.random.default_rng(2).permutation(N)
    assert np.array_equal(reader.take(idx)["y"], data["y"][idx])
    assert len(reader._streams._inflated) == 1


def test_bad_indices(tmp_path):
    dataprep.convert(make_data(N), FIXED, tmp_path / "o", shuffle=False)
    reader = SplitReader(tmp_path / "o", "train")
    with pytest.raises(IndexError, match="record 90 is not in split 'train'"):
        reader.take([1, 90])
    with pytest.raises(IndexError):
        reader.take([-1])
    with pytest.raises(IndexError):
        reader[N]
    with pytest.raises(UsageError):
        reader.take([[1, 2]])


def test_damaged_shard_gives_no_records(tmp_path):
    dataprep.convert(make_data(N), FIXED, tmp_path / "o", num_shards=2, shuffle=False)
    reader = SplitReader(tmp_path / "o", "train")
    path = tmp_path / "o" / reader.shards[1].entry["path"]
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 1  # one bit in the last record's values
    path.write_bytes(bytes(raw))
    assert reader.take([0])["y"].shape == (1,)
    with pytest.raises(OutputError, match="SHA-256"):
        reader.take([0, N - 1])


def test_shard_changed_after_mapping(tmp_path):
    dataprep.convert(make_data(N), FIXED, tmp_path / "o", shuffle=False)
    reader = SplitReader(tmp_path / "o", "train")
    reader.take([1])
    path = tmp_path / "o" / reader.shards[0].entry["path"]
    st = os.stat(path)
    with open(path, "r+b") as fh:  # rewritten in place, same size
        fh.write(fh.read())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(OutputError, match="changed while it was being read"):
        reader.take([1])
    with pytest.raises(OutputError, match="changed while it was being read"):
        reader[1]


def test_more_shards_than_mapped_at_once(tmp_path):
    data = make_data(N)
    dataprep.convert(data, FIXED, tmp_path / "o", num_shards=6, shuffle=False)
    reader = SplitReader(tmp_path / "o", "train")
    reader._streams = ShardStreams(reader.manifest, max_mapped=2)
    idx = np.random.default_rng(3).permutation(N)
    for _ in range(2):  # shards dropped and mapped again
        assert np.array_equal(reader.take(idx)["y"], data["y"][idx])
    assert len(reader._streams._mapped) == 2 and len(reader._streams._framed) == 6
