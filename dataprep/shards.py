"""Shard planning and writing: staged records are laid out into named, checksummed shard files.

Conversion works in passes so that memory stays bounded whatever the input size: pass one encodes every
record once and appends it to a :class:`Spool` file; once the record count is known, the plan assigns
records to splits and shards (a frozen dataclass per shard); pass two reads the spool in order and sends
each record to its shard's bucket file; pass three puts each bucket (one shard) in its planned order,
compressing and hashing as it goes. All file access is sequential: random reads of a large spool would
pull whole page-cache folios into memory. A small spool (up to ``IN_MEMORY_BYTES``) is simply read into
memory once and each shard gathered from it.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .compressions import Compression
from .errors import OutputError
from .ragged import Ragged

_COPY_RECORDS = 65536  # records gathered and written per step
_SCAN_BYTES = 32 << 20  # spool bytes read per step
_MAX_OPEN_BUCKETS = 256  # shards scattered per pass over the spool
AUTO_SHARD_BYTES = 128 << 20  # default shard size (uncompressed records)
IN_MEMORY_BYTES = 256 << 20  # spools up to this size are read into memory once instead of scattered
INDEX_DIR = "index"


@dataclass(frozen=True)
class Shard:
    """One output file: its split, position, and the staged record ids it holds, in write order."""

    split: str
    index: int
    count: int
    records: np.ndarray
    suffix: str

    @property
    def stem(self) -> str:
        return f"{self.split}-{self.index:05d}-of-{self.count:05d}"

    @property
    def name(self) -> str:
        return self.stem + self.suffix

    @property
    def index_name(self) -> str:
        return f"{INDEX_DIR}/{self.stem}.idx"


@dataclass(frozen=True)
class ShardResult:
    name: str
    split: str
    num_records: int
    num_bytes: int
    sha256: str
    index: str
    uncompressed_bytes: int

    def to_dict(self) -> dict:
        return {"path": self.name, "num_records": self.num_records, "num_bytes": self.num_bytes,
                "sha256": self.sha256, "index": self.index, "uncompressed_bytes": self.uncompressed_bytes}


def plan_shards(splits: dict[str, np.ndarray], suffix: str, lengths: np.ndarray,
                num_shards: int | None = None, rows_per_shard: int | None = None) -> list[Shard]:
    """Cut each split into ``num_shards`` near-equal shards, or shards of ``rows_per_shard`` records, or by
    default as many shards as keep each under ``AUTO_SHARD_BYTES`` of records (``lengths``: bytes per
    staged record)."""
    plan = []
    for split, ids in splits.items():
        if rows_per_shard:
            count = max(1, -(-len(ids) // rows_per_shard))
            bounds = [min(len(ids), i * rows_per_shard) for i in range(count + 1)]
        else:
            count = num_shards or max(1, -(-int(lengths[ids].sum()) // AUTO_SHARD_BYTES))
            bounds = [len(ids) * i // count for i in range(count + 1)]
        plan += [Shard(split, i, count, ids[bounds[i]:bounds[i + 1]], suffix) for i in range(count)]
    return plan


class Spool:
    """An append-only file of encoded records, read back sequentially in record-id order."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "wb")
        self._lengths: list[np.ndarray] = []
        self.lengths = np.zeros(0, np.int64)
        self.offsets = np.zeros(1, np.int64)

    def append(self, records: Ragged) -> None:
        self._file.write(records.data[records.offsets[0]:records.offsets[-1]].data)
        self._lengths.append(records.lengths)

    def finish(self) -> int:
        """Close for writing; returns the number of records."""
        self._file.close()
        self.lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int64)
        self._lengths = []
        self.offsets = np.zeros(len(self.lengths) + 1, np.int64)
        np.cumsum(self.lengths, out=self.offsets[1:])
        return len(self.lengths)

    def chunks(self, max_bytes: int = _SCAN_BYTES, release: bool = False) -> Iterator[tuple[int, Ragged]]:
        """(first record id, records) in order, about ``max_bytes`` at a time. With ``release`` (the last pass
        over the spool) the disk space of each chunk is given back once the caller asks for the next one, so
        the spool shrinks while the shards grow; a resumed run re-encodes the input, so nothing needs it."""
        n = len(self.lengths)
        with open(self.path, "r+b" if release else "rb") as fh:
            first = 0
            while first < n:
                last = max(first + 1, int(np.searchsorted(self.offsets, self.offsets[first] + max_bytes,
                                                          side="right")) - 1)
                last = min(last, n)
                size = int(self.offsets[last] - self.offsets[first])
                data = np.frombuffer(fh.read(size), np.uint8)
                yield first, _records(data, self.lengths[first:last])
                if release:
                    punch_hole(fh.fileno(), int(self.offsets[first]), size)
                first = last

    def remove(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


_FALLOC_FL_KEEP_SIZE, _FALLOC_FL_PUNCH_HOLE = 1, 2


def punch_hole(fd: int, offset: int, length: int) -> bool:
    """Free the disk blocks of ``[offset, offset + length)`` of a file (Linux ``fallocate`` punch-hole; reads
    of it give zeros). False where the system or file system cannot: the space is then freed when the file
    is removed, as before."""
    fallocate = _fallocate()
    if length <= 0 or fallocate is None:
        return False
    return fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length) == 0


