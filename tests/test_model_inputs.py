"""What a dense model takes from a schema, on which side, and the task of its label (no TensorFlow here)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from dataprep import Schema, SchemaError, UsageError
from dataprep.model_inputs import default_groups, group_summary, label_task, plan_inputs

SCHEMA = Schema.from_dict({"features": [
    {"name": "city", "dtype": "string", "shape": [], "vocabulary": ["a", "b"]},
    {"name": "note", "dtype": "string", "shape": []},
    {"name": "blob", "dtype": "bytes", "shape": []},
    {"name": "tags", "dtype": "int64", "shape": [None]},
    {"name": "x", "dtype": "float32", "shape": [3]},
    {"name": "k", "dtype": "int64", "shape": []},
    {"name": "y", "dtype": "string", "shape": [], "vocabulary": ["no", "yes"], "role": "label"}]})


def test_default_groups_leave_out_what_a_model_cannot_use():
    plan = plan_inputs(SCHEMA, "two-input")
    assert [f.name for f in plan.wide] == ["city"] and [f.name for f in plan.deep] == ["x", "k"]
    assert set(plan.left_out) == {"note", "blob", "tags"} and "no vocabulary" in plan.left_out["note"]
    assert plan.line().startswith("left out of the model inputs: note (free text")
    only_numbers = [f for f in SCHEMA.inputs if f.name in ("x", "k")]
    assert default_groups(only_numbers) == {"x": "both", "k": "both"}  # a linear part needs something too


def test_schema_groups_include_and_exclude():
    grouped = SCHEMA.with_features([replace(f, group=g) for f, g in zip(
        SCHEMA.features, ["wide", None, None, None, "deep", None, None])])
    plan = plan_inputs(grouped, "two-input")
    assert [f.name for f in plan.used] == ["city", "x"] and "--include" in plan.left_out["k"]
    assert [f.name for f in plan_inputs(grouped, "two-input", include=["k"]).deep] == ["x", "k"]
    assert [f.name for f in plan_inputs(grouped, "concat", exclude=["x"]).used] == ["city", "k"]
    with pytest.raises(SchemaError, match="--include note: .*no vocabulary"):
        plan_inputs(grouped, "two-input", include=["note"])
    with pytest.raises(UsageError, match="--exclude nope: not an input feature"):
        plan_inputs(grouped, "two-input", exclude=["nope"])
    with pytest.raises(SchemaError, match="group 'wide' and 'deep'"):
        plan_inputs(grouped, "two-input", exclude=["x"])
    assert group_summary(grouped).endswith("wide: city; deep: x; none: note, blob, tags, k")


@pytest.mark.parametrize("label, requested, task", [
    ({"dtype": "string", "vocabulary": ["a", "b"]}, None, "classification"),
    ({"dtype": "float32"}, None, "regression"),
    ({"dtype": "int64"}, None, None),  # decided by the training values
    ({"dtype": "int64"}, "regression", "regression"),
    ({"dtype": "int64"}, "classification", "classification")])
def test_label_task(label, requested, task):
    f = Schema.from_dict({"features": [{"name": "y", "shape": [], "role": "label", **label}]})["y"]
    assert label_task(f, requested) == task


@pytest.mark.parametrize("label, requested, message", [
    ({"dtype": "string"}, None, "needs a listed vocabulary"),
    ({"dtype": "string", "vocabulary": ["a"]}, "regression", "--task regression needs a number"),
    ({"dtype": "float32"}, "classification", "--task classification needs int64"),
    ({"dtype": "float32", "shape": [2]}, None, "scalar label")])
def test_label_task_refuses(label, requested, message):
    f = Schema.from_dict({"features": [{"name": "y", "shape": [], "role": "label", **label}]})["y"]
    with pytest.raises(SchemaError, match=message):
        label_task(f, requested)
