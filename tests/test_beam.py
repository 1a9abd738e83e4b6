"""The Apache Beam runner gives the local runner's output byte for byte (DirectRunner).

Apache Beam pins pyarrow and protobuf below what TensorFlow's environment uses, so these tests run in their
own environment (``make test-beam``, part of ``make test``), which has no TensorFlow: the records are compared
as bytes and checksums against the local runner, which TensorFlow reads in the other tests.
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dataprep.convert import convert
from dataprep.errors import DataError, UsageError
from tests.conftest import DIGITS, PENGUINS, SCHEMAS, needs_shared, shared

HOUSING = shared("california_housing.csv")

beam = pytest.importorskip("apache_beam", reason="Beam runs in its own environment: make test-beam")


def _both(tmp_path: Path, source, schema, **options) -> tuple[dict, dict]:
    local = convert(source, schema, tmp_path / "local", **options)
    on_beam = convert(source, schema, tmp_path / "beam", runner="beam", **options)
    assert local.files == on_beam.files
    return _manifest(tmp_path / "local"), _manifest(tmp_path / "beam")


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _assert_same_output(tmp_path: Path, a: dict, b: dict) -> None:
    """Same files, counts, sizes and SHA-256 per split; same rows read and set aside; same file bytes."""
    assert a["splits"] == b["splits"]
    assert a["rows"] == b["rows"]
    for split in a["splits"].values():
        for f in split["files"]:
            assert (tmp_path / "local" / f["path"]).read_bytes() == (tmp_path / "beam" / f["path"]).read_bytes()
            assert (tmp_path / "local" / f["index"]).read_bytes() == (tmp_path / "beam" / f["index"]).read_bytes()
    assert b["options"]["runner"] == "beam"


def test_penguins_tfrecord_equal_to_local(tmp_path):
    a, b = _both(tmp_path, PENGUINS, SCHEMAS / "penguins.yaml", split="train=0.8,valid=0.1,test=0.1",
                 seed=42, on_error="skip")
    _assert_same_output(tmp_path, a, b)
    assert b["rows"]["set_aside"] == 2 and b["splits"]["train"]["num_records"] == 274


def test_many_files_csv_gzip_hash_split_and_quarantine(tmp_path):
    """Several input files (Beam's unit of parallelism), several shards, a hash split, CSV+GZIP, and
    quarantined rows from two files merged in input order."""
    rows = list(csv.reader(PENGUINS.open()))
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        with open(folder / f"part-{i}.csv", "w", newline="") as fh:
            csv.writer(fh).writerows([rows[0]] + rows[1 + i * 86:1 + (i + 1) * 86])
    options = dict(split="train=0.7,test=0.3", split_by="island", seed=3, format="csv", compression="gzip",
                   num_shards=3, on_error="quarantine")
    local = convert(folder, SCHEMAS / "penguins.yaml", tmp_path / "local",
                    quarantine=tmp_path / "local.bad.csv", **options)
    on_beam = convert(folder, SCHEMAS / "penguins.yaml", tmp_path / "beam", runner="beam",
                      quarantine=tmp_path / "beam.bad.csv", **options)
    assert local.files == on_beam.files and len(local.files) == 6
    a, b = _manifest(tmp_path / "local"), _manifest(tmp_path / "beam")
    assert a["rows"]["set_aside"] == b["rows"]["set_aside"] == 2
    del a["rows"]["quarantine"], b["rows"]["quarantine"]
    _assert_same_output(tmp_path, a, b)
    assert (tmp_path / "local.bad.csv").read_text() == (tmp_path / "beam.bad.csv").read_text()
    assert len((tmp_path / "beam.bad.csv").read_text().splitlines()) == 3


def test_multiprocess_direct_runner(tmp_path):
    """Two worker processes, unshuffled, shards by row count."""
    schema = SCHEMAS / "penguins.yaml"
    options = dict(rows_per_shard=100, shuffle=False, on_error="skip")
    convert(PENGUINS, schema, tmp_path / "local", **options)
    convert(PENGUINS, schema, tmp_path / "beam", runner="beam",
            beam_options="--direct_num_workers=2 --direct_running_mode=multi_processing", **options)
    a, b = _manifest(tmp_path / "local"), _manifest(tmp_path / "beam")
    _assert_same_output(tmp_path, a, b)
    assert len(b["splits"]["train"]["files"]) == 4


@needs_shared(HOUSING.name)
def test_housing_record_for_record(tmp_path):
    a, b = _both(tmp_path, HOUSING, SCHEMAS / "california_housing.yaml",
                 split="train=0.8,valid=0.1,test=0.1", seed=1, compression="gzip")
    _assert_same_output(tmp_path, a, b)
    assert {k: v["num_records"] for k, v in b["splits"].items()} == {"train": 16512, "valid": 2064, "test": 2064}


def test_bad_row_fails_with_its_place_and_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(PENGUINS.read_text().replace("39.1,18.7,181", "39.1,oops,181", 1))
    with pytest.raises(DataError, match=r"bad\.csv, line 2 \(row 1\), column 'bill_depth_mm'"):
        convert(bad, SCHEMAS / "penguins.yaml", tmp_path / "out", runner="beam", on_error="fail")
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.partial").exists()


def test_in_memory_sources_and_resume_are_refused(tmp_path):
    schema = SCHEMAS / "digits.yaml"
    arrays = dict(np.load(DIGITS))
    with pytest.raises(UsageError, match="files"):
        convert(arrays, schema, tmp_path / "a", runner="beam")
    with pytest.raises(UsageError, match="resume"):
        convert(DIGITS, schema, tmp_path / "b", runner="beam", resume=True)


def test_sequences_per_file_and_long_table(tmp_path):
    """SequenceExamples from one CSV per sequence, and from a long table grouped by id: same bytes."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "seq"
    folder.mkdir()
    long_rows = ["id,t,a,b"]
    for i in range(6):
        steps = rng.integers(0, 90, (int(rng.integers(1, 9)), 2))
        (folder / f"s{i}.csv").write_text("a,b\n" + "".join(f"{a},{b}\n" for a, b in steps))
        long_rows += [f"q{i},{t},{a},{b}" for t, (a, b) in enumerate(steps)]
    schema = {"record": "sequence_example", "features": [
        {"name": "ab", "source": ["a", "b"], "dtype": "int64", "shape": [None, 2]}]}
    a, b = _both(tmp_path, folder, schema, sequence_per_file=True, split="train=0.5,test=0.5", seed=2)
    _assert_same_output(tmp_path, a, b)
    (tmp_path / "long.csv").write_text("\n".join(long_rows) + "\n")
    for name in ("local", "beam"):
        shutil.rmtree(tmp_path / name)
    schema["features"].append({"name": "id", "dtype": "string", "shape": []})
    a, b = _both(tmp_path, tmp_path / "long.csv", schema, sequence_id="id", sequence_order="t", seed=2)
    _assert_same_output(tmp_path, a, b)
    assert b["splits"]["train"]["num_records"] == 6


def test_one_parquet_file_spreads_over_its_row_groups(tmp_path):
    """One Parquet file of 7 row groups is 7 units of work (7 bundles, each reading only its rows, numbered as in
    the whole file); the output, bad rows included, is the local runner's byte for byte."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from dataprep.beam_runner import run_pipeline
    from dataprep.job import Job
    from dataprep.options import ConvertOptions
    from dataprep.schema import load_schema
    from dataprep.sources import resolve_source

    path = tmp_path / "penguins.parquet"
    pq.write_table(pacsv.read_csv(PENGUINS), path, row_group_size=50)
    options = dict(split="train=0.8,test=0.2", seed=7, num_shards=2, compression="gzip", on_error="quarantine")
    local = convert(path, SCHEMAS / "penguins.yaml", tmp_path / "local", quarantine=tmp_path / "l.csv", **options)
    on_beam = convert(path, SCHEMAS / "penguins.yaml", tmp_path / "beam", runner="beam",
                      quarantine=tmp_path / "b.csv", **options)
    assert local.files == on_beam.files
    a, b = _manifest(tmp_path / "local"), _manifest(tmp_path / "beam")
    del a["rows"]["quarantine"], b["rows"]["quarantine"]
    _assert_same_output(tmp_path, a, b)
    assert (tmp_path / "l.csv").read_text() == (tmp_path / "b.csv").read_text()  # same rows, same row numbers

    schema = load_schema(SCHEMAS / "penguins.yaml")
    job = Job(schema, ConvertOptions.build(dict(options)).for_schema(schema))
    (tmp_path / "work").mkdir()
    _, counts = run_pipeline(resolve_source(path), job, str(tmp_path / "work"), None)
    assert [c.rows_read for c in counts] == [50] * 6 + [44]  # one bundle per row group, each its own rows


def test_s3_inputs_and_output_on_the_direct_runner(tmp_path, monkeypatch):
    """s3:// in and out with the Beam runner (DirectRunner, two worker processes) against a real S3 server on
    127.0.0.1: the objects, quarantine included, are the local runner's files byte for byte; --overwrite leaves only
    the new output's objects; a failed run leaves nothing in the bucket."""
    pytest.importorskip("s3fs", reason="s3:// needs dataprep[s3]")
    pytest.importorskip("moto", reason="the S3 server of the tests (moto[server])")
    from tests.object_store import boto3_client, download_tree, s3_server

    options = dict(split="train=0.8,test=0.2", seed=4, num_shards=2, on_error="quarantine")
    convert(PENGUINS, SCHEMAS / "penguins.yaml", tmp_path / "local", quarantine=tmp_path / "l.csv", **options)
    bad = PENGUINS.read_text().replace("39.1,18.7,181", "39.1,oops,181", 1)
    with s3_server() as env:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("DATAPREP_CACHE", str(tmp_path / "cache"))
        client = boto3_client(env)
        client.create_bucket(Bucket="beam")
        client.upload_file(str(PENGUINS), "beam", "in/penguins.csv")
        client.put_object(Bucket="beam", Key="bad/penguins.csv", Body=bad.encode())
        convert("s3://beam/in/penguins.csv", SCHEMAS / "penguins.yaml", "s3://beam/out", runner="beam",
                beam_options="--direct_num_workers=2 --direct_running_mode=multi_processing", **options)
        remote = download_tree(client, "beam", "out")
        quarantine = client.get_object(Bucket="beam", Key="out.quarantine.csv")["Body"].read()
        convert("s3://beam/in/penguins.csv", SCHEMAS / "penguins.yaml", "s3://beam/out", runner="beam",
                overwrite=True, **{**options, "num_shards": 1})  # the old output's other shards are removed
        again = download_tree(client, "beam", "out")
        manifest = json.loads(again.pop("manifest.json"))
        assert set(again) == {f[k] for s in manifest["splits"].values() for f in s["files"] for k in ("path", "index")}
        assert len(again) == 4
        with pytest.raises(DataError, match=r"s3://beam/bad/penguins\.csv, line 2 \(row 1\)"):
            convert("s3://beam/bad/penguins.csv", SCHEMAS / "penguins.yaml", "s3://beam/failed", runner="beam",
                    on_error="fail", num_shards=2)
        assert download_tree(client, "beam", "failed") == {}
    local = {p.relative_to(tmp_path / "local").as_posix(): p.read_bytes()
             for p in (tmp_path / "local").rglob("*") if p.is_file()}
    assert sorted(remote) == sorted(local)
    assert all(remote[rel] == data for rel, data in local.items() if rel != "manifest.json")
    assert json.loads(remote["manifest.json"])["options"]["runner"] == "beam"
    assert quarantine == (tmp_path / "l.csv").read_bytes().replace(str(PENGUINS).encode(),
                                                                   b"s3://beam/in/penguins.csv")


def test_workers_read_and_write_the_store_themselves(tmp_path, monkeypatch):
    """The workers read an s3:// input from its URL (not the driver's copy) and write the shards straight to
    the output prefix, each named in the run's journal by the plan before it is written; the driver's folder
    gets no shard."""
    pytest.importorskip("s3fs", reason="s3:// needs dataprep[s3]")
    pytest.importorskip("moto", reason="the S3 server of the tests (moto[server])")
    from dataprep.beam_runner import run_pipeline
    from dataprep.job import Job
    from dataprep.options import ConvertOptions
    from dataprep.remote_output import JOURNAL, RemoteCommit
    from dataprep.schema import load_schema
    from dataprep.sources import resolve_source
    from tests.object_store import boto3_client, download_tree, s3_server

    options = dict(split="train=0.8,test=0.2", seed=5, num_shards=3, on_error="skip")
    convert(PENGUINS, SCHEMAS / "penguins.yaml", tmp_path / "local", **options)
    schema = load_schema(SCHEMAS / "penguins.yaml")
    job = Job(schema, ConvertOptions.build(dict(options)).for_schema(schema))
    with s3_server() as env:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("DATAPREP_CACHE", str(tmp_path / "cache"))
        client = boto3_client(env)
        client.create_bucket(Bucket="workers")
        client.upload_file(str(PENGUINS), "workers", "in/penguins.csv")
        source = resolve_source("s3://workers/in/penguins.csv")
        source.files[0].write_bytes(b"not,the,input\n")  # the driver's copy: the worker reads the object itself
        (tmp_path / "work").mkdir()
        results, _ = run_pipeline(source, job, str(tmp_path / "work"), None, "s3://workers/out",
                                  RemoteCommit("s3://workers/out", False, False).begin)
        remote = download_tree(client, "workers", "out")
    assert list((tmp_path / "work").iterdir()) == []
    names = {n for r in results for n in (r.name, r.index)}
    assert set(json.loads(remote.pop(JOURNAL))["planned"]) >= names
    assert set(remote) == names and len(results) == 6
    assert all(remote[n] == (tmp_path / "local" / n).read_bytes() for n in names)


def test_one_csv_file_spreads_over_byte_ranges(tmp_path, monkeypatch):
    """One plain CSV file with quoted commas, quotes and line breaks is read in several parts, cut at record
    starts (a cut at the first line break after each part's size would often fall inside a quoted field here);
    the output and the quarantine (a bad value, a row of the wrong width: rows and lines as in the whole file)
    are the local runner's byte for byte."""
    import dataprep.beam_runner as beam_runner
    from dataprep.job import Job
    from dataprep.options import ConvertOptions
    from dataprep.schema import load_schema
    from dataprep.sources import resolve_source

    rows = [["name", "note", "n"]]
    for i in range(400):
        note = f'line one, "quoted"\nline two of {i},\n' * (i % 4 + 1) if i % 3 else f"plain {i}"
        rows.append([f"r{i}", note, "oops" if i == 150 else str(i)])
    path = tmp_path / "notes.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows[:21])
        fh.write("short,row\n")  # before the bad value: the local runner lists malformed rows as Arrow parses
        csv.writer(fh).writerows(rows[21:] + [["r400", "last", "400"]])
    data = path.read_bytes()
    part = 2000
    naive = [data.index(b"\n", k) + 1 for k in range(part, len(data), part)]
    assert any(data[:n].count(b'"') % 2 for n in naive)  # a naive cut would land inside quotes
    schema = {"record": "example", "features": [{"name": "name", "dtype": "string", "shape": []},
                                                {"name": "note", "dtype": "string", "shape": []},
                                                {"name": "n", "dtype": "int64", "shape": []}]}
    options = dict(split="train=0.7,test=0.3", seed=9, num_shards=2, on_error="quarantine")
    monkeypatch.setattr(beam_runner, "CSV_PART_BYTES", part)
    local = convert(path, schema, tmp_path / "local", quarantine=tmp_path / "l.csv", **options)
    on_beam = convert(path, schema, tmp_path / "beam", runner="beam", quarantine=tmp_path / "b.csv", **options)
    assert local.files == on_beam.files
    a, b = _manifest(tmp_path / "local"), _manifest(tmp_path / "beam")
    del a["rows"]["quarantine"], b["rows"]["quarantine"]
    _assert_same_output(tmp_path, a, b)
    assert b["rows"]["read"] == 402 and b["rows"]["set_aside"] == 2
    assert (tmp_path / "l.csv").read_text() == (tmp_path / "b.csv").read_text()

    loaded = load_schema(schema)
    job = Job(loaded, ConvertOptions.build(dict(options)).for_schema(loaded))
    (tmp_path / "work").mkdir()
    _, counts = beam_runner.run_pipeline(resolve_source(path), job, str(tmp_path / "work"), None)
    assert len(counts) == -(-len(data) // part) and sum(c.rows_read for c in counts) == 402  # 16 parts
