"""TFRecord framing: ``u64 length | masked crc32c(length) | data | masked crc32c(data)`` for each record.

Writing: CRC32C is computed for all records of a batch at once. Records of one layout (every constant byte
the same, values in fixed-width slots) are filled from a template whose CRC only needs the slot bytes'
contributions (:class:`_Template`); records of similar length go through a vectorised table-driven CRC
(one numpy step per byte column over every record), others through the ``crc32c`` library, which uses the
CPU's CRC instruction. Reading back (:func:`iter_records`,
:func:`scan_file`) walks the framing of a plain, GZIP or ZLIB file in a stream and checks every CRC, with no
TensorFlow and bounded memory whatever the file claims: decompression yields at most ``_CHUNK`` bytes at a
time, and a record longer than :data:`MAX_RECORD_BYTES` is refused before it is buffered.
:func:`check_framing` is the cheap walk over the length headers that makes a file safe to hand to
TensorFlow's reader (which trusts the lengths it reads).
"""
from __future__ import annotations

import functools
import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import crc32c
import numpy as np

from .compressions import COMPRESSIONS, SNIFF_BYTES, guess_compression
from .errors import DataError
from .limits import MAX_RECORD_BYTES
from .ragged import Part, Ragged, concat_rows

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
    buf = rows.data.data  # ndarray.data: the array's memoryview
    o = rows.offsets.tolist()
    return np.fromiter((crc32c.crc32c(buf[o[i]:o[i + 1]]) for i in range(n)), np.uint32, n)


