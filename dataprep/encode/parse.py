"""The TF-free parser of ``tf.train.Example`` / ``SequenceExample`` wire bytes: the inverse of
:func:`dataprep.encode.example.example_parts` (and its ``_list_payload``), built from the same field numbers in
:mod:`dataprep.encode.wire`; whoever changes one side changes the other.

It reads any Example, not only dataprep's: packed or unpacked lists, fields in any order, unknown fields
skipped as protobuf skips them. Malformed bytes raise :class:`WireError` in time linear in their length.
"""
from __future__ import annotations

import struct
from collections.abc import Iterator

from .wire import (
    ELEMENTS,
    ENTRY,
    FEATURE_LISTS,
    FEATURES,
    FIXED32,
    FIXED64,
    KEY,
    LENGTH,
    LIST_KIND,
    MAX_VARINT,
    U64,
    VALUE,
    VARINT,
)


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message: a varint over 10 bytes or cut short, a length past
    the end of its message, an unknown wire type, packed floats whose length is not a multiple of 4, a key
    that is not UTF-8. The callers, which know the record's file, index and offset, turn it into a
    :class:`~dataprep.errors.DataprepError`."""


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """The varint at ``pos`` (within ``end``) and the position after it; at most 10 bytes are read, so a long
    run of continuation bytes costs nothing, and the value is cut to 64 bits as protobuf does."""
    result = shift = 0
    limit = min(end, pos + MAX_VARINT)
    while pos < limit:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & U64, pos
        shift += 7
    if pos >= end:
        raise WireError("a varint runs past the end of its message")
    raise WireError(f"a varint is longer than {MAX_VARINT} bytes")


def _fields(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value start, value end) of a message; varints yield their value as start.

    Raises :class:`WireError` when a field does not fit within ``end`` or has a wire type Examples never use
    (groups, 3 and 4; or 6 and 7, which do not exist)."""
    pos = start
    while pos < end:
        key = buf[pos]  # one-byte keys and lengths (nearly all of them) skip the varint call
        if key < 0x80:
            pos += 1
        else:
            key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == LENGTH:
            length = buf[pos] if pos < end else 0x80
            if length < 0x80:
                pos += 1
            else:
                length, pos = _varint(buf, pos, end)
            stop = pos + length
            if stop > end:
                raise WireError(f"field {number} claims {length} bytes, {end - pos} are left in its message")
        elif wire == VARINT:
            value, pos = _varint(buf, pos, end)
            yield number, wire, value, pos
            continue
        elif wire == FIXED32 or wire == FIXED64:
            stop = pos + (4 if wire == FIXED32 else 8)
            if stop > end:
                raise WireError(f"fixed-width field {number} runs past the end of its message")
        else:
            raise WireError(f"unsupported wire type {wire} (field {number})")
        yield number, wire, pos, stop
        pos = stop


def parse_example(buf: bytes) -> dict[str, tuple[str, list]]:
    """A serialized ``tf.train.Example`` as ``{key: (kind, values)}`` with kind ``bytes``/``float``/``int64``.

    A ``tf.train.SequenceExample`` parses too: its context like an Example's features, and each feature list
    as the values of all its steps, in order. Malformed bytes raise
    :class:`WireError`, in time linear in the record's length. An entry without a key is named ``""``, the
    default protobuf gives an absent string field."""
    out: dict[str, tuple[str, list]] = {}
    for number, wire, start, end in _fields(buf, 0, len(buf)):
        if number not in (FEATURES, FEATURE_LISTS) or wire != LENGTH:
            continue
        for entry_no, e_wire, e_start, e_end in _fields(buf, start, end):
            if entry_no != ENTRY or e_wire != LENGTH:
                continue
            key, kind = "", "empty"
            values: list = []
            for f_no, f_wire, f_start, f_end in _fields(buf, e_start, e_end):
                if f_wire != LENGTH:
                    continue
                if f_no == KEY:
                    try:
                        key = buf[f_start:f_end].decode("utf-8")
                    except UnicodeDecodeError:
                        raise WireError("a feature name is not UTF-8") from None
                elif f_no == VALUE and number == FEATURES:
                    kind, values = _feature_values(buf, f_start, f_end)
                elif f_no == VALUE:  # a FeatureList: one Feature per step
                    for s_no, s_wire, s_start, s_end in _fields(buf, f_start, f_end):
                        if s_no != ENTRY or s_wire != LENGTH:
                            continue
                        step_kind, step_values = _feature_values(buf, s_start, s_end)
                        kind = step_kind if step_kind != "empty" else kind
                        values += step_values
            out[key] = (kind, values)
    return out


def _feature_values(buf: bytes, start: int, end: int) -> tuple[str, list]:
    """A ``Feature`` message: its list kind and values (fields other than the three lists are skipped, as
    protobuf skips unknown fields)."""
    kind, values = "empty", []
    for k_no, wire, l_start, l_end in _fields(buf, start, end):
        if k_no in LIST_KIND and wire == LENGTH:
            kind = LIST_KIND[k_no]
            values = _list_values(buf, kind, l_start, l_end)
    return kind, values


def _list_values(buf: bytes, kind: str, start: int, end: int) -> list:
    values: list = []
    for number, wire, v_start, v_end in _fields(buf, start, end):
        if number != ELEMENTS:
            continue
        if kind == "bytes" and wire == LENGTH:
            values.append(buf[v_start:v_end])
        elif kind == "float" and wire in (LENGTH, FIXED32):
            if (v_end - v_start) % 4:
                raise WireError(f"packed floats of {v_end - v_start} bytes, not a multiple of 4")
            values.extend(struct.unpack(f"<{(v_end - v_start) // 4}f", buf[v_start:v_end]))
        elif kind == "int64" and wire == VARINT:  # one unpacked int64 (the varint's value is in v_start)
            values.append(v_start - (1 << 64) if v_start >= 1 << 63 else v_start)
        elif kind == "int64" and wire == LENGTH:
            pos = v_start
            while pos < v_end:
                v, pos = _varint(buf, pos, v_end)
                values.append(v - (1 << 64) if v >= 1 << 63 else v)
        else:
            raise WireError(f"a {kind} list holds a value of wire type {wire}")
    return values
