"""Never lose, truncate or round a value silently (issue 14): CSV records counted from the file itself,
`schema infer` agreeing with `convert` value for value, exact int64, float32 overflow, BOMs, long fields, and
quarantine rows that say where and why."""
from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import dataprep
from dataprep import csvscan
from dataprep.cli import main
from dataprep.errors import DataError, SourceError
from dataprep.sources import csv_files

ABC = """features:
- {name: a, dtype: int64, shape: []}
- {name: b, dtype: string, shape: []}
- {name: c, dtype: int64, shape: []}
"""


def rows_csv(path: Path, n: int = 300, replace: dict[int, str] | None = None) -> Path:
    rows = [f"{i},x{i},{2 * i}\n" for i in range(n)]
    for i, text in (replace or {}).items():
        rows[i] = text
    path.write_text("a,b,c\n" + "".join(rows))
    return path


def summary(tmp_path: Path, source, schema: str = ABC, **kw):
    (tmp_path / "s.yaml").write_text(schema)
    return dataprep.convert(source, tmp_path / "s.yaml", tmp_path / "out", overwrite=True, shuffle=False, **kw)


def quarantine(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --- 1. a quoted field that never closes ------------------------------------------------------------------
def test_unclosed_quote_fails_naming_its_line(tmp_path):
    src = rows_csv(tmp_path / "in.csv", replace={150: '150,"x150,300\n'})
    with pytest.raises(DataError, match=r"in.csv, line 152: malformed CSV row: a quoted field never closes"):
        summary(tmp_path, src)


def test_unclosed_quote_sets_aside_every_line_it_swallowed(tmp_path):
    src = rows_csv(tmp_path / "in.csv", replace={150: '150,"x150,300\n'})
    q = tmp_path / "q.csv"
    s = summary(tmp_path, src, on_error="quarantine", quarantine=q)
    assert (s.rows_read, s.rows_written, s.rows_set_aside) == (300, 150, 150)
    assert s.set_aside_by_reason == {"malformed_csv": 150}
    got = quarantine(q)
    assert [(r["line"], r["row"]) for r in got] == [(str(i + 2), str(i + 1)) for i in range(150, 300)]
    assert all("never closes" in r["message"] for r in got)
    assert got[1]["message"].endswith("'151,x151,302'")


def test_quoted_field_over_the_line_bound_is_cut_out(tmp_path, monkeypatch):
    """A stray quote closed by another 20 lines later keeps the field count right: only the bound sees it."""
    monkeypatch.setattr(csvscan, "MAX_FIELD_LINES", 5)
    src = rows_csv(tmp_path / "in.csv", replace={10: '10,"x10,20\n', 30: '30,x",60\n'})
    s = summary(tmp_path, src, on_error="skip")
    assert (s.rows_read, s.rows_written, s.rows_set_aside) == (300, 279, 21)
    back = dataprep.load_numpy(tmp_path / "out", "train")
    assert back["a"].tolist() == list(range(10)) + list(range(31, 300))
    monkeypatch.setattr(csvscan, "MAX_FIELD_LINES", 100)  # a real multi-line field stays one value
    s = summary(tmp_path, src, on_error="skip")
    assert (s.rows_read, s.rows_written, s.rows_set_aside) == (280, 280, 0)


@pytest.mark.parametrize("seed", range(3))
def test_scan_counts_the_records_arrow_parses(tmp_path, seed, monkeypatch):
    """The independent count agrees with the parser on random quoting, CRs and blank lines, at any block size."""
    import pyarrow.csv as pacsv

    rnd = random.Random(seed)
    for _ in range(300):
        body = "".join(rnd.choice(['a', ',', '"', '\n', '\r', ' ', '""', '\r\n']) for _ in range(rnd.randint(0, 50)))
        data = ("h1,h2\n" + body).encode()
        path = tmp_path / "f.csv"
        path.write_bytes(data)
        monkeypatch.setattr(csvscan, "SCAN_BLOCK_BYTES", rnd.choice([1, 2, 3, 7, 1 << 20]))
        scan = csvscan.scan_csv(path, ",", 1 << 30, detail=True)
        if scan.bad:
            continue
        invalid = []
        table = pacsv.read_csv(io.BytesIO(data), parse_options=pacsv.ParseOptions(
            newlines_in_values=True, invalid_row_handler=lambda r, invalid=invalid: invalid.append(r) or "skip"),
            convert_options=pacsv.ConvertOptions(column_types={"h1": pa.binary(), "h2": pa.binary()}))
        assert scan.records - 1 == table.num_rows + len(invalid), data
        assert int((scan.fields[1:] == 2).sum()) == table.num_rows, data


# --- 5. a UTF-8 BOM ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["in.csv", "in.csv.gz", "in.tsv"])
def test_bom_is_not_part_of_the_first_name(tmp_path, name):
    sep = "\t" if ".tsv" in name else ","
    data = "\ufeff" + f"a{sep}b{sep}c\n" + "".join(f"{i}{sep}x{i}{sep}{i}\n" for i in range(5))
    path = tmp_path / name
    path.write_bytes(gzip.compress(data.encode()) if name.endswith(".gz") else data.encode())
    assert csv_files.csv_header(path) == ["a", "b", "c"]
    assert [f.name for f in dataprep.infer_schema(path).features] == ["a", "b", "c"]
    s = summary(tmp_path, path)
    assert s.rows_written == 5
    assert dataprep.load_numpy(tmp_path / "out", "train")["a"].tolist() == [0, 1, 2, 3, 4]
    res = CliRunner().invoke(main, ["stats", str(path), "--json"])
    assert res.exit_code == 0, res.output
    assert "a" in json.loads(res.output)["splits"]["input"]


# --- 6. a field over the parse block -------------------------------------------------------------------------
def test_field_over_the_block_grows_the_block(tmp_path):
    big = "y" * (9 << 20)  # over two 4 MiB blocks: Arrow refused it
    src = rows_csv(tmp_path / "in.csv", n=20, replace={3: f'3,"{big}",6\n'})
    s = summary(tmp_path, src)
    assert s.rows_written == 20
    assert dataprep.load_numpy(tmp_path / "out", "train")["b"][3] == big.encode()


def test_row_over_the_limit_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_files, "MAX_CSV_RECORD_BYTES", 1 << 20)
    monkeypatch.setattr(csv_files, "CSV_BLOCK_BYTES", 1 << 18)
    src = rows_csv(tmp_path / "in.csv", n=20, replace={3: f'3,"{"y" * (2 << 20)}",6\n'})
    with pytest.raises(SourceError, match=r"in.csv, line 5: a CSV row of 2,097,\d+ bytes is over the limit of 1 MiB"):
        summary(tmp_path, src)


