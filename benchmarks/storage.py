"""``python -m benchmarks.storage``: the same conversion and read-back on local disk and on a local S3 server.

The server is moto's (the tests' server, in a thread on 127.0.0.1): a pure-Python S3, so its figures are a
floor for what the storage path costs, not what S3 or MinIO would give. Each figure is the median of
``--repeat`` runs in this process; written to ``benchmarks/results/storage.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dataprep  # noqa: E402
from tests.object_store import boto3_client, s3_server  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SCHEMA = {"features": [{"name": "id", "dtype": "int64", "shape": []},
                       {"name": "x", "dtype": "float32", "shape": [8], "source": [f"x{i}" for i in range(8)]},
                       {"name": "s", "dtype": "string", "shape": []}]}


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.storage", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=300_000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="dataprep-bench-storage-"))
    try:
        rng = np.random.default_rng(0)
        n = args.rows
        table = pa.table({"id": np.arange(n), **{f"x{i}": rng.standard_normal(n).astype(np.float32)
                                                 for i in range(8)}, "s": [f"row {i % 5000}" for i in range(n)]})
        pacsv.write_csv(table, tmp / "in.csv")
        dataprep.Schema.from_dict(SCHEMA).save(tmp / "s.yaml")
        settings = {"split": "train=0.9,test=0.1", "seed": 1, "compression": "gzip", "num_shards": 4,
                    "overwrite": True}
        csv_mb = (tmp / "in.csv").stat().st_size / 1e6
        with s3_server() as env:
            os.environ.update(env)
            os.environ["DATAPREP_CACHE"] = str(tmp / "cache")
            client = boto3_client(env)
            client.create_bucket(Bucket="bench")
            client.upload_file(str(tmp / "in.csv"), "bench", "in.csv")
            local = _median(lambda: dataprep.convert(tmp / "in.csv", tmp / "s.yaml", tmp / "out", **settings),
                            args.repeat)
            out_mb = sum(f.stat().st_size for f in (tmp / "out").rglob("*") if f.is_file()) / 1e6
            remote = _median(lambda: dataprep.convert("s3://bench/in.csv", tmp / "s.yaml", "s3://bench/out",
                                                      **settings), args.repeat)

            def read_remote():
                shutil.rmtree(tmp / "cache" / "outputs", ignore_errors=True)  # cold: every shard fetched
                return dataprep.iter_batches("s3://bench/out", "train", 65536)

            read_local = _median(lambda: sum(len(b["id"]) for b in dataprep.iter_batches(tmp / "out", "train",
                                                                                          65536)), args.repeat)
            read_s3 = _median(lambda: sum(len(b["id"]) for b in read_remote()), args.repeat)
        result = {"rows": n, "input_csv_mb": round(csv_mb, 1), "output_mb": round(out_mb, 1),
                  "convert_local_s": round(local, 2), "convert_s3_to_s3_s": round(remote, 2),
                  "convert_local_mb_per_s": round(csv_mb / local, 1),
                  "convert_s3_to_s3_mb_per_s": round(csv_mb / remote, 1),
                  "read_local_s": round(read_local, 2), "read_s3_cold_s": round(read_s3, 2),
                  "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
                  "cpus": os.cpu_count(), "command": f"python -m benchmarks.storage --rows {n} --repeat {args.repeat}"}
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "storage.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
