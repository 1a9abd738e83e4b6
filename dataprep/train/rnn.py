"""Recurrent models over a schema's sequence feature (the seed's empty RNN chapter): GRU or LSTM layers.

The schema chooses the task:

- **next step** (no label): an int64 feature list ``[null, k]`` (k voices, notes, tokens) predicts the next
  step's k values, each a class in ``[0, largest value in the training split]``. Inputs are embedded, the
  recurrent layers run forward over the padded batch, and padding gets weight 0, so loss and accuracy
  count real steps only (a forward RNN's outputs at real steps never see the padding after them).
- **per sequence** (one label): the feature list, normalised with training statistics, runs through the
  recurrent layers under a length mask; the last state feeds a softmax over the label's classes (int64 or
  strings with a vocabulary) or one regression output (float32, standardised while fitting).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from ..errors import SchemaError, UsageError
from ..schema import FLOAT_DTYPES, Feature, Schema
from .options import CELLS, RNNOptions
from .prep import TrainStats

CELL_LAYERS = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}  # by options.CELLS
LENGTH = "length"  # the extra model input of per-sequence models: real steps per sequence


@keras.saving.register_keras_serializable(package="dataprep")
class LengthMask(keras.layers.Layer):
    """``[batch, time]`` booleans: True for the first ``lengths[i]`` steps of sequence ``i``."""

    def call(self, x, lengths):
        steps = keras.ops.arange(keras.ops.shape(x)[1])[None, :]
        return steps < keras.ops.cast(keras.ops.expand_dims(lengths, 1), "int32")

    def compute_output_shape(self, x_shape, lengths_shape):
        return x_shape[:2]


@dataclass(frozen=True)
class SequenceTask:
    """What to fit: the sequence feature, the label (None: next step) and the classes (0: regression)."""

    feature: Feature
    label: Feature | None
    classes: int

    @property
    def next_step(self) -> bool:
        return self.label is None

    @property
    def regression(self) -> bool:
        return self.classes == 0


def sequence_task(schema: Schema, stats: TrainStats) -> SequenceTask:
    """The task the schema describes: its one variable-length input feature, and its label if any."""
    sequences = [f for f in schema.inputs if not f.is_fixed]
    if len(sequences) != 1 or not sequences[0].is_numeric:
        raise SchemaError("the RNN trainer needs exactly one numeric input feature of shape [null] or [null, k] "
                          f"(a sequence); the schema has {[f.name for f in sequences] or 'none'}")
    feature = sequences[0]
    labels = schema.labels
    if len(labels) > 1:
        raise SchemaError(f"the RNN trainer takes one label or none (next step); the schema has {len(labels)}")
    if not labels:
        if feature.dtype != "int64":
            raise SchemaError(f"feature {feature.name!r}: next-step prediction needs int64 steps (classes); "
                              "give float sequences a label to predict instead")
        low = float(np.min(stats.low[feature.name]))
        if low < 0:
            raise SchemaError(f"feature {feature.name!r}: next-step classes must be >= 0, the training split "
                              f"holds {low:g}")
        return SequenceTask(feature, None, int(np.max(stats.high[feature.name])) + 1)
    label = labels[0]
    if label.shape != ():
        raise SchemaError(f"label {label.name!r}: the RNN trainer needs a scalar label")
    if label.dtype in FLOAT_DTYPES:
        return SequenceTask(feature, label, 0)
    if label.dtype == "int64" or label.is_categorical:
        return SequenceTask(feature, label, stats.label_classes[label.name])
    raise SchemaError(f"label {label.name!r}: expected float32/float64 (regression), int64 or strings with a "
                      "vocabulary")


def build_model(task: SequenceTask, stats: TrainStats, options: RNNOptions | None = None,
                embedding_dim: int = 8) -> keras.Model:
    """The recurrent model for ``task``; outputs are named ``main`` like the other trainers'."""
    options = options or RNNOptions()
    cell, units, layers, dropout = options.cell, options.units, options.layers, options.dropout
    if cell not in CELLS:
        raise UsageError(f"unknown cell {cell!r}; expected one of {', '.join(CELLS)}")
    if units < 1 or layers < 1 or not 0 <= dropout < 1:
        raise UsageError("units and layers must be positive and dropout in [0, 1)")
    f = task.feature
    k = f.inner_size
    if task.next_step:
        x = keras.Input(shape=(None, k), dtype="int64", name=f.name)
        h = keras.layers.Embedding(task.classes, embedding_dim, name=f"{f.name}_embedding")(x)
        h = keras.layers.Reshape((-1, k * embedding_dim), name=f"{f.name}_steps")(h)
        for i in range(layers):
            h = CELL_LAYERS[cell](units, return_sequences=True, dropout=dropout, name=f"{cell}_{i + 1}")(h)
        logits = keras.layers.Dense(k * task.classes, name="logits")(h)
        out = keras.layers.Reshape((-1, k, task.classes), name="per_element")(logits)
        out = keras.layers.Softmax(name="main")(out)
        return keras.Model({f.name: x}, {"main": out}, name=f"{cell}_next_step")
    x = keras.Input(shape=(None, *f.shape[1:]), dtype=f.dtype, name=f.name)
    lengths = keras.Input(shape=(), dtype="int64", name=LENGTH)
    h = keras.layers.Reshape((-1, k), name=f"{f.name}_steps")(keras.ops.cast(x, "float32"))
    mean = np.reshape(stats.mean[f.name], -1).astype(np.float32)
    var = np.reshape(stats.var[f.name], -1).astype(np.float32)
    h = keras.layers.Normalization(mean=mean, variance=var, name=f"{f.name}_norm")(h)
    mask = LengthMask(name="mask")(h, lengths)
    for i in range(layers):
        h = CELL_LAYERS[cell](units, return_sequences=i < layers - 1, dropout=dropout, name=f"{cell}_{i + 1}")(
            h, mask=mask)
    out = keras.layers.Dense(1 if task.regression else task.classes,
                             activation=None if task.regression else "softmax", name="main")(h)
    return keras.Model({f.name: x, LENGTH: lengths}, {"main": out}, name=f"{cell}_sequence")


