"""Schema inference picks dtypes, defaults, vocabularies and roles in one streaming pass."""
from __future__ import annotations

import numpy as np
import pytest

import dataprep
from dataprep import UsageError, load_schema
from tests.conftest import DIGITS, PENGUINS
from tests.tf_oracle import read_tfrecord_split


def test_infer_csv(tmp_path):
    path = tmp_path / "in.csv"
    rows = ["id,price,rooms,city,note,Has Garden,target"]
    for i in range(40):
        price = "" if i % 10 == 3 else f"{i * 1.5}"
        rooms = "NA" if i == 5 else str(i % 4 + 1)
        rows.append(f"{i},{price},{rooms},{['Paris', 'Lyon', 'Nice'][i % 3]},note {i},{i % 2},{i * 2.0}")
    path.write_text("\n".join(rows) + "\n")
    schema = dataprep.infer_schema(path, label="target")
    f = {x.name: x for x in schema}
    assert f["id"].dtype == "int64" and f["id"].default is None
    assert f["price"].dtype == "float32" and f["price"].default == pytest.approx(
        np.mean([i * 1.5 for i in range(40) if i % 10 != 3]), rel=1e-5)
    assert f["rooms"].dtype == "int64" and isinstance(f["rooms"].default, int)
    assert f["city"].vocabulary == ("Paris", "Lyon", "Nice")  # by frequency, then alphabetically
    assert f["note"].dtype == "string" and f["note"].vocabulary is None
    assert f["Has_Garden"].source == "Has Garden"
    assert f["target"].role == "label" and f["target"].dtype == "float32"
    # wide&deep groups: categoricals wide, numbers deep; the row number and the free text in none, saying why
    assert {n: f[n].group for n in f} == {"id": None, "price": "deep", "rooms": "deep", "city": "wide", "note": None,
                                          "Has_Garden": "deep", "target": None}
    assert f["id"].description.endswith("no wide&deep group: consecutive integers, one per row: an id")
    assert "no wide&deep group: free text" in f["note"].description
    out = tmp_path / "schema.yaml"
    schema.save(out)
    assert load_schema(out) == schema
    dataprep.convert(path, out, tmp_path / "o", shuffle=False)
    got = read_tfrecord_split(tmp_path / "o", "train")
    assert got["price"][3] == np.float32(schema["price"].default)
    assert got["rooms"][5] == schema["rooms"].default


def test_labels_are_never_imputed_and_unknown_label_is_an_error():
    schema = dataprep.infer_schema(PENGUINS, label="body_mass_g")
    assert schema["body_mass_g"].role == "label" and schema["body_mass_g"].default is None
    assert schema["sex"].default == "male" and set(schema["sex"].vocabulary) == {"male", "female"}
    with pytest.raises(UsageError, match="not in the source"):
        dataprep.infer_schema(PENGUINS, label="price")


def test_infer_arrays():
    d = np.load(DIGITS)
    schema = dataprep.infer_schema({"image": d["image"], "label": d["label"]}, label="label")
    assert schema["image"].dtype == "uint8" and schema["image"].shape == (8, 8, 1)
    assert schema["label"].dtype == "int64" and schema["label"].role == "label"
