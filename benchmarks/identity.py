"""``python -m benchmarks.identity``: the SHA-256 of every file that fixed conversions write, one line each,
so two commits can be compared byte for byte (``diff`` the outputs) before a refactor or a speed-up lands.

It converts the benchmark table (numpy, Parquet and CSV), the image set, the housing data of
``../shared/data`` (TFRecord plain/gzip/zlib, CSV plain/gzip, rows per shard with a hashed split; skipped
with a message when absent), the bundled penguins (skip and quarantine policies; the quarantine file names
the input's absolute path, so compare it from the same checkout folder) and digits, and the every-dtype
table of the tests. ``tests/test_golden.py`` pins a smaller set of these in the suite.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import dataprep
from benchmarks import workloads

ROOT = Path(__file__).resolve().parent.parent
HOUSING = ROOT.parent / "shared" / "data" / "california_housing.csv"
SPLIT = "train=0.8,valid=0.1,test=0.1"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def hashes(work: Path, rows: int) -> dict[str, str]:
    """Every output file's digest (and each manifest's split listing) by ``case/file``."""
    out: dict[str, str] = {}

    def run(name: str, source: Any, schema: Any, **settings: Any) -> None:
        folder = work / name
        dataprep.convert(source, schema, folder, **settings)
        for f in sorted(folder.rglob("*")):
            if f.is_file() and f.name != "manifest.json":
                out[f"{name}/{f.relative_to(folder)}"] = _digest(f.read_bytes())
        splits = json.loads((folder / "manifest.json").read_text())["splits"]
        out[f"{name}/manifest.splits"] = _digest(json.dumps(splits, sort_keys=True).encode())

    if HOUSING.is_file():
        housing = dataprep.infer_schema(str(HOUSING))
        for comp in ("none", "gzip", "zlib"):
            run(f"housing_tfr_{comp}", str(HOUSING), housing, compression=comp, num_shards=4, split=SPLIT, seed=7)
        run("housing_csv", str(HOUSING), housing, format="csv", num_shards=3, split=SPLIT, seed=7)
        run("housing_csv_gz", str(HOUSING), housing, format="csv", compression="gzip", num_shards=3, seed=7,
            shuffle=False)
        run("housing_rps", str(HOUSING), housing, rows_per_shard=5000, split_by="longitude", split=SPLIT, seed=3)
    else:
        print(f"skipping the housing cases: {HOUSING} is absent", file=sys.stderr)
    penguins, penguins_schema = str(ROOT / "sample_data/penguins.csv"), str(ROOT / "schemas/penguins.yaml")
    run("penguins", penguins, penguins_schema, split=SPLIT, on_error="skip", seed=42)
    run("penguins_q", penguins, penguins_schema, split=SPLIT, on_error="quarantine",
        quarantine=str(work / "q.csv"), seed=42)
    out["penguins_q/quarantine"] = _digest((work / "q.csv").read_bytes())
    run("digits", str(ROOT / "sample_data/digits.npz"), str(ROOT / "schemas/digits.yaml"), split=SPLIT,
        num_shards=2, compression="gzip", seed=42)
    data = workloads.table(rows)
    (work / "bench").mkdir()
    files = workloads.write_files(data, work / "bench")
    for name, source in (("numpy", data), ("parquet", files["parquet"]), ("csv", files["csv"])):
        run(f"bench_{name}", source, workloads.TABLE_SCHEMA, num_shards=10)
    run("bench_images", workloads.images(5000), workloads.IMAGE_SCHEMA, num_shards=2)

    from tests.tables import SCHEMA, make_data

    table = make_data(300)
    table["f64"] = table["f_scalar"].astype("float64") * 1.000001
    schema = {"features": SCHEMA["features"] + [{"name": "f64", "dtype": "float64", "shape": []}]}
    run("roundtrip_tfr", table, schema, num_shards=3, split=SPLIT, seed=1)
    run("roundtrip_tfr_gz", table, schema, num_shards=2, compression="gzip", seed=1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.identity", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000, help="rows of the benchmark table")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dataprep-identity-") as work:
        for key, value in sorted(hashes(Path(work), args.rows).items()):
            print(key, value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
