"""Whole splits as numpy arrays or a pandas DataFrame, for small data and notebooks."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import tensorflow as tf

from ..manifest import Manifest, load_manifest
from .decode import COMPRESSION_TYPES, batch_decoder


def iter_numpy_batches(manifest: Manifest, split: str, batch_size: int = 65536,
                       images: str = "uint8") -> Iterator[dict]:
    """Batches of ``split`` in file order as dicts of numpy arrays (ragged features as lists of arrays)."""
    comp = COMPRESSION_TYPES[manifest.compression]
    files = [str(p) for p in manifest.files(split)]
    if manifest.format == "csv":
        ds = tf.data.Dataset.from_tensor_slices(files).flat_map(
            lambda f: tf.data.TextLineDataset(f, compression_type=comp).skip(1))
    else:
        ds = tf.data.TFRecordDataset(files, compression_type=comp)
    for batch in ds.batch(batch_size).map(batch_decoder(manifest, images)):
        yield {name: [np.asarray(v) for v in value.to_list()] if isinstance(value, tf.RaggedTensor)
               else value.numpy() for name, value in batch.items()}


def load_numpy(path: str | Path, split: str = "train", images: str = "uint8") -> dict[str, np.ndarray]:
    """Every record of ``split`` in file order: name -> array ``[n, *shape]`` (strings as bytes objects);
    variable-length features as object arrays of per-record arrays."""
    manifest = load_manifest(path)
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
    data = load_numpy(path, split)
    columns = {}
    for f in manifest.schema.features:
        value = data[f.name]
        if f.dtype == "string":
            value = np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(value) if value.size else value
        if f.shape == ():
            columns[f.name] = value
        else:
            columns[f.name] = [np.asarray(v).tolist() for v in value]
    return pd.DataFrame(columns)
