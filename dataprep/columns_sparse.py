"""Sparse feature columns: each record's (index, value) entries, as ``tf.io.SparseFeature`` reads them.

A sparse feature reads one column of scipy.sparse matrix rows, of lists of (index, value) pairs, or of
"index:value" text (LIBSVM style, "3:0.5 17:1"; an empty or missing field has no entries), or of lists of
values beside a column ``name/indices`` of their indices (TFRecords of Examples holding a sparse feature as
``tf.io.SparseFeature`` reads it, such as dataprep's own). It becomes two
columns sharing their row splits: the values under the feature's name, their int64 indices under
:attr:`~dataprep.schema.Feature.index_key`. Indices are stored as given (a 1-based LIBSVM file needs a size
of its largest index + 1) and sorted within each record, values following, as ``tf.sparse.reorder`` would
order them; an index outside ``[0, size)``, an index named twice in a record (no order of its values would
be the right one) and a malformed entry are flagged like any bad value, for the bad-row policy.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrow_numpy import to_numpy
from .batch import Batch
from .columns import (
    KIND_COLUMNS,
    Column,
    _Checks,
    _decode_utf8,
    _is_list_type,
    _is_text,
    _list_offsets,
    _numpy_to_arrow,
    _scalar_values,
    as_array,
)
from .errors import DataError
from .schema import SPARSE_INDEX_SUFFIX, Feature

_ENTRY_RE = r"^(?P<index>[^:]*):(?P<value>.*)$"  # the parts are parsed (and flagged) as numbers after


def sparse_columns(batch: Batch, f: Feature, checks: _Checks) -> dict[str, Column]:
    """The values and indices columns of sparse feature ``f`` (keys ``f.name`` and ``f.index_key``)."""
    column = f.sources[0]
    col = batch.columns[column]
    if hasattr(col, "tocsr"):  # a scipy.sparse matrix (its rows for this batch): no scipy import needed
        csr = col.tocsr()
        splits = np.asarray(csr.indptr, np.int64) - int(csr.indptr[0])
        raw_index: np.ndarray | pa.Array = np.asarray(csr.indices, np.int64)
        raw_value: np.ndarray | pa.Array = np.asarray(csr.data)
    else:
        arr = col if isinstance(col, (pa.Array, pa.ChunkedArray)) else _numpy_to_arrow(col, f, column, checks)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        indices_column = batch.columns.get(column + SPARSE_INDEX_SUFFIX)
        if indices_column is not None:
            raw_index, raw_value, splits = _listed_entries(batch, arr, indices_column, f, column, checks)
        elif _is_text(arr.type):
            raw_index, raw_value, splits = _text_entries(arr, f, column, checks)
        elif _is_list_type(arr.type):
            raw_index, raw_value, splits = _pair_entries(arr, f, column, checks)
        else:
            raise DataError(f"{batch.where(0, column)}: sparse feature {f.name!r} reads 'index:value' text, "
                            f"lists of (index, value) pairs or a scipy.sparse matrix; the column holds {arr.type}")
    index_feature = Feature(f.index_key, "int64")
    indices = as_array(_scalar_values(raw_index, index_feature, column, checks, splits, fill=False))
    values = _scalar_values(raw_value, Feature(f.name, f.dtype, allow_nan=f.allow_nan), column, checks, splits,
                            fill=False)
    indices, values = _sorted_checked(f, column, checks, indices, as_array(values), splits)
    return {f.name: Column(values, splits), f.index_key: Column(indices, splits)}


def _text_entries(arr: pa.Array, f: Feature, column: str, checks: _Checks
                  ) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """"index:value" entries separated by white space: the index and value texts and the row splits."""
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):  # CSV fields arrive as bytes
        arr = _decode_utf8(arr, f, column, checks, None)
    text = pc.utf8_trim_whitespace(arr)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)  # blank: no entries (not [""])
    words, splits = _flat(pc.utf8_split_whitespace(text))
    parts = pc.extract_regex(words, _ENTRY_RE)
    malformed = to_numpy(parts.is_null())
    checks.flag(malformed, column, "unparseable",
                lambda i: f"cannot read {words[i].as_py()!r} as index:value (sparse feature {f.name!r})", splits)
    return _filled(parts.field("index")), _filled(parts.field("value")), splits


def _filled(part: pa.Array) -> pa.Array:
    """The part of each entry; a malformed entry (flagged already) gets a placeholder 0."""
    return pc.fill_null(part, "0") if part.null_count else part


def _listed_entries(batch: Batch, values: pa.Array, indices, f: Feature, column: str, checks: _Checks
                    ) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """Lists of values and, in column ``name/indices``, lists of their indices (a missing list: no entries)."""
    if isinstance(indices, pa.ChunkedArray):
        indices = indices.combine_chunks()
    if not (_is_list_type(values.type) and _is_list_type(indices.type)):
        raise DataError(f"{batch.where(0, column)}: sparse feature {f.name!r} reads lists of values beside "
                        f"lists of indices, got {values.type} and {indices.type}")
    (vals, splits), (index, index_splits) = _flat(values), _flat(indices)
    differ = np.diff(splits) != np.diff(index_splits)
    checks.flag(differ, column, "wrong_shape",
                lambda i: f"{splits[i + 1] - splits[i]} values and {index_splits[i + 1] - index_splits[i]} indices "
                          f"(sparse feature {f.name!r})")
    if differ.any():  # flagged rows (never written) are left with no entries, the others keep theirs
        vals = vals.filter(pa.array(np.repeat(~differ, np.diff(splits))))
        index = index.filter(pa.array(np.repeat(~differ, np.diff(index_splits))))
        splits = _splits(np.where(differ, 0, np.diff(splits)))
    return index, vals, splits


def _flat(lists: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """A list column's elements and row splits (a missing list is empty)."""
    offsets = _list_offsets(lists)
    counts = np.diff(offsets)
    keep = np.ones(int(offsets[-1] - offsets[0]), bool)
    if lists.null_count:
        nulls = to_numpy(lists.is_null())
        keep = np.repeat(~nulls, counts)
        counts = np.where(nulls, 0, counts)
    elements = lists.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    return (elements.filter(pa.array(keep)) if not keep.all() else elements), _splits(counts)


