"""A lockstep numpy decoder of the Examples dataprep writes: all records of a block at once, every dtype.

:func:`dataprep.encode.example.example_parts` writes every feature of every record, keys in byte order, each
list packed (floats, int64 varints) or as repeated bytes values. So the records of a block can be walked
together: one vector of positions, one record per element, each step a tag or a varint read for all of them
with numpy. Every tag, key and length is checked as it is read; a block where any record differs from that
layout (a foreign writer's key order, unpacked int64s, a missing feature, a malformed record) gets ``None``,
and its caller decodes it with the per-record parser (:mod:`dataprep.encode.parse`), whose values and errors
are the reference. Float bits are taken as they are stored (signalling NaNs stay signalling).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..schema import STORED_TYPES, Feature
from .fixed import fixed_head
from .wire import ELEMENTS, ENTRY, FEATURES, KEY, LIST_FIELD, MAX_VARINT, VALUE, tag


class _Foreign(Exception):
    """Internal: the block is not in dataprep's layout (caught inside this module only)."""


def decode_block(features: Sequence[Feature], raws: Sequence[bytes]) -> dict[str, object] | None:
    """The Examples ``raws`` as numpy columns per feature (fixed shapes ``[n, *shape]``; variable ones as
    ``(values, row_splits)``), or None when a record is not in the layout dataprep writes."""
    lengths = np.fromiter((len(r) for r in raws), np.int64, len(raws))
    ends = np.cumsum(lengths)
    return decode_spans(features, b"".join(raws), ends - lengths, ends)


def decode_spans(features: Sequence[Feature], data: bytes, starts: np.ndarray, ends: np.ndarray
                 ) -> dict[str, object] | None:
    """:func:`decode_block` of the records at ``data[starts[i]:ends[i]]`` (a shard's stream and its index,
    framing left out), with no copy of the records."""
    if len(starts) == 0:
        return None
    try:
        return _walk(features, data, np.asarray(starts, np.int64), np.asarray(ends, np.int64))
    except _Foreign:
        return None


def _walk(features: Sequence[Feature], data: bytes, pos: np.ndarray, ends: np.ndarray) -> dict[str, object]:
    buf = np.frombuffer(data, np.uint8)
    pos = _expect(buf, pos, ends, tag(FEATURES))
    length, pos = _varints(buf, pos, ends)
    _same(pos + length, ends)
    out: dict[str, object] = {}
    for f in sorted(features, key=lambda g: g.name.encode("utf-8")):
        fixed = _fixed_column(f, buf, pos, ends)
        if fixed is not None:
            out[f.name], pos = fixed
            continue
        pos = _expect(buf, pos, ends, tag(ENTRY))
        length, pos = _varints(buf, pos, ends)
        entry_end = pos + length
        if (entry_end > ends).any():
            raise _Foreign
        key = f.name.encode("utf-8")
        pos = _expect(buf, pos, entry_end, tag(KEY))
        klen, pos = _varints(buf, pos, entry_end)
        _same(klen, np.full_like(klen, len(key)))
        _expect(buf, pos, entry_end, key)
        pos = _expect(buf, pos + len(key), entry_end, tag(VALUE))
        length, pos = _varints(buf, pos, entry_end)
        _same(pos + length, entry_end)
        pos = _expect(buf, pos, entry_end, tag(LIST_FIELD[f.stored_dtype]))
        length, pos = _varints(buf, pos, entry_end)
        _same(pos + length, entry_end)
        out[f.name] = _column(f, data, buf, pos, entry_end)
        pos = entry_end
    return out


