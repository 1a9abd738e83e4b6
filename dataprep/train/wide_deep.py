"""Wide&deep models from a schema, in the seed's three forms.

- ``concat``: one input (every feature); the deep tower's last layer is concatenated with the input.
- ``two-input``: the schema's ``wide`` features (one-hot categoricals) and ``deep`` features (embedded
  categoricals) enter separately; the wide input joins the deep tower's output.
- ``multi-output``: ``two-input`` plus an auxiliary output on the deep tower, trained with its own loss.
"""
from __future__ import annotations

import keras

from ..errors import SchemaError, UsageError
from ..schema import Schema
from .options import VARIANTS, WideDeepOptions
from .prep import TrainStats, encode, feature_input


def build_model(schema: Schema, stats: TrainStats, options: WideDeepOptions | None = None) -> keras.Model:
    """A regression model whose output(s) predict the label standardised with the training statistics."""
    options = options or WideDeepOptions()
    variant = options.variant
    if variant not in VARIANTS:
        raise UsageError(f"unknown wide&deep variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    features = schema.inputs
    if variant == "concat":
        used = features
    else:
        wide = [f for f in features if f.group in ("wide", "both")]
        deep = [f for f in features if f.group in ("deep", "both")]
        if not wide or not deep:
            raise SchemaError(f"variant {variant!r} needs features in group 'wide' and 'deep' (or 'both'); "
                              f"the schema has {len(wide)} wide and {len(deep)} deep")
        used = [f for f in features if f.group is not None]
    inputs = {f.name: feature_input(f) for f in used}
    if variant == "concat":
        wide_x = deep_x = encode(used, inputs, stats, "wide")
    else:
        wide_x = encode(wide, inputs, stats, "wide")
        deep_x = encode(deep, inputs, stats, "deep")
    tower = deep_x
    for i, units in enumerate(options.hidden):
        tower = keras.layers.Dense(units, activation=options.activation, name=f"hidden{i + 1}")(tower)
    joined = keras.layers.Concatenate(name="wide_and_deep")([wide_x, tower])
    outputs = {"main": keras.layers.Dense(1, name="main")(joined)}
    if variant == "multi-output":
        outputs["aux"] = keras.layers.Dense(1, name="aux")(tower)
    return keras.Model(inputs=inputs, outputs=outputs, name=f"wide_deep_{variant.replace('-', '_')}")