def _splits(counts: np.ndarray) -> np.ndarray:
    """Row splits (int64, ``len(counts) + 1``) of rows of ``counts`` elements."""
    splits = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=splits[1:])
    return splits


def _pair_entries(arr: pa.Array, f: Feature, column: str, checks: _Checks
                  ) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """Lists of (index, value) pairs (two-element lists, or structs of two fields; a missing list has no
    entries): the indices, the values and the row splits."""
    pairs, splits = _flat(arr)
    if pa.types.is_struct(pairs.type) and pairs.type.num_fields == 2:
        checks.flag(to_numpy(pairs.is_null()), column, "missing",
                    lambda i: f"a missing (index, value) pair (sparse feature {f.name!r})", splits)
        return pairs.field(0), pairs.field(1), splits
    if not _is_list_type(pairs.type):
        raise DataError(f"{checks.batch.where(0, column)}: sparse feature {f.name!r} needs (index, value) pairs, "
                        f"the column's lists hold {pairs.type}")
    starts = _list_offsets(pairs)
    size = np.diff(starts)
    if pairs.null_count:
        size = np.where(to_numpy(pairs.is_null()), 0, size)
    checks.flag(size != 2, column, "wrong_shape",
                lambda i: f"an entry of {size[i]} numbers; sparse feature {f.name!r} takes (index, value) pairs",
                splits)
    child = pairs.values
    if not (size == 2).any():  # no pair to take from (flagged already, or no entries at all)
        zeros = pa.array(np.zeros(len(pairs), np.int64))
        return zeros, zeros, splits
    first = np.where(size == 2, starts[:-1], int(starts[:-1][np.argmax(size == 2)]))
    return pc.take(child, pa.array(first)), pc.take(child, pa.array(first + 1)), splits


def _sorted_checked(f: Feature, column: str, checks: _Checks, indices: np.ndarray, values: np.ndarray,
                    splits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices in ``[0, size)`` (else flagged), sorted within each record with their values, none twice."""
    size = int(f.shape[0])
    checks.flag((indices < 0) | (indices >= size), column, "out_of_range",
                lambda i: f"index {indices[i]} is outside the dense shape [{size}] of sparse feature {f.name!r}",
                splits)
    rows = np.repeat(np.arange(len(splits) - 1), np.diff(splits))
    same_row = rows[1:] == rows[:-1]
    if (np.diff(indices)[same_row] < 0).any():  # as tf.sparse.reorder orders them
        order = np.lexsort((indices, rows))
        indices, values = indices[order], values[order]
    twice = np.zeros(len(indices), bool)
    twice[1:] = same_row & (indices[1:] == indices[:-1])
    checks.flag(twice, column, "duplicate_index",
                lambda i: f"index {indices[i]} appears twice in the record (sparse feature {f.name!r})", splits)
    return indices, values


KIND_COLUMNS["sparse"] = sparse_columns
