"""A vectorised ``tf.train.Example`` serializer: whole column batches to protobuf wire bytes with numpy.

The layout follows ``example.proto`` / ``feature.proto``, whose field numbers :mod:`dataprep.encode.wire` holds
for this encoder and its mirror, the parser in :mod:`dataprep.encode.parse`.

A float64 feature has no list of its own: its values' IEEE-754 bit patterns are an Int64List (encoding
``float64_bits``), so they come back bit for bit (-0.0 and NaN payloads included) through ``tf.bitcast``.

Features are written in byte order of their keys, as protobuf's deterministic serialization does, so the
same input always gives the same bytes. Every length prefix is computed for all records at once, then one
:func:`concat_rows` lays the records out.
"""
from __future__ import annotations

import numpy as np

from ..columns import Column
from ..ragged import Part, Ragged, concat_rows, part_lengths
from ..schema import Feature, Schema
from .wire import ELEMENTS, ENTRY, FEATURE_LISTS, FEATURES, KEY, LIST_TAG, VALUE, tag, varint, varint_matrix

_ELEMENTS, _ENTRY, _KEY, _VALUE = tag(ELEMENTS), tag(ENTRY), tag(KEY), tag(VALUE)


def _prefix(tag: bytes, lengths: np.ndarray, omit_empty: bool = False) -> Part:
    """``tag`` + varint(length) per row; with ``omit_empty`` rows of length 0 get nothing (packed lists)."""
    if len(lengths) and lengths.min() == lengths.max():  # one layout for every row: constant bytes
        length = int(lengths[0])
        return b"" if omit_empty and length == 0 else tag + varint(length)
    mat, nbytes = varint_matrix(lengths)
    row_len = nbytes + len(tag)
    full = np.hstack([np.broadcast_to(np.frombuffer(tag, np.uint8), (len(lengths), len(tag))), mat])
    if omit_empty:
        row_len = np.where(lengths == 0, 0, row_len)
    if len(row_len) and (row_len == row_len[0]).all():
        return full[:, :int(row_len[0])]
    offsets = np.zeros(len(row_len) + 1, np.int64)
    np.cumsum(row_len, out=offsets[1:])
    return Ragged(full[np.arange(full.shape[1])[None, :] < row_len[:, None]], offsets)


def _list_payload(col: Column, f: Feature, n: int, fixed_count: int | None) -> list[Part]:
    """The body of a Float/Int64/BytesList message for every record."""
    splits = col.row_splits
    stored = f.stored_dtype
    if stored == "float":
        vals = np.ascontiguousarray(col.values, dtype="<f4")
        if fixed_count is not None:
            body: Part = vals.view(np.uint8).reshape(n, 4 * fixed_count)
        else:
            body = Ragged(vals.view(np.uint8), splits * 4)
        return [_prefix(_ELEMENTS, part_lengths(body, n), omit_empty=True), body]
    if stored == "int64":
        ints = np.ascontiguousarray(col.values, dtype="<f8" if f.encoding == "float64_bits" else np.int64)
        mat, nbytes = varint_matrix(ints.view(np.uint64))
        if fixed_count is not None and len(nbytes) and (nbytes == nbytes[0]).all():
            body = mat[:, :int(nbytes[0])].reshape(n, -1)
        else:
            offs = np.zeros(len(nbytes) + 1, np.int64)
            np.cumsum(nbytes, out=offs[1:])
            keep = np.arange(mat.shape[1])[None, :] < nbytes[:, None]
            body = Ragged(mat[keep], offs).regroup(splits)
        return [_prefix(_ELEMENTS, part_lengths(body, n), omit_empty=True), body]
    elems = col.byte_values
    m = len(elems)
    if m == n and np.array_equal(splits, np.arange(n + 1)):  # one value per record: no regrouping needed
        return [_prefix(_ELEMENTS, elems.lengths), elems]
    elem = concat_rows([_prefix(_ELEMENTS, elems.lengths), elems], m)
    return [elem.regroup(splits)]


def encode_examples(schema: Schema, columns: dict[str, Column], n: int) -> Ragged:
    """Serialize ``n`` records, one ``tf.train.Example`` (or ``SequenceExample``) each, from per-feature
    columns."""
    return concat_rows(example_parts(schema, columns, n), n)


def example_parts(schema: Schema, columns: dict[str, Column], n: int) -> list[Part]:
    """The serialized records as row parts not yet laid out, so framing can be added in the same pass.

    An ``Example`` is field 1 (its ``Features``); a ``SequenceExample`` has the same field 1 (its context)
    and its ``FeatureLists`` as field 2. A sparse feature is its values and indices lists
    (:meth:`~dataprep.schema.Schema.stored_features`)."""
    parts, length = _features_message(schema.stored_features(schema.context), columns, n)
    out = [_prefix(tag(FEATURES), length), *parts]
    if schema.feature_lists:
        lists, lists_length = _map_message(
            [(f, _feature_list(f, columns[f.name], n)) for f in schema.feature_lists], n)
        out += [_prefix(tag(FEATURE_LISTS), lists_length), *lists]
    return out


def _features_message(features: list[Feature], columns: dict[str, Column], n: int
                      ) -> tuple[list[Part], np.ndarray]:
    """A ``Features`` message per record (one ``Feature`` per feature): its parts and lengths."""
    values = []
    for f in features:
        body = _list_payload(columns[f.name], f, n, f.elements_per_record)
        values.append((f, _feature(f, body, n)))
    return _map_message(values, n)


def _feature(f: Feature, body: list[Part], n: int) -> tuple[list[Part], np.ndarray]:
    """A ``Feature`` message (its one list) per row, from the list's body."""
    list_len = np.zeros(n, np.int64)
    for p in body:
        list_len += part_lengths(p, n)
    head = _prefix(LIST_TAG[f.stored_dtype], list_len)
    return [head, *body], part_lengths(head, n) + list_len


def _feature_list(f: Feature, col: Column, n: int) -> tuple[list[Part], np.ndarray]:
    """A ``FeatureList`` per record: one ``Feature`` of ``inner_size`` values per step."""
    k = f.inner_size
    step_splits = col.row_splits // k
    m = int(step_splits[-1])
    if m == 0:
        return [], np.zeros(n, np.int64)
    steps = Column(col.values, np.arange(m + 1, dtype=np.int64) * k)
    feature, feature_len = _feature(f, _list_payload(steps, f, m, k), m)
    per_step = concat_rows([_prefix(_ENTRY, feature_len), *feature], m)
    body = per_step.regroup(step_splits - step_splits[0])
    return [body], body.lengths


def _map_message(values: list[tuple[Feature, tuple[list[Part], np.ndarray]]], n: int
                 ) -> tuple[list[Part], np.ndarray]:
    """A protobuf map keyed by feature name (entries in byte order of the keys, as deterministic
    serialization writes them): ``{string key = 1; <message> value = 2}`` per entry."""
    parts: list[Part] = []
    entry_lengths = []
    for f, (value, value_len) in sorted(values, key=lambda item: item[0].name):
        key = f.name.encode("utf-8")
        key_part = _KEY + varint(len(key)) + key
        value_head = _prefix(_VALUE, value_len)
        entry_len = len(key_part) + part_lengths(value_head, n) + value_len
        entry_head = _prefix(_ENTRY, entry_len)
        entry_lengths.append(part_lengths(entry_head, n) + entry_len)
        parts += [entry_head, key_part, value_head, *value]
    return parts, (np.sum(entry_lengths, axis=0) if entry_lengths else np.zeros(n, np.int64))

