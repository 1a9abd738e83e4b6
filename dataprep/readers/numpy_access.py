"""Whole splits as numpy arrays or a pandas DataFrame, for small data and notebooks.

Shards are read through :func:`dataprep.shardread.read_shard`, as the TF-free readers read them: through
the folder the manifest came from, checked against the manifest's SHA-256 and size (hashed in memory as the
shard is read whole), with the record index checked against the counts and the file, before any record of
it is decoded.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..manifest import Manifest, load_manifest
from ..shardread import read_shard
from .decode import batch_decoder


def iter_numpy_batches(manifest: Manifest, split: str, batch_size: int = 65536,
                       images: str = "uint8") -> Iterator[dict]:
    """Batches of ``split`` in file order as dicts of numpy arrays (ragged features as lists of arrays, sparse
    ones as lists of (indices, values));
    a batch may span shards, each checked before its records are used."""
    decode = tf.function(batch_decoder(manifest, images), input_signature=[tf.TensorSpec([None], tf.string)])
    for records in _record_batches(manifest, split, batch_size):
        batch = decode(records)
        yield {name: [np.asarray(v) for v in value.to_list()] if isinstance(value, tf.RaggedTensor)
               else _sparse_rows(value) if isinstance(value, tf.SparseTensor)
               else value.numpy() for name, value in batch.items()}


def _sparse_rows(value: tf.SparseTensor) -> list[tuple[np.ndarray, np.ndarray]]:
    """A batch of a sparse feature as each record's (indices, values), as ``SplitReader[i]`` gives them."""
    index, values = value.indices.numpy(), value.values.numpy()
    bounds = np.searchsorted(index[:, 0], np.arange(int(value.dense_shape[0]) + 1))
    return [(index[a:b, 1], values[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def _record_batches(manifest: Manifest, split: str, batch_size: int) -> Iterator[tf.Tensor]:
    """String vectors of ``batch_size`` records (the last may be short), cut from each checked shard."""
    lead, framing = manifest.shard_format.lead, manifest.shard_format.framing
    carry = None  # records of the shards before, short of a batch
    for entry in manifest.entries(split):
        data, offsets = read_shard(manifest, entry)
        contents = tf.constant(data)
        starts, lengths = offsets[:-1] + lead, np.diff(offsets) - framing
        first = 0
        if carry is not None:
            first = batch_size - int(carry.shape[0])
            carry = tf.concat([carry, tf.strings.substr(contents, starts[:first], lengths[:first])], 0)
            if int(carry.shape[0]) < batch_size:
                continue
            yield carry
            carry = None
        for b in range(first, len(starts), batch_size):
            part = tf.strings.substr(contents, starts[b:b + batch_size], lengths[b:b + batch_size])
            if int(part.shape[0]) < batch_size:
                carry = part
            else:
                yield part
    if carry is not None and int(carry.shape[0]):
        yield carry


def load_numpy(path: str | Path | Manifest, split: str = "train", images: str = "uint8") -> dict[str, np.ndarray]:
    """Every record of ``split`` in file order: name -> array ``[n, *shape]`` (strings as bytes objects);
    variable-length features as object arrays of per-record arrays."""
    manifest = path if isinstance(path, Manifest) else load_manifest(path)
    parts: dict[str, list] = {f.name: [] for f in manifest.schema.features}
    for batch in iter_numpy_batches(manifest, split, images=images):
        for name, value in batch.items():
            if isinstance(value, list):
                parts[name] += value
            else:
                parts[name].append(value)
    out = {}
    for f in manifest.schema.features:
        if f.is_fixed:
            out[f.name] = np.concatenate(parts[f.name]) if parts[f.name] else np.zeros((0, *f.shape))
        else:
            arr = np.empty(len(parts[f.name]), dtype=object)
            arr[:] = parts[f.name]
            out[f.name] = arr
    return out


def as_dataframe(path: str | Path, split: str = "train"):
    """``load_numpy`` as a pandas DataFrame: scalars as columns, text decoded, arrays as one list per row."""
    import pandas as pd

    manifest = load_manifest(path)
    data = load_numpy(manifest, split)  # the same folder, read once
    columns: dict[str, np.ndarray | list] = {}
    for f in manifest.schema.features:
        value = data[f.name]
        if f.is_text:
            value = np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(value) if value.size else value
        if f.sparse:  # each record's entries as {index: value}
            columns[f.name] = [dict(zip(i.tolist(), v.tolist())) for i, v in value]
        elif f.shape == ():
            columns[f.name] = value
        else:
            columns[f.name] = [np.asarray(v).tolist() for v in value]
    return pd.DataFrame(columns)
