"""TFRecord framing: ``u64 length | masked crc32c(length) | data | masked crc32c(data)`` for each record.

Writing: CRC32C is computed for all records of a batch at once: records of similar length go through a
vectorised table-driven CRC (one numpy step per byte column over every record), others through the
``crc32c`` library, which uses the CPU's CRC instruction. Reading back (:func:`scan_file`) walks the framing
of a plain, GZIP or ZLIB file in a stream and checks every CRC, with no TensorFlow.
"""
from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import crc32c
import numpy as np
from isal import isal_zlib

from .ragged import Part, Ragged, concat_rows, part_lengths

_MASK_DELTA = np.uint32(0xA282EAD8)
_POLY = 0x82F63B78  # CRC-32C (Castagnoli), reflected


def _table() -> np.ndarray:
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(_POLY), t >> 1).astype(np.uint32)
    return t


_TABLE = _table()
_MAX_TABLE_COLUMNS = 64  # beyond this many varying bytes per row a library call per row is cheaper


@functools.lru_cache(maxsize=64)
def _position_tables(width: int) -> np.ndarray:
    """``[width, 256]``: the CRC contribution of byte value ``b`` at position ``p`` of a ``width``-byte message
    (CRC32C without its init and final XOR is linear over GF(2), so contributions combine by XOR)."""
    tables = np.empty((width, 256), np.uint32)
    cur = _TABLE.copy()
    for k in range(width):
        tables[width - 1 - k] = cur
        cur = _TABLE[cur & 0xFF] ^ (cur >> 8)
    return tables


def crc32c_matrix(mat: np.ndarray) -> np.ndarray:
    """CRC32C of every row of a [n, w] uint8 matrix.

    Rows that share most bytes (records of one layout differ only in their value slots) cost one table
    lookup per varying byte: crc(row) = crc(row 0) XOR the contributions of the bytes where row and row 0
    differ, since CRC is affine in the message.
    """
    n, width = mat.shape
    if n == 0:
        return np.zeros(0, np.uint32)
    first = mat[0]
    varying = np.flatnonzero((mat != first).any(axis=0))
    if len(varying) > _MAX_TABLE_COLUMNS:  # mostly-varying rows (pixels): the CPU's CRC instruction per row
        return np.fromiter((crc32c.crc32c(row) for row in mat), np.uint32, n)  # rows are contiguous
    crc = np.full(n, crc32c.crc32c(first.tobytes()), np.uint32)
    if len(varying):
        tables = _position_tables(width)
        for p in varying:
            crc ^= tables[p][mat[:, p] ^ first[p]]
    return crc


def crc32c_rows(rows: Ragged) -> np.ndarray:
    """CRC32C of every row; vectorised when padding the rows to equal width wastes little."""
    n = len(rows)
    if rows.width is not None:
        return crc32c_matrix(rows.matrix())
    lengths = rows.lengths
    if n == 0:
        return np.zeros(0, np.uint32)
    width = int(lengths.max())
    if width <= 512 and width * n <= 1.5 * int(lengths.sum()) + n:
        if (lengths == width).all():
            mat = rows.data[rows.offsets[:-1, None] + np.arange(width)]
            return crc32c_matrix(mat)
        # left-pad to a common width, and keep each row's CRC unchanged until its first real byte
        pad = width - lengths
        idx = rows.offsets[:-1, None] - pad[:, None] + np.arange(width)
        mat = rows.data[np.clip(idx, 0, max(len(rows.data) - 1, 0))]
        crc = np.full(n, 0xFFFFFFFF, np.uint32)
        for j in range(width):
            step = _TABLE[(crc ^ mat[:, j]) & 0xFF] ^ (crc >> 8)
            crc = np.where(j >= pad, step, crc)
        return crc ^ np.uint32(0xFFFFFFFF)
    buf = memoryview(rows.data)
    o = rows.offsets.tolist()
    return np.fromiter((crc32c.crc32c(buf[o[i]:o[i + 1]]) for i in range(n)), np.uint32, n)


