"""Every input kind becomes the same records; bad input names the file, line and column."""
from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dataprep
from dataprep import DataError, SourceError
from tests.tf_oracle import read_tfrecord_split

SCHEMA = {"features": [
    {"name": "name", "dtype": "string", "shape": []},
    {"name": "x", "dtype": "float32", "shape": [], "default": -1.0},
    {"name": "k", "dtype": "int64", "shape": []},
]}
CSV = ('name,x,k,unused\n'
       '"Smith, John",1.25,1,a\n'
       '咖啡,,2,b\n'
       '"multi\nline ""quoted""",3.5,3,c\n'
       'plain, 4 ,4,d\n')
EXPECTED = {"name": [b"Smith, John", "咖啡".encode(), b'multi\nline "quoted"', b"plain"],
            "x": [1.25, -1.0, 3.5, 4.0], "k": [1, 2, 3, 4]}


def convert_and_read(tmp_path, source, schema=SCHEMA, **kw):
    out = tmp_path / "out"
    dataprep.convert(source, schema, out, shuffle=False, overwrite=True, **kw)
    got = read_tfrecord_split(out, "train")
    return {k: [np.asarray(x).tolist() for x in v] if isinstance(v, list) else v.tolist() for k, v in got.items()}


def test_real_csv_quotes_newlines_unicode_blanks(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(CSV, encoding="utf-8")
    assert convert_and_read(tmp_path, path) == EXPECTED
    gz = tmp_path / "in.csv.gz"
    gz.write_bytes(gzip.compress(CSV.encode()))
    assert convert_and_read(tmp_path, str(gz)) == EXPECTED


def test_every_source_kind_gives_the_same_records(tmp_path):
    df = pd.DataFrame({"name": [b.decode() for b in EXPECTED["name"]], "x": [1.25, None, 3.5, 4.0],
                       "k": [1, 2, 3, 4]})
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=2)
    np.savez(tmp_path / "in.npz", name=np.array(df["name"].tolist()), x=np.array([1.25, -1.0, 3.5, 4.0]),
             k=np.arange(1, 5))
    arrays = {"name": np.array(df["name"], dtype=object), "x": np.array([1.25, -1.0, 3.5, 4.0]),
              "k": np.arange(1, 5)}
    for source in (df, table, tmp_path / "in.parquet", str(tmp_path / "in.npz"), arrays):
        assert convert_and_read(tmp_path, source, batch_size=3) == EXPECTED, type(source)


def test_lists_globs_and_folders(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.csv").write_text("name,x,k\np,1,1\nq,2,2\n")
    (folder / "b.csv").write_text("name,x,k\nr,3,3\n")
    expected = {"name": [b"p", b"q", b"r"], "x": [1.0, 2.0, 3.0], "k": [1, 2, 3]}
    for source in (folder, str(folder / "*.csv"), [folder / "a.csv", folder / "b.csv"]):
        assert convert_and_read(tmp_path, source) == expected


def test_parquet_list_columns_become_ragged_and_fixed(tmp_path):
    table = pa.table({"seq": pa.array([[1, 2, 3], [], [4]], pa.list_(pa.int64())),
                      "vec": pa.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], pa.list_(pa.float32(), 2)),
                      "pairs": pa.array([[[1.0, 2.0]], [], [[3.0, 4.0], [5.0, 6.0]]],
                                        pa.list_(pa.list_(pa.float64())))})
    pq.write_table(table, tmp_path / "l.parquet")
    schema = {"features": [{"name": "seq", "dtype": "int64", "shape": [None]},
                           {"name": "vec", "dtype": "float32", "shape": [2]},
                           {"name": "pairs", "dtype": "float32", "shape": [None, 2]}]}
    got = convert_and_read(tmp_path, tmp_path / "l.parquet", schema)
    assert got["seq"] == [[1, 2, 3], [], [4]]
    assert got["vec"] == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert got["pairs"] == [[[1.0, 2.0]], [], [[3.0, 4.0], [5.0, 6.0]]]


@pytest.mark.parametrize("text, message", [
    ("name,x,k\na,1,1\nb,abc,2\n", r"in.csv, line 3 \(row 2\), column 'x': cannot parse 'abc' as float32"),
    ('name,x,k\n"two\nlines",1,1\nb,2,2.5\n', r"in.csv, line 4 \(row 2\), column 'k': 2.5 is not an integer"),
    ("name,x,k\na,1,\n", r"line 2 \(row 1\), column 'k': missing value and feature has no default"),
    ("name,x,k\na,1,99999999999999999999\n",
     r"line 2 \(row 1\), column 'k': 99999999999999999999 is out of range for int64"),
    ("name,x,k\na,1e39,1\n", r"line 2 \(row 1\), column 'x': 1e\+39 overflows float32"),
    ("name,k\na,1\n", r"in.csv: column\(s\) 'x' not found; it has: name, k"),
    ("", r"in.csv: empty file"),
    ('name,x,k\n"unclosed,1,1\n', r"in.csv"),
])
def test_bad_csv_input_is_named(tmp_path, text, message):
    path = tmp_path / "in.csv"
    path.write_text(text)
    with pytest.raises((DataError, SourceError), match=message):
        dataprep.convert(path, SCHEMA, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.csv"]  # no temporary folder left behind


def test_missing_inputs(tmp_path):
    with pytest.raises(SourceError, match="input not found"):
        dataprep.convert(tmp_path / "nope.csv", SCHEMA, tmp_path / "o")
    with pytest.raises(SourceError, match="no files match"):
        dataprep.convert(str(tmp_path / "*.csv"), SCHEMA, tmp_path / "o")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(SourceError, match="unknown input type"):
        dataprep.convert(tmp_path / "x.txt", SCHEMA, tmp_path / "o")
    with pytest.raises(SourceError, match="different numbers of rows"):
        dataprep.convert({"name": np.array(["a"]), "x": np.zeros(2), "k": np.zeros(2)}, SCHEMA, tmp_path / "o")


def test_wrong_array_shapes_are_named(tmp_path):
    schema = {"features": [{"name": "v", "dtype": "float32", "shape": [3]}]}
    with pytest.raises(DataError, match=r"<arrays>, row 1, column 'v': feature 'v' needs shape \[3\]"):
        dataprep.convert({"v": np.zeros((4, 2))}, schema, tmp_path / "o")
    ragged = {"v": np.array([[1.0, 2.0, 3.0], [1.0]], dtype=object)}
    with pytest.raises(DataError, match=r"row 2, column 'v': feature 'v' has 1 elements"):
        dataprep.convert(ragged, schema, tmp_path / "o")
