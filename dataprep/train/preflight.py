"""What a fit checks before TensorFlow loads: the schema's label and inputs against the model's options, so a
schema a model cannot use fails at once with one line instead of after a many-second import."""
from __future__ import annotations

from ..errors import UsageError
from ..model_inputs import InputPlan, label_task, plan_inputs, single_label
from ..schema import Schema
from .options import DENSES, VARIANTS, ModelOptions, WideDeepOptions


def wide_deep_plan(schema: Schema, options: WideDeepOptions) -> InputPlan:
    """The wide and deep inputs ``options`` give on ``schema``."""
    if options.variant not in VARIANTS:
        raise UsageError(f"unknown wide&deep variant {options.variant!r}; expected one of {', '.join(VARIANTS)}")
    if options.dense not in DENSES:
        raise UsageError(f"unknown dense layer {options.dense!r}; expected one of {', '.join(DENSES)}")
    return plan_inputs(schema, options.variant, options.include, options.exclude)


def check(schema: Schema, options: ModelOptions) -> InputPlan | None:
    """Raise the error a fit with ``options`` on ``schema`` would meet first; a wide&deep fit's input plan."""
    if not isinstance(options, WideDeepOptions):
        return None
    label_task(single_label(schema), options.task)
    return wide_deep_plan(schema, options)
