"""Reading a shard the way every reader must: through the folder its manifest was loaded from, and checked
against that manifest before any of its records are returned (no TensorFlow here).

The check is the manifest's size and SHA-256 of the whole file, computed on the bytes read anyway (a shard
read whole is hashed in memory; before random access the file is hashed in a stream), plus the record
index against the manifest's count and the shard's uncompressed stream: one offset more than records, the
first where the records start (0, or after the CSV header), each at least a record's framing after the one
before, the last at the end of the stream, and each at a record's start (TFRecord: the length header there
says how far the next record is; CSV: a newline ends the record before). A file that hashed right once in
this process is not hashed again while it stays the same file (device, inode, size and modification time,
read from the open descriptor, so what is checked is what is read).
"""
from __future__ import annotations

import hashlib
import os
import threading
from typing import BinaryIO

import numpy as np

from .errors import OutputError
from .manifest import Manifest

_CHUNK = 1 << 22
_VERIFIED: set[tuple] = set()  # (dev, ino, size, mtime_ns, sha256) of files that hashed right in this process
_LOCK = threading.Lock()
MISMATCH = "contents differ from the manifest's SHA-256 (damaged or changed after conversion)"


def shard_error(manifest: Manifest, rel: str, problem: str) -> OutputError:
    """The error for a shard file that fails a check; a folder replaced meanwhile is named as the cause."""
    if manifest.changed():
        return OutputError(f"{manifest.folder}: the folder changed while reading (replaced by another "
                           f"conversion?): {rel} differs from the manifest read first; read it again")
    return OutputError(f"{manifest.folder / rel}: {problem}")


def _key(fh: BinaryIO, entry: dict) -> tuple:
    st = os.fstat(fh.fileno())
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, entry["sha256"]


def _check_size(manifest: Manifest, entry: dict, size: int) -> None:
    if size != entry["num_bytes"]:
        raise shard_error(manifest, entry["path"], f"size {size} bytes, the manifest says {entry['num_bytes']}")


def hash_matches(fh: BinaryIO, entry: dict) -> bool:
    """Whether an open shard hashes to the manifest's SHA-256 (streamed; skipped if verified before)."""
    key = _key(fh, entry)
    if key in _VERIFIED:
        return True
    h = hashlib.sha256()
    fh.seek(0)
    for chunk in iter(lambda: fh.read(_CHUNK), b""):
        h.update(chunk)
    if h.hexdigest() != entry["sha256"] or key != _key(fh, entry):
        return False
    with _LOCK:
        _VERIFIED.add(key)
    return True


def verify_open(manifest: Manifest, entry: dict, fh: BinaryIO) -> None:
    """Raise unless the open shard has the manifest's size and SHA-256."""
    _check_size(manifest, entry, os.fstat(fh.fileno()).st_size)
    if not hash_matches(fh, entry):
        raise shard_error(manifest, entry["path"], MISMATCH)


def read_verified(manifest: Manifest, entry: dict) -> bytes:
    """The shard file's bytes as stored (compressed or not), checked against its size and SHA-256."""
    with manifest.open(entry["path"]) as fh:
        key = _key(fh, entry)
        _check_size(manifest, entry, key[2])
        raw = fh.read()
    if key not in _VERIFIED:
        if hashlib.sha256(raw).hexdigest() != entry["sha256"]:
            raise shard_error(manifest, entry["path"], MISMATCH)
        with _LOCK:
            _VERIFIED.add(key)
    return raw


def decompress(manifest: Manifest, entry: dict, raw: bytes) -> bytes:
    """A shard's uncompressed stream, never longer than the manifest's ``uncompressed_bytes`` says."""
    codec = manifest.shard_compression
    if not codec.compressed:
        return raw
    z = codec.decompressor()
    limit = entry.get("uncompressed_bytes")
    try:
        data = z.decompress(raw, limit + 1) if limit is not None else z.decompress(raw)
    except codec.error as e:
        raise shard_error(manifest, entry["path"], f"{manifest.compression} stream is corrupt ({e})") from None
    if limit is not None and len(data) > limit:
        raise shard_error(manifest, entry["path"], f"inflates past the {limit} bytes the manifest says")
    if not z.eof or z.unused_data:
        raise shard_error(manifest, entry["path"], f"{manifest.compression} stream is truncated or has bytes "
                          "after its end")
    return data


