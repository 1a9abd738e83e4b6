"""Acceptance on the real California housing CSV (../shared/data), skipped when that folder is absent."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dataprep
from tests.conftest import needs_shared, shared
from tests.tf_oracle import manifest, read_csv_split, read_tfrecord_split

DATA = shared("california_housing.csv")
pytestmark = needs_shared(DATA.name)
NUM = ["longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms", "population",
       "households", "median_income", "median_house_value"]


@pytest.mark.parametrize("fmt, compression", [("tfrecord", "gzip"), ("tfrecord", "none"), ("csv", "none")])
def test_housing_values_equal_pandas(tmp_path, fmt, compression):
    schema = dataprep.infer_schema(DATA, label="median_house_value")
    out = tmp_path / "o"
    s = dataprep.convert(DATA, schema, out, format=fmt, compression=compression, num_shards=4,
                         split="train=0.8,valid=0.1,test=0.1", seed=42)
    assert s.splits == {"train": 16512, "valid": 2064, "test": 2064}
    reader = read_tfrecord_split if fmt == "tfrecord" else read_csv_split
    parts = [reader(out, sp) for sp in manifest(out)["splits"]]
    got = pd.DataFrame({c: np.concatenate([p[c] for p in parts]).reshape(-1) for c in NUM})
    truth = pd.read_csv(DATA)
    fill = schema["total_bedrooms"].default
    truth["total_bedrooms"] = truth["total_bedrooms"].fillna(fill)
    key = ["longitude", "latitude", "housing_median_age", "total_rooms", "population", "median_income",
           "median_house_value", "households", "total_bedrooms"]
    exp = truth[NUM].astype(np.float32).sort_values(key).reset_index(drop=True)
    got = got.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, exp)
    cats = sorted(np.concatenate([p["ocean_proximity"] for p in parts]).reshape(-1).tolist())
    assert cats == sorted(v.encode() for v in truth["ocean_proximity"])
