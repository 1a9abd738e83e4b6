"""Model inputs from the schema: one Keras ``Input`` per feature and its preprocessing.

Numbers are normalised as the feature's ``normalize`` says (``zscore`` by default, ``minmax``, ``log``: a
z-score of ``log1p`` for heavy-tailed counts, or ``none``) with statistics of the training split only (no
leakage from valid/test); categorical strings go through ``StringLookup``: one-hot on the wide side, an
embedding on the deep side.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import keras
import numpy as np

from ..errors import SchemaError
from ..manifest import Manifest
from ..model_inputs import MAX_CLASSES
from ..schema import Feature
from .calendar import calendar_block

SPARSE_UNITS = 16  # a sparse feature's projection on the wide side
MAX_SPARSE_WEIGHTS = 1 << 26  # its weights (size x units float32: 256 MiB), checked before they are allocated


@dataclass
class TrainStats:
    """Per-feature mean, variance, min and max (elementwise over the feature's shape; of ``log1p(x)`` for
    ``normalize: log``), and the steps per record of sequence features, from the training split."""

    mean: dict[str, np.ndarray] = field(default_factory=dict)
    var: dict[str, np.ndarray] = field(default_factory=dict)
    low: dict[str, np.ndarray] = field(default_factory=dict)
    high: dict[str, np.ndarray] = field(default_factory=dict)
    rows: int = 0
    steps: dict[str, np.ndarray] = field(default_factory=dict)  # steps per record of each sequence feature
    label_classes: dict[str, int] = field(default_factory=dict)
    # training records per value of each scalar int64 or categorical label (None: more than MAX_CLASSES values)
    label_counts: dict[str, Counter | None] = field(default_factory=dict)
    vocabulary: dict[str, tuple[str, ...]] = field(default_factory=dict)  # for ``vocabulary: from_stats``


def train_stats(manifest: Manifest, split: str = "train", batch_size: int = 8192) -> TrainStats:
    """One pass over ``split``: moments of every numeric feature and label (of a sequence feature: per
    element of a step, over all steps), class counts of integer labels."""
    from ..readers.numpy_access import iter_numpy_batches

    schema = manifest.schema
    numeric = [f for f in schema.features if (f.is_numeric or f.is_image) and not f.sparse]  # pixels: fixed shapes
    total = {f.name: 0.0 for f in numeric}
    squares = {f.name: 0.0 for f in numeric}
    count = {f.name: 0 for f in numeric}
    steps: dict[str, list[np.ndarray]] = {}
    stats = TrainStats()
    top: dict[str, int] = {}
    counts: dict[str, Counter[str]] = {f.name: Counter() for f in schema.features if f.vocabulary_from_stats}
    label_counts: dict[str, Counter | None] = {f.name: Counter() for f in schema.labels if f.shape == () and (
        f.dtype == "int64" or f.is_categorical)}
    for batch in iter_numpy_batches(manifest, split, batch_size):
        for name, counter in counts.items():
            counter.update(v.decode("utf-8") for v in np.asarray(batch[name]).reshape(-1))
        for f in numeric:
            if f.is_fixed:
                x = batch[f.name]
            else:
                rows = [np.asarray(v).reshape(-1, *f.shape[1:]) for v in batch[f.name]]
                steps.setdefault(f.name, []).append(np.array([len(r) for r in rows], np.int64))
                x = np.concatenate(rows or [np.zeros((0, *f.shape[1:]))])
            x = x.astype(np.float64)
            if f.normalize == "log":
                x = np.log1p(np.maximum(x, 0))
            if f.is_image:  # pixels: one mean and variance for the whole image
                x = x.reshape(-1)
            count[f.name] += len(x)
            total[f.name] += x.sum(axis=0)
            squares[f.name] += (x ** 2).sum(axis=0)
            low, high = x.min(axis=0, initial=np.inf), x.max(axis=0, initial=-np.inf)
            stats.low[f.name] = np.minimum(stats.low.get(f.name, low), low)
            stats.high[f.name] = np.maximum(stats.high.get(f.name, high), high)
        for name, seen in label_counts.items():
            if seen is not None:
                values, tally = np.unique(np.asarray(batch[name]).reshape(-1), return_counts=True)
                seen.update(dict(zip(_plain(values), tally.tolist())))
                label_counts[name] = seen if len(seen) <= MAX_CLASSES else None
        for f in schema.labels:
            if f.is_text and f.vocabulary:  # categorical: its classes are the vocabulary
                top[f.name] = len(f.vocabulary)
            elif f.dtype == "int64" and f.shape == ():
                top[f.name] = max(top.get(f.name, 0), int(batch[f.name].max(initial=0)) + 1)
        stats.rows += len(next(iter(batch.values())))
    if stats.rows == 0:
        raise SchemaError(f"{manifest.folder}: split {split!r} is empty; nothing to train on")
    for f in numeric:
        n = max(1, count[f.name])
        mean = np.asarray(total[f.name]) / n
        stats.mean[f.name] = mean
        stats.var[f.name] = np.maximum(np.asarray(squares[f.name]) / n - mean ** 2, 1e-12)
    stats.steps = {name: np.concatenate(parts) for name, parts in steps.items()}
    stats.label_classes = top
    stats.label_counts = label_counts
    stats.vocabulary = {name: tuple(v for v, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
                        for name, c in counts.items()}
    return stats


def _plain(values: np.ndarray) -> list:
    """Label values as Python ints or class names (bytes decoded)."""
    return [v.decode("utf-8") for v in values] if values.dtype.kind in "SO" else values.tolist()


def class_counts(label: Feature, stats: TrainStats, classes: int) -> np.ndarray:
    """Training records per class id ``0..classes-1`` of ``label`` (class names by their vocabulary index)."""
    seen: Counter = stats.label_counts.get(label.name) or Counter()
    index = {v: i for i, v in enumerate(label.vocabulary)} if label.vocabulary else None
    counts = np.zeros(classes, np.int64)
    for value, n in seen.items():
        i = index.get(value, -1) if index is not None else value
        if 0 <= i < classes:
            counts[i] += n
    return counts


def feature_input(f: Feature) -> keras.Input:
    return keras.Input(shape=tuple(f.shape), dtype=f.type_info.keras, name=f.name, sparse=f.sparse)


def as_model_input(f: Feature, value):
    """A numpy batch (:func:`~dataprep.readers.numpy_access.iter_numpy_batches`) as the model's input takes it,
    a tensor: a sparse feature's per-record (indices, values) as a ``tf.SparseTensor`` [batch, size]."""
    import tensorflow as tf

    if not f.sparse:
        return tf.convert_to_tensor(value)

    rows = np.concatenate([np.full(len(i), r, np.int64) for r, (i, _) in enumerate(value)] or [np.zeros(0, np.int64)])
    cols = np.concatenate([i for i, _ in value] or [np.zeros(0, np.int64)])
    values = np.concatenate([v for _, v in value] or [np.zeros(0, f.type_info.numpy)])
    return tf.SparseTensor(np.stack([rows, cols], axis=1), values, [len(value), f.shape[0]])