@functools.cache
def _fallocate():
    """libc's ``fallocate`` (looked up once), or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fallocate = ctypes.CDLL(None, use_errno=True).fallocate
    except (OSError, AttributeError):
        return None
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return fallocate


def _records(data: np.ndarray, lengths: np.ndarray) -> Ragged:
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    uniform = len(lengths) > 0 and lengths.min() == lengths.max()
    return Ragged(data, offsets, int(lengths[0]) if uniform else None)


class _Sink:
    """A shard file being written: its compression's stream, byte count and SHA-256 on the fly."""

    def __init__(self, file: BinaryIO, compression: Compression):
        self._file = file
        self._z = compression.compressor()
        self._sha = hashlib.sha256()
        self.num_bytes = 0

    def _out(self, data: bytes | memoryview) -> None:
        if len(data):
            self._file.write(data)
            self._sha.update(data)
            self.num_bytes += len(data)

    def write(self, data: bytes | memoryview) -> None:
        self._out(self._z.compress(data) if self._z else data)

    def close(self) -> str:
        if self._z:
            self._out(self._z.flush())
        self._file.close()
        return self._sha.hexdigest()


def write_shards(spool: Spool, plan: list[Shard], folder: Path, compression: Compression, header: bytes = b"",
                 workers: int = 1, on_done=None) -> list[ShardResult]:
    """Write every planned shard with sequential I/O only: the spool is read once, in order, and each
    record is appended to its shard's bucket file; then each bucket (one shard, in memory) is put in its
    planned order, compressed, hashed and written, ``workers`` at a time (compression, hashing and file
    writes release the GIL). Memory is bounded by a shard, not by the input."""
    def run(jobs: list[tuple[Shard, Ragged | Path]]) -> list[ShardResult]:
        def one(job: tuple[Shard, Ragged | Path]) -> ShardResult:
            shard, source = job
            result = write_shard(shard, source, spool.lengths, folder, compression, header)
            if on_done:
                on_done(result)
            return result
        if workers <= 1:
            return [one(job) for job in jobs]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, jobs))

    if int(spool.offsets[-1]) <= IN_MEMORY_BYTES:  # small enough: read the spool once, gather from memory
        records = _records(np.fromfile(spool.path, np.uint8), spool.lengths)
        spool.remove()  # its disk space is free before the shards take theirs
        return run([(shard, records) for shard in plan])
    results: list[ShardResult] = []
    for group_start in range(0, len(plan), _MAX_OPEN_BUCKETS):
        group = plan[group_start:group_start + _MAX_OPEN_BUCKETS]
        buckets = _scatter(spool, group, folder, last=group_start + _MAX_OPEN_BUCKETS >= len(plan))
        results += run([(shard, bucket) for shard, bucket in zip(group, buckets)])
    return results


def _scatter(spool: Spool, shards: list[Shard], folder: Path, last: bool) -> list[Path]:
    """Append every record of ``shards`` to that shard's bucket file, in record-id order; on the ``last``
    pass the spool's space is freed as it is read, so spool and buckets together stay about one copy."""
    owner = np.full(len(spool.lengths), -1, np.int32)
    for i, shard in enumerate(shards):
        owner[shard.records] = i
    paths = [folder / f".bucket-{shard.stem}" for shard in shards]
    files = [open(p, "wb") for p in paths]
    try:
        for first, chunk in spool.chunks(release=last):
            who = owner[first:first + len(chunk)]
            order = np.argsort(who, kind="stable")
            bounds = np.searchsorted(who[order], np.arange(len(shards) + 1))
            for i in np.flatnonzero(np.diff(bounds)).tolist():
                files[i].write(chunk.take(order[bounds[i]:bounds[i + 1]]).data.data)
    finally:
        for f in files:
            f.close()
    return paths


def write_shard(shard: Shard, source: Ragged | Path, lengths: np.ndarray, folder: Path, compression: Compression,
                 header: bytes, opener: Callable[[str], BinaryIO] | None = None) -> ShardResult:
    """Write one shard in plan order, with its record index, and check the count. ``source`` holds every
    staged record, or is the shard's bucket file (its own records in id order). Files are opened under
    ``folder``, or by ``opener`` (a relative name -> a binary file open for writing: the Beam runner's workers
    write through Beam's filesystems).

    The index holds ``int64`` little-endian offsets of every record in the uncompressed stream, then the
    stream's end (``num_records + 1`` values); readers cut a whole shard into records with it."""
    if isinstance(source, Path):
        ids = np.sort(shard.records)
        records = _records(np.fromfile(source, np.uint8), lengths[ids])
        source.unlink()
        order = np.searchsorted(ids, shard.records)  # plan position -> position in the bucket
    else:
        records, order = source, shard.records
    offsets = np.empty(len(order) + 1, np.int64)
    offsets[0] = len(header)
    np.cumsum(lengths[shard.records], out=offsets[1:])
    offsets[1:] += len(header)
    if opener is None:
        (folder / INDEX_DIR).mkdir(exist_ok=True)

        def opener(rel: str) -> BinaryIO:
            return open(folder / rel, "wb")
    with opener(shard.index_name) as fh:
        fh.write(offsets.astype("<i8").tobytes())
    sink = _Sink(opener(shard.name), compression)
    sink.write(header)
    written = 0
    for start in range(0, len(order), _COPY_RECORDS):
        chunk = records.take(order[start:start + _COPY_RECORDS])
        sink.write(chunk.data.data)
        written += len(chunk)
    sha = sink.close()
    if written != len(shard.records):
        raise OutputError(f"{shard.name}: wrote {written} records, the plan has {len(shard.records)}")
    return ShardResult(shard.name, shard.split, written, sink.num_bytes, sha, shard.index_name, int(offsets[-1]))
