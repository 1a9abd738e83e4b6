"""``python -m benchmarks.sparse_dates``: conversion rates of "index:value" sparse text and of a datetime column.

Writes 100,000 CSV rows of 20 "index:value" entries (indices below 2^20) and a CSV of 2,000,000
``%Y-%m-%dT%H:%M:%S`` times to a temporary folder, converts them, and prints the seconds and rows/s next to
the same time column converted as plain text (the cost of parsing and checking the dates). One run, no
TensorFlow; a rough figure for the README, not part of ``make bench``.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

import dataprep


def _timed(source: Path, schema: dict, out: Path) -> float:
    started = time.perf_counter()
    dataprep.convert(source, schema, out, split="train=1", progress=False)
    return time.perf_counter() - started


def main() -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        n = 100_000
        idx = np.sort(rng.integers(0, 2**20, (n, 20)), axis=1)
        vals = rng.random((n, 20)).astype(np.float32)
        with open(folder / "sparse.csv", "w") as fh:
            fh.write("x,y\n")
            for i in range(n):
                fh.write(" ".join(f"{a}:{b:.6g}" for a, b in zip(np.unique(idx[i]), vals[i])) + f",{i}\n")
        sparse = {"features": [{"name": "x", "dtype": "float32", "shape": [2**20], "sparse": True},
                               {"name": "y", "dtype": "int64"}]}
        seconds = _timed(folder / "sparse.csv", sparse, folder / "out_sparse")
        size = (folder / "sparse.csv").stat().st_size / 1e6
        print(f"sparse text: {n:,} rows of 20 entries ({size:.1f} MB CSV) in {seconds:.2f} s, "
              f"{n / seconds:,.0f} rows/s")

        m = 2_000_000
        times = np.datetime64("1990-01-01T00:00:00") + rng.integers(0, 10**9, m).astype("timedelta64[s]")
        pacsv.write_csv(pa.table({"t": pa.array(times.astype(str).astype(object))}), folder / "times.csv")
        dated = _timed(folder / "times.csv", {"features": [{"name": "t", "dtype": "int64", "parse": "datetime"}]},
                       folder / "out_dates")
        text = _timed(folder / "times.csv", {"features": [{"name": "t", "dtype": "string"}]}, folder / "out_text")
        print(f"datetime column: {m:,} rows in {dated:.2f} s ({m / dated:,.0f} rows/s); as text: {text:.2f} s")


if __name__ == "__main__":
    main()