# --- 7. the quarantine says where and why, for every row -------------------------------------------------------
def test_quarantine_rows_have_line_row_and_message(tmp_path):
    src = rows_csv(tmp_path / "in.csv", n=10, replace={2: "2,x\n", 4: "four,x4,8\n", 6: "six,x6,12\n",
                                                        8: '8,"two\nlines",16,extra\n'})
    q = tmp_path / "q.csv"
    s = summary(tmp_path, src, on_error="quarantine", quarantine=q)
    assert (s.rows_read, s.rows_written, s.rows_set_aside) == (10, 6, 4)
    got = [(r["line"], r["row"], r["reason"], r["message"]) for r in quarantine(q)]
    assert got[0] == ("4", "3", "malformed_csv", "2 fields, the header has 3: '2,x'")
    assert got[1][:3] == ("10", "9", "malformed_csv")
    assert got[2][:3] == ("6", "5", "unparseable") and "line 6 (row 5), column 'a': cannot parse 'four'" in got[2][3]
    assert got[3][:3] == ("8", "7", "unparseable") and "line 8 (row 7), column 'a': cannot parse 'six'" in got[3][3]


# --- 3. int64 exact, whatever else is in the batch ---------------------------------------------------------
INT_SCHEMA = "features:\n- {name: n, dtype: int64, shape: []}\n"


def test_int64_text_is_exact_next_to_a_float_spelling(tmp_path):
    values = ["2.0", "9007199254740993", "9223372036854775807", "-9223372036854775808", "1e3", "+7", " 12 "]
    src = tmp_path / "in.csv"
    src.write_text("n\n" + "\n".join(values) + "\n")
    summary(tmp_path, src, schema=INT_SCHEMA)
    assert dataprep.load_numpy(tmp_path / "out", "train")["n"].tolist() == [
        2, 9007199254740993, 2 ** 63 - 1, -2 ** 63, 1000, 7, 12]


