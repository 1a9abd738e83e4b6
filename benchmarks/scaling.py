"""``python -m benchmarks.scaling`` (or ``make bench-scaling``): one conversion on more cores.

Converts the 9-column float table (split into Parquet and CSV files, since input files are Beam's unit of
parallel work) with the local runner at ``--workers 1`` and ``2``, and, when Apache Beam is installed, with
the Beam DirectRunner in process and with two worker processes. Prints rows/s and the speed-up over one
local worker; needs no TensorFlow (``make bench-scaling`` runs it in the Beam environment).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import dataprep
from benchmarks import meta, workloads
from benchmarks.timing import step, timed

ROOT = Path(__file__).resolve().parent
BEAM_RUNS = {"beam_direct": "--runner=DirectRunner",
             "beam_direct_2_processes": "--direct_num_workers=2 --direct_running_mode=multi_processing"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the 9-column float table")
    p.add_argument("--files", type=int, default=8, help="input files the table is split into")
    p.add_argument("--repeat", type=int, default=3, help="runs of each measurement (median)")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "scaling.json", help="JSON results file")
    args = p.parse_args(argv)
    try:
        import apache_beam  # noqa: F401
        have_beam = True
    except ImportError:
        have_beam = False
        print("Apache Beam is not installed here: Beam rows are left out (make bench-scaling installs it)",
              file=sys.stderr)

    results = meta.header("scaling", {"rows": args.rows, "files": args.files, "repeat": args.repeat},
                          ["dataprep", "apache-beam", "pyarrow", "numpy", "isal"])
    work = Path(tempfile.mkdtemp(prefix="dataprep-scaling-"))
    rates: dict[str, float] = {}
    try:
        inputs = _write_inputs(workloads.table(args.rows), work, args.files)
        for kind, files in inputs.items():
            for compression in ("none", "gzip"):
                def run(name, kind=kind, compression=compression, files=files, **kw):
                    key = f"{kind}_{compression}_{name}"
                    step(key)
                    paths = [str(f) for f in files]
                    rates[key] = args.rows / timed(lambda: dataprep.convert(
                        paths, workloads.TABLE_SCHEMA, work / "out", num_shards=8, compression=compression,
                        overwrite=True, **kw), args.repeat)
                run("local_1_worker", workers=1)
                run("local_2_workers", workers=2)
                if have_beam:
                    for name, options in BEAM_RUNS.items():
                        run(name, runner="beam", beam_options=options)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'conversion':<44}{'rows/s':>14}{'vs 1 worker':>13}")
    for key, value in rates.items():
        base = rates[_base_key(key)]
        print(f"{key:<44}{value:>14,.0f}{value / base:>12.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results["rows_per_s"] = rates
    args.out.write_text(json.dumps(meta.finish(results), indent=2) + "\n")
    print(f"\nresults written to {args.out}")
    return 0


def _base_key(key: str) -> str:
    kind, compression = key.split("_")[:2]
    return f"{kind}_{compression}_local_1_worker"


def _write_inputs(data: dict, folder: Path, files: int) -> dict[str, list[Path]]:
    table = pa.table(data)
    step_rows = -(-table.num_rows // files)
    out: dict[str, list[Path]] = {"parquet": [], "csv": []}
    for i in range(files):
        part = table.slice(i * step_rows, step_rows)
        out["parquet"].append(folder / f"part-{i:02d}.parquet")
        out["csv"].append(folder / f"part-{i:02d}.csv")
        pq.write_table(part, out["parquet"][-1])
        pacsv.write_csv(part, out["csv"][-1])
    return out


if __name__ == "__main__":
    sys.exit(main())
