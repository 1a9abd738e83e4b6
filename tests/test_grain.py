"""``SplitReader`` as a Grain random-access source, with the real ``grain`` package: Grain's own shuffle and
batching over it give every record once, decoded as ``take`` decodes it; the reader pickles for worker
processes and refuses a folder that changed meanwhile."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import dataprep
from dataprep.errors import OutputError
from dataprep.records import SplitReader
from tests.tables import SCHEMA, make_data

grain = pytest.importorskip("grain", reason="grain is not installed (pip install grain)")

N = 250
NAMES = ("id", "f_vec", "img", "y")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("grain") / "o"
    dataprep.convert(make_data(N), {"features": [f for f in SCHEMA["features"] if f["name"] in NAMES]}, out,
                     num_shards=3, shuffle=False)
    return out


def test_grain_shuffles_and_batches_the_reader(folder):
    reader = SplitReader(folder, "train")
    assert isinstance(reader, grain.sources.RandomAccessDataSource)
    ds = grain.MapDataset.source(reader).shuffle(seed=5).batch(16)
    batches = list(ds)
    assert len(batches) == -(-N // 16) and batches[0]["img"].shape == (16, 4, 4, 1)
    ids = np.concatenate([b["id"] for b in batches])
    assert np.array_equal(np.sort(ids), np.arange(N)) and not np.array_equal(ids, np.arange(N))
    want = reader.take(ids[:16])
    assert all(np.array_equal(batches[0][k], want[k]) for k in NAMES)
    again = np.concatenate([b["id"] for b in grain.MapDataset.source(reader).shuffle(seed=5).batch(16)])
    assert np.array_equal(again, ids)
    it = iter(grain.MapDataset.source(reader).shuffle(seed=5).batch(16).to_iter_dataset())
    next(it)
    saved = it.get_state()
    rest = [b["id"] for b in it]
    it2 = iter(grain.MapDataset.source(reader).shuffle(seed=5).batch(16).to_iter_dataset())
    it2.set_state(saved)
    assert all(np.array_equal(a["id"], b) for a, b in zip(it2, rest, strict=True))


def test_reader_pickles_and_checks_the_folder(folder, tmp_path):
    reader = SplitReader(folder, "train")
    copy = pickle.loads(pickle.dumps(reader))
    assert len(copy) == N and repr(copy) == repr(reader) and np.array_equal(copy.take([3, 1])["id"], [3, 1])
    other = tmp_path / "o"
    dataprep.convert(make_data(N), {"features": [f for f in SCHEMA["features"] if f["name"] in NAMES]}, other,
                     num_shards=3, shuffle=False)
    blob = pickle.dumps(SplitReader(other, "train"))
    dataprep.convert(make_data(N, seed=1), {"features": [f for f in SCHEMA["features"] if f["name"] in NAMES]},
                     other, num_shards=3, shuffle=False, overwrite=True)
    with pytest.raises(OutputError, match="folder changed while reading"):
        pickle.loads(blob)
