"""Dates and times: schema infer recognises them, convert stores them as int64 seconds since 1970-01-01 UTC
(parsed a column at a time, every value checked to format back as written), bad dates go through the bad-row
policy with file, row and column, and the trainers' calendar inputs are exact for any day."""
from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa
import pytest

import dataprep
from dataprep.errors import DataError, SchemaError
from dataprep.records import SplitReader
from dataprep.schema import Schema

from . import tf_oracle

DAYS = ["2012-01-01", "1969-12-31", "2000-02-29", "1900-03-01", "9999-12-31", "0001-01-01"]
TIMES = ["2020-01-01T10:00:00", "1969-12-31T23:59:59", "2000-02-29T00:00:01", "2012-06-30T23:59:59",
         "1970-01-01T00:00:00", "2038-01-19T03:14:08"]


def write_csv(path, rows: list[list[str]], header: list[str]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_infer_then_convert_round_trips_exactly(tmp_path):
    slashes = [d.replace("-", "/") for d in DAYS]
    spaced = [t.replace("T", " ") for t in TIMES]
    write_csv(tmp_path / "in.csv", [[a, b, c, d, str(i), "20120101"] for i, (a, b, c, d) in
                                    enumerate(zip(DAYS, slashes, TIMES, spaced))],
              ["day", "slash", "time", "spaced", "y", "digits"])
    schema = dataprep.infer_schema(tmp_path / "in.csv", label="y")
    assert [(f.name, f.dtype, f.parse) for f in schema.features] == [
        ("day", "int64", "date"), ("slash", "int64", "%Y/%m/%d"), ("time", "int64", "datetime"),
        ("spaced", "int64", "%Y-%m-%d %H:%M:%S"), ("y", "int64", None), ("digits", "int64", None)]
    assert Schema.from_dict(schema.to_dict()) == schema
    dataprep.convert(tmp_path / "in.csv", schema, tmp_path / "out", split="train=1", shuffle=False)
    want_days = np.array(DAYS, "datetime64[s]").astype(np.int64)
    want_times = np.array(TIMES, "datetime64[s]").astype(np.int64)
    batch = next(SplitReader(tmp_path / "out", "train").iter_batches(100))
    for name, want in [("day", want_days), ("slash", want_days), ("time", want_times), ("spaced", want_times)]:
        assert batch[name].dtype == np.int64 and batch[name].tolist() == want.tolist(), name
    oracle = tf_oracle.read_tfrecord_split(tmp_path / "out", "train")  # plain TF: the same int64 seconds
    assert oracle["day"].tolist() == want_days.tolist() and oracle["time"].tolist() == want_times.tolist()
    assert np.datetime_as_string(batch["time"].astype("datetime64[s]")).tolist() == TIMES  # formats back


def test_infer_keeps_text_that_is_not_all_dates(tmp_path):
    write_csv(tmp_path / "in.csv", [["2012-01-01", "2012-01-01"], ["soon", "2012/01/02"], ["", "2012-01-03"]],
              ["a", "b"])
    schema = dataprep.infer_schema(tmp_path / "in.csv")
    assert [(f.dtype, f.parse) for f in schema.features] == [("string", None), ("string", None)]


def test_missing_dates_take_the_inferred_default(tmp_path):
    write_csv(tmp_path / "in.csv", [["2012-01-01"], [""], ["2012-01-04"]], ["day"])
    schema = dataprep.infer_schema(tmp_path / "in.csv")
    day = schema["day"]
    assert day.parse == "date" and day.default == np.datetime64("2012-01-02", "s").astype(np.int64)
    dataprep.convert(tmp_path / "in.csv", schema, tmp_path / "out", split="train=1", shuffle=False)
    got = next(SplitReader(tmp_path / "out", "train").iter_batches(10))["day"]
    days = np.datetime_as_string(got.astype("datetime64[s]").astype("datetime64[D]")).tolist()
    assert days == ["2012-01-01", "2012-01-02", "2012-01-04"]


@pytest.mark.parametrize("bad", ["2012-02-30", "2012-1-1", "2012-01-01T10:00:00", "yesterday", "2012-13-01"])
def test_bad_dates_name_file_row_and_column(tmp_path, bad):
    write_csv(tmp_path / "in.csv", [["2012-01-01"], [bad], ["2012-01-03"]], ["day"])
    schema = {"features": [{"name": "day", "dtype": "int64", "parse": "date"}]}
    with pytest.raises(DataError) as err:
        dataprep.convert(tmp_path / "in.csv", schema, tmp_path / "out", split="train=1")
    assert f"in.csv, line 3 (row 2), column 'day': cannot parse {bad!r} as a date %Y-%m-%d" in str(err.value)
    summary = dataprep.convert(tmp_path / "in.csv", schema, tmp_path / "out", split="train=1", on_error="skip")
    assert (summary.rows_written, summary.set_aside_by_reason) == (2, {"unparseable": 1})


def test_arrow_timestamps_are_seconds_and_fractions_are_refused(tmp_path):
    schema = {"features": [{"name": "t", "dtype": "int64", "parse": "datetime"}]}
    stamps = np.array(TIMES, "datetime64[s]")
    dataprep.convert(pa.table({"t": pa.array(stamps)}), schema, tmp_path / "out", split="train=1", shuffle=False)
    got = next(SplitReader(tmp_path / "out", "train").iter_batches(10))["t"]
    assert got.tolist() == stamps.astype(np.int64).tolist()
    with pytest.raises(DataError, match="stores whole seconds"):
        dataprep.convert(pa.table({"t": pa.array(np.array(["2020-01-01T00:00:00.5"], "datetime64[ms]"))}), schema,
                         tmp_path / "out2", split="train=1")


@pytest.mark.parametrize("change, fragment", [({"dtype": "float32"}, "dtype must be int64"),
                                              ({"parse": "when"}, "'parse' is a strptime format"),
                                              ({"parse": 3}, "'parse' is a strptime format")])
def test_schema_refuses_bad_parse(change, fragment):
    with pytest.raises(SchemaError, match=fragment):
        Schema.from_dict({"features": [{"name": "d", "dtype": "int64", "parse": "date", **change}]})


def test_calendar_parts_are_exact_for_any_day():
    from dataprep.train.calendar import calendar_features, civil_date

    rng = np.random.default_rng(0)
    s = np.concatenate([rng.integers(-10**11, 10**11, 20000), [0, -1, 86399, 86400, 951782400]]).astype(np.int64)
    year, month, day, weekday, second = [np.asarray(v) for v in civil_date(s)]
    dt = s.astype("datetime64[s]")
    assert year.tolist() == (dt.astype("datetime64[Y]").astype(np.int64) + 1970).tolist()
    assert month.tolist() == (dt.astype("datetime64[M]").astype(np.int64) % 12 + 1).tolist()
    assert day.tolist() == ((dt.astype("datetime64[D]") - dt.astype("datetime64[M]")).astype(np.int64) + 1).tolist()
    assert weekday.tolist() == ((dt.astype("datetime64[D]").astype(np.int64) + 3) % 7).tolist()  # Monday is 0
    assert second.tolist() == (s % 86400).tolist()
    x = np.asarray(calendar_features(np.array(["2023-12-31T06:00:00", "2024-01-01T18:00:00"], "datetime64[s]")
                                     .astype(np.int64), 0.0, 1.0, with_time=True))
    assert x.shape == (2, 9)
    assert np.allclose(x[:, 1:3], [[np.sin(11 / 6 * np.pi), np.cos(11 / 6 * np.pi)], [0, 1]], atol=1e-6)  # month
    assert np.allclose(x[:, 5:7], [[np.sin(12 / 7 * np.pi), np.cos(12 / 7 * np.pi)], [0, 1]], atol=1e-6)  # Sun, Mon
    assert np.allclose(x[:, 7:9], [[1, 0], [-1, 0]], atol=1e-6)  # 06:00 and 18:00


def test_infer_takes_arrow_dates_and_timestamps(tmp_path):
    days, stamps = np.array(DAYS[:3], "datetime64[D]"), np.array(TIMES[:3], "datetime64[s]")
    table = pa.table({"d": pa.array(days), "t": pa.array(stamps)})
    schema = dataprep.infer_schema(table)
    assert [(f.dtype, f.parse) for f in schema.features] == [("int64", "date"), ("int64", "datetime")]
    dataprep.convert(table, schema, tmp_path / "out", split="train=1", shuffle=False)
    got = next(SplitReader(tmp_path / "out", "train").iter_batches(10))
    assert got["d"].tolist() == days.astype("datetime64[s]").astype(np.int64).tolist()
    assert got["t"].tolist() == stamps.astype(np.int64).tolist()
