"""A CNN classifier from a schema's image feature: conv blocks with filters doubling per block, batch
normalisation between convolution and activation, max-pooling, dropout after the conv stack and before the
softmax head (the seed's 0.25 / 0.5)."""
from __future__ import annotations

import math

import keras

from ..errors import SchemaError, UsageError
from ..schema import Feature, Schema
from .options import CNN_ACTIVATIONS, CNNOptions
from .prep import TrainStats, feature_input


def image_feature(schema: Schema) -> Feature:
    """The input feature holding pixels: uint8 (or float32) of shape [h, w, c]."""
    for f in schema.inputs:
        if (f.is_image or f.dtype == "float32") and len(f.shape) == 3 and f.is_fixed:
            return f
    raise SchemaError("the CNN trainer needs an input feature of shape [height, width, channels]")


def build_model(schema: Schema, stats: TrainStats, num_classes: int,
                options: CNNOptions | None = None) -> keras.Model:
    """A softmax classifier over ``num_classes`` from the schema's image feature."""
    options = options or CNNOptions()
    activation, dropout, filters, separable = options.activation, options.dropout, options.filters, options.separable
    if activation not in CNN_ACTIVATIONS:
        raise UsageError(f"unknown activation {activation!r}; expected one of {', '.join(CNN_ACTIVATIONS)}")
    if len(dropout) != 2 or not all(0 <= d < 1 for d in dropout):
        raise UsageError(f"dropout needs two rates in [0, 1) (after the conv stack, before the head): {dropout}")
    f = image_feature(schema)
    height, width, _ = f.shape
    blocks = options.blocks
    if blocks is None:  # as many halvings as leave at least 2x2 pixels, at most 3
        blocks = max(1, min(3, int(math.log2(min(height, width))) - 1))
    image = feature_input(f)
    x = keras.ops.cast(image, "float32")
    x = keras.layers.Normalization(mean=float(stats.mean[f.name]), variance=float(stats.var[f.name]),
                                   name="pixels_norm")(x)
    if options.augment:  # training only: shifts of up to one pixel and small rotations
        x = keras.layers.RandomTranslation(1 / height, 1 / width, fill_mode="constant", name="shift")(x)
        x = keras.layers.RandomRotation(0.03, fill_mode="constant", name="rotate")(x)
    init = "lecun_normal" if activation == "selu" else "glorot_uniform"
    for b in range(blocks):
        for c in range(2):
            name = f"block{b + 1}_conv{c + 1}"
            if separable:
                x = keras.layers.SeparableConv2D(filters * 2 ** b, 3, padding="same", use_bias=False,
                                                 depthwise_initializer=init, pointwise_initializer=init,
                                                 name=name)(x)
            else:
                x = keras.layers.Conv2D(filters * 2 ** b, 3, padding="same", use_bias=False,
                                        kernel_initializer=init, name=name)(x)
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"block{b + 1}_bn{c + 1}")(x)
            x = keras.layers.Activation(activation, name=f"block{b + 1}_{activation}{c + 1}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{b + 1}_pool")(x)
    x = keras.layers.Dropout(dropout[0], name="conv_dropout")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(options.dense, activation=activation, kernel_initializer=init, name="dense")(x)
    x = keras.layers.Dropout(dropout[1], name="head_dropout")(x)
    out = keras.layers.Dense(num_classes, activation="softmax", name="main")(x)
    name = "separable_cnn" if separable else "cnn"
    return keras.Model(inputs={f.name: image}, outputs={"main": out}, name=name)
