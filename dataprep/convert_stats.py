"""``convert(stats=True)``'s statistics from the columns pass one checks, not from a second decode of the shards.

Pass one hands each batch's kept columns to a :class:`StatsCollector`, which keeps each feature's values
(and the lengths that say where each record's begin) in memory up to ``HELD_BYTES`` in all and in side files
in the work folder beyond, so memory stays bounded. Once the plan is drawn, each feature is taken whole, one
at a time, and each split's records are gathered in the order its shards hold them: the report equals
:func:`dataprep.feature_stats.folder_stats` of the written folder.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from .columns import Column
from .feature_stats import BLOCK, StatsReport, accumulator, summarised
from .ragged import Ragged
from .schema import Feature, Schema
from .shards import Shard

HELD_BYTES = 128 << 20  # values kept in memory before they go to side files

class StatsCollector:
    """Every summarised feature's values in record-id (spool) order; side files go under ``folder``."""

    def __init__(self, schema: Schema, folder: Path, seed: int = 0):
        self.features = summarised(schema)
        self.folder, self.seed, self.schema = folder, seed, schema
        self.records = 0
        self.report: StatsReport | None = None  # once finished
        self._per_record: dict[str, int] = {}  # elements per record of fixed-shape features
        self._held: dict[str, list[np.ndarray]] = {}  # arrays in memory, by feature and part
        self._held_bytes = 0
        self._files: dict[str, BinaryIO] = {}  # once spilled, all of them

    def add(self, columns: dict[str, Column]) -> None:
        """Append the checked columns of the records just spooled (in spool order)."""
        n = len(next(iter(columns.values())).row_splits) - 1
        for f in self.features:
            col = columns[f.name]
            if f.is_fixed:
                self._per_record.setdefault(f.name, int(col.row_splits[1] - col.row_splits[0]) if n else 0)
            else:
                self._append(f.name, "counts", np.diff(col.row_splits), np.int64)
            if isinstance(col.values, Ragged):  # text, bytes and pixel arrays: their bytes, and each one's length
                r = col.values
                self._append(f.name, "data", r.data[r.offsets[0]:r.offsets[-1]], np.uint8)
                self._append(f.name, "lengths", r.lengths, np.int64)
            else:
                self._append(f.name, "data", col.values, f.type_info.numpy or object)
        self.records += n

    def finish(self, plan: list[Shard]) -> None:
        """``report``: the statistics per split of ``plan`` (every record in it, in write order), as
        ``folder_stats`` computes them from the shards; the side files are removed."""
        report = StatsReport(str(self.folder.parent), self.schema)
        order = {split: np.concatenate([s.records for s in plan if s.split == split]).astype(np.int64)
                 for split in dict.fromkeys(s.split for s in plan)}
        for split in order:
            report.splits[split] = {}
        for i, f in enumerate(self.features):
            stored = self._stored(f)
            for split, ids in order.items():
                if len(ids):
                    acc = report.splits[split][f.name] = accumulator(f, i, self.seed)
                    for start in range(0, len(ids), BLOCK):
                        acc.update(stored.gather(ids[start:start + BLOCK]))
                        acc.count_lengths(stored.lengths_of(ids[start:start + BLOCK], f.inner_size))
        shutil.rmtree(self.folder, ignore_errors=True)
        self.report = report

    def _append(self, name: str, part: str, values: np.ndarray, dtype: np.dtype | type) -> None:
        key = f"{name}.{part}"
        values = np.ascontiguousarray(values, dtype)
        if not self._files:
            self._held.setdefault(key, []).append(values)
            self._held_bytes += values.nbytes
            if self._held_bytes > HELD_BYTES:
                self._spill()
        else:
            self._file(key).write(values.data)

    def _spill(self) -> None:
        """Move the values held in memory to side files, where every later one goes too."""
        self.folder.mkdir(exist_ok=True)
        for key, parts in self._held.items():
            fh = self._file(key)
            for values in parts:
                fh.write(values.data)
        self._held, self._held_bytes = {}, 0

    def _file(self, key: str) -> BinaryIO:
        if key not in self._files:
            self._files[key] = open(self.folder / f"{len(self._files)}.values", "wb")
        return self._files[key]

    def _read(self, name: str, part: str, dtype: np.dtype | type) -> np.ndarray:
        key = f"{name}.{part}"
        if key in self._files:
            self._files[key].close()
            return np.fromfile(self._files[key].name, dtype)
        parts = self._held.pop(key, [])
        return np.concatenate(parts) if parts else np.zeros(0, dtype)

    def _stored(self, f: Feature) -> _Stored:
        """Feature ``f``'s values of every record, read back."""
        counts = None if f.is_fixed else self._read(f.name, "counts", np.int64)
        per_record = self._per_record.get(f.name, 0)
        if f.type_info.numpy is not None and f.encoding != "raw_uint8":
            return _Stored(self._read(f.name, "data", f.type_info.numpy), None, per_record, counts)
        return _Stored(self._read(f.name, "data", np.uint8), self._read(f.name, "lengths", np.int64), per_record,
                       counts, text=not f.is_image)


class _Stored:
    """One feature's values of every record: numbers, or byte strings (``lengths``: bytes per value) that
    are text/bytes (``text``) or pixel arrays; ``per_record`` values per record, or ``counts`` of each."""

    def __init__(self, data: np.ndarray, lengths: np.ndarray | None, per_record: int, counts: np.ndarray | None,
                 text: bool = False):
        self.data, self.lengths, self.per_record, self.counts, self.text = data, lengths, per_record, counts, text
        self.starts = None if counts is None else _offsets(counts)[:-1]
        self.offsets = None if lengths is None else _offsets(lengths)
        self.width = int(lengths[0]) if lengths is not None and len(lengths) and lengths[0] and \
            (lengths == lengths[0]).all() \
            else None

    def gather(self, ids: np.ndarray) -> np.ndarray | pa.Array:
        """The values of records ``ids``, in that order: numbers, pixels as uint8, text and bytes as Arrow."""
        values = self._values_of(ids)
        if self.lengths is None:
            return self.data[values]
        if self.width is not None:
            matrix = self.data.reshape(-1, self.width)[values]
            if not self.text:
                return matrix.reshape(-1)
            data, offsets = matrix.reshape(-1), np.arange(len(values) + 1, dtype=np.int64) * self.width
        else:
            assert self.offsets is not None
            lengths = self.lengths[values]
            offsets = _offsets(lengths)
            data = self.data[np.repeat(self.offsets[values] - offsets[:-1], lengths) + np.arange(offsets[-1])]
            if not self.text:
                return data
        return pa.Array.from_buffers(pa.large_binary(), len(values), [None, pa.py_buffer(offsets),
                                                                       pa.py_buffer(data)])

    def lengths_of(self, ids: np.ndarray, inner_size: int) -> np.ndarray | None:
        """The lengths (rows of ``inner_size`` values) of records ``ids``; None for a fixed shape."""
        return None if self.counts is None else self.counts[ids] // inner_size

    def _values_of(self, ids: np.ndarray) -> np.ndarray:
        """The positions of the values of records ``ids``."""
        if self.counts is None:
            k = self.per_record
            return ids if k == 1 else (ids[:, None] * k + np.arange(k)).reshape(-1)
        assert self.starts is not None
        counts = self.counts[ids]
        within = _offsets(counts)
        return np.repeat(self.starts[ids] - within[:-1], counts) + np.arange(within[-1])


def _offsets(lengths: np.ndarray) -> np.ndarray:
    """Where each of ``lengths`` begins, and the end."""
    out = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=out[1:])
    return out