def mask(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC: rotate right by 15 bits and add a constant."""
    crc = crc.astype(np.uint32)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + _MASK_DELTA


def frame_parts(parts: list[Part], n: int) -> Ragged:
    """Framed records from row parts. When every record has one layout (constant bytes and fixed-width value
    slots) the records are filled from that layout's template (:class:`_Template`); otherwise the records
    are assembled, then framed."""
    if not n or any(isinstance(p, Ragged) and p.width is None for p in parts):
        return frame_records(concat_rows(parts, n))
    pieces = [p if isinstance(p, bytes) else p.matrix() if isinstance(p, Ragged) else
              p.tobytes() if p.shape[0] == 1 < n else p for p in parts]
    template = _template(tuple(p if isinstance(p, bytes) else p.shape[1] for p in pieces))
    return Ragged.from_matrix(template.fill([p for p in pieces if not isinstance(p, bytes)], n))


_WORDS: dict[int, np.dtype] = {1: np.dtype(np.uint8), 2: np.dtype("<u2"), 4: np.dtype("<u4"), 8: np.dtype("<u8")}


def _words(width: int) -> np.dtype:
    """The dtype that copies ``width`` bytes as one element (a machine word where one fits)."""
    return _WORDS[width] if width in _WORDS else np.dtype((np.void, width))


def _slot(out: np.ndarray, offset: int, width: int) -> np.ndarray:
    """Bytes ``offset:offset + width`` of every row of the [n, w] matrix ``out``, one element per row."""
    return np.ndarray((out.shape[0],), _words(width), out, offset, (out.shape[1],))


def _as_words(mat: np.ndarray) -> np.ndarray:
    """A [n, w] uint8 matrix as n elements of :func:`_words` (w)."""
    if mat.strides[1] != 1:
        mat = np.ascontiguousarray(mat)
    return mat.view(_words(mat.shape[1]))[:, 0]


class _Template:
    """The framed record of one layout: constant bytes (the Example's tags, keys and lengths, the length
    header and its CRC) filled once, and value slots that differ per record.

    The data CRC is the template's CRC XOR the contributions of the slot bytes (CRC32C is linear over GF(2)
    once its init and final XOR are fixed by the constant length), looked up two bytes at a time in 16-bit
    tables; records with more than ``_MAX_TABLE_COLUMNS`` slot bytes (pixels) take the CPU's CRC instruction
    per record instead."""

    def __init__(self, signature: tuple[bytes | int, ...]):
        size = sum(p if isinstance(p, int) else len(p) for p in signature)
        row = np.zeros(12 + size + 4, np.uint8)
        header = np.frombuffer(struct.pack("<Q", size), np.uint8)
        row[:8] = header
        row[8:12] = np.frombuffer(struct.pack("<I", _mask_one(crc32c.crc32c(header.tobytes()))), np.uint8)
        self.slots: list[tuple[int, int]] = []  # (offset in the framed record, width)
        at = 12
        for p in signature:
            if isinstance(p, int):
                self.slots.append((at, p))
                at += p
            else:
                row[at:at + len(p)] = np.frombuffer(p, np.uint8)
                at += len(p)
        self.row, self.size = row, size
        self.crc = crc32c.crc32c(row[12:12 + size].tobytes())
        varying = sum(w for _, w in self.slots)
        self.tables = None if varying > _MAX_TABLE_COLUMNS else [self._tables(at - 12, w) for at, w in self.slots]

    def _tables(self, start: int, width: int) -> tuple[list[np.ndarray], np.ndarray | None]:
        """16-bit tables for the byte pairs of a slot at data offset ``start`` (little-endian pairs), and an
        8-bit one for an odd last byte."""
        one = _position_tables(self.size)
        pairs = [(one[start + k][None, :] ^ one[start + k + 1][:, None]).reshape(-1)
                 for k in range(0, width - 1, 2)]
        return pairs, one[start + width - 1] if width % 2 else None

    def fill(self, values: list[np.ndarray], n: int) -> np.ndarray:
        """The [n, w] framed records with ``values`` (one [n, width] uint8 matrix per slot) in their slots."""
        out = np.empty((n, len(self.row)), np.uint8)
        out[:] = self.row
        for (at, width), mat in zip(self.slots, values):
            _slot(out, at, width)[:] = _as_words(mat)
        if self.tables is None:
            data = out[:, 12:12 + self.size]
            crc = np.fromiter((crc32c.crc32c(row) for row in data), np.uint32, n)
        else:
            crc = np.full(n, self.crc, np.uint32)
            for mat, (pairs, last) in zip(values, self.tables):
                width = mat.shape[1]
                if pairs:
                    words = np.ascontiguousarray(mat[:, :width - width % 2]).view("<u2")
                    for k, table in enumerate(pairs):
                        crc ^= table[words[:, k]]
                if last is not None:
                    crc ^= last[mat[:, width - 1]]
        _slot(out, 12 + self.size, 4)[:] = mask(crc)
        return out


@functools.lru_cache(maxsize=64)
def _template(signature: tuple[bytes | int, ...]) -> _Template:
    """The template of one layout (bytes: constant parts, ints: widths of value slots), built once."""
    return _Template(signature)


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


class FramingError(DataError):
    """A TFRecord file whose framing or compressed stream is damaged: the message names the file, and the
    record index and offset (in the uncompressed stream) where the damage starts; ``problem`` is the message
    without the file."""

    def __init__(self, path: str | Path, problem: str, record: int | None = None, offset: int | None = None):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem, self.record, self.offset = str(path), problem, record, offset


class _StreamError(ValueError):
    """A damaged compressed stream, before the record walk adds where it stands."""


class Record(NamedTuple):
    """One record read back: its number in the file (from 0), its framing's offset in the uncompressed stream,
    its data. (A field ``index`` would hide the tuple's ``index()`` method.)"""

    number: int
    offset: int
    data: bytes


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


def decompressed_chunks(path: str | Path, compression: str) -> Iterator[bytes]:
    """A file's uncompressed bytes, at most ``_CHUNK`` at a time however well the input compresses.

    GZIP may hold several members one after another (``cat a.gz b.gz``): all are read, as ``gzip -d`` does.
    Bytes after the end of the (last) stream that start no member, a stream that ends early, and damaged
    deflate data raise ``ValueError`` naming the compressed offset."""
    codec = COMPRESSIONS[compression]
    with open(path, "rb") as fh:
        if not codec.compressed:
            yield from iter(lambda: fh.read(_CHUNK), b"")
            return
        z = codec.decompressor()
        member = fed = 0  # file offset of the current member; file bytes read so far
        data = b""
        while True:
            if z.eof:
                data = z.unused_data
                end = fed - len(data)  # where the member just finished ends in the file
                while len(data) < SNIFF_BYTES:
                    more = fh.read(_CHUNK)
                    if not more:
                        break
                    fed += len(more)
                    data += more
                if not data:
                    return
                if not codec.members or not codec.sniff(data[:SNIFF_BYTES]):
                    raise _StreamError(f"{os.fstat(fh.fileno()).st_size - end} bytes after the end of the "
                                       f"{compression} stream at compressed offset {end}")
                z, member = codec.decompressor(), end
            if not data:
                data = fh.read(_CHUNK)
                fed += len(data)
                if not data:
                    try:
                        tail = z.flush()
                    except codec.error as e:
                        raise _StreamError(f"{compression} stream is corrupt ({e})") from None
                    if tail:
                        yield tail
                    if not z.eof:
                        raise _StreamError(f"{compression} stream is truncated (the member at compressed offset "
                                           f"{member} ends at {fed} before its end marker)")
                    continue
            try:
                out = z.decompress(data, _CHUNK)
            except codec.error as e:
                raise _StreamError(f"{compression} stream is corrupt ({e}) in the member at compressed offset "
                                   f"{member}") from None
            data = z.unconsumed_tail
            if out:
                yield out


def iter_records(path: str | Path, compression: str = "none", max_record_bytes: int = MAX_RECORD_BYTES
                 ) -> Iterator[Record]:
    """Every record of a plain, GZIP or ZLIB TFRecord file, streamed, with both CRCs checked.

    Memory stays within one decompressed chunk plus one record. Raises :class:`FramingError` at the first
    damage: a header whose CRC fails, a length over ``max_record_bytes`` or past the end of a plain file, a
    data CRC mismatch, a truncated record or a damaged compressed stream."""
    path = Path(path)
    size = path.stat().st_size if compression == "none" else None
    buf = bytearray()
    pos = index = 0  # offset of buf[0] in the uncompressed stream; index of the next record
    try:
        for chunk in decompressed_chunks(path, compression):
            buf += chunk
            records, used, problem = _parse(buf, pos, index, max_record_bytes, size)
            yield from records
            index += len(records)
            if problem:
                raise FramingError(path, f"record {index} at offset {pos + used}: {problem}", index, pos + used)
            del buf[:used]
            pos += used
    except _StreamError as e:
        raise FramingError(path, f"record {index}, uncompressed offset {pos}: {e}", index, pos) from None
    if buf:
        need = _HEADER.size + 4 + (struct.unpack_from("<Q", buf)[0] if len(buf) >= 8 else 0)
        raise FramingError(path, f"record {index} at offset {pos} is truncated: {len(buf)} bytes left, "
                                 f"{'a header needs 12' if len(buf) < 12 else f'the record needs {need}'}",
                           index, pos)


def _parse(buf: bytearray, base: int, index: int, limit: int, size: int | None
           ) -> tuple[list[Record], int, str | None]:
    """The whole records at the start of ``buf``, the bytes they use, and the problem that stopped the walk."""
    view = memoryview(buf)
    records: list[Record] = []
    at, problem = 0, None
    end_of_file = size if size is not None else 1 << 64
    try:
        while len(buf) - at >= _HEADER.size:
            length, length_crc = _HEADER.unpack_from(buf, at)
            if _mask_one(crc32c.crc32c(view[at:at + 8])) != length_crc:
                problem = "length CRC mismatch (corrupt header)"
                break
            end = at + _HEADER.size + length + 4
            if length > limit or base + end > end_of_file:
                problem = _length_problem(length, base + at, limit, size)
                break
            if end > len(buf):
                break
            data = view[at + _HEADER.size:end - 4]
            if _mask_one(crc32c.crc32c(data)) != struct.unpack_from("<I", buf, end - 4)[0]:
                problem = "data CRC mismatch"
                break
            records.append(_new_record((index + len(records), base + at, bytes(data))))
            at = end
    finally:
        view.release()
    return records, at, problem


_new_record = functools.partial(tuple.__new__, Record)  # a Record without NamedTuple's slower constructor


def _length_problem(length: int, offset: int, limit: int, size: int | None) -> str | None:
    if length > limit:
        return f"the header claims {length} bytes, over the {limit}-byte limit per record (damaged or hostile)"
    if size is not None and offset + _HEADER.size + length + 4 > size:
        return f"truncated: the header claims {length} bytes, the file ends {size - offset - 12} bytes after it"
    return None


def check_framing(path: str | Path, compression: str | None = None, max_record_bytes: int = MAX_RECORD_BYTES
                  ) -> int:
    """The number of records, after checking every length header: its CRC, the per-record limit, and (plain
    files) that the record ends within the file. Call it before handing a file to TensorFlow's reader,
    which allocates whatever a header claims (a 2^40-byte length crashes the process).

    Plain files are walked from header to header through a memory map, touching 12 bytes per record; compressed ones
    are decompressed in bounded chunks (data CRCs are left to the reader). Raises :class:`FramingError`."""
    path = Path(path)
    compression = compression or guess_compression(path)
    if compression != "none":
        return sum(1 for _ in _headers(path, compression, max_record_bytes))
    size = path.stat().st_size
    if size == 0:
        return 0
    count = offset = 0
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        while offset < size:
            if size - offset < _HEADER.size:
                raise FramingError(path, f"record {count} at offset {offset} is truncated: {size - offset} bytes "
                                         "left, a header needs 12", count, offset)
            length, length_crc = _HEADER.unpack_from(mm, offset)
            problem = "length CRC mismatch (corrupt header)" \
                if _mask_one(crc32c.crc32c(mm[offset:offset + 8])) != length_crc \
                else _length_problem(length, offset, max_record_bytes, size)
            if problem:
                raise FramingError(path, f"record {count} at offset {offset}: {problem}", count, offset)
            offset += _HEADER.size + length + 4
            count += 1
    return count


def _headers(path: Path, compression: str, limit: int) -> Iterator[int]:
    """Offsets of the records of a compressed file, checking their length headers only."""
    head = bytearray()
    skip = 0  # data and CRC bytes of the current record still to pass
    start = pos = index = 0  # offset of the current record, of the next header; index of the next record
    try:
        for chunk in decompressed_chunks(path, compression):
            view = memoryview(chunk)
            while len(view):
                if skip:
                    step = min(skip, len(view))
                    skip -= step
                    view = view[step:]
                    continue
                need = _HEADER.size - len(head)
                head += view[:need]
                view = view[need:]
                if len(head) < _HEADER.size:
                    break
                length, length_crc = _HEADER.unpack(head)
                problem = "length CRC mismatch (corrupt header)" \
                    if _mask_one(crc32c.crc32c(bytes(head[:8]))) != length_crc \
                    else _length_problem(length, pos, limit, None)
                if problem:
                    raise FramingError(path, f"record {index} at offset {pos}: {problem}", index, pos)
                yield pos
                head.clear()
                skip, start = length + 4, pos
                pos += _HEADER.size + length + 4
                index += 1
    except _StreamError as e:
        raise FramingError(path, f"record {index}, uncompressed offset {pos}: {e}", index, pos) from None
    if head or skip:
        record, offset = (index, pos) if head else (index - 1, start)
        raise FramingError(path, f"record {record} at offset {offset} is truncated", record, offset)


def scan_file(path: str | Path, compression: str = "none", keep_records: bool = False
              ) -> tuple[ScanResult, list[bytes]]:
    """Walk every record's framing and CRCs; stops at the first problem (recorded in ``error``).

    With ``keep_records`` every record is held in memory: callers that may meet large or hostile files
    should walk :func:`iter_records` instead."""
    result, records = ScanResult(), []
    try:
        for rec in iter_records(path, compression):
            result.offsets.append(rec.offset)
            result.lengths.append(len(rec.data))
            if keep_records:
                records.append(rec.data)
    except FramingError as e:
        result.error = e.problem
    return result, records
