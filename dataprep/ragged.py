"""Ragged byte rows: one flat uint8 buffer plus int64 offsets, the shape every encoder works in.

Serialized records, string values and varints are all "n rows of variable-length bytes". Keeping them as
one buffer and an offsets array lets the encoders build millions of records with a few numpy calls instead
of a Python loop per row.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

_SLICED_ROW_BYTES = 128  # mean row length above which take() copies row slices (measured crossover ~100-150)


@dataclass(frozen=True)
class Ragged:
    """``n`` rows of bytes: row ``i`` is ``data[offsets[i]:offsets[i + 1]]``; ``offsets[0]`` may be > 0.

    ``width`` is set when every row has that many bytes and rows are contiguous: such rows are also a
    ``[n, width]`` matrix, which gathers and fills far faster than per-byte indices.
    """

    data: np.ndarray  # uint8
    offsets: np.ndarray  # int64, length n + 1
    width: int | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> bytes:
        return self.data[self.offsets[i]:self.offsets[i + 1]].tobytes()

    def to_list(self) -> list[bytes]:
        buf = self.data.tobytes()
        o = self.offsets.tolist()
        return [buf[o[i]:o[i + 1]] for i in range(len(o) - 1)]

    def regroup(self, row_splits: np.ndarray) -> Ragged:
        """Join consecutive rows: new row ``j`` is old rows ``row_splits[j]:row_splits[j+1]`` concatenated."""
        if self.width is not None and len(row_splits) > 1:
            k = int(row_splits[1] - row_splits[0])
            if np.array_equal(row_splits, row_splits[0] + np.arange(len(row_splits)) * k):
                return Ragged(self.data, self.offsets[row_splits], self.width * k)
        return Ragged(self.data, self.offsets[row_splits])

    def matrix(self) -> np.ndarray:
        """The rows as a [n, width] view (fixed-width rows only)."""
        if self.width is None:
            raise ValueError("matrix() needs fixed-width rows")
        start = int(self.offsets[0])
        return self.data[start:start + len(self) * self.width].reshape(len(self), self.width)

    def take(self, index: np.ndarray) -> Ragged:
        """Rows in the order of ``index`` (a gather), as a new compact buffer."""
        if self.width is not None:
            return Ragged.from_matrix(self.matrix()[index])
        lengths = self.lengths[index]
        offsets = np.zeros(len(index) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if offsets[-1] > _SLICED_ROW_BYTES * len(index):  # long rows: one slice per row beats an index per byte
            view, begins = memoryview(self.data.data), self.offsets[index]
            joined = b"".join([view[a:b] for a, b in zip(begins.tolist(), (begins + lengths).tolist())])
            return Ragged(np.frombuffer(joined, np.uint8), offsets)
        if len(index) and (lengths == lengths[0]).all():
            width = int(lengths[0])
            src = self.offsets[index][:, None] + np.arange(width)
            return Ragged(self.data[src].reshape(-1), offsets)
        starts = np.repeat(self.offsets[index] - offsets[:-1], lengths)
        return Ragged(self.data[starts + np.arange(offsets[-1])], offsets)

    @classmethod
    def from_list(cls, items: Sequence[bytes]) -> Ragged:
        lengths = np.fromiter((len(b) for b in items), np.int64, len(items))
        offsets = np.zeros(len(items) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(np.frombuffer(b"".join(items), np.uint8), offsets)

    @classmethod
    def concat(cls, parts: Sequence[Ragged]) -> Ragged:
        """The rows of every part, one part after the other, in one compact buffer."""
        data = np.concatenate([p.data[p.offsets[0]:p.offsets[-1]] for p in parts])
        lengths = np.concatenate([p.lengths for p in parts])
        offsets = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(data, offsets)

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> Ragged:
        """Rows of a 2-D uint8 matrix, all of the same width."""
        n, w = matrix.shape
        return cls(np.ascontiguousarray(matrix).reshape(-1), np.arange(n + 1, dtype=np.int64) * w, w)


# A part of every row: the same constant bytes, a fixed-width uint8 matrix [n, w], or ragged rows.
Part: TypeAlias = bytes | np.ndarray | Ragged


def part_lengths(part: Part, n: int) -> np.ndarray:
    """Bytes per row of a part."""
    if isinstance(part, bytes):
        return np.full(n, len(part), np.int64)
    if isinstance(part, np.ndarray):
        return np.full(n, part.shape[1], np.int64)
    return part.lengths


def concat_rows(parts: Sequence[Part], n: int) -> Ragged:
    """Row-wise concatenation: output row ``i`` is part 0's row ``i``, then part 1's, and so on.

    Runs of constant and fixed-width parts are assembled as one matrix; a result with no ragged part at
    all is built as a single 2-D matrix, the fastest layout numpy offers.
    """
    merged: list[np.ndarray | Ragged] = []
    run: list[np.ndarray] = []
    for p in parts:
        if isinstance(p, Ragged) and p.width is not None:
            p = p.matrix()
        if isinstance(p, Ragged):
            if run:
                merged.append(_hstack(run, n))
                run = []
            merged.append(p)
        else:
            mat = np.frombuffer(p, np.uint8)[None, :] if isinstance(p, bytes) else p
            if mat.shape[1]:
                run.append(mat)
    if run:
        merged.append(_hstack(run, n))
    matrices = [p for p in merged if isinstance(p, np.ndarray)]
    if len(matrices) == len(merged):
        if not matrices:
            return Ragged(np.zeros(0, np.uint8), np.zeros(n + 1, np.int64))
        return Ragged.from_matrix(matrices[0] if len(matrices) == 1 else np.hstack(matrices))

    lengths = [part_lengths(p, n) for p in merged]
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.sum(lengths, axis=0), out=offsets[1:])
    out = np.empty(int(offsets[-1]), np.uint8)
    pos = offsets[:-1].copy()
    for p, length in zip(merged, lengths):
        if isinstance(p, np.ndarray):
            out[pos[:, None] + np.arange(p.shape[1])] = p
        else:
            total = int(p.offsets[-1] - p.offsets[0])
            dest = np.repeat(pos - (p.offsets[:-1] - p.offsets[0]), length) + np.arange(total)
            out[dest] = p.data[p.offsets[0]:p.offsets[-1]]
        pos += length
    return Ragged(out, offsets)


def _hstack(mats: list[np.ndarray], n: int) -> np.ndarray:
    """Join fixed-width parts into one [n, w] matrix: constant parts are laid down once as a template row
    broadcast over all rows, then only the per-row parts are copied in."""
    if len(mats) == 1 and mats[0].shape[0] == n:
        return mats[0]
    widths = [m.shape[1] for m in mats]
    template = np.concatenate([m[0] if m.shape[0] == 1 else np.zeros(m.shape[1], np.uint8) for m in mats])
    out = np.empty((n, sum(widths)), np.uint8)
    out[:] = template
    col = 0
    for m, w in zip(mats, widths):
        if m.shape[0] != 1:
            out[:, col:col + w] = m
        col += w
    return out
