"""Epoch plans: which records each worker's batches hold, in a global epoch order, and the few integers that
resume them anywhere (same or another number of workers).

An epoch is an order of the split's ``n`` records: file order, or with ``shuffle="global"`` the keyed bijection
of :mod:`dataprep.permutation` drawn from ``(seed, epoch)``. It is consumed in global steps of
``num_shards * batch_size`` places; in each step worker ``w`` takes places ``[w * b, (w + 1) * b)``, so every
record is seen by exactly one worker and every worker gets the same number of batches. The last places of an
epoch, short of a step, are dropped (``remainder="drop"``), filled with the first places of the epoch's order
(``"pad"``: those records are seen twice), or, for one worker only, given as a short batch (``"keep"``).

The state is global: ``(seed, epoch, place)`` after the last whole step, the same for every worker that stopped
after the same step, whatever their number. So a state saved by 8 workers restores 6 that cover the rest of
the epoch exactly once, and a restore with the same workers gives the very batches an uninterrupted run would
have, with nothing replayed (a place is a number, not a position in a stream).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .errors import UsageError
from .permutation import Permutation

SHUFFLES = (None, "global")
REMAINDERS = ("keep", "drop", "pad")
STATE_VERSION = 1
BLOCK_RECORDS = 1 << 15  # records read and decoded at once: numpy's cost per call spread over many records


@dataclass(frozen=True)
class Plan:
    """The batches of one worker over epochs of ``n`` records (see the module docstring)."""

    n: int
    batch_size: int
    shuffle: str | None = None
    seed: int = 0
    num_shards: int = 1
    shard_index: int = 0
    remainder: str = "keep"

    def __post_init__(self):
        if self.batch_size < 1:
            raise UsageError("batch_size must be positive")
        if self.shuffle not in SHUFFLES:
            raise UsageError(f"shuffle must be None or 'global', got {self.shuffle!r}")
        if self.remainder not in REMAINDERS:
            raise UsageError(f"remainder must be one of {', '.join(REMAINDERS)}, got {self.remainder!r}")
        if not 0 <= self.shard_index < self.num_shards:
            raise UsageError(f"shard_index {self.shard_index} is not in [0, {self.num_shards})")
        if self.num_shards > 1 and self.remainder == "keep":
            raise UsageError("remainder='keep' would give workers different numbers of batches; with "
                             "num_shards > 1 choose 'drop' or 'pad'")
        if self.n and not self.steps(0):
            raise UsageError(f"{self.n} records make no whole step of {self.num_shards} x {self.batch_size}; "
                             "use a smaller batch_size or remainder='pad'")

    @property
    def step(self) -> int:
        """Places one global step consumes."""
        return self.num_shards * self.batch_size

    def steps(self, place: int) -> int:
        """Global steps left in an epoch from ``place``."""
        full, rest = divmod(max(self.n - place, 0), self.step)
        return full + (1 if rest and self.remainder != "drop" else 0)

    def advance(self, epoch: int, place: int, steps: int) -> tuple[int, int]:
        """``(epoch, place)`` after ``steps`` more global steps (an epoch's end is the next epoch's place 0; so
        0 steps from a place with no step left is the next epoch's start)."""
        left, per_epoch = self.steps(place), self.steps(0)
        if not per_epoch:  # an empty split has no steps: it stays where it is
            return epoch, place
        if steps < left:
            return epoch, place + steps * self.step
        steps -= left
        return epoch + 1 + steps // per_epoch, (steps % per_epoch) * self.step

    def places(self, place: int) -> np.ndarray:
        """This worker's places in the step that starts at ``place``; past the end, the epoch's first places
        (``pad``), or cut short (``keep``)."""
        first = place + self.shard_index * self.batch_size
        at = np.arange(first, first + self.batch_size, dtype=np.int64)
        if self.remainder == "keep":
            return at[at < self.n]
        return np.where(at < self.n, at, (at - self.n) % self.n)

    def block(self, epoch: int, place: int, records: int = BLOCK_RECORDS) -> tuple[np.ndarray, list[int]]:
        """The records of the next steps of this epoch from ``place`` (about ``records`` of them, at least one
        step), to be read at once, and the size of each step's batch."""
        count = min(self.steps(place), max(1, records // self.batch_size))
        parts = [self.places(place + t * self.step) for t in range(count)]
        return self.records(epoch, np.concatenate(parts)), [len(p) for p in parts]

    def records(self, epoch: int, places: np.ndarray) -> np.ndarray:
        """The records at ``places`` of epoch ``epoch``'s order."""
        return Permutation(self.n, self.seed, epoch).map(places) if self.shuffle else places

    def dropped(self) -> int:
        """Records each epoch leaves out (``drop``) or repeats (``pad``); 0 for ``keep``."""
        rest = self.n % self.step
        return 0 if not rest or self.remainder == "keep" else rest if self.remainder == "drop" else self.step - rest


def fingerprint(entries: list[dict]) -> str:
    """A short name of a split's shards (their SHA-256s), so a state is never applied to other data."""
    return hashlib.sha256("".join(e["sha256"] for e in entries).encode()).hexdigest()[:16]


def make_state(plan: Plan, data: str, epoch: int, place: int) -> dict:
    """The JSON-serialisable state at ``(epoch, place)``: under 256 bytes whatever the data."""
    return {"v": STATE_VERSION, "data": data, "n": plan.n, "shuffle": plan.shuffle, "seed": plan.seed,
            "epoch": epoch, "place": place}


def from_state(state: dict, data: str, n: int, shuffle: str | None, seed: int | None) -> tuple[int, int, int]:
    """``(seed, epoch, place)`` of a saved state, checked against the data and arguments it is restored with."""
    try:
        if state["v"] != STATE_VERSION:
            raise UsageError(f"state version {state['v']!r} is not {STATE_VERSION}")
        if state["data"] != data or state["n"] != n:
            raise UsageError(f"the state is of other data (shards {state['data']}, {state['n']} records; this "
                             f"split is {data}, {n} records)")
        if state["shuffle"] != shuffle:
            raise UsageError(f"the state was saved with shuffle={state['shuffle']!r}, not {shuffle!r}")
        if seed is not None and seed != state["seed"]:
            raise UsageError(f"the state was saved with seed {state['seed']}, not {seed}")
        epoch, place = int(state["epoch"]), int(state["place"])
        if epoch < 0 or not 0 <= place <= n:
            raise UsageError(f"the state's epoch {epoch} / place {place} is outside the split")
        return int(state["seed"]), epoch, place
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(f"not a dataprep iteration state ({e!r}): {state!r}"[:300]) from None