def read_index(manifest: Manifest, entry: dict, length: int | None = None) -> np.ndarray:
    """The shard's record index (int64 offsets), checked against the manifest's record count and against
    ``length``, the uncompressed stream's size (default: the manifest's ``uncompressed_bytes``, or an
    uncompressed shard's ``num_bytes``). Increasing offsets from a first one in the file to the stream's end
    keep every record within the file, so no reader believes a hostile index's sizes."""
    if "index" not in entry:
        raise OutputError(f"{manifest.folder / entry['path']}: no record index (written by an older dataprep)")
    with manifest.open(entry["index"]) as fh:
        blob = fh.read()
    if length is None:
        length = entry.get("uncompressed_bytes", None if manifest.shard_compression.compressed else
                           entry["num_bytes"])

    def bad(what: str) -> OutputError:
        return _index_error(manifest, entry, what)

    if len(blob) % 8:
        raise bad(f"{len(blob)} bytes is not a whole number of 8-byte offsets (truncated)")
    offsets = np.frombuffer(blob, "<i8")
    n = entry["num_records"]
    if len(offsets) != n + 1:
        raise bad(f"{len(offsets)} offsets, the manifest's {n} records need {n + 1}")
    framing = manifest.shard_format.framing
    if offsets[0] < 0 or (not manifest.shard_format.has_header and offsets[0] != 0):
        raise bad(f"the first offset is {offsets[0]}")
    # compared before any difference is taken: the difference of hostile int64 offsets wraps around (a step
    # back of more than 2**63 looks like a long step forward); where none steps back, none wraps
    short = (offsets[1:] <= offsets[:-1]) | (np.diff(offsets) < framing)
    if short.any():
        i = int(np.argmax(short))
        raise bad(f"offset {i + 1} ({offsets[i + 1]}) is not after offset {i} ({offsets[i]}) by a record's framing")
    if length is not None and offsets[-1] != length:
        raise bad(f"the last offset is {offsets[-1]}, the stream holds {length} bytes")
    return offsets


def _index_error(manifest: Manifest, entry: dict, what: str) -> OutputError:
    return shard_error(manifest, entry["index"], f"record index does not match {entry['path']}: {what}")


def check_framing(manifest: Manifest, entry: dict, data: bytes, offsets: np.ndarray) -> None:
    """Every offset of an index :func:`read_index` checked against ``data`` (the uncompressed stream, so its
    count and last offset are right) sits at a record's start."""
    fmt = manifest.shard_format
    wrong = fmt.misplaced_records(np.frombuffer(data, np.uint8), offsets)
    if isinstance(wrong, str):
        raise _index_error(manifest, entry, wrong)
    if wrong.any():
        i = int(np.argmax(wrong))
        raise _index_error(manifest, entry, f"record {i} at offset {offsets[i]}: {fmt.misplaced}")


def check_record(manifest: Manifest, entry: dict, i: int, start: int, framed: bytes) -> None:
    """Record ``i`` of a shard, read with its framing from ``start``, sits where the index says."""
    if not manifest.shard_format.frames(framed):
        raise _index_error(manifest, entry, f"record {i} at offset {start}: {manifest.shard_format.misplaced}")


def read_shard(manifest: Manifest, entry: dict) -> tuple[bytes, np.ndarray]:
    """A whole shard, checked: its uncompressed stream and its record index."""
    data = decompress(manifest, entry, read_verified(manifest, entry))
    offsets = read_index(manifest, entry, len(data))
    check_framing(manifest, entry, data, offsets)
    return data, offsets
