"""Killed conversions leave nothing that looks finished; --resume finishes them byte for byte; a full disk
fails cleanly."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import dataprep
from dataprep import OutputError

SCHEMA = {"features": [{"name": "id", "dtype": "int64", "shape": []},
                       {"name": "v", "dtype": "float32", "shape": [4]},
                       {"name": "s", "dtype": "string", "shape": []}]}
ARGS = ["--num-shards", "12", "--compression", "gzip", "--split", "train=0.8,test=0.2", "--seed", "5",
        "--workers", "1", "--batch-size", "20000", "--quiet"]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crash")
    n = 400_000
    rng = np.random.default_rng(0)
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.table({"id": np.arange(n), **{f"v{i}": rng.standard_normal(n).astype(np.float32) for i in range(4)},
                      "s": [f"text {i % 1000}" for i in range(n)]})
    pacsv.write_csv(table, folder / "in.csv")
    schema = {"features": [SCHEMA["features"][0],
                           {**SCHEMA["features"][1], "source": ["v0", "v1", "v2", "v3"]}, SCHEMA["features"][2]]}
    dataprep.Schema.from_dict(schema).save(folder / "s.yaml")
    clean = folder / "clean"
    dataprep.convert(folder / "in.csv", folder / "s.yaml", clean, num_shards=12, compression="gzip",
                     split="train=0.8,test=0.2", seed=5, batch_size=20000)
    return folder


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(folder: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dataprep.cli", "convert", str(folder / "in.csv"), "--schema",
            str(folder / "s.yaml"), "--out", str(out), *ARGS, *extra]


def _reached(partial: Path, when) -> bool:
    if when == "encoding":
        spool = partial / "records.spool"
        return spool.exists() and spool.stat().st_size > 0
    journal = partial / "journal.jsonl"
    return journal.exists() and len(journal.read_text().splitlines()) >= when


@pytest.mark.parametrize("when", ["encoding", 1, 5, 11])
def test_sigkill_then_resume_is_byte_identical(source, tmp_path, when):
    """Kill -9 while encoding, or after 1, 5 or 11 of 24 shards were written; then resume."""
    out = tmp_path / "out"
    partial = tmp_path / ".out.partial"
    proc = subprocess.Popen(cli(source, out))
    while proc.poll() is None and not _reached(partial, when):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode == 0:  # finished before the kill point: nothing to resume
        assert files(out) == files(source / "clean")
        return
    assert not out.exists()  # nothing that looks complete
    journal = partial / "journal.jsonl"
    kept = [json.loads(line)["name"] for line in journal.read_text().splitlines()] if journal.exists() else []
    assert len(kept) >= (0 if when == "encoding" else when)
    stamps = {name: (partial / name).stat().st_mtime_ns for name in kept}
    done = subprocess.run(cli(source, out, "--resume"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert files(out) == files(source / "clean")
    assert {name: (out / name).stat().st_mtime_ns for name in kept} == stamps  # kept, not rewritten
    assert not partial.exists()


def test_resume_ignores_a_partial_run_with_other_options(source, tmp_path):
    out = tmp_path / "out"
    partial = tmp_path / ".out.partial"
    partial.mkdir()
    (partial / "run.json").write_text(json.dumps({"settings": "something else"}))
    (partial / "junk").write_text("x")
    subprocess.run(cli(source, out, "--resume"), check=True)
    assert files(out) == files(source / "clean") and not partial.exists()


def test_disk_full_fails_cleanly(tmp_path, monkeypatch):
    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device", "shard")

    monkeypatch.setattr("dataprep.shards._Sink.write", full)
    with pytest.raises(OutputError, match="disk full while writing"):
        dataprep.convert({"id": np.arange(10), "v": np.zeros((10, 4), np.float32), "s": np.array(["a"] * 10)},
                         SCHEMA, tmp_path / "o")
    assert os.listdir(tmp_path) == []