def _fixed_column(f: Feature, buf: np.ndarray, pos: np.ndarray, ends: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """A fixed-size float or image feature whose map entry, up to its values, is the same bytes in every record
    (:func:`dataprep.encode.fixed.fixed_head`): its values and the positions after the entry, read with one
    comparison instead of a step per tag; None when any record has other bytes there."""
    fixed = fixed_head(f)
    if fixed is None:
        return None
    head, width = fixed
    after = pos + len(head) + width
    if (after > ends).any():
        return None
    at = pos[:, None] + np.arange(len(head) + width)
    block = buf[at]
    if (block[:, :len(head)] != np.frombuffer(head, np.uint8)).any():
        return None
    values = np.ascontiguousarray(block[:, len(head):])
    return (values.view("<f4") if f.stored_dtype == "float" else values).reshape(len(pos), *f.shape), after


def _same(a: np.ndarray, b: np.ndarray) -> None:
    if not np.array_equal(a, b):
        raise _Foreign


def _expect(buf: np.ndarray, pos: np.ndarray, end: np.ndarray, want: bytes) -> np.ndarray:
    """Check that ``want`` is at ``pos`` of every record (within ``end``); the positions after it."""
    k = len(want)
    if k == 0:
        return pos
    if (pos + k > end).any():
        raise _Foreign
    if k == 1:
        if (buf[pos] != want[0]).any():
            raise _Foreign
        return pos + 1
    if (buf[pos[:, None] + np.arange(k)] != np.frombuffer(want, np.uint8)).any():
        raise _Foreign
    return pos + k


def _varints(buf: np.ndarray, pos: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The varint at each position (as int64 lengths below 2**56) and the positions after them."""
    if (pos >= end).any():
        raise _Foreign
    first = buf[pos]
    if (first < 0x80).all():  # nearly every length
        return first.astype(np.int64), pos + 1
    value = np.zeros(len(pos), np.int64)
    done = np.zeros(len(pos), bool)
    size = np.zeros(len(pos), np.int64)
    for k in range(MAX_VARINT):
        at = pos + k
        live = ~done
        if ((at >= end) & live).any():
            raise _Foreign
        b = buf[np.where(live, at, 0)].astype(np.int64)
        value |= np.where(live, (b & 0x7F) << (7 * k), 0)
        size += live
        done |= b < 0x80
        if done.all():
            if k >= 8:  # a length of 2**56 or more is never a record's (and sums of them could wrap)
                raise _Foreign
            return value, pos + size
    raise _Foreign


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions of the ranges ``[start, start + length)``, concatenated."""
    total = int(lengths.sum())
    offs = np.cumsum(lengths) - lengths
    return np.repeat(starts - offs, lengths) + np.arange(total)


def _column(f: Feature, data: bytes, buf: np.ndarray, pos: np.ndarray, end: np.ndarray) -> object:
    """One feature's list (``pos`` to ``end`` of each record: the list message's body) as a column."""
    n = len(pos)
    if f.stored_dtype == "bytes":
        vstart, vlen, counts = _bytes_values(buf, pos, end)
        if f.encoding == "raw_uint8":
            size = int(np.prod(f.shape))
            if (counts != 1).any() or (vlen != size).any():
                raise _Foreign
            return buf[ranges(vstart, vlen)].reshape(n, *f.shape)
        values = np.empty(len(vstart), object)
        values[:] = [data[s:s + k] for s, k in zip(vstart.tolist(), vlen.tolist())]
        if f.encoding == "encoded_image":
            if (counts != 1).any():
                raise _Foreign
            return values
        return _shape(f, values, counts)
    full = np.flatnonzero(pos < end)  # an empty list has no packed field
    start, length = pos.copy(), np.zeros(n, np.int64)
    if len(full):
        at = _expect(buf, pos[full], end[full], tag(ELEMENTS))
        length[full], start[full] = _varints(buf, at, end[full])
    _same(start + length, end)
    payload = buf[ranges(start, length)]
    if f.stored_dtype == "float":
        if (length % 4).any():
            raise _Foreign
        return _shape(f, payload.view("<f4"), length // 4)
    last = payload < 0x80  # each varint ends at a byte below 0x80, and every packed list ends with one
    ends_at = np.cumsum(length)
    if len(payload) and not last[ends_at[length > 0] - 1].all():
        raise _Foreign
    term = np.flatnonzero(last)
    first = np.concatenate([[0], term[:-1] + 1]) if len(term) else term
    if len(term) and (term - first >= MAX_VARINT).any():
        raise _Foreign
    shift = (np.arange(len(payload)) - np.repeat(first, term - first + 1)).astype(np.uint64) * np.uint64(7)
    parts = (payload & 0x7F).astype(np.uint64) << shift
    ints = np.bitwise_or.reduceat(parts, first) if len(term) else np.zeros(0, np.uint64)
    counts = np.diff(np.concatenate([[0], np.searchsorted(term, ends_at - 1, side="right")]))
    values = ints.view(np.int64)
    return _shape(f, values.view(np.float64) if f.encoding == "float64_bits" else values, counts)


def _bytes_values(buf: np.ndarray, pos: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The repeated bytes values of each record's BytesList: their starts and lengths (record by record, in
    order) and the count per record, stepping all records one value at a time."""
    starts, lens, rows = [], [], []
    counts = np.zeros(len(pos), np.int64)
    live = np.flatnonzero(pos < end)
    pos = pos.copy()
    while len(live):
        p = _expect(buf, pos[live], end[live], tag(ELEMENTS))
        length, p = _varints(buf, p, end[live])
        if (p + length > end[live]).any():
            raise _Foreign
        starts.append(p)
        lens.append(length)
        rows.append(live)
        counts[live] += 1
        pos[live] = p + length
        live = live[pos[live] < end[live]]
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), counts
    row, start, length = np.concatenate(rows), np.concatenate(starts), np.concatenate(lens)
    order = np.argsort(row, kind="stable")
    return start[order], length[order], counts


def _shape(f: Feature, values: np.ndarray, counts: np.ndarray) -> object:
    """Flat values of a block as the schema's shape: ``[n, *shape]`` or ``(values, row_splits)``."""
    n = len(counts)
    dtype = STORED_TYPES[f.stored_dtype].numpy
    if dtype is not None and f.encoding != "float64_bits":
        values = values.astype(dtype, copy=False)
    if f.is_fixed:
        if (counts != f.elements_per_record).any():
            raise _Foreign
        return values.reshape(n, *f.shape)
    if (counts % f.inner_size).any():
        raise _Foreign
    splits = np.zeros(n + 1, np.int64)
    np.cumsum(counts // f.inner_size, out=splits[1:])
    return values.reshape(-1, *f.shape[1:]), splits
