"""A table of bad inputs: each gives one clear line naming the file, line (or row) and column, the right exit
code, and, under a skip/quarantine policy, an exact count where read = written + set aside."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dataprep.cli import main

SCHEMA = """version: 1
features:
- {name: id, dtype: int64, shape: []}
- {name: x, dtype: float32, shape: [], allow_nan: false}
- {name: cat, dtype: string, shape: [], vocabulary: [a, b]}
- {name: note, dtype: string, shape: [], default: ""}
- {name: px, dtype: uint8, shape: [2], source: [p0, p1]}
"""
HEADER = "id,x,cat,note,p0,p1"
GOOD = ["1,1.5,a,ok,0,255", "2,2.5,b,,3,4"]

# (case id, bad line, reason, message fragment naming the column)
DATA_CASES = [
    ("text_in_float", "3,abc,a,n,1,1", "unparseable", "column 'x': cannot parse 'abc' as float32"),
    ("fraction_in_int", "3.5,1,a,n,1,1", "not_integer", "column 'id': 3.5 is not an integer"),
    ("nan_forbidden", "3,nan,a,n,1,1", "missing", "column 'x'"),
    ("inf_forbidden", "3,inf,a,n,1,1", "not_finite", "column 'x': inf is not finite"),
    ("missing_required", ",1,a,n,1,1", "missing", "column 'id': missing value"),
    ("na_marker_required", "NA,1,a,n,1,1", "missing", "column 'id': missing value"),
    ("out_of_vocabulary", "3,1,zz,n,1,1", "not_in_vocabulary", "column 'cat': 'zz' is not in the vocabulary"),
    ("int_overflow", "99999999999999999999,1,a,n,1,1", "out_of_range",
     "column 'id': 99999999999999999999 is out of range for int64"),
    ("float_overflow", "3,1e39,a,n,1,1", "out_of_range", "column 'x': 1e+39 overflows float32"),
    ("pixel_out_of_range", "3,1,a,n,256,1", "out_of_range", "column 'p0': 256 is out of range for uint8"),
    ("negative_pixel", "3,1,a,n,-1,1", "out_of_range", "column 'p0': -1 is out of range for uint8"),
    ("missing_pixel", "3,1,a,n,,1", "missing", "column 'p0': missing value"),
    ("missing_category", "3,1,,n,1,1", "missing", "column 'cat': missing value"),
    ("letters_in_int", "3a,1,a,n,1,1", "unparseable", "column 'id': cannot parse '3a'"),
    ("too_many_fields", "3,1,a,n,1,1,9", "malformed_csv", "malformed CSV row: 7 fields, the header has 6"),
    ("too_few_fields", "3,1,a", "malformed_csv", "malformed CSV row: 3 fields, the header has 6"),
]


def write_case(tmp_path: Path, bad: str | bytes) -> Path:
    path = tmp_path / "in.csv"
    lines = [HEADER.encode(), GOOD[0].encode(), bad if isinstance(bad, bytes) else bad.encode(), GOOD[1].encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    (tmp_path / "s.yaml").write_text(SCHEMA)
    return path


def run(tmp_path: Path, *extra: str):
    return CliRunner().invoke(main, ["convert", str(tmp_path / "in.csv"), "--schema", str(tmp_path / "s.yaml"),
                                     "--out", str(tmp_path / "out"), "--quiet", *extra])


@pytest.mark.parametrize("case, bad, reason, fragment", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_row_fails_then_is_counted(tmp_path, case, bad, reason, fragment):
    write_case(tmp_path, bad)
    r = run(tmp_path)
    assert r.exit_code == 1, r.output
    message = r.output.strip()
    assert message.startswith("Error: ") and "\n" not in message and "Traceback" not in message
    assert "in.csv, line 3" in message and fragment in message, message
    assert not (tmp_path / "out").exists()

    r = run(tmp_path, "--on-error", "quarantine", "--quarantine", str(tmp_path / "q.csv"))
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    rows = m["rows"]
    assert rows["read"] == 3 and rows["written"] == 2 and rows["set_aside"] == 1
    assert rows["read"] == rows["written"] + rows["set_aside"] and rows["set_aside_by_reason"] == {reason: 1}
    quarantined = list(csv.DictReader(open(tmp_path / "q.csv")))
    assert len(quarantined) == 1 and quarantined[0]["reason"] == reason
    assert quarantined[0]["file"].endswith("in.csv")


def test_invalid_utf8_is_a_bad_row(tmp_path):
    write_case(tmp_path, b"3,1,a,caf\xe9,1,1")
    r = run(tmp_path)
    assert r.exit_code == 1 and "line 3 (row 2), column 'note': invalid UTF-8" in r.output
    r = run(tmp_path, "--on-error", "skip", "--json")
    assert json.loads(r.stdout)["set_aside_by_reason"] == {"invalid_utf8": 1}


def test_unbalanced_quote(tmp_path):
    write_case(tmp_path, '3,"1,a,n,1,1')
    r = run(tmp_path)
    assert r.exit_code == 1 and "in.csv, line 3: malformed CSV row" in r.output, r.output


def test_line_break_cannot_go_to_csv_shards(tmp_path):
    write_case(tmp_path, '3,1,a,"two\nlines",1,1')
    r = run(tmp_path, "--format", "csv")
    assert r.exit_code == 1 and "line 3 (row 2), column 'note': value holds a line break" in r.output
    assert run(tmp_path, "--overwrite").exit_code == 0  # TFRecord carries it


def test_every_quarantine_row_has_its_own_message(tmp_path):
    """Each quarantined row names its own line and row, whatever the reason (line breaks and parse errors
    alike), never the first bad row's place or nothing."""
    rows = ['2,1,a,"two\nlines",1,1', "3,x,a,n,1,1", '4,1,a,"more\nlines",1,1', "5,y,a,n,1,1"]
    (tmp_path / "in.csv").write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    (tmp_path / "s.yaml").write_text(SCHEMA)
    r = run(tmp_path, "--format", "csv", "--on-error", "quarantine", "--quarantine", str(tmp_path / "q.csv"))
    assert r.exit_code == 0, r.output
    with open(tmp_path / "q.csv", newline="", encoding="utf-8") as fh:
        quarantined = list(csv.DictReader(fh))
    assert len(quarantined) == 4
    for q in quarantined:
        assert q["message"].startswith(f"{q['file']}, line {q['line']} (row {q['row']}), column '{q['column']}': "), q


