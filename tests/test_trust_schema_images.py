"""Hostile schemas and hostile image inputs stay bounded and fail with one line: YAML aliases, oversized
schema files, huge shapes, names that break CSV headers, image paths to devices, FIFOs, links and files
outside the table's folder, and images whose header promises far more pixels than the feature holds.

Cases that exhausted memory or hung before run in a subprocess under an address-space limit
(``resource.setrlimit``) and a timeout, so a regression fails the test instead of the machine."""
from __future__ import annotations

import csv
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

import dataprep
from dataprep import DataError, SchemaError, SourceError, images
from dataprep.records import SplitReader
from dataprep.schema import MAX_CSV_COLUMNS, MAX_FEATURE_BYTES, MAX_SCHEMA_BYTES, load_schema

MEMORY_CAP = 1 << 30  # bytes of address space for the capped subprocesses: the fixed code needs a fraction


def run_capped(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with at most MEMORY_CAP of address space and ``timeout`` seconds."""
    prelude = ("import resource; resource.setrlimit(resource.RLIMIT_AS, "
               f"({MEMORY_CAP}, {MEMORY_CAP}))\n")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def png(width: int, height: int, pixels: bool = True) -> bytes:
    """A grey PNG of ``width`` x ``height`` black pixels (``pixels=False``: the header only, no image data)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\0" * ((width + 1) * height), 9) if pixels else zlib.compress(b"")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


# --- schema files -------------------------------------------------------------------------------------------
def billion_laughs(levels: int = 9) -> str:
    """Nested YAML aliases: ~400 bytes that expand to 9**levels strings (3 GB of text at 9 levels)."""
    lines = ["description:", '  - &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghijk"[:levels - 1]:
        lines.append(f"  - &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    return "\n".join(lines + ["features:", "  - {name: x, dtype: float32}"]) + "\n"


def test_yaml_aliases_are_refused_before_they_expand(tmp_path):
    """Before: 404 bytes took 5.9 GB and 4 minutes (the description became a 3.2 GB string)."""
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs())
    result = run_capped(f"""
        from dataprep.schema import load_schema
        from dataprep.errors import SchemaError
        try:
            load_schema({str(path)!r})
        except SchemaError as e:
            print("refused:", e)
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == (f"refused: {path} line 2: invalid YAML: anchors and aliases (&name, *name) "
                                     "are not allowed in a schema file")


def test_an_anchor_alone_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("features:\n  - &f {name: x, dtype: float32}\n")
    with pytest.raises(SchemaError, match=r"s.yaml line 2: invalid YAML: anchors and aliases"):
        load_schema(path)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_schema_file_over_the_size_limit_is_refused(tmp_path, suffix):
    doc = {"description": "x" * MAX_SCHEMA_BYTES, "features": [{"name": "x", "dtype": "float32"}]}
    path = tmp_path / f"big{suffix}"
    path.write_text(json.dumps(doc))  # JSON is YAML too
    with pytest.raises(SchemaError, match=rf"schema file {path} is over 1 MiB; a schema is a few KiB"):
        load_schema(path)


def test_schema_from_an_endless_file_is_read_no_further_than_the_limit(tmp_path):
    """Before: /dev/zero as a schema was read until memory ran out."""
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    result = run_capped(f"""
        from dataprep.schema import load_schema
        from dataprep.errors import SchemaError
        for name in ("/dev/zero", {str(tmp_path / "zero.json")!r}):
            try:
                load_schema(name)
            except SchemaError as e:
                print(e)
    """, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["schema file /dev/zero is over 1 MiB; a schema is a few KiB",
                                          f"schema file {tmp_path}/zero.json is over 1 MiB; a schema is a few KiB"]


@pytest.mark.parametrize("suffix, text, message", [
    (".json", "[" * 100_000 + "]" * 100_000, "invalid JSON"),
    (".yaml", "[" * 100_000 + "]" * 100_000, "invalid YAML"),
    (".json", '{"features": [{"name": "x", "dtype": "float32", "shape": [' + "9" * 5000 + "]}]}", "invalid JSON"),
    (".yaml", "features: [{name: x, dtype: float32, shape: [" + "9" * 5000 + "]}]", "invalid YAML"),
])
def test_deep_nesting_and_endless_integers_are_one_line(tmp_path, suffix, text, message):
    """Before: RecursionError and ValueError (int digits limit) tracebacks."""
    path = tmp_path / f"s{suffix}"
    path.write_text(text)
    with pytest.raises(SchemaError, match=rf"s{suffix}: {message}: "):
        load_schema(path)


# --- shapes ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype, shape", [("float32", [1_000_000_000]), ("int64", [100_000, 100_000]),
                                          ("float32", [None, 1 << 25]), ("float32", [4097, 4096]),
                                          ("int64", [1 << 23, 2]), ("string", [1 << 24]),
                                          ("uint8", [4097, 4096, 4]), ("image", [8192, 8192, 3])])
def test_huge_shapes_are_refused(dtype, shape):
    with pytest.raises(SchemaError, match=rf"feature #1 'x': shape .* of {dtype} takes over 64 MiB per record "
                                          r"\(the limit per feature, MAX_FEATURE_BYTES\)"):
        load_schema({"features": [{"name": "x", "dtype": dtype, "shape": shape}]})


@pytest.mark.parametrize("dtype, shape", [("float32", [1 << 24]), ("int64", [4096, 2048]),
                                          ("uint8", [4096, 4096, 4]), ("image", [4096, 4096, 4])])
def test_shapes_at_the_limit_are_accepted(dtype, shape):
    schema = load_schema({"features": [{"name": "x", "dtype": dtype, "shape": shape}]})
    assert schema["x"].inner_size * (4 if dtype == "float32" else 8 if dtype == "int64" else 1) == MAX_FEATURE_BYTES


def test_bytes_summed_over_features_are_capped():
    feats = [{"name": f"x{i}", "dtype": "float32", "shape": [1 << 24]} for i in range(5)]
    with pytest.raises(SchemaError, match=r"the features take 335,544,320 bytes per record, over the limit of "
                                          r"256 MiB \(MAX_RECORD_BYTES\)"):
        load_schema({"features": feats})


def test_csv_columns_are_capped():
    schema = load_schema({"features": [{"name": "x", "dtype": "uint8", "shape": [257, 256, 1]}]})
    with pytest.raises(SchemaError, match=rf"the features take 65,792 CSV columns, over the limit of "
                                          rf"{MAX_CSV_COLUMNS:,} \(MAX_CSV_COLUMNS\); use --format tfrecord"):
        schema.csv_columns()


def test_too_many_dimensions_are_refused():
    with pytest.raises(SchemaError, match="a shape has at most 32 dimensions, got 33"):
        load_schema({"features": [{"name": "x", "dtype": "float32", "shape": [1] * 33}]})


def test_image_size_option_is_capped_too():
    schema = load_schema({"features": [{"name": "x", "dtype": "image", "shape": [8, 8, 3]}]})
    with pytest.raises(SchemaError, match="feature 'x': shape \\[100000, 100000, 3\\] of image takes over 64 MiB"):
        schema.with_image_options(size=(100_000, 100_000))


def test_huge_shape_allocates_nothing(tmp_path):
    """Before: a [1000000000] shape was accepted and its CSV header or filled default took gigabytes."""
    path = tmp_path / "s.yaml"
    path.write_text("features:\n  - {name: x, dtype: float32, shape: [1000000000], default: 0}\n")
    result = run_capped(f"""
        from dataprep.schema import load_schema
        from dataprep.errors import SchemaError
        try:
            s = load_schema({str(path)!r})
            s.csv_columns(); s.storage()
        except SchemaError as e:
            print(e)
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "feature #1 'x': shape [1000000000] of float32 takes over 64 MiB per record" in result.stdout


# --- names and CSV headers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a\n", "a\nb", "a b", "a,b", "1a", ""])
def test_feature_names_are_matched_whole(name):
    with pytest.raises(SchemaError, match="'name' must be an identifier"):
        load_schema({"features": [{"name": name, "dtype": "float32"}]})


def test_feature_name_with_a_trailing_newline_from_yaml_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text('features:\n  - {name: "a\\n", dtype: float32}\n')
    with pytest.raises(SchemaError, match=r"s.yaml line 2: feature #1: 'name' must be an identifier .*got 'a\\n'"):
        load_schema(path)


@pytest.mark.parametrize("source", ["x\n", "x\ny", "x\x00", ["ok", "x\ty"]])
def test_source_column_names_with_control_characters_are_refused(source):
    shape = [len(source)] if isinstance(source, list) else []
    with pytest.raises(SchemaError, match="feature #1 'a': source column name .* holds a control character"):
        load_schema({"features": [{"name": "a", "source": source, "dtype": "float32", "shape": shape}]})


def test_source_names_with_spaces_and_unicode_still_load():
    schema = load_schema({"features": [{"name": "a", "source": "Sepal Länge (cm)", "dtype": "float32"}]})
    assert schema["a"].sources == ("Sepal Länge (cm)",)


def test_a_csv_header_two_features_would_write_is_a_schema_error(tmp_path):
    schema = {"features": [{"name": "a", "dtype": "float32", "shape": [2]},
                           {"name": "a_0", "dtype": "float32", "shape": []}]}
    table = tmp_path / "t.csv"
    table.write_text("a,a_0\n")
    with pytest.raises(SchemaError, match=r"CSV column 'a_0' would be written by both feature 'a' \(shape \[2\]\) "
                                          "and feature 'a_0'; rename one of them"):
        dataprep.convert(table, schema, tmp_path / "o", format="csv")
    assert load_schema(schema).names == ["a", "a_0"]  # TFRecord output has no header: no conflict there


# --- image paths ----------------------------------------------------------------------------------------------
@pytest.fixture
def hostile_table(tmp_path):
    """A table's folder with one good image and a path of each hostile kind; an image outside the folder."""
    outside = tmp_path / "outside.png"
    outside.write_bytes(png(8, 8))
    folder = tmp_path / "table"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.png").write_bytes(png(8, 8))
    (folder / "link.png").symlink_to(outside)
    (folder / "inner_link.png").symlink_to(folder / "good.png")
    (folder / "zero.png").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.png")
    with open(folder / "big.png", "wb") as fh:  # sparse: over the cap without using the disk
        fh.truncate(images.MAX_IMAGE_FILE_BYTES + 1)
    (folder / "dir.png").mkdir()
    rows = ["good.png", "sub/../good.png", "inner_link.png", "../outside.png", "link.png", str(outside),
            "/dev/zero", "zero.png", "fifo.png", "dir.png", "big.png"]
    (folder / "t.csv").write_text("path,label\n" + "".join(f"{r},{i}\n" for i, r in enumerate(rows)))
    return folder, rows


SCHEMA = {"features": [{"name": "image", "source": "path", "dtype": "image", "shape": [8, 8, 1],
                        "image": {"from_paths": True}},
                       {"name": "label", "dtype": "int64"}]}


def test_image_paths_outside_the_folder_and_special_files_are_bad_rows(hostile_table, tmp_path):
    """Before: /dev/zero filled the memory (MemoryError at a 4 GiB cap after 12 s) and a FIFO hung forever;
    links and paths out of the folder were read."""
    folder, rows = hostile_table
    out, quarantine = tmp_path / "o", tmp_path / "q.csv"
    result = run_capped(f"""
        import json, dataprep
        s = dataprep.convert({str(folder / 't.csv')!r}, {SCHEMA!r}, {str(out)!r}, on_error="quarantine",
                             quarantine={str(quarantine)!r}, shuffle=False)
        print(json.dumps(s.set_aside_by_reason, sort_keys=True), s.rows_written)
    """, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[0] == \
        '{"not_a_file": 2, "path_outside": 5, "too_large": 1} 3'
    with open(quarantine, newline="") as fh:
        got = {r["path"]: r for r in csv.DictReader(fh)}
    reasons = {r["path"]: (r["line"], r["reason"], r["column"]) for r in got.values()}
    outside = str(tmp_path / "outside.png")
    expect = {"../outside.png": "path_outside", "link.png": "path_outside", outside: "path_outside",
              "/dev/zero": "path_outside", "zero.png": "path_outside", "fifo.png": "not_a_file",
              "dir.png": "not_a_file", "big.png": "too_large"}
    assert reasons == {name: (str(rows.index(name) + 2), reason, "path") for name, reason in expect.items()}
    # the quarantine describes the first row of each reason
    where = f"{folder / 't.csv'}, line %d (row %d), column 'path': image file "
    assert got["../outside.png"]["message"] == (where % (5, 4) + f"'{folder}/../outside.png' leads outside {folder} "
                                                f"(to {outside}); pass --allow-paths-outside to read it")
    assert got["fifo.png"]["message"] == where % (10, 9) + f"'{folder / 'fifo.png'}' is not a regular file"
    assert got["big.png"]["message"] == (where % (12, 11) + f"'{folder / 'big.png'}' is 67,108,865 bytes, over the "
                                         "64 MiB limit per image file")
    reader = SplitReader(out, "train")
    assert [reader[i]["label"] for i in range(len(reader))] == [0, 1, 2]


@pytest.mark.parametrize("row, message", [
    ("link.png", "'{folder}/link.png' leads outside {folder} (to {tmp}/outside.png); pass --allow-paths-outside"),
    ("{tmp}/outside.png", "'{tmp}/outside.png' is an absolute path; paths are relative to {folder} (pass "
                          "--allow-paths-outside to read it)"),
    ("{folder}/good.png", "'{folder}/good.png' is an absolute path"),
    ("dir.png", "'{folder}/dir.png' is not a regular file"),
])
def test_each_bad_image_path_is_named_by_file_line_and_column(hostile_table, tmp_path, row, message):
    folder, _ = hostile_table
    fill = {"folder": folder, "tmp": tmp_path}
    (folder / "one.csv").write_text(f"path,label\ngood.png,0\n{row.format(**fill)},1\n")
    with pytest.raises(DataError) as e:
        dataprep.convert(folder / "one.csv", SCHEMA, tmp_path / "o")
    assert str(e.value).startswith(f"{folder}/one.csv, line 3 (row 2), column 'path': image file "
                                   + message.format(**fill))


def test_a_nul_in_an_image_path_is_a_bad_row(tmp_path):
    """Before: ValueError (embedded null byte) traceback."""
    (tmp_path / "t.csv").write_bytes(b"path,label\na\x00b.png,0\n")
    s = dataprep.convert(tmp_path / "t.csv", SCHEMA, tmp_path / "o", on_error="skip")
    assert s.set_aside_by_reason == {"missing_file": 1}
    with pytest.raises(DataError, match=r"t.csv, line 2 \(row 1\), column 'path': cannot read image file "
                                        r"'a\\x00b.png'"):
        dataprep.convert(tmp_path / "t.csv", SCHEMA, tmp_path / "o2")


def test_allow_paths_outside_reads_them_but_never_special_files(hostile_table, tmp_path):
    folder, _ = hostile_table
    result = run_capped(f"""
        import json, dataprep
        s = dataprep.convert({str(folder / 't.csv')!r}, {SCHEMA!r}, {str(tmp_path / 'o')!r}, on_error="skip",
                             allow_paths_outside=True)
        print(json.dumps(s.set_aside_by_reason, sort_keys=True), s.rows_written)
    """, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == '{"not_a_file": 4, "too_large": 1} 6'


def test_cli_allow_paths_outside(hostile_table, tmp_path):
    from click.testing import CliRunner

    from dataprep.cli import main

    folder, _ = hostile_table
    table = tmp_path / "one.csv"  # the good image and the one outside, both as absolute paths
    table.write_text(f"path,label\n{folder / 'good.png'},0\n{tmp_path / 'outside.png'},1\n")
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    args = ["convert", str(table), "--schema", str(schema), "--quiet"]
    refused = CliRunner().invoke(main, args + ["--out", str(tmp_path / "o1")])
    assert refused.exit_code == 1
    assert f"one.csv, line 2 (row 1), column 'path': image file '{folder / 'good.png'}' is an absolute path" \
        in refused.output
    allowed = CliRunner().invoke(main, args + ["--out", str(tmp_path / "o2"), "--allow-paths-outside"])
    assert allowed.exit_code == 0, allowed.output
    assert len(SplitReader(tmp_path / "o2", "train")) == 2


def test_fuzzed_image_paths_stay_bounded(hostile_table, tmp_path):
    """Seeded random paths built from hostile parts: every row is written or set aside with a known reason,
    within the memory cap and the timeout (a FIFO or a device among them must neither hang nor fill memory)."""
    import random

    folder, _ = hostile_table
    parts = ["..", ".", "sub", "good.png", "link.png", "inner_link.png", "zero.png", "fifo.png", "big.png",
             "dir.png", "", "dev", "zero", "t.csv", "outside.png", "~", " "]
    rng = random.Random(0)
    rows = []
    for _ in range(300):
        path = "/".join(rng.choice(parts) for _ in range(rng.randint(1, 4)))
        rows.append(("/" if rng.random() < 0.2 else "") + path)
    with open(folder / "fuzz.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label"])
        writer.writerows([r, i] for i, r in enumerate(rows))
    result = run_capped(f"""
        import json, dataprep
        s = dataprep.convert({str(folder / 'fuzz.csv')!r}, {SCHEMA!r}, {str(tmp_path / 'o')!r}, on_error="skip")
        print(json.dumps([s.rows_read, s.rows_written, s.set_aside_by_reason]))
    """, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    read, written, reasons = json.loads(result.stdout)
    assert read == 300 and written + sum(reasons.values()) == 300 and written > 0
    assert set(reasons) <= {"missing", "missing_file", "path_outside", "not_a_file", "too_large",
                            "undecodable_image"}
    assert {"path_outside", "not_a_file"} <= set(reasons)


def test_reads_stop_at_the_cap(tmp_path, monkeypatch):
    """A file that grows after it was checked is still read no further than the cap + 1 byte."""
    path = tmp_path / "a.png"
    path.write_bytes(b"x" * 100)
    monkeypatch.setattr(images, "MAX_IMAGE_FILE_BYTES", 10)
    monkeypatch.setattr(images, "_stat_problem", lambda p, st: None)  # as if it grew after the checks
    reads = []
    real_fdopen = os.fdopen

    class Counting:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def read(self, n):
            reads.append(n)
            return self.fh.read(n)

    monkeypatch.setattr(images.os, "fdopen", lambda fd, mode: Counting(real_fdopen(fd, mode)))
    got = images.read_image_file(path, None)
    assert got == images.Rejection("too_large", f"{str(path)!r} is over the 0 MiB limit per image file")
    assert reads == [11]


# --- image folders --------------------------------------------------------------------------------------------
@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "imgs"
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            (root / cls / f"{i}.png").write_bytes(png(8, 8))
    return root


def _alarm(seconds: int):
    def fail(*_):
        raise TimeoutError("hung")
    signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)


def test_image_folder_link_out_of_the_folder_is_refused(image_folder, tmp_path):
    """Before: the linked file (any file, a secret or /dev/zero) was read into the shards."""
    secret = tmp_path / "secret.png"
    secret.write_bytes(png(8, 8))
    (image_folder / "cat" / "2.png").symlink_to(secret)
    with pytest.raises(SourceError, match=rf"cat/2.png: '{image_folder}/cat/2.png' leads outside {image_folder} "
                                          rf"\(to {secret}\) \(path_outside\); an image folder's images are regular "
                                          "files inside it"):
        dataprep.convert(image_folder, dataprep.infer_schema(image_folder), tmp_path / "o")


def test_image_folder_class_folder_linked_outside_is_refused(image_folder, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "0.png").write_bytes(png(8, 8))
    (image_folder / "fox").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SourceError, match=r"fox/0.png: .* leads outside"):
        dataprep.convert(image_folder, SCHEMA_FOLDER, tmp_path / "o")


SCHEMA_FOLDER = {"features": [{"name": "image", "dtype": "image", "shape": [8, 8, 1]},
                              {"name": "label", "dtype": "string", "role": "label"}]}


@pytest.mark.parametrize("kind, reason", [("fifo", r"is not a regular file \(not_a_file\)"),
                                          ("device", r"leads outside .* \(to /dev/zero\) \(path_outside\)"),
                                          ("broken_link", r"No such file or directory \(missing_file\)")])
def test_image_folder_special_files_are_refused(image_folder, tmp_path, kind, reason):
    """Before: skipped without a word (rows silently lost)."""
    path = image_folder / "dog" / "9.png"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.symlink_to(image_folder / "none.png")
    _alarm(60)
    try:
        with pytest.raises(SourceError, match=rf"dog/9.png: .*{reason}"):
            dataprep.convert(image_folder, SCHEMA_FOLDER, tmp_path / "o")
    finally:
        signal.alarm(0)


def test_image_folder_links_inside_it_are_read(image_folder, tmp_path):
    (image_folder / "dog" / "copy.png").symlink_to(image_folder / "cat" / "0.png")
    s = dataprep.convert(image_folder, SCHEMA_FOLDER, tmp_path / "o")
    assert s.rows_written == 5


def test_image_folder_file_over_the_cap_is_refused(image_folder, tmp_path):
    with open(image_folder / "cat" / "big.png", "wb") as fh:
        fh.truncate(images.MAX_IMAGE_FILE_BYTES + 1)
    with pytest.raises(SourceError, match=r"cat/big.png: .* is 67,108,865 bytes, over the 64 MiB limit per image "
                                          r"file \(too_large\)"):
        dataprep.convert(image_folder, SCHEMA_FOLDER, tmp_path / "o")


def test_infer_on_an_image_folder_whose_first_image_is_a_bomb_is_one_line(image_folder):
    """Before: Pillow's DecompressionBombError traceback."""
    (image_folder / "cat" / "0.png").write_bytes(png(20000, 20000, pixels=False))
    with pytest.raises(SourceError, match="a decompression bomb: Image size \\(400000000 pixels\\) exceeds"):
        dataprep.infer_schema(image_folder)


# --- pixel counts ---------------------------------------------------------------------------------------------
def test_images_with_far_more_pixels_than_the_shape_are_bad_rows(tmp_path):
    """Before: a 16.8 Mpx image was stored for an 8x8 feature (the readers then decode it whole) and a
    header claiming 400 Mpx was only "cannot decode the image"."""
    (tmp_path / "ok.png").write_bytes(png(8, 8))
    (tmp_path / "huge.png").write_bytes(png(4097, 4097))  # 16,785,409 px > MAX_IMAGE_PIXELS_FLOOR
    (tmp_path / "bomb.png").write_bytes(png(20000, 20000, pixels=False))  # Pillow's DecompressionBombError
    (tmp_path / "t.csv").write_text("path,label\nok.png,0\nhuge.png,1\nbomb.png,2\n")
    for dtype in ("image", "uint8"):
        schema = {"features": [{**SCHEMA["features"][0], "dtype": dtype}, SCHEMA["features"][1]]}
        with pytest.raises(DataError, match=r"t.csv, line 3 \(row 2\), column 'path': image file 'huge.png': the "
                                            r"image is 4097x4097 pixels, over the 16,777,216 allowed for shape "
                                            r"8x8x1 \(feature 'image'\)"):
            dataprep.convert(tmp_path / "t.csv", schema, tmp_path / f"o-{dtype}")
        s = dataprep.convert(tmp_path / "t.csv", schema, tmp_path / f"o-{dtype}", on_error="quarantine",
                             quarantine=tmp_path / f"q-{dtype}.csv")
        assert s.set_aside_by_reason == {"too_many_pixels": 1, "decompression_bomb": 1} and s.rows_written == 1
        with open(tmp_path / f"q-{dtype}.csv", newline="") as fh:
            bomb = [r for r in csv.DictReader(fh) if r["reason"] == "decompression_bomb"][0]
        assert bomb["line"] == "4" and bomb["message"].startswith(
            f"{tmp_path / 't.csv'}, line 4 (row 3), column 'path': image file 'bomb.png': a decompression bomb: "
            "Image size (400000000 pixels) exceeds limit")


def test_pixel_cap_grows_with_the_shape():
    assert images.max_pixels((8, 8, 3)) == images.MAX_IMAGE_PIXELS_FLOOR == 1 << 24
    assert images.max_pixels((2048, 2048, 3)) == 16 * 2048 * 2048
    assert images.prepare(png(4097, 4097), dataprep.schema.ImageOptions(), (1025, 1025, 1)) == png(4097, 4097)


def test_image_folder_image_with_too_many_pixels_is_a_bad_row(image_folder, tmp_path):
    (image_folder / "cat" / "huge.png").write_bytes(png(4097, 4097))
    s = dataprep.convert(image_folder, SCHEMA_FOLDER, tmp_path / "o", on_error="skip")
    assert s.set_aside_by_reason == {"too_many_pixels": 1} and s.rows_written == 4
    with pytest.raises(DataError, match=rf"{image_folder}/cat/huge.png, column 'image': the image is 4097x4097 "
                                        "pixels"):
        dataprep.convert(image_folder, SCHEMA_FOLDER, tmp_path / "o2")


def test_stored_bytes_are_unchanged_for_ordinary_images(tmp_path):
    (tmp_path / "a.png").write_bytes(png(8, 8))
    (tmp_path / "t.csv").write_text("path,label\na.png,0\n")
    dataprep.convert(tmp_path / "t.csv", SCHEMA, tmp_path / "o")
    assert SplitReader(tmp_path / "o", "train")[0]["image"] == png(8, 8)
    assert Path(tmp_path / "o" / "manifest.json").is_file()