@pytest.mark.parametrize("text, message", [
    ("9223372036854775808", "9223372036854775808 is out of range for int64"),
    ("-9223372036854775809", "-9223372036854775809 is out of range for int64"),
    ("9.3e18", "9.3e18 is out of range for int64"),
    ("2.5", "2.5 is not an integer"),
    ("1e-400", "1e-400 is not an integer"),
])
def test_int64_messages_name_the_value(tmp_path, text, message):
    src = tmp_path / "in.csv"
    src.write_text(f"n\n2.0\n{text}\n")
    with pytest.raises(DataError, match=rf"line 3 \(row 2\), column 'n': {message}"):
        summary(tmp_path, src, schema=INT_SCHEMA)


@pytest.mark.parametrize("values, message", [
    (np.array([1.0, 1e19]), "1e+19 is out of range for int64"),
    (np.array([1, 2 ** 63], np.uint64), "9223372036854775808 is out of range for int64"),
])
def test_int64_from_arrays_names_the_value(tmp_path, values, message):
    with pytest.raises(DataError, match=re.escape(f"<arrays>, row 2, column 'n': {message}")):
        summary(tmp_path, {"n": values}, schema=INT_SCHEMA)


def test_int64_beyond_2_53_from_dataframe_parquet_and_arrays(tmp_path):
    import pandas as pd

    big = [9007199254740993, 2 ** 63 - 1, -2 ** 63]
    pq.write_table(pa.table({"n": pa.array(big, pa.int64())}), tmp_path / "in.parquet")
    for source in (pd.DataFrame({"n": big}), tmp_path / "in.parquet", {"n": np.array(big, np.int64)},
                   pd.DataFrame({"n": pd.array(big + [None], "Int64")}).iloc[:3]):
        summary(tmp_path, source, schema=INT_SCHEMA)
        assert dataprep.load_numpy(tmp_path / "out", "train")["n"].tolist() == big
        assert dataprep.infer_schema(source).features[0].dtype == "int64"


def test_uint64_beyond_int64_is_inferred_as_exact_text(tmp_path):
    source = {"u": np.array([1, 2 ** 64 - 1], np.uint64)}
    schema = dataprep.infer_schema(source)
    assert schema.features[0].dtype == "string"
    dataprep.convert(source, schema, tmp_path / "out", shuffle=False)
    assert dataprep.load_numpy(tmp_path / "out", "train")["u"].tolist() == [b"1", b"18446744073709551615"]


def test_missing_int_takes_its_default_exactly(tmp_path):
    schema = "features:\n- {name: n, dtype: int64, shape: [], default: 9007199254740993}\n"
    summary(tmp_path, {"n": np.array([None, None], object)}, schema=schema)
    assert dataprep.load_numpy(tmp_path / "out", "train")["n"].tolist() == [9007199254740993] * 2


# --- 4. float32 overflow, however it is written -----------------------------------------------------------------
@pytest.mark.parametrize("allow_nan", [False, True])
@pytest.mark.parametrize("text", ["1e39", "1e400", "-1e400", "-1e39"])
def test_float32_overflow_is_out_of_range(tmp_path, text, allow_nan):
    schema = f"features:\n- {{name: x, dtype: float32, shape: [], allow_nan: {str(allow_nan).lower()}}}\n"
    src = tmp_path / "in.csv"
    src.write_text(f"x\n1.5\n{text}\ninf\n")
    with pytest.raises(DataError, match=r"line 3 \(row 2\), column 'x': -?1e\+?(39|400) overflows float32"):
        summary(tmp_path, src, schema=schema)
    s = summary(tmp_path, src, schema=schema, on_error="skip")
    assert s.set_aside_by_reason == {"out_of_range": 1, **({} if allow_nan else {"not_finite": 1})}


@pytest.mark.parametrize("kind", ["numpy", "parquet"])
def test_float32_overflow_from_typed_inputs(tmp_path, kind):
    values = np.array([1.0, 1e39, -1e300], np.float64)
    source = {"x": values}
    if kind == "parquet":
        pq.write_table(pa.table(source), tmp_path / "in.parquet")
        source = tmp_path / "in.parquet"
    schema = "features:\n- {name: x, dtype: float32, shape: [], allow_nan: true}\n"
    s = summary(tmp_path, source, schema=schema, on_error="skip")
    assert s.set_aside_by_reason == {"out_of_range": 2}


