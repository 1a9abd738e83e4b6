"""Histograms on one fixed grid of bins shared by every data set, so that two histograms computed apart
(a baseline's ``stats.json`` and this week's) can be compared on the same bin edges without reading the
data again (:mod:`dataprep.drift`).

The grid splits every binary octave ``[2^e, 2^(e+1))`` into ``resolution`` equal bins (a power of two, at
most ``RESOLUTION``; negative numbers mirror it), plus a bin for zero and one for each infinity. Every edge
is an exact float and a value's bin is read from the top bits of its IEEE-754 bit pattern (exponent, then
mantissa, which order positive floats as their values), not from a logarithm, so a value on an edge lands in
the bin starting there, as ``np.histogram``/``np.searchsorted`` put it: bins are ``[lower, upper)``.

When more than ``MAX_BINS`` bins are occupied the resolution halves (neighbours merge), so memory stays
bounded whatever the data; since occupation only grows, the final resolution is the largest one at which the
whole data occupies at most ``MAX_BINS`` bins, whatever order or batches the values came in.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RESOLUTION = 1024  # bins per octave at most: integers up to 1024 each get a bin of their own
MAX_BINS = 1024  # occupied bins kept at most (a stats.json entry of at most this many bins)
_MAGNITUDE = np.int64(0x7FFF_FFFF_FFFF_FFFF)  # a float64's bits without its sign


def _shift(resolution: int) -> int:
    """Mantissa bits below the bin: the top log2(resolution) of the 52 say which bin of the octave."""
    return 52 - (resolution.bit_length() - 1)


def bin_keys(x: np.ndarray, resolution: int) -> np.ndarray:
    """The grid bin of each non-NaN float64 in ``x``: 0 for zero, above it one plus the top bits of the value's
    bit pattern (exponent and the leading mantissa bits, in the order of the values; infinity is a bin of its
    own), and for a negative value minus one minus the key of the positive bin mirroring it."""
    x = np.asarray(x, np.float64)
    bits = x.view(np.int64) & _MAGNITUDE
    neg = x < 0
    negative = bool(neg.any())
    if negative:  # [-hi, -lo) mirrors [lo, hi): -x is in (lo, hi], the float below it (bits - 1) in [lo, hi)
        bits -= neg
    keys = bits >> _shift(resolution)
    keys += bits > 0
    return np.where(neg, -keys - 1, keys) if negative else keys


def bin_bounds(keys: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` of each bin key (the inverse of :func:`bin_keys`)."""
    keys = np.asarray(keys, np.int64)
    p = np.where(keys < 0, -keys - 1, keys)
    s = _shift(resolution)
    lo = np.where(p == 0, 0.0, np.maximum((p - 1) << s, 1).view(np.float64))
    with np.errstate(invalid="ignore"):
        hi = np.where(np.isinf(lo), np.inf, np.where(p == 0, 1, p << s).view(np.float64))
    return np.where(keys < 0, -hi, lo), np.where(keys < 0, -lo, hi)


def coarsen(keys: np.ndarray, resolution: int, to: int) -> np.ndarray:
    """The keys at resolution ``to`` (a power of two dividing ``resolution``) of bins at ``resolution``."""
    keys = np.asarray(keys, np.int64)
    p = np.where(keys < 0, -keys - 1, keys)
    q = np.where(p == 0, 0, ((p - 1) >> (_shift(to) - _shift(resolution))) + 1)
    return np.where(keys < 0, -q - 1, q)


@dataclass
class Histogram:
    """Counts of values per grid bin (keys sorted), at ``resolution`` bins per octave."""

    resolution: int = RESOLUTION
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def update(self, x: np.ndarray) -> None:
        """Add the (non-NaN) values ``x``."""
        if len(x):
            keys = bin_keys(x, self.resolution)
            low, high = int(keys.min()), int(keys.max())
            if high - low < 1 << 20:  # counted in one pass (most data): sorting costs several times more
                dense = np.bincount(keys - low)
                present = np.flatnonzero(dense)
                self._add(present + low, dense[present])
            else:
                self._add(*np.unique(keys, return_counts=True))

    def _add(self, keys: np.ndarray, counts: np.ndarray) -> None:
        keys, inverse = np.unique(np.concatenate([self.keys, keys]), return_inverse=True)
        self.counts = np.bincount(inverse, np.concatenate([self.counts, counts]), len(keys)).astype(np.int64)
        self.keys = keys
        while len(self.keys) > MAX_BINS:
            self.keys, self.counts = self.at(self.resolution // 2)
            self.resolution //= 2

    def at(self, resolution: int) -> tuple[np.ndarray, np.ndarray]:
        """Keys and counts at a coarser ``resolution``."""
        if resolution == self.resolution:
            return self.keys, self.counts
        keys, inverse = np.unique(coarsen(self.keys, self.resolution, resolution), return_inverse=True)
        return keys, np.bincount(inverse, self.counts, len(keys)).astype(np.int64)

    def to_dict(self) -> dict:
        lower, _ = bin_bounds(self.keys, self.resolution)
        return {"resolution": self.resolution, "lower": lower.tolist(), "counts": self.counts.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Histogram:
        """The histogram ``to_dict`` wrote (a bin's key is that of its lower edge, which it holds)."""
        resolution = int(d["resolution"])
        return cls(resolution, bin_keys(np.asarray(d["lower"], np.float64), resolution),
                   np.asarray(d["counts"], np.int64))