def next_step_batches(task: SequenceTask) -> Callable:
    """Reader batches (ragged sequences) -> (inputs, targets, weights) for next-step training: inputs are
    steps 0..n-2, targets steps 1..n-1, padded; weights are 1 on real steps. Values beyond the training
    split's classes are clipped to the last class."""
    name, k, top = task.feature.name, task.feature.inner_size, task.classes - 1

    def shift(x):
        seq = tf.clip_by_value(x[name], 0, top)
        inputs, targets = seq[:, :-1], seq[:, 1:]
        weights = tf.ones_like(targets, tf.float32)
        dense = [t.to_tensor() for t in (inputs, targets, weights)]
        if task.feature.shape[1:] == ():
            dense = [tf.expand_dims(t, -1) for t in dense]
        return {name: dense[0]}, {"main": dense[1]}, {"main": dense[2] * tf.ones([1, 1, k])}
    return shift


def window_count(steps: np.ndarray, window: int) -> int:
    """How many windows :func:`windows` cuts from sequences of ``steps`` steps (an epoch over windows)."""
    steps = np.asarray(steps, np.int64)
    return int(np.where(steps > 1, np.maximum(1, (steps - window - 1) // _shift(window) + 2), 0).sum())


def windows(ds: tf.data.Dataset, task: SequenceTask, window: int, batch_size: int, seed: int) -> tf.data.Dataset:
    """Training batches of overlapping windows of ``window + 1`` steps (shift ``window // 2``) cut from each
    sequence (a shorter sequence is one window), shuffled: many more updates per epoch than whole
    sequences, and the same next-step task at every position."""
    name = task.feature.name
    shift = _shift(window)

    def cut(x):
        seq = x[name]
        count = tf.maximum(tf.constant(1, tf.int64), (tf.shape(seq, out_type=tf.int64)[0] - window - 1) // shift + 2)
        return tf.data.Dataset.range(count).map(lambda i: {name: seq[i * shift:i * shift + window + 1]})

    ds = ds.unbatch().flat_map(cut).filter(lambda x: tf.shape(x[name])[0] > 1)
    return ds.shuffle(8192, seed=seed).ragged_batch(batch_size)


def _shift(window: int) -> int:
    return max(1, window // 2)


def sequence_batches(task: SequenceTask, label_ids: Callable, center: float, scale: float) -> Callable:
    """Reader batches ``(x, y)`` -> ({sequence, length}, y) for per-sequence training."""
    name = task.feature.name

    def pad(x, y):
        seq = x[name]
        y = (tf.cast(y, tf.float32) - center) / scale if task.regression else label_ids(y)
        return {name: seq.to_tensor(), LENGTH: seq.row_lengths()}, {"main": y}
    return pad


def next_step_scores(model: keras.Model, dataset: tf.data.Dataset, steps: int) -> dict:
    """Accuracy of the model and of repeating the previous step, per element and per whole step."""
    hits = {"model": [0, 0], "repeat_previous": [0, 0]}  # element hits, whole-step hits
    elements = total_steps = 0
    for x, y, w in dataset.take(steps):
        inputs, truth, real = next(iter(x.values())).numpy(), y["main"].numpy(), w["main"].numpy()[..., 0] > 0
        predicted = np.argmax(model.predict_on_batch(x)["main"], axis=-1)
        for key, guess in (("model", predicted), ("repeat_previous", inputs)):
            equal = (guess == truth)[real]
            hits[key][0] += int(equal.sum())
            hits[key][1] += int(equal.all(axis=-1).sum())
        elements += int(real.sum()) * truth.shape[-1]
        total_steps += int(real.sum())
    return {f"{key}_{unit}_accuracy": round(h[i] / max(1, n), 6) for key, h in hits.items()
            for i, (unit, n) in enumerate((("element", elements), ("step", total_steps)))}
