"""Records whose bytes are the same but for their values: the Examples of a schema of fixed-size float and
``raw_uint8`` features, decoded by one comparison against a template.

:func:`dataprep.encode.example.example_parts` writes every key, tag and length of such a schema the same in
every record (float lists are packed, an image is one bytes value of its size), so a record is ``length``
bytes and only its value bytes differ. A block of records is gathered as an ``[n, length]`` byte matrix, its
non-value bytes compared with the template at once, and each feature's values read as columns of the
matrix: a few numpy calls for a whole block, and few enough for one record that ``reader[i]`` pays mostly
Python's call cost. ``SplitReader`` tries this first and otherwise walks tag by tag with
:func:`dataprep.encode.columnar.decode_spans` (whose head bytes per feature are :func:`fixed_head`, the same).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..schema import Feature
from .wire import ELEMENTS, ENTRY, FEATURES, KEY, LIST_FIELD, VALUE, tag, varint


def fixed_head(f: Feature) -> tuple[bytes, int] | None:
    """The bytes before a fixed-size float or image feature's values in its map entry, and the values' width
    in bytes; None for any other feature (its entry's bytes depend on its values)."""
    if f.encoding == "raw_uint8":  # one bytes value holding the whole array
        width = int(np.prod(f.shape))
    elif f.elements_per_record and f.stored_dtype == "float":
        width = 4 * f.elements_per_record
    else:
        return None
    key = f.name.encode("utf-8")
    body = tag(ELEMENTS) + varint(width)  # packed floats; an image's one bytes value (the same bytes)
    listed = tag(LIST_FIELD[f.stored_dtype]) + varint(len(body) + width) + body
    value = tag(VALUE) + varint(len(listed) + width) + listed
    entry = tag(KEY) + varint(len(key)) + key + value
    return tag(ENTRY) + varint(len(entry) + width) + entry, width


@dataclass(frozen=True)
class Template:
    """A schema's one record layout: its length, its bytes (values as zeros), which bytes are values, and each
    feature's value bytes ``(name, start, width, dtype, shape)``."""

    length: int
    raw: np.ndarray
    fixed: np.ndarray  # bool per byte: not a value byte
    columns: tuple[tuple[str, int, int, str, tuple[int, ...]], ...]
    segments: tuple[tuple[int, int, bytes], ...]  # the non-value bytes as (start, end, bytes)

    def decode(self, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray] | None:
        """The records at ``buf[starts[i]:ends[i]]`` as columns, or None when one is not in this layout."""
        n = len(starts)
        if n == 0 or len(buf) < self.length or (ends - starts != self.length).any():
            return None
        block = sliding_window_view(buf, self.length)[starts]  # [n, length], one copy
        if ((block != self.raw) & self.fixed).any():
            return None
        return {name: np.ascontiguousarray(block[:, a:a + w]).view(dtype).reshape(n, *shape)
                for name, a, w, dtype, shape in self.columns}

    def decode_one(self, record: bytes) -> dict[str, object] | None:
        """One record as ``name -> value`` (a numpy scalar for shape ``[]``), or None when not in this layout:
        the same values as row 0 of :meth:`decode`, by bytes comparisons instead of numpy calls."""
        if len(record) != self.length or any(record[a:b] != want for a, b, want in self.segments):
            return None
        buf = bytearray(record)  # writable values, as decode gives
        out: dict[str, object] = {}
        for name, a, w, dtype, shape in self.columns:
            values = np.frombuffer(buf, dtype, w // np.dtype(dtype).itemsize, a)
            out[name] = values.reshape(shape) if shape else values[0]
        return out


def template(features: Sequence[Feature]) -> Template | None:
    """The layout of a schema whose every feature is a fixed-size float or image, else None."""
    parts, columns, at = [], [], 0
    for f in sorted(features, key=lambda g: g.name.encode("utf-8")):
        head = fixed_head(f)
        if head is None:
            return None
        lead, width = head
        parts.append((lead, width))
        columns.append((f.name, at + len(lead), width, "<f4" if f.stored_dtype == "float" else "u1", tuple(f.shape)))
        at += len(lead) + width
    if not parts:
        return None
    prefix = tag(FEATURES) + varint(at)
    length = len(prefix) + at
    raw = np.zeros(length, np.uint8)
    fixed = np.ones(length, bool)
    pos = len(prefix)
    raw[:pos] = np.frombuffer(prefix, np.uint8)
    for lead, width in parts:
        raw[pos:pos + len(lead)] = np.frombuffer(lead, np.uint8)
        fixed[pos + len(lead):pos + len(lead) + width] = False
        pos += len(lead) + width
    shifted = tuple((name, a + len(prefix), w, d, s) for name, a, w, d, s in columns)
    edges = np.flatnonzero(np.diff(np.concatenate([[False], fixed, [False]]).astype(np.int8)))
    segments = tuple((int(a), int(b), raw[a:b].tobytes()) for a, b in zip(edges[::2], edges[1::2]))
    return Template(length, raw, fixed, shifted, segments)
