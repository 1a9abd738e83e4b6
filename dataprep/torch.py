"""PyTorch readers: a converted split as a map-style dataset, or as an IterableDataset of whole batches that
shards by rank and DataLoader worker with the exactly-once rule of :mod:`dataprep.epochs`.

Importing this module imports torch; nothing else in dataprep does. ``SplitReader`` itself is already a
map-style dataset (``len`` and ``reader[i]``; it pickles for worker processes), so
``DataLoader(SplitReader(path, "train"), batch_size=..., shuffle=True)`` works as is; :class:`Batches` is the
fast way: every DataLoader worker of every rank reads its part of each global step a block at a time
(``SplitReader.take``), so use it with ``DataLoader(dataset, batch_size=None, num_workers=k)``. Its workers
are ``world_size * num_workers`` shards of the global epoch order: with the DataLoader's in-order delivery a
rank's batches come worker by worker, one global step every ``num_workers`` batches, and
``dataset.state(m)`` after ``m`` batches of this rank (a multiple of ``num_workers``) is the global state to
resume from, with any number of ranks or workers.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .errors import UsageError
from .records import RaggedArray, SplitReader


def _world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """This process's rank and the number of ranks: given, else torch.distributed's, else 0 of 1."""
    if rank is None or world_size is None:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1
    return rank, world_size


class Batches(IterableDataset):
    """Batches of a split as dicts of tensors (variable-length features as :class:`RaggedArray` of tensors),
    this rank's and DataLoader worker's part of each global step (see the module docstring)."""

    def __init__(self, path: str | Path, split: str = "train", batch_size: int = 256, *, shuffle: str | None = "global",
                 seed: int | None = None, num_epochs: int | None = 1, num_workers: int = 0, rank: int | None = None,
                 world_size: int | None = None, remainder: str = "drop", state: dict | None = None):
        self.reader = SplitReader(path, split)
        self.rank, self.world_size = _world(rank, world_size)
        self.num_workers = num_workers
        if seed is None and shuffle and state is None:
            seed = int(np.random.default_rng().integers(2**62))  # one seed for all workers of this rank
        self.batch_size, self.shuffle, self.seed, self.num_epochs = batch_size, shuffle, seed, num_epochs
        self.remainder, self.start = remainder, state
        self._start = self._iterator(0)  # checks the options and the state now, in the main process

    @property
    def num_shards(self) -> int:
        return self.world_size * max(1, self.num_workers)

    def _iterator(self, worker: int):
        return self.reader.iter_batches(self.batch_size, shuffle=self.shuffle, seed=self.seed,
                                        num_epochs=self.num_epochs, num_shards=self.num_shards,
                                        shard_index=self.rank * max(1, self.num_workers) + worker,
                                        remainder=self.remainder, state=self.start)

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        if (info.num_workers if info else 0) != self.num_workers:
            raise UsageError(f"the DataLoader has {info.num_workers if info else 0} workers, this dataset was made "
                             f"for num_workers={self.num_workers}")
        for batch in self._iterator(info.id if info else 0):
            yield {name: _tensor(v) for name, v in batch.items()}

    def state(self, batches: int) -> dict:
        """The global state after this rank has taken ``batches`` batches from its DataLoader."""
        per_step = max(1, self.num_workers)
        if batches % per_step:
            raise UsageError(f"a state is whole global steps: save it after a multiple of num_workers={per_step} "
                             f"batches, not after {batches}")
        return self._start.state_after(batches // per_step)


def _tensor(value):
    """A decoded column as a tensor where torch has one (strings and bytes stay numpy object arrays)."""
    if isinstance(value, RaggedArray):
        return RaggedArray(_tensor(value.values), torch.from_numpy(value.row_splits))
    return value if value.dtype == object else torch.from_numpy(value)
