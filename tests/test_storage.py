"""Object storage end to end against a real S3 server (moto's, on 127.0.0.1): s3:// -> s3:// conversions are
byte-identical to local ones, read back by every reader and by plain boto3 + TensorFlow; the manifest is the
commit record; --overwrite removes only our own objects; SIGKILL mid-upload then --resume is byte-identical."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import dataprep
from dataprep import OutputError, SourceError, UsageError

from .conftest import PENGUINS, PENGUINS_SCHEMA, subprocess_env
from .object_store import boto3_client, download_tree, gcs_server, s3_server, upload_tree
from .tf_oracle import read_tfrecord_split

BUCKET = "data"
SCHEMA = {"features": [{"name": "id", "dtype": "int64", "shape": []},
                       {"name": "v", "dtype": "float32", "shape": [3], "source": ["v0", "v1", "v2"]},
                       {"name": "s", "dtype": "string", "shape": []}]}
SETTINGS = {"split": "train=0.8,test=0.2", "seed": 3, "num_shards": 3}


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """The server, the environment pointing every client at it, a bucket, and the inputs uploaded."""
    folder = tmp_path_factory.mktemp("s3in")
    n = 3000
    rng = np.random.default_rng(0)
    table = pa.table({"id": np.arange(n), **{f"v{i}": rng.standard_normal(n).astype(np.float32) for i in range(3)},
                      "s": [f"text, \"quoted\" {i % 97}" for i in range(n)]})
    pacsv.write_csv(table, folder / "t.csv")
    pq.write_table(table, folder / "t.parquet", row_group_size=700)
    dataprep.Schema.from_dict(SCHEMA).save(folder / "s.yaml")
    with s3_server() as env, pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.setenv("DATAPREP_CACHE", str(tmp_path_factory.mktemp("cache")))
        client = boto3_client(env)
        client.create_bucket(Bucket=BUCKET)
        upload_tree(client, BUCKET, "in", folder)
        yield {"env": env, "client": client, "local": folder}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _without_sources(raw: bytes) -> dict:
    data = json.loads(raw)
    data.pop("sources")
    return data


@pytest.mark.parametrize("name,settings", [("t.csv", {"compression": "gzip"}),
                                           ("t.parquet", {"format": "csv"})])
def test_s3_to_s3_is_byte_identical_to_local_and_reads_back(s3, tmp_path, name, settings):
    local = tmp_path / "local"
    dataprep.convert(s3["local"] / name, s3["local"] / "s.yaml", local, stats=True, **SETTINGS, **settings)
    prefix = f"out-{name.replace('.', '-')}"
    url = f"s3://{BUCKET}/{prefix}"
    summary = dataprep.convert(f"s3://{BUCKET}/in/{name}", f"s3://{BUCKET}/in/s.yaml", url, stats=True,
                               **SETTINGS, **settings)
    assert summary.out == url and summary.rows_written == 3000
    remote = download_tree(s3["client"], BUCKET, prefix)  # plain boto3
    want = _files(local)
    assert sorted(remote) == sorted(want)  # no journal left, nothing else
    for rel, data in want.items():
        if rel == "manifest.json":
            assert _without_sources(remote[rel]) == _without_sources(data)
            assert json.loads(remote[rel])["sources"] == [f"s3://{BUCKET}/in/{name}"]
        elif rel != "stats.json":  # it names its folder
            assert remote[rel] == data, rel
    for split in ("train", "test"):
        expected = dataprep.load_numpy(local, split)
        got = dataprep.load_numpy(url, split)
        assert expected.keys() == got.keys()
        for k in expected:
            np.testing.assert_array_equal(got[k], expected[k])
        reader = dataprep.SplitReader(url, split)
        assert len(reader) == len(expected["id"])
        assert reader[7]["id"] == expected["id"][7]
        ids = np.concatenate([b["id"] for b in dataprep.iter_batches(url, split, batch_size=500)])
        np.testing.assert_array_equal(ids, expected["id"])
    batch = next(iter(dataprep.make_dataset(url, "train", batch_size=4096, shuffle=False)))  # no label: x only
    np.testing.assert_array_equal(batch["id"].numpy(), dataprep.load_numpy(local, "train")["id"])
    if settings.get("format") != "csv":  # plain TensorFlow on the objects boto3 fetched
        fetched = tmp_path / "boto3"
        for rel, data in remote.items():
            (fetched / rel).parent.mkdir(parents=True, exist_ok=True)
            (fetched / rel).write_bytes(data)
        oracle = read_tfrecord_split(fetched, "test")
        np.testing.assert_array_equal(oracle["id"], dataprep.load_numpy(local, "test")["id"])
        np.testing.assert_array_equal(oracle["v"], dataprep.load_numpy(local, "test")["v"])


def test_inspect_validate_stats_on_s3(s3, runner):
    from dataprep.cli import main

    url = f"s3://{BUCKET}/out-cli"
    dataprep.convert(f"s3://{BUCKET}/in/t.csv", s3["local"] / "s.yaml", url, **SETTINGS)
    for args, needle in ((["inspect", url], f"{url}: tfrecord"), (["validate", url], f"{url}: all records valid"),
                         (["stats", url], "train")):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        assert needle in result.output
    assert "stats.json" not in download_tree(s3["client"], BUCKET, "out-cli")  # only where -o says


def test_a_folder_without_manifest_is_never_read(s3, tmp_path, monkeypatch):
    """Shards uploaded without their manifest (an unfinished run) are refused; an object the manifest does not
    name is never fetched; one that differs from its manifest entry is refused."""
    local = tmp_path / "local"
    dataprep.convert(s3["local"] / "t.csv", s3["local"] / "s.yaml", local, **SETTINGS)
    (local / "manifest.json").rename(tmp_path / "manifest.json")
    upload_tree(s3["client"], BUCKET, "unfinished", local)
    with pytest.raises(OutputError, match="no manifest.json"):
        dataprep.load_numpy(f"s3://{BUCKET}/unfinished", "train")
    s3["client"].upload_file(str(tmp_path / "manifest.json"), BUCKET, "unfinished/manifest.json")
    s3["client"].put_object(Bucket=BUCKET, Key="unfinished/not-listed.tfrecord", Body=b"x" * 10)
    folder = dataprep.load_manifest(f"s3://{BUCKET}/unfinished").folder
    assert not (folder / "not-listed.tfrecord").exists()
    s3["client"].put_object(Bucket=BUCKET, Key="unfinished/train-00000-of-00003.tfrecord", Body=b"changed")
    monkeypatch.setenv("DATAPREP_CACHE", str(tmp_path / "fresh-cache"))  # the cached copy is the manifest's: kept
    with pytest.raises(OutputError, match="another SHA-256"):
        dataprep.load_numpy(f"s3://{BUCKET}/unfinished", "train")


def test_overwrite_removes_only_our_objects(s3):
    url, prefix = f"s3://{BUCKET}/out-ow", "out-ow"
    args = (f"s3://{BUCKET}/in/t.csv", s3["local"] / "s.yaml", url)
    dataprep.convert(*args, **SETTINGS)
    with pytest.raises(UsageError, match="pass --overwrite"):
        dataprep.convert(*args, **SETTINGS)
    dataprep.convert(*args, **{**SETTINGS, "num_shards": 2}, overwrite=True)
    names = set(download_tree(s3["client"], BUCKET, prefix))
    assert "train-00000-of-00002.tfrecord" in names and not any("of-00003" in n for n in names)  # stale: gone
    s3["client"].put_object(Bucket=BUCKET, Key=f"{prefix}/notes.txt", Body=b"mine")
    with pytest.raises(UsageError, match="not part of it"):
        dataprep.convert(*args, **SETTINGS, overwrite=True)
    s3["client"].put_object(Bucket=BUCKET, Key="foreign/notes.txt", Body=b"mine")
    with pytest.raises(UsageError, match="not a dataprep output"):
        dataprep.convert(args[0], args[1], f"s3://{BUCKET}/foreign", **SETTINGS, overwrite=True)
    assert download_tree(s3["client"], BUCKET, "foreign") == {"notes.txt": b"mine"}
    assert download_tree(s3["client"], BUCKET, prefix)["notes.txt"] == b"mine"


def test_an_output_inside_an_input_prefix_is_not_read_back(s3):
    """A prefix (or glob) given as input skips the dataprep outputs below it, as a local folder does."""
    s3["client"].upload_file(str(s3["local"] / "t.csv"), BUCKET, "mixed/t.csv")
    dataprep.convert(f"s3://{BUCKET}/mixed/t.csv", s3["local"] / "s.yaml", f"s3://{BUCKET}/mixed/prev",
                     format="csv", num_shards=2)
    for given in (f"s3://{BUCKET}/mixed", f"s3://{BUCKET}/mixed/**/*.csv"):
        summary = dataprep.convert(given, s3["local"] / "s.yaml", f"s3://{BUCKET}/out-mixed", overwrite=True)
        assert summary.rows_read == 3000, given


def test_a_failed_run_leaves_nothing(s3, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,v0,v1,v2,s\n1,0.5,0.5,0.5,a\nx,0.5,0.5,0.5,b\n")
    s3["client"].upload_file(str(bad), BUCKET, "in-bad/bad.csv")
    with pytest.raises(dataprep.DataError, match=r"s3://data/in-bad/bad\.csv, line 3 \(row 2\), column 'id'"):
        dataprep.convert(f"s3://{BUCKET}/in-bad/bad.csv", s3["local"] / "s.yaml", f"s3://{BUCKET}/out-bad")
    assert download_tree(s3["client"], BUCKET, "out-bad") == {}
    with pytest.raises(SourceError, match="no objects match"):
        dataprep.convert(f"s3://{BUCKET}/nothing/*.csv", s3["local"] / "s.yaml", f"s3://{BUCKET}/out-bad")


def test_penguins_quarantine_goes_beside_the_output_or_where_named(s3, runner):
    from dataprep.cli import main

    s3["client"].upload_file(str(PENGUINS), BUCKET, "in-p/penguins.csv")
    dataprep.convert(f"s3://{BUCKET}/in-p/penguins.csv", PENGUINS_SCHEMA, f"s3://{BUCKET}/p/out",
                     on_error="quarantine")
    rows = download_tree(s3["client"], BUCKET, "p")["out.quarantine.csv"]
    assert rows.startswith(b"file,line,row,reason") and rows.count(b"\n") == 3  # header and 2 rows set aside
    s3["client"].put_object(Bucket=BUCKET, Key="q/mine.csv", Body=b"a,b\n1,2\n")
    args = ["convert", f"s3://{BUCKET}/in-p/penguins.csv", "--schema", str(PENGUINS_SCHEMA), "--out",
            f"s3://{BUCKET}/q/out", "--on-error", "quarantine", "--quiet", "--quarantine"]
    result = runner.invoke(main, [*args, f"s3://{BUCKET}/q/mine.csv"])
    assert result.exit_code == 2 and "not a dataprep quarantine file" in result.output
    result = runner.invoke(main, [*args, f"s3://{BUCKET}/q/rows.csv"])
    assert result.exit_code == 0, result.output
    assert download_tree(s3["client"], BUCKET, "q")["rows.csv"] == rows
    assert download_tree(s3["client"], BUCKET, "q")["mine.csv"] == b"a,b\n1,2\n"


def _journal_done(client, prefix: str) -> int:
    try:
        body = client.get_object(Bucket=BUCKET, Key=f"{prefix}/.dataprep-journal.json")["Body"].read()
    except client.exceptions.NoSuchKey:
        return 0
    return len(json.loads(body)["done"])


def _stamp(client, key: str):
    head = client.head_object(Bucket=BUCKET, Key=key)
    return head["LastModified"], head["ETag"]


def test_sigkill_mid_upload_then_resume_is_byte_identical(s3, tmp_path):
    local = tmp_path / "local"
    settings = ["--num-shards", "12", "--split", "train=0.8,test=0.2", "--seed", "3", "--compression", "gzip"]
    dataprep.convert(s3["local"] / "t.csv", s3["local"] / "s.yaml", local, num_shards=12, split="train=0.8,test=0.2",
                     seed=3, compression="gzip")
    cmd = [sys.executable, "-m", "dataprep.cli", "convert", f"s3://{BUCKET}/in/t.csv", "--schema",
           str(s3["local"] / "s.yaml"), "--out", f"s3://{BUCKET}/out-kill", "--quiet", *settings]
    env = {**subprocess_env(), **s3["env"], "DATAPREP_CACHE": os.environ["DATAPREP_CACHE"]}
    proc = subprocess.Popen(cmd, env=env)
    while proc.poll() is None and _journal_done(s3["client"], "out-kill") < 3:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept: dict[str, object] = {}
    if proc.returncode != 0:  # killed mid-upload: no manifest, so no reader sees the folder
        assert "manifest.json" not in download_tree(s3["client"], BUCKET, "out-kill")
        with pytest.raises(OutputError, match="no manifest.json"):
            dataprep.load_manifest(f"s3://{BUCKET}/out-kill")
        journal = s3["client"].get_object(Bucket=BUCKET, Key="out-kill/.dataprep-journal.json")["Body"].read()
        kept = {rel: _stamp(s3["client"], f"out-kill/{rel}") for rel in json.loads(journal)["done"]}
        assert kept
        time.sleep(1.1)  # S3 stamps objects to the second: a re-upload would show
    done = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert {rel: _stamp(s3["client"], f"out-kill/{rel}") for rel in kept} == kept  # verified, not uploaded again
    remote = download_tree(s3["client"], BUCKET, "out-kill")
    want = _files(local)
    assert sorted(remote) == sorted(want)
    assert all(remote[rel] == data for rel, data in want.items() if rel != "manifest.json")


def test_gs_to_gs_through_a_local_gcs_emulator(tmp_path, monkeypatch):
    """gs:// takes the same code path (fsspec, here gcsfs) against gcp-storage-emulator."""
    import fsspec

    monkeypatch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # else gcsfs asks the emulator over gRPC
    monkeypatch.setenv("DATAPREP_CACHE", str(tmp_path / "cache"))
    local = tmp_path / "local"
    settings = {"split": "train=0.8,test=0.2", "on_error": "skip", "num_shards": 2, "compression": "gzip"}
    dataprep.convert(PENGUINS, PENGUINS_SCHEMA, local, **settings)
    with gcs_server("gbucket") as env:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        fs = fsspec.filesystem("gs", token="anon", skip_instance_cache=True)
        fs.put_file(str(PENGUINS), "gbucket/in/penguins.csv")
        dataprep.convert("gs://gbucket/in/penguins.csv", PENGUINS_SCHEMA, "gs://gbucket/out", **settings)
        remote = {name[len("gbucket/out/"):]: fs.cat_file(name) for name in fs.find("gbucket/out")}
        assert sorted(remote) == sorted(_files(local))
        assert all(remote[rel] == data for rel, data in _files(local).items() if rel != "manifest.json")
        got = dataprep.load_numpy("gs://gbucket/out", "test")
        np.testing.assert_array_equal(got["species"], dataprep.load_numpy(local, "test")["species"])