# --- 2. schema infer and convert agree, value for value ---------------------------------------------------------
# column -> (its fields as written in the CSV, the values a reader must get back; None: the inferred default)
NASTY = {
    "spaces": (['"trailing space "', " leading", "plain", "trailing space ", '" leading"', "plain"],
               ["trailing space ", " leading", "plain", "trailing space ", " leading", "plain"]),
    "zip": (["02134", "10001", "00501", "02134", "10001", "00501"],
            ["02134", "10001", "00501", "02134", "10001", "00501"]),
    "big": (["9007199254740993", "9223372036854775807", "-9223372036854775808", "1", "-0", "3"],
            [9007199254740993, 2 ** 63 - 1, -2 ** 63, 1, 0, 3]),
    "huge": (["99999999999999999999", "1", "2", "-99999999999999999999", "3", "4"],
             ["99999999999999999999", "1", "2", "-99999999999999999999", "3", "4"]),
    "negzero": (["-0.0", "0.0", "1.5", "-0.0", "2.5", "0.0"], [-0.0, 0.0, 1.5, -0.0, 2.5, 0.0]),
    "empty": (['""', "", "x", "x", '""', "x"], ["", None, "x", "x", "", "x"]),
    "unicode": (["é", "日本", "😀", "é", "日本", "😀"], ["é", "日本", "😀", "é", "日本", "😀"]),
    "punct": (['"a,b"', '"say ""hi"""', '"a,b"', "'", '"a,b"', '"say ""hi"""'],
              ["a,b", 'say "hi"', "a,b", "'", "a,b", 'say "hi"']),
    "na": (["NA", "1", "2", "3", "4", "NA"], [None, 1, 2, 3, 4, None]),
    "padded_int": ([" 7", "8 ", " 9 ", "10", "11", "12"], [7, 8, 9, 10, 11, 12]),
    "blank_text": ([" ", "a b", " ", "a b", "c", "c"], [" ", "a b", " ", "a b", "c", "c"]),
}

MULTILINE = {"multiline": (['"two\nlines"', "one", '"two\r\nlines"', "one", '"a\n\nb"', "one"],
                           ["two\nlines", "one", "two\r\nlines", "one", "a\n\nb", "one"])}


@pytest.mark.parametrize("fmt", ["tfrecord", "csv"])
def test_infer_then_convert_keeps_every_value(tmp_path, fmt):
    """The inferred schema converts its own file exactly, read back through plain TensorFlow."""
    from tests import tf_oracle

    nasty = {**NASTY, **(MULTILINE if fmt == "tfrecord" else {})}  # CSV shards carry no line breaks
    names = list(nasty)
    lines = [",".join(names)] + [",".join(nasty[c][0][i] for c in names) for i in range(6)]
    src = tmp_path / "in.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["schema", "infer", str(src), "-o", str(tmp_path / "s.yaml")])
    assert res.exit_code == 0, res.output
    schema = dataprep.load_schema(tmp_path / "s.yaml")
    by_name = {f.name: f for f in schema.features}
    assert by_name["zip"].dtype == "string" and by_name["huge"].dtype == "string"
    assert by_name["big"].dtype == "int64" and by_name["padded_int"].dtype == "int64"
    assert by_name["spaces"].vocabulary == ("trailing space ", " leading", "plain") or \
        set(by_name["spaces"].vocabulary) == {"trailing space ", " leading", "plain"}
    res = CliRunner().invoke(main, ["convert", str(src), "--schema", str(tmp_path / "s.yaml"), "--out",
                                    str(tmp_path / "out"), "--no-shuffle", "--format", fmt, "--quiet"])
    assert res.exit_code == 0, res.output
    if fmt == "tfrecord":
        back = tf_oracle.read_tfrecord_split(tmp_path / "out", "train")
    else:
        back = dataprep.load_numpy(tmp_path / "out", "train")
    for name, (_, want) in nasty.items():
        f = by_name[name]
        want = [f.default if w is None else w for w in want]
        got = back[name].tolist()
        if f.dtype in ("string", "bytes"):
            got = [g.decode("utf-8") if isinstance(g, bytes) else g for g in got]
            assert got == want, name
        elif f.dtype == "int64":
            assert got == want, name
        else:
            assert [float(g) for g in got] == [float(w) for w in want], name
            assert list(np.signbit(np.asarray(got, np.float64))) == list(np.signbit(want)), name