def numeric_block(f: Feature, x, stats: TrainStats, side: str):
    """A fixed-shape number feature flattened to [batch, k] and normalised with training statistics."""
    x = keras.layers.Flatten(name=f"{side}_{f.name}_flat")(keras.ops.cast(x, "float32")) if f.shape else \
        keras.layers.Reshape((1,), name=f"{side}_{f.name}_col")(keras.ops.cast(x, "float32"))
    method = f.normalize or "zscore"
    if method == "none":
        return x
    if method == "log":
        x = keras.ops.log1p(keras.ops.relu(x))
    if method == "minmax":
        low = np.reshape(stats.low[f.name], -1).astype(np.float32)
        span = np.maximum(np.reshape(stats.high[f.name], -1).astype(np.float32) - low, 1e-12)
        return keras.layers.Rescaling(1.0 / span, offset=-low / span, name=f"{side}_{f.name}_minmax")(x)
    mean = np.reshape(stats.mean[f.name], -1).astype(np.float32)
    var = np.reshape(stats.var[f.name], -1).astype(np.float32)
    return keras.layers.Normalization(mean=mean, variance=var, name=f"{side}_{f.name}_norm")(x)


def categorical_block(f: Feature, x, side: str, stats: TrainStats, embedding_dim: int = 4):
    """A categorical string: one-hot (``side="wide"``) or an embedding (``"deep"``); slot 0 is OOV. The
    vocabulary is the schema's, or the training split's values for ``vocabulary: from_stats``."""
    vocabulary = list(f.vocabulary or stats.vocabulary.get(f.name, ()))
    if not vocabulary or f.shape != ():
        raise SchemaError(f"feature {f.name!r}: model inputs need numbers or scalar strings with a vocabulary")
    if side == "wide":
        return keras.layers.StringLookup(vocabulary=vocabulary, output_mode="one_hot",
                                         name=f"wide_{f.name}_onehot")(x)
    index = keras.layers.StringLookup(vocabulary=vocabulary, name=f"{f.name}_lookup")(x)
    emb = keras.layers.Embedding(len(vocabulary) + 1, embedding_dim, name=f"{f.name}_embedding")(index)
    return keras.layers.Flatten(name=f"{f.name}_embflat")(emb)


def encode(features: list[Feature], inputs: dict, stats: TrainStats, side: str):
    """Concatenated float vector of ``features`` for one side of a model (``wide`` or ``deep``)."""
    parts = []
    for f in features:
        if f.is_text:
            parts.append(categorical_block(f, inputs[f.name], side, stats))
        elif f.parse is not None:  # dates: the year and the cycles of the calendar
            parts.append(calendar_block(f, inputs[f.name], stats.mean[f.name], stats.var[f.name], side))
        elif f.sparse and side == "wide":  # a linear map of its entries, never made dense (unnormalised)
            if f.shape[0] * SPARSE_UNITS > MAX_SPARSE_WEIGHTS:
                raise SchemaError(f"feature {f.name!r}: a sparse size of {f.shape[0]:,} needs {SPARSE_UNITS} weights "
                                  f"per index, over {MAX_SPARSE_WEIGHTS:,} in all; hash its indices into fewer")
            parts.append(keras.layers.Dense(SPARSE_UNITS, use_bias=False, name=f"wide_{f.name}_linear")(
                keras.ops.cast(inputs[f.name], "float32")))
        elif f.is_fixed and f.is_numeric:
            parts.append(numeric_block(f, inputs[f.name], stats, side))
        elif f.sparse:
            raise SchemaError(f"feature {f.name!r}: a sparse feature joins the wide side only (group: wide)")
        else:
            raise SchemaError(f"feature {f.name!r} ({f.dtype} {list(f.shape)}) cannot feed a dense model")
    if not parts:
        raise SchemaError(f"no features for the {side} part of the model")
    return parts[0] if len(parts) == 1 else keras.layers.Concatenate(name=f"{side}_features")(parts)
