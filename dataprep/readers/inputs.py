"""Model inputs from decoded features: a dict, a tuple, or the wide&deep pair, then labels and weights.

The schema says which features are inputs, labels and weights and which group (wide, deep, both) each
input belongs to, so the reader's output matches the model the trainers build from the same schema.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

from ..errors import SchemaError, UsageError
from ..schema import Feature, Schema

INPUT_MODES = ("dict", "tuple", "wide_deep")


def select_inputs(schema: Schema, features: Sequence[str] | None) -> list[Feature]:
    """The input features: those named (in that order), or every feature whose role is ``feature``."""
    if features is None:
        return schema.inputs
    return [schema[name] for name in features]


def assembler(schema: Schema, mode: str, features: Sequence[str] | None = None) -> Callable[[dict], dict | tuple]:
    """A function from decoded features to ``x``, ``(x, y)`` or ``(x, y, weight)`` as Keras expects."""
    if mode not in INPUT_MODES:
        raise UsageError(f"unknown inputs mode {mode!r}; expected one of {', '.join(INPUT_MODES)}")
    inputs = select_inputs(schema, features)
    labels = schema.labels
    weights = [f for f in schema.features if f.role == "weight"]
    groups = wide_deep_groups(schema, inputs) if mode == "wide_deep" else {}

    def assemble(decoded: dict) -> dict | tuple:
        x: dict | tuple
        if mode == "dict":
            x = {f.name: decoded[f.name] for f in inputs}
        elif mode == "tuple":
            x = tuple(decoded[f.name] for f in inputs)
        else:
            x = {g: tf.concat([as_float_matrix(f, decoded[f.name]) for f in fs], axis=1) for g, fs in groups.items()}
        if not labels:
            return x
        y = decoded[labels[0].name] if len(labels) == 1 else {f.name: decoded[f.name] for f in labels}
        if weights:
            return x, y, decoded[weights[0].name]
        return x, y
    return assemble


def wide_deep_groups(schema: Schema, inputs: list[Feature]) -> dict[str, list[Feature]]:
    """Features of the ``wide`` and ``deep`` inputs (``both`` goes to each), in schema order."""
    groups = {"wide": [f for f in inputs if f.group in ("wide", "both")],
              "deep": [f for f in inputs if f.group in ("deep", "both")]}
    for name, fs in groups.items():
        if not fs:
            raise SchemaError(f"inputs='wide_deep' needs features in group {name!r} (or 'both'); the schema "
                              "has none")
        for f in fs:
            if not f.is_fixed or not (f.is_numeric or f.is_image or f.is_categorical):
                raise SchemaError(f"feature {f.name!r} cannot join the {name} input: wide/deep inputs are "
                                  "fixed-shape numbers or strings with a listed vocabulary (a vocabulary "
                                  "from_stats is resolved by the trainers)")
    return groups


def as_float_matrix(f: Feature, value: tf.Tensor) -> tf.Tensor:
    """A feature as float32 [batch, k]: numbers flattened, categoricals one-hot (last slot: out of vocabulary)."""
    if f.is_text:
        if f.vocabulary is None:
            raise SchemaError(f"feature {f.name!r}: strings join a float input only with a listed vocabulary")
        lookup = tf.constant(list(f.vocabulary))
        index = tf.argmax(tf.cast(tf.equal(tf.reshape(value, [-1, f.inner_size, 1]), lookup), tf.int32), -1,
                          output_type=tf.int32)
        known = tf.reduce_any(tf.equal(tf.reshape(value, [-1, f.inner_size, 1]), lookup), -1)
        index = tf.where(known, index, len(f.vocabulary))
        onehot = tf.one_hot(index, len(f.vocabulary) + 1, dtype=tf.float32)
        return tf.reshape(onehot, [-1, f.inner_size * (len(f.vocabulary) + 1)])
    return tf.reshape(tf.cast(value, tf.float32), [-1, f.inner_size])
