"""Shards held open for random access: uncompressed ones memory-mapped, compressed ones inflated and kept.

``SplitReader.take`` reads records scattered over a split. An uncompressed shard is mapped once (after the
checks every reader makes: size and SHA-256 against the manifest, the record index against the file, see
:mod:`dataprep.shardread`), so a record costs a page-cache lookup, not a system call. Each later access
checks that the open file is still the one checked (device, inode, size, modification time); a folder
replaced by ``convert --overwrite`` keeps being read as it was. A compressed shard has no random access
into its stream: the first access inflates it whole (about a sequential read of the shard) and keeps it, up
to ``budget`` bytes of inflated shards, least recently used dropped first; a shuffle over compressed shards
larger than that inflates a shard again for most batches.
"""
from __future__ import annotations

import io
import mmap
import os
import threading
from collections import OrderedDict
from typing import BinaryIO

import numpy as np

from .manifest import Manifest
from .shardread import check_framing, read_shard, shard_error, verify_open

BUDGET = 1 << 30  # inflated bytes of compressed shards kept
MAX_MAPPED = 256  # shards mapped (and open) at once; one dropped is mapped again without a second check


class ShardStreams:
    """The checked uncompressed streams of a manifest's shards, by entry path."""

    def __init__(self, manifest: Manifest, budget: int = BUDGET, max_mapped: int = MAX_MAPPED):
        self.manifest, self.budget, self.max_mapped = manifest, budget, max_mapped
        self._mapped: OrderedDict[str, tuple[BinaryIO, mmap.mmap, tuple]] = OrderedDict()
        self._inflated: OrderedDict[str, tuple[bytes, np.ndarray]] = OrderedDict()
        self._framed: set[tuple] = set()  # files whose index was checked against them, so a remap skips it
        self._lock = threading.Lock()

    def get(self, entry: dict, offsets: np.ndarray) -> tuple[bytes | mmap.mmap, np.ndarray]:
        """The shard's uncompressed stream (slicing it gives bytes) and its record index, both checked."""
        rel = entry["path"]
        with self._lock:
            if rel in self._mapped:
                fh, mm, key = self._mapped[rel]
                self._mapped.move_to_end(rel)
                if _key(fh) != key:
                    raise shard_error(self.manifest, rel, "changed while it was being read; read it again")
                return mm, offsets
            if rel in self._inflated:
                self._inflated.move_to_end(rel)
                return self._inflated[rel]
            if not self.manifest.shard_compression.compressed:
                mapped = self._map(entry, offsets)
                if mapped is not None:
                    return mapped, offsets
            data, offsets = read_shard(self.manifest, entry)
            self._inflated[rel] = (data, offsets)
            held = sum(len(d) for d, _ in self._inflated.values())
            while held > self.budget and len(self._inflated) > 1:
                held -= len(self._inflated.popitem(last=False)[1][0])
            return data, offsets

    def _map(self, entry: dict, offsets: np.ndarray) -> mmap.mmap | None:
        """The shard mapped, checked; None where the file cannot be mapped (empty, or not a local file)."""
        fh = self.manifest.open(entry["path"])
        try:
            verify_open(self.manifest, entry, fh)
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError, io.UnsupportedOperation):
            fh.close()
            return None
        except BaseException:
            fh.close()
            raise
        key = (entry["path"], *_key(fh))
        if key not in self._framed:
            check_framing(self.manifest, entry, mm, offsets)  # type: ignore[arg-type]
            self._framed.add(key)
        self._mapped[entry["path"]] = (fh, mm, key[1:])
        while len(self._mapped) > self.max_mapped:
            self._mapped.popitem(last=False)[1][0].close()
        return mm


def _key(fh: BinaryIO) -> tuple:
    st = os.fstat(fh.fileno())
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns
