"""Global shuffle and resumable, elastic iteration of the TF-free reader: every record once per epoch in a
seeded order, a saved state (a few integers) continues with the very batches an uninterrupted run gives, also
after a real ``kill -9`` in another process, and a state saved by 8 workers restores 6 that cover the rest once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dataprep
from dataprep.epochs import Plan
from dataprep.errors import UsageError
from dataprep.records import iter_batches
from tests.batches import digest
from tests.conftest import subprocess_env
from tests.tables import SCHEMA, make_data

N = 997  # a prime: no batch size divides it
NAMES = ("id", "f_vec", "s_scalar", "f_var", "y")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("resume") / "o"
    schema = {"features": [f for f in SCHEMA["features"] if f["name"] in NAMES]}
    dataprep.convert(make_data(N), schema, out, num_shards=5, shuffle=False)
    return out


def test_global_shuffle_visits_every_record_once_per_epoch(folder):
    batches = list(iter_batches(folder, "train", 64, shuffle="global", seed=3, num_epochs=3))
    assert len(batches) == 3 * 16 and len(batches[15]["id"]) == N - 15 * 64  # "keep": a short last batch
    epochs = [np.concatenate([b["id"] for b in batches[e * 16:(e + 1) * 16]]) for e in range(3)]
    for order in epochs:
        assert np.array_equal(np.sort(order), np.arange(N))
        assert abs(np.corrcoef(order, np.arange(N))[0, 1]) < 0.1  # not file order
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    again = np.concatenate([b["id"] for b in iter_batches(folder, "train", 100, shuffle="global", seed=3)])
    assert np.array_equal(again, epochs[0])  # the order is the seed's, whatever the batch size
    other = np.concatenate([b["id"] for b in iter_batches(folder, "train", 64, shuffle="global", seed=4)])
    assert not np.array_equal(other, epochs[0])
    plain = np.concatenate([b["id"] for b in iter_batches(folder, "train", 64)])
    assert np.array_equal(plain, np.arange(N))


@pytest.mark.parametrize("remainder", ["keep", "pad"])
def test_restore_at_every_batch_gives_the_same_remainder(folder, remainder):
    """A state saved before any batch of a two-epoch run (mid-shard, at an epoch's end, before the last batch)
    restores the rest bitwise, without replay."""
    run = iter_batches(folder, "train", 48, shuffle="global", seed=11, num_epochs=2, remainder=remainder)
    states, digests = [], []
    for batch in run:
        states.append(run.state())
        digests.append(digest(batch))
    assert len(digests) == 2 * 21
    for k, state in enumerate(states[:-1]):
        saved = json.loads(json.dumps(state))
        assert len(json.dumps(saved)) <= 256
        rest = iter_batches(folder, "train", 48, shuffle="global", num_epochs=2, remainder=remainder, state=saved)
        assert [digest(b) for b in rest] == digests[k + 1:], k
    assert states[-1]["epoch"] == 2 and list(iter_batches(folder, "train", 48, shuffle="global", num_epochs=2,
                                                           remainder=remainder, state=states[-1])) == []


CHILD = """
import json, sys
from dataprep.records import iter_batches
from tests.batches import digest
state = json.loads(sys.argv[2]) if len(sys.argv) > 2 else None
run = iter_batches(sys.argv[1], "train", 12, shuffle="global", seed=5, num_shards=2, shard_index=1,
                   remainder="drop", state=state)
for batch in run:
    print(digest(batch), json.dumps(run.state()), flush=True)
    sys.stdin.readline()  # the parent kills it here, with decoded batches ahead in memory
"""


def test_kill_9_then_restore_in_a_new_process(folder):
    """kill -9 at 22 batch positions (the first, mid-shard ones, the one before the last and the last), each
    restored in a new process from the last state the killed one printed: the remainder is the same."""
    whole = iter_batches(folder, "train", 12, shuffle="global", seed=5, num_shards=2, shard_index=1,
                         remainder="drop")
    reference = [digest(b) for b in whole]
    assert len(reference) == N // 24
    inner = np.random.default_rng(9).choice(np.arange(2, len(reference) - 1), 18, replace=False).tolist()
    for kill_after in sorted({1, *inner, len(reference) - 1, len(reference)}):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True, env=subprocess_env())
        for k in range(kill_after):
            line = child.stdout.readline()
            if k < kill_after - 1:  # the child waits on stdin after printing the batch it is killed at
                child.stdin.write("\n")
                child.stdin.flush()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        got, state = line.split(" ", 1)
        assert got == reference[kill_after - 1]
        restored = subprocess.run([sys.executable, "-c", CHILD, str(folder), state.strip()],
                                  input="\n" * len(reference), capture_output=True, text=True, env=subprocess_env())
        assert [ln.split(" ")[0] for ln in restored.stdout.splitlines()] == reference[kill_after:], restored.stderr


@pytest.mark.parametrize("remainder", ["drop", "pad"])
def test_eight_workers_restore_as_six_exactly_once(folder, remainder):
    def workers(n, state=None, steps=None):
        runs = [iter_batches(folder, "train", 8, shuffle="global", seed=9, num_shards=n, shard_index=w,
                             remainder=remainder, state=state) for w in range(n)]
        seen = [[b["id"] for _, b in zip(range(steps) if steps else iter(int, 1), run)] for run in runs]
        return runs, seen

    runs, before = workers(8, steps=5)
    states = [r.state() for r in runs]
    assert all(s == states[0] for s in states)  # the state is global
    assert states[0]["place"] == 5 * 64
    runs6, after = workers(6, state=states[0])
    assert len({len(s) for s in after}) == 1  # every worker the same number of batches
    ids = np.concatenate([np.concatenate(s) for s in before + after])
    rest = N - 5 * 64
    if remainder == "drop":
        assert len(after[0]) == rest // 48
        assert len(ids) == len(set(ids.tolist())) == N - rest % 48  # each once; the tail short of a step left out
    else:
        assert len(after[0]) == -(-rest // 48)
        assert set(ids.tolist()) == set(range(N)) and len(ids) == N + 48 - rest % 48
        assert runs6[0].plan.dropped() == 48 - N % 48
    assert all(r.state() == {**states[0], "epoch": 1, "place": 0} for r in runs6)


def test_bad_states_and_options(folder, tmp_path):
    run = iter_batches(folder, "train", 50, shuffle="global", seed=1)
    next(run)
    state = run.state()
    with pytest.raises(UsageError, match="shuffle='global', not None"):
        iter_batches(folder, "train", 50, state=state)
    with pytest.raises(UsageError, match="seed 1, not 2"):
        iter_batches(folder, "train", 50, shuffle="global", seed=2, state=state)
    with pytest.raises(UsageError, match="other data"):
        iter_batches(folder, "train", 50, shuffle="global", state={**state, "data": "0" * 16})
    with pytest.raises(UsageError, match="not a dataprep iteration state"):
        iter_batches(folder, "train", 50, shuffle="global", state={"epoch": 1})
    with pytest.raises(UsageError, match="different numbers of batches"):
        iter_batches(folder, "train", 50, num_shards=2)
    with pytest.raises(UsageError, match="no whole step"):
        iter_batches(folder, "train", 500, num_shards=2, remainder="drop")
    with pytest.raises(UsageError, match="shard_index 2"):
        iter_batches(folder, "train", 50, num_shards=2, shard_index=2, remainder="drop")


def test_more_workers_than_the_rest_of_the_epoch_needs(folder):
    """Saved by 1 worker with fewer places left than a step of 4 workers: they start at the next epoch."""
    run = iter_batches(folder, "train", 100, shuffle="global", seed=2, num_epochs=2)
    for _ in range(8):
        next(run)
    state = run.state()  # place 800 of 997: 197 left, a step of 4 x 100 is 400
    workers = [iter_batches(folder, "train", 100, shuffle="global", num_epochs=2, num_shards=4, shard_index=w,
                            remainder="drop", state=state) for w in range(4)]
    seen = np.concatenate([b["id"] for w in workers for b in w])
    assert len(seen) == len(set(seen.tolist())) == 800 and workers[0].state()["epoch"] == 2


def test_plan_arithmetic():
    plan = Plan(10, 3, num_shards=2, remainder="drop")  # steps of 6 places: one per epoch, 4 places dropped
    assert (plan.steps(0), plan.dropped(), plan.advance(0, 0, 5)) == (1, 4, (5, 0))
    pad = Plan(10, 3, num_shards=2, shard_index=1, remainder="pad")
    assert pad.places(6).tolist() == [9, 0, 1] and pad.dropped() == 2 and pad.advance(0, 6, 1) == (1, 0)
    assert Plan(0, 8).advance(0, 0, 3) == (0, 0) and Plan(0, 8).steps(0) == 0  # an empty split stays put


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), batch=st.integers(1, 17), before=st.integers(1, 9), after=st.integers(1, 9),
       steps=st.integers(0, 40), remainder=st.sampled_from(["drop", "pad"]), seed=st.integers(0, 2**40))
def test_any_resize_covers_the_epoch_once(n, batch, before, after, steps, remainder, seed):
    """Workers ``before`` for ``steps`` steps, then ``after`` from their state: within the epoch each record is
    seen once (``drop``: but the tail short of a step; ``pad``: plus the pad, from the epoch's start)."""
    def plans(world):
        return [Plan(n, batch, "global", seed, world, w, remainder) for w in range(world)]

    try:
        first, second = plans(before), plans(after)
    except UsageError:  # no whole step of this many workers: refused up front
        return
    epoch, place, seen = 0, 0, []
    for _ in range(min(steps, first[0].steps(0) - 1)):
        seen += [p.records(epoch, p.places(place)) for p in first]
        epoch, place = first[0].advance(epoch, place, 1)
    resumed_at = place
    epoch, place = second[0].advance(epoch, place, 0)
    while epoch == 0:
        seen += [p.records(epoch, p.places(place)) for p in second]
        epoch, place = second[0].advance(epoch, place, 1)
    ids = np.concatenate(seen).tolist() if seen else []
    counts = np.bincount(ids, minlength=n)
    if remainder == "drop":
        assert counts.max() <= 1 and counts.sum() == n - (n - resumed_at) % second[0].step
    else:
        assert counts.min() >= 1 and counts.sum() == n + (-(n - resumed_at)) % second[0].step
