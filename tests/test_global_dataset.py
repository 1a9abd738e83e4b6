"""``make_dataset(shuffle="global")``: the batches of the TF-free ``iter_batches`` with the same seed, parsed by
TensorFlow, and a state (a few integers) that continues a dataset with no replay."""
from __future__ import annotations

import numpy as np
import pytest

import dataprep
from dataprep.errors import UsageError
from dataprep.records import iter_batches
from tests.tables import SCHEMA, make_data

N = 499


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("global") / "o"
    schema = {"features": [f for f in SCHEMA["features"] if f["name"] in ("id", "f_vec", "f_var", "y")]}
    dataprep.convert(make_data(N), schema, out, num_shards=4, shuffle=False)
    return out


@pytest.fixture(scope="module")
def dense_folder(tmp_path_factory):
    """Fixed shapes only: parsed a block of batches at a time."""
    out = tmp_path_factory.mktemp("global_dense") / "o"
    schema = {"features": [f for f in SCHEMA["features"] if f["name"] in ("id", "f_vec", "img", "y")]}
    dataprep.convert(make_data(N), schema, out, num_shards=3, shuffle=False)
    return out


def ids(ds) -> list[np.ndarray]:
    return [x["id"].numpy() for x, _ in ds]


@pytest.mark.parametrize("dense", [False, True], ids=["ragged", "dense"])
def test_same_batches_as_iter_batches(folder, dense_folder, dense):
    where = dense_folder if dense else folder
    ds = dataprep.make_dataset(where, batch_size=32, shuffle="global", seed=7, num_epochs=2)
    got = list(ds)
    want = list(iter_batches(where, "train", 32, shuffle="global", seed=7, num_epochs=2))
    assert len(got) == len(want) == 2 * 16
    for (x, y), w in zip(got, want):
        assert np.array_equal(x["id"].numpy(), w["id"]) and np.array_equal(y.numpy(), w["y"])
        assert np.array_equal(x["f_vec"].numpy(), w["f_vec"])
        if dense:
            assert np.array_equal(x["img"].numpy(), w["img"])
        else:
            assert np.array_equal(x["f_var"].flat_values.numpy(), w["f_var"].values)
    first = np.concatenate([x["id"].numpy() for x, _ in got[:16]])
    assert np.array_equal(np.sort(first), np.arange(N)) and not np.array_equal(first, np.arange(N))


def test_state_continues_without_replay(folder):
    ds = dataprep.make_dataset(folder, batch_size=32, shuffle="global", seed=7, num_epochs=2)
    whole = ids(ds)
    for k in (1, 9, 16, 31):  # mid-epoch, at the epoch's end, before the last batch
        state = ds.dataprep_state(k)
        rest = dataprep.make_dataset(folder, batch_size=32, shuffle="global", num_epochs=2, state=state)
        assert all(np.array_equal(a, b) for a, b in zip(ids(rest), whole[k:], strict=True)), k
        tf_free = iter_batches(folder, "train", 32, shuffle="global", num_epochs=2, state=state)
        assert all(np.array_equal(a["id"], b) for a, b in zip(tf_free, whole[k:], strict=True)), k


def test_workers_share_the_epoch(folder):
    parts = [ids(dataprep.make_dataset(folder, batch_size=20, shuffle="global", seed=1, num_epochs=1,
                                       num_shards=3, shard_index=w, drop_remainder=True)) for w in range(3)]
    assert {len(p) for p in parts} == {N // 60}
    seen = np.concatenate([np.concatenate(p) for p in parts])
    assert len(seen) == len(set(seen.tolist())) == N - N % 60
    with pytest.raises(UsageError, match="different numbers of batches"):
        dataprep.make_dataset(folder, shuffle="global", num_shards=2)
    with pytest.raises(UsageError, match="need shuffle='global'"):
        dataprep.make_dataset(folder, state=parts and {"v": 1})