def test_max_errors_and_rate(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(HEADER + "\n" + "\n".join(f"{i},{'x' if i % 10 == 0 else 1},a,n,1,1" for i in range(1, 101)))
    (tmp_path / "s.yaml").write_text(SCHEMA)
    r = run(tmp_path, "--on-error", "skip", "--max-errors", "5")
    assert r.exit_code == 1 and "10 bad rows exceed --max-errors 5; first: " in r.output
    r = run(tmp_path, "--on-error", "skip", "--max-error-rate", "0.05")
    assert r.exit_code == 1 and "10 of 100 rows are bad (10.00%), over --max-error-rate 0.05" in r.output
    assert not (tmp_path / "out").exists()
    r = run(tmp_path, "--on-error", "skip", "--max-error-rate", "0.2", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["rows_set_aside"] == 10


@pytest.mark.parametrize("setup, args, code, fragment", [
    ("missing_input", [], 2, "in.csv' does not exist"),
    ("empty_file", [], 1, "empty file"),
    ("header_without_column", [], 1, "column(s) 'px' not found"),
    ("folder_named_csv", [], 1, "folder holds no CSV"),
    ("duplicate_header", [], 1, "more than once"),
    ("corrupt_parquet", [], 1, "cannot read parquet"),
    ("yaml_syntax", [], 2, "s.yaml line 4: invalid YAML: expected ',' or ']'"),
    ("yaml_unknown_key", [], 2, "s.yaml line 2: feature #1 'id': unknown key(s) ['dtpye']"),
    ("unknown_option", ["--shards", "3"], 2, "No such option '--shards'"),
    ("bad_split", ["--split", "train=0.7"], 2, "split ratios sum to 0.7"),
    ("bad_format", ["--format", "json"], 2, "Invalid value for '--format'"),
])
def test_bad_files_schemas_and_options(tmp_path, setup, args, code, fragment):
    src = tmp_path / "in.csv"
    schema = tmp_path / "s.yaml"
    src.write_text(HEADER + "\n" + GOOD[0] + "\n")
    schema.write_text(SCHEMA.replace("px", "p") if setup != "header_without_column" else SCHEMA)
    schema.write_text(SCHEMA)
    if setup == "missing_input":
        src.unlink()
    elif setup == "empty_file":
        src.write_text("")
    elif setup == "header_without_column":
        src.write_text("id,x,cat,note,p0\n1,1,a,n,1\n")
        schema.write_text(SCHEMA.replace("source: [p0, p1]", "source: [p0, px]"))
    elif setup == "folder_named_csv":
        src.unlink()
        src.mkdir()
    elif setup == "duplicate_header":
        src.write_text("id,x,x,cat,note,p0,p1\n1,1,1,a,n,1,1\n")
    elif setup == "corrupt_parquet":
        src = tmp_path / "in.parquet"
        src.write_bytes(np.random.default_rng(0).bytes(500))
    elif setup == "yaml_syntax":
        schema.write_text("version: 1\nfeatures:\n- {name: id, dtype: [int64\n")
    elif setup == "yaml_unknown_key":
        schema.write_text("features:\n- name: id\n  dtpye: int64\n")
    r = CliRunner().invoke(main, ["convert", str(src), "--schema", str(schema), "--out", str(tmp_path / "out"),
                                  "--quiet", *args])
    assert r.exit_code == code, r.output
    assert fragment in r.output and "Traceback" not in r.output, r.output
    assert not (tmp_path / "out").exists()