def mask(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC: rotate right by 15 bits and add a constant."""
    crc = crc.astype(np.uint32)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + _MASK_DELTA


def frame_parts(parts: list[Part], n: int) -> Ragged:
    """Framed records from row parts. When every record has one length the framing is laid out with the
    data in a single matrix and filled in place; otherwise the records are assembled, then framed."""
    lengths = sum(part_lengths(p, n) for p in parts) if parts else np.zeros(n, np.int64)
    fixed = n and all(not isinstance(p, Ragged) or p.width is not None for p in parts)
    if not fixed:
        return frame_records(concat_rows(parts, n))
    width = int(lengths[0])
    mat = concat_rows([bytes(12), *parts, bytes(4)], n).matrix()
    header = np.frombuffer(np.uint64(width).astype("<u8").tobytes(), np.uint8)
    mat[:, :8] = header
    mat[:, 8:12] = np.frombuffer(mask(crc32c_matrix(header[None, :])).astype("<u4").tobytes(), np.uint8)
    mat[:, 12 + width:] = mask(crc32c_matrix(mat[:, 12:12 + width])).astype("<u4").view(np.uint8).reshape(n, 4)
    return Ragged.from_matrix(mat)


def frame_records(records: Ragged) -> Ragged:
    """Wrap every serialized record in TFRecord framing, as one ragged buffer of framed records."""
    n = len(records)
    length = records.lengths.astype("<u8").view(np.uint8).reshape(n, 8)
    length_crc = mask(crc32c_matrix(length)).astype("<u4").view(np.uint8).reshape(n, 4)
    data_crc = mask(crc32c_rows(records)).astype("<u4").view(np.uint8).reshape(n, 4)
    return concat_rows([length, length_crc, records, data_crc], n)


# --- reading ----------------------------------------------------------------------------------------------------
_HEADER = struct.Struct("<QI")
_CHUNK = 1 << 22


def _mask_one(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


@dataclass
class ScanResult:
    """What a walk over one file's framing found: record offsets (in the uncompressed stream) and lengths,
    and the first problem, if any, with the record index and offset where it sits."""

    offsets: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def num_records(self) -> int:
        return len(self.offsets)


def guess_compression(path: str | Path) -> str:
    """``gzip``/``zlib``/``none`` from the name, else from the first bytes."""
    name = str(path).lower()
    if name.endswith((".gz", ".gzip")):
        return "gzip"
    if name.endswith((".zz", ".zlib")):
        return "zlib"
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head == b"\x1f\x8b":
        return "gzip"
    if len(head) == 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    return "none"


def _stream(path: Path, compression: str) -> Iterator[bytes]:
    """Uncompressed bytes of a file, chunk by chunk; raises ValueError on a damaged compressed stream."""
    z = isal_zlib.decompressobj({"gzip": 31, "zlib": 15}[compression]) if compression != "none" else None
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            if z is None:
                yield chunk
                continue
            try:
                yield z.decompress(chunk)
            except isal_zlib.error as e:
                raise ValueError(f"{compression} stream is corrupt ({e})") from None
    if z is not None and not z.eof:
        raise ValueError(f"{compression} stream is truncated")


def scan_file(path: str | Path, compression: str = "none", keep_records: bool = False
              ) -> tuple[ScanResult, list[bytes]]:
    """Walk every record's framing and CRCs; stops at the first problem (recorded in ``error``)."""
    result, records = ScanResult(), []
    buf = bytearray()
    pos = 0  # offset of buf[0] in the uncompressed stream
    try:
        for chunk in _stream(Path(path), compression):
            buf += chunk
            used = _parse(buf, pos, result, records if keep_records else None)
            if result.error:
                return result, records
            del buf[:used]
            pos += used
    except ValueError as e:
        result.error = f"record {result.num_records}, uncompressed offset {pos}: {e}"
        return result, records
    if buf:
        need = _HEADER.size + 4 + (struct.unpack_from("<Q", buf)[0] if len(buf) >= 8 else 0)
        result.error = (f"record {result.num_records} at offset {pos} is truncated: {len(buf)} bytes left, "
                        f"{'a header needs 12' if len(buf) < 12 else f'the record needs {need}'}")
    return result, records


def _parse(buf: bytearray, base: int, result: ScanResult, records: list | None) -> int:
    """Consume whole records from ``buf``; returns the number of bytes used."""
    view = memoryview(buf)
    at = 0
    while len(buf) - at >= _HEADER.size:
        length, length_crc = _HEADER.unpack_from(buf, at)
        offset = base + at
        if _mask_one(crc32c.crc32c(view[at:at + 8])) != length_crc:
            result.error = f"record {result.num_records} at offset {offset}: length CRC mismatch (corrupt header)"
            return at
        end = at + _HEADER.size + length + 4
        if end > len(buf):
            break
        data = view[at + _HEADER.size:end - 4]
        (data_crc,) = struct.unpack_from("<I", buf, end - 4)
        if _mask_one(crc32c.crc32c(data)) != data_crc:
            result.error = f"record {result.num_records} at offset {offset}: data CRC mismatch"
            return at
        result.offsets.append(offset)
        result.lengths.append(length)
        if records is not None:
            records.append(bytes(data))
        at = end
    view.release()
    return at
