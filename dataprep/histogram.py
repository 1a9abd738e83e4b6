"""Histograms on one fixed grid of bins shared by every data set, so that two histograms computed apart
(a baseline's ``stats.json`` and this week's) can be compared on the same bin edges without reading the
data again (:mod:`dataprep.drift`).

The grid splits every binary octave ``[2^e, 2^(e+1))`` into ``resolution`` equal bins (a power of two, at
most ``RESOLUTION``; negative numbers mirror it), plus a bin for zero and one for each infinity. Every edge
is an exact float and a value's bin is found from its exponent and mantissa (``np.frexp``), not from a
logarithm, so a value on an edge lands in the bin starting there, as ``np.histogram``/``np.searchsorted``
put it. Bins are ``[lower, upper)``. When more than ``MAX_BINS`` bins are occupied the resolution halves
(neighbours merge), so memory stays bounded whatever the data; since occupation only grows, the final
resolution is the largest one at which the whole data occupies at most ``MAX_BINS`` bins, whatever order
or batches the values came in.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RESOLUTION = 1024  # bins per octave at most: integers up to 1024 each get a bin of their own
MAX_BINS = 1024  # occupied bins kept at most (a stats.json entry of at most this many bins)
_OFFSET = 1100  # added to np.frexp's exponent (>= -1073 for float64) so bin keys are non-negative
_INF = 1 << 40  # the key of +inf (-_INF: -inf), beyond every finite key


def bin_keys(x: np.ndarray, resolution: int) -> np.ndarray:
    """The grid bin of each finite or infinite float64 in ``x``: 0 for zero, positive keys above it, and
    for a negative value minus one minus the key of the positive bin mirroring it."""
    x = np.asarray(x, np.float64)
    neg = x < 0
    # [-hi, -lo) mirrors [lo, hi): -x in (lo, hi], so the float just below -x lies in [lo, hi)
    y = np.where(neg, np.nextafter(-x, 0.0), x)
    finite = np.isfinite(x)
    mant, exp = np.frexp(np.where(finite, y, 1.0))
    k = np.floor((mant * 2 - 1) * resolution).astype(np.int64)
    positive = np.where(y > 0, (exp.astype(np.int64) + _OFFSET) * resolution + k + 1, 0)
    positive = np.where(finite, positive, _INF)
    return np.where(neg, -positive - 1, positive)


def bin_bounds(keys: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` of each bin key (the inverse of :func:`bin_keys`)."""
    keys = np.asarray(keys, np.int64)
    p = np.where(keys < 0, -keys - 1, keys)
    e, k = np.divmod(np.where(p == _INF, 0, np.maximum(p - 1, 0)), resolution)
    scale = np.ldexp(1.0, (e - _OFFSET - 1).astype(np.int32))
    lo = np.where(p == 0, 0.0, (1 + k / resolution) * scale)
    hi = np.where(p == 0, np.nextafter(0.0, 1.0), (1 + (k + 1) / resolution) * scale)
    lo, hi = np.where(p == _INF, np.inf, lo), np.where(p == _INF, np.inf, hi)
    return np.where(keys < 0, -hi, lo), np.where(keys < 0, -lo, hi)


def coarsen(keys: np.ndarray, resolution: int, to: int) -> np.ndarray:
    """The keys at resolution ``to`` (a power of two dividing ``resolution``) of bins at ``resolution``."""
    keys = np.asarray(keys, np.int64)
    p = np.where(keys < 0, -keys - 1, keys)
    e, k = np.divmod(np.maximum(p - 1, 0), resolution)
    q = np.where((p == 0) | (p == _INF), p, e * to + k // (resolution // to) + 1)
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
            keys, counts = np.unique(bin_keys(x, self.resolution), return_counts=True)
            self._add(keys, counts)

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
