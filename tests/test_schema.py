"""Schema validation: every mistake is a SchemaError naming the feature (and the line in YAML)."""
from __future__ import annotations

import json

import pytest

from dataprep import Schema, SchemaError, load_schema
from tests.conftest import SCHEMAS

OK = {"name": "x", "dtype": "float32", "shape": []}


def schema_with(**changes) -> dict:
    return {"features": [{**OK, **changes}, {"name": "y", "dtype": "float32", "shape": [], "role": "label"}]}


@pytest.mark.parametrize("doc, message", [
    (schema_with(dtype="float16"), "unknown dtype 'float16'"),
    (schema_with(name="y"), "duplicate feature name 'y'"),
    (schema_with(name="bad name"), "'name' must be an identifier"),
    (schema_with(default="abc"), "default 'abc' is not a valid float32"),
    (schema_with(dtype="int64", default=1.5), "default 1.5 is not a valid int64"),
    (schema_with(dtype="uint8", shape=[2], default=300), "default 300 is not a valid uint8"),
    (schema_with(shape=[3], default=[1.0, 2.0]), "default has 2 values"),
    (schema_with(shape=[None], default=0.0), "variable-length features take no default"),
    (schema_with(shape=[2, None]), "only the first dimension"),
    (schema_with(shape=[0]), "positive integers"),
    (schema_with(shape="3"), "'shape' must be a list"),
    (schema_with(role="target"), "unknown role 'target'"),
    (schema_with(group="middle"), "unknown group 'middle'"),
    (schema_with(vocabulary=["a"]), "a vocabulary needs dtype string"),
    (schema_with(dtype="string", vocabulary=["a", "a"]), "duplicate entries"),
    (schema_with(dtype="string", vocabulary=["a"], default="b"), "not in the vocabulary"),
    (schema_with(dtype="string", oov="drop"), "unknown oov policy"),
    (schema_with(dtpye="float32"), "unknown key(s) ['dtpye']"),
    (schema_with(select="0:5"), "'select' '0:5' takes 5 columns"),
    (schema_with(source=["a", "b"]), "a source list of 2 columns needs shape [2]"),
    (schema_with(dtype="uint8", shape=[None, 3]), "uint8 arrays need a fixed shape"),
    (schema_with(image={"format": "jpeg"}), "'image' options apply to dtype image"),
    (schema_with(dtype="image", shape=[8, 8, 3], image={"format": "gif"}), "image format must be one of"),
    (schema_with(dtype="image", shape=[8, 8, 4], image={"format": "jpeg"}), "JPEG holds 1 or 3 channels"),
    (schema_with(dtype="image", shape=[8, 8, 3], image={"quality": 0}), "quality must be an integer from 1"),
    (schema_with(dtype="image", shape=[8, 8, 3], image={"size": 3}), "'image' takes from_paths, format"),
    (schema_with(dtype="uint8", shape=[8, 8, 1], image={"format": "png"}), "uint8 pixels are stored raw"),
    ({"record": "sequence_example", "features": [OK]}, "needs at least one feature of shape [null, ...]"),
    ({"record": "sequences", "features": [OK]}, "record must be one of example, sequence_example"),
    ({"features": []}, "'features' must be a non-empty list"),
    ({"feature": [OK]}, "unknown key(s) ['feature']"),
    ([OK], "expected a mapping"),
])
def test_invalid_schemas(doc, message):
    with pytest.raises(SchemaError) as err:
        Schema.from_dict(doc)
    assert message in str(err.value)


def test_yaml_errors_name_the_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("features:\n- name: a\n  dtype: float32\n- name: b\n  dtype: double\n")
    with pytest.raises(SchemaError, match=r"s.yaml line 4: feature #2 'b': unknown dtype 'double'"):
        load_schema(path)
    path.write_text("features:\n- name: a\n  dtype: [float32\n")
    with pytest.raises(SchemaError, match=r"line \d+: invalid YAML"):
        load_schema(path)
    with pytest.raises(SchemaError, match="schema file not found"):
        load_schema(tmp_path / "missing.yaml")


def test_json_schema_and_round_trip(tmp_path):
    doc = {"name": "t", "features": [
        {"name": "a", "source": "A col", "dtype": "float32", "shape": [], "default": 0.5, "group": "wide"},
        {"name": "w", "source": "x", "select": "0:5", "dtype": "float32", "shape": [5], "group": "both"},
        {"name": "c", "dtype": "string", "shape": [], "vocabulary": ["p", "q"], "oov": "bucket", "default": "p"},
        {"name": "img", "dtype": "uint8", "shape": [8, 8, 1]},
        {"name": "seq", "dtype": "int64", "shape": [None, 4]},
        {"name": "y", "dtype": "int64", "shape": [], "role": "label"},
    ]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    schema = load_schema(path)
    assert schema["a"].sources == ("A col",) and schema["w"].select == (0, 5)
    assert [f.name for f in schema.labels] == ["y"]
    assert schema["seq"].kind == "ragged" and schema["img"].encoding == "raw_uint8"
    for suffix in (".yaml", ".json"):
        schema.save(tmp_path / f"again{suffix}")
        assert load_schema(tmp_path / f"again{suffix}") == schema


def test_shipped_schemas_are_valid():
    for path in SCHEMAS.glob("*.yaml"):
        schema = load_schema(path)
        assert len(schema) >= 1 and Schema.from_dict(schema.to_dict()) == schema, path


def test_csv_layout_and_storage():
    schema = Schema.from_dict({"features": [
        {"name": "v", "dtype": "float32", "shape": [2, 2]},
        {"name": "s", "dtype": "string", "shape": [], "default": ""},
    ]})
    assert [c for c, _, _ in schema.csv_columns()] == ["v_0", "v_1", "v_2", "v_3", "s"]
    assert schema.storage()["v"] == {"key": "v", "kind": "fixed", "stored_dtype": "float", "shape": [2, 2],
                                     "encoding": "none", "elements_per_record": 4}
    with pytest.raises(SchemaError, match="variable-length"):
        Schema.from_dict({"features": [{"name": "r", "dtype": "float32", "shape": [None]}]}).csv_columns()


def test_image_options_from_the_command_line():
    schema = Schema.from_dict({"features": [{"name": "img", "dtype": "image", "shape": [8, 8, 3]},
                                            {"name": "y", "dtype": "int64", "shape": []}]})
    assert schema.with_image_options(format="keep")["img"].image.format == "keep"  # already so: no error
    resized = schema.with_image_options(format="jpeg", quality=80, size=(4, 5))
    assert resized["img"].shape == (4, 5, 3) and resized["img"].image.to_dict() == \
        {"format": "jpeg", "quality": 80, "resize": True}
    with pytest.raises(SchemaError, match="no image feature"):
        Schema.from_dict({"features": [{"name": "y", "dtype": "int64", "shape": []}]}).with_image_options(size=(2, 2))
