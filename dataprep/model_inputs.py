"""What a dense model (wide&deep) can take from a schema, on which side, and what its label asks it to learn.

Rules on the schema alone, with no TensorFlow: ``schema infer`` writes the groups they give, and the trainers
check a schema with them before TensorFlow loads, so a schema a model cannot use fails in a second, not after
the import. Numbers (any fixed shape) and scalar strings with a vocabulary are usable; free text, ids,
high-cardinality strings (no vocabulary), bytes, images and variable-length lists are left out, each with its
reason. Default groups: categoricals and sparse features go wide (a linear term per category or entry), numbers
deep (the tower), and when one side would be empty every feature but a sparse one goes to both.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import SchemaError, UsageError
from .schema import GROUPS, Feature, Schema

TASKS = ("regression", "classification")
MAX_CLASSES = 20  # an int64 label with at most this many distinct values (none negative) is a class id


def unusable(f: Feature) -> str | None:
    """Why a dense model cannot take ``f`` as an input (None when it can)."""
    if f.is_text:
        if f.shape != ():
            return "a list of strings"
        if not (f.vocabulary or f.vocabulary_from_stats):
            return "free text, an id or a high-cardinality string (no vocabulary)"
        return None
    if f.is_image:
        return "an image (the cnn trainer takes images)"
    if not f.is_numeric:
        return f"{f.dtype} values"
    if f.sparse:  # a linear map of its entries, on the wide side only
        return None
    if not f.is_fixed:
        return "a variable-length list"
    return None


def default_groups(features: Sequence[Feature]) -> dict[str, str]:
    """The group of each usable feature when the schema names none: categoricals wide, numbers deep, and every
    feature in both when one side would be empty (a linear part and a tower need something each)."""
    usable = [f for f in features if unusable(f) is None]
    groups = {f.name: "wide" if f.is_text or f.sparse else "deep" for f in usable}
    if len(set(groups.values())) < 2:
        return {f.name: "wide" if f.sparse else "both" for f in usable}  # sparse: never on the deep side
    return groups


def group_summary(schema: Schema) -> str:
    """One line naming the input features of each wide&deep group, and those in none."""
    sides: dict[str, list[str]] = {}
    for f in schema.inputs:
        sides.setdefault(f.group or "none", []).append(f.name)
    shown = [f"{side}: {', '.join(sides[side])}" for side in (*GROUPS, "none") if side in sides]
    return "wide&deep groups (categoricals wide, numbers deep; none: a model cannot use it): " + "; ".join(shown)


@dataclass(frozen=True)
class InputPlan:
    """The wide and deep inputs of a wide&deep model (the same features on both sides for ``concat``), and the
    features left out with the reason for each."""

    wide: tuple[Feature, ...]
    deep: tuple[Feature, ...]
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def used(self) -> list[Feature]:
        """Every input feature, once, in schema order of first use."""
        return list({f.name: f for f in (*self.wide, *self.deep)}.values())

    def line(self) -> str:
        """One line naming the features left out and why ("" when none is)."""
        if not self.left_out:
            return ""
        return "left out of the model inputs: " + "; ".join(f"{k} ({v})" for k, v in self.left_out.items())


def plan_inputs(schema: Schema, variant: str, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> InputPlan:
    """The inputs of a wide&deep ``variant`` on ``schema``. ``exclude`` leaves features out; ``include`` takes
    features the schema leaves out of every group (they join by the default rule). The schema's groups are used
    when it names any, else :func:`default_groups`; ``concat`` takes every usable feature."""
    names = {f.name for f in schema.inputs}
    for option, given in (("--include", include), ("--exclude", exclude)):
        unknown = [n for n in given if n not in names]
        if unknown:
            raise UsageError(f"{option} {', '.join(unknown)}: not an input feature of the schema; it has "
                             f"{', '.join(sorted(names))}")
    both = sorted(set(include) & set(exclude))
    if both:
        raise UsageError(f"{', '.join(both)}: both included and excluded")
    left_out: dict[str, str] = {}
    candidates = []
    for f in schema.inputs:
        why = "--exclude" if f.name in exclude else unusable(f)
        if why is not None and f.name in include:
            raise SchemaError(f"--include {f.name}: a dense model cannot take it: {why}")
        if why is None:
            candidates.append(f)
        else:
            left_out[f.name] = why
    named = any(f.group is not None for f in schema.inputs)
    fallback = default_groups(candidates)
    groups: dict[str, str] = {}
    for f in candidates:
        if not named:
            groups[f.name] = fallback[f.name]
        elif f.group is not None:
            groups[f.name] = f.group
        elif f.name in include or variant == "concat":
            groups[f.name] = fallback[f.name]
        else:
            left_out[f.name] = "in no group of the schema; --include it to use it"
    if variant == "concat":
        used = tuple(f for f in candidates if f.name in groups)
        if not used:
            raise SchemaError("no features a dense model can take: " + InputPlan((), (), left_out).line())
        return InputPlan(used, used, left_out)
    wide = tuple(f for f in candidates if groups.get(f.name) in ("wide", "both"))
    deep = tuple(f for f in candidates if groups.get(f.name) in ("deep", "both"))
    if not wide or not deep:
        raise SchemaError(f"variant {variant!r} needs features in group 'wide' and 'deep' (or 'both'); the schema "
                          f"has {len(wide)} wide and {len(deep)} deep" + (f" ({InputPlan((), (), left_out).line()})"
                                                                           if left_out else ""))
    return InputPlan(wide, deep, left_out)


def single_label(schema: Schema) -> Feature:
    """The one label of ``schema`` (the wide&deep, CNN and per-sequence trainers learn one)."""
    labels = schema.labels
    if len(labels) != 1:
        raise SchemaError(f"this trainer needs exactly one label (role: label); the schema has {len(labels)}")
    return labels[0]


def label_task(label: Feature, requested: str | None = None) -> str | None:
    """``regression`` or ``classification`` for ``label`` (``requested`` if the label allows it); None for an
    int64 label left to its training values (a class id when there are few, see :data:`MAX_CLASSES`)."""
    if requested is not None and requested not in TASKS:
        raise UsageError(f"unknown task {requested!r}; expected one of {', '.join(TASKS)}")
    if label.shape != ():
        raise SchemaError(f"label {label.name!r} has shape {list(label.shape)}: wide&deep needs a scalar label")
    if label.is_text:
        if not label.vocabulary:
            raise SchemaError(f"label {label.name!r}: a string label needs a listed vocabulary (its class names)")
        if requested == "regression":
            raise SchemaError(f"label {label.name!r} is a string: --task regression needs a number")
        return "classification"
    if not label.is_numeric:
        raise SchemaError(f"label {label.name!r} is {label.dtype}: wide&deep needs a number or class names")
    if label.dtype != "int64":
        if requested == "classification":
            raise SchemaError(f"label {label.name!r} is {label.dtype}: --task classification needs int64 class ids "
                              "or strings with a vocabulary")
        return "regression"
    return requested
