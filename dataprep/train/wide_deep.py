"""Wide&deep models from a schema, in the tutorial's three forms.

- ``concat``: one input (every usable feature); the deep tower's last layer is concatenated with the input.
- ``two-input``: the ``wide`` features (one-hot categoricals) and ``deep`` features (embedded categoricals)
  enter separately; the wide input joins the deep tower's output. The groups are the schema's, or the default
  ones of :func:`dataprep.model_inputs.default_groups` when it names none.
- ``multi-output``: ``two-input`` plus an auxiliary output on the deep tower, trained with its own loss.

A regression has one linear unit per output (the standardised label); a classification a softmax over the
label's classes.
"""
from __future__ import annotations

import keras

from ..schema import Schema
from .layers import DENSE_LAYERS
from .options import WideDeepOptions
from .preflight import wide_deep_plan
from .prep import TrainStats, encode, feature_input


def build_model(schema: Schema, stats: TrainStats, options: WideDeepOptions | None = None,
                classes: int = 0) -> keras.Model:
    """A model whose output(s) predict the label standardised with the training statistics, or (``classes``
    > 0) the probability of each class."""
    options = options or WideDeepOptions()
    variant = options.variant
    plan = wide_deep_plan(schema, options)
    inputs = {f.name: feature_input(f) for f in plan.used}
    wide_x = encode(list(plan.wide), inputs, stats, "wide")
    deep_x = wide_x if variant == "concat" else encode(list(plan.deep), inputs, stats, "deep")
    tower, layer = deep_x, DENSE_LAYERS[options.dense]
    for i, units in enumerate(options.hidden):
        tower = layer(units, activation=options.activation, name=f"hidden{i + 1}")(tower)
    joined = keras.layers.Concatenate(name="wide_and_deep")([wide_x, tower])
    units, activation = (classes, "softmax") if classes else (1, None)
    outputs = {"main": keras.layers.Dense(units, activation=activation, name="main")(joined)}
    if variant == "multi-output":
        outputs["aux"] = keras.layers.Dense(units, activation=activation, name="aux")(tower)
    return keras.Model(inputs=inputs, outputs=outputs, name=f"wide_deep_{variant.replace('-', '_')}")
