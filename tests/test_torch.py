"""PyTorch, with the real ``torch`` (``make test-torch``, its own venv; skipped where torch is absent):
``SplitReader`` as a map-style dataset, and ``dataprep.torch.Batches`` sharded by rank and DataLoader worker so
that every record is read once per epoch, every worker the same number of batches, and a state saved by 2 ranks
of 2 workers restores 1 rank of 3 workers that covers the rest exactly once."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import dataprep
from dataprep.errors import UsageError
from dataprep.records import SplitReader
from tests.conftest import subprocess_env
from tests.tables import SCHEMA, make_data

torch = pytest.importorskip("torch", reason="torch is not installed here (make test-torch has it)")
from torch.utils.data import DataLoader  # noqa: E402

from dataprep.torch import Batches  # noqa: E402

N = 403
NAMES = ("id", "f_vec", "f_var", "y")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("torch") / "o"
    dataprep.convert(make_data(N), {"features": [f for f in SCHEMA["features"] if f["name"] in NAMES]}, out,
                     num_shards=3, shuffle=False)
    return out


def test_split_reader_is_a_map_style_dataset(folder):
    fixed = {"features": [f for f in SCHEMA["features"] if f["name"] in ("id", "f_vec", "y")]}
    dataprep.convert(make_data(N), fixed, folder.parent / "fixed", num_shards=2, shuffle=False)
    loader = DataLoader(SplitReader(folder.parent / "fixed", "train"), batch_size=50, shuffle=True, num_workers=2)
    batches = list(loader)
    ids = torch.cat([b["id"] for b in batches]).numpy()
    assert np.array_equal(np.sort(ids), np.arange(N)) and batches[0]["f_vec"].shape == (50, 3)
    assert torch.equal(batches[0]["f_vec"], torch.from_numpy(make_data(N)["f_vec"][ids[:50]]))


def ids_of(loader) -> list[np.ndarray]:
    return [b["id"].numpy() for b in loader]


def test_ranks_and_workers_read_each_record_once(folder):
    ranks = [Batches(folder, batch_size=10, seed=3, num_workers=2, rank=r, world_size=2) for r in range(2)]
    seen = [ids_of(DataLoader(ds, batch_size=None, num_workers=2)) for ds in ranks]
    assert len(seen[0]) == len(seen[1]) == 2 * (N // 40)  # equal batches: "drop" leaves N % 40 out
    everything = np.concatenate(seen[0] + seen[1])
    assert len(everything) == len(set(everything.tolist())) == N - N % 40
    batch = next(iter(DataLoader(ranks[0], batch_size=None, num_workers=2)))
    assert batch["f_var"].values.dtype == torch.float32 and batch["f_var"].row_splits[-1] == len(batch["f_var"].values)
    with pytest.raises(UsageError, match="has 0 workers"):
        next(iter(DataLoader(ranks[0], batch_size=None)))


def test_state_restores_with_other_ranks_and_workers(folder):
    ranks = [Batches(folder, batch_size=10, seed=3, num_workers=2, rank=r, world_size=2) for r in range(2)]
    before = []
    for ds in ranks:
        loader = iter(DataLoader(ds, batch_size=None, num_workers=2))
        before += [next(loader)["id"].numpy() for _ in range(6)]  # 3 global steps
    state = ranks[0].state(6)
    assert state == ranks[1].state(6) and state["place"] == 3 * 40
    with pytest.raises(UsageError, match="multiple of num_workers=2"):
        ranks[0].state(5)
    resumed = Batches(folder, batch_size=10, num_workers=3, rank=0, world_size=1, state=state)
    after = ids_of(DataLoader(resumed, batch_size=None, num_workers=3))
    assert len(after) % 3 == 0
    seen = np.concatenate(before + after)
    rest = N - 3 * 40
    assert len(seen) == len(set(seen.tolist())) == N - rest % 30


def test_dataprep_does_not_import_torch():
    script = "import sys, dataprep, dataprep.records; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=subprocess_env())
    assert out.stdout.strip() == "False", out.stderr
