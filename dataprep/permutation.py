"""A keyed bijection on ``[0, n)``: the order of a globally shuffled epoch, computed index by index in O(1) memory.

A balanced Feistel network permutes ``[0, 4**h)`` for the smallest ``4**h >= n`` (each round swaps two
``h``-bit halves and mixes one into the other with a keyed hash); cycle-walking (applying it again to any
result ``>= n``) turns that into a permutation of ``[0, n)``, walking fewer than 4 steps on average as ``n`` is
more than a quarter of the domain. Six rounds of a 64-bit mixing hash (splitmix64's finaliser) keyed from
SHA-256 of ``(seed, epoch)`` give the same order on every machine and a new one every epoch, with nothing held
but twelve integers; indices are mapped a block at a time with numpy. (A shuffle buffer or a list of ``n``
indices, the alternatives, cost memory that grows with the data and a checkpoint that does too.)
"""
from __future__ import annotations

import hashlib

import numpy as np

ROUNDS = 6
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijective 64-bit mix in which every output bit depends on every input bit."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


class Permutation:
    """The bijection of ``[0, n)`` drawn from ``(seed, epoch)``: ``p[i]`` (or ``p.map(indices)``) is the
    record at place ``i`` of the epoch's order."""

    def __init__(self, n: int, seed: int, epoch: int = 0):
        if n < 0:
            raise ValueError(f"a permutation of {n} elements")
        self.n, self.seed, self.epoch = n, seed, epoch
        self._half = max(1, (max(n - 1, 1).bit_length() + 1) // 2)  # 4**half >= n
        digest = hashlib.sha256(f"dataprep.permutation:{seed}:{epoch}".encode()).digest()
        self._keys = np.frombuffer(digest + hashlib.sha256(digest).digest(), "<u8")[:ROUNDS].copy()

    def __len__(self) -> int:
        return self.n

    def _rounds(self, x: np.ndarray) -> np.ndarray:
        h = np.uint64(self._half)
        mask = np.uint64((1 << self._half) - 1)
        left, right = x >> h, x & mask
        for key in self._keys:
            left, right = right, left ^ (_mix(right ^ key) & mask)
        return (left << h) | right

    def map(self, indices: np.ndarray) -> np.ndarray:
        """The images of ``indices`` (each in ``[0, n)``) as int64, computed together."""
        idx = np.asarray(indices, np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n):
            raise IndexError(f"indices outside [0, {self.n})")
        out = self._rounds(idx.astype(np.uint64))
        outside = np.flatnonzero(out >= np.uint64(self.n))
        while len(outside):  # cycle-walking: the cycle through an index in [0, n) comes back into it
            out[outside] = self._rounds(out[outside])
            outside = outside[out[outside] >= np.uint64(self.n)]
        return out.astype(np.int64)

    def __getitem__(self, i: int) -> int:
        return int(self.map(np.array([i]))[0])
