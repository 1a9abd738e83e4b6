"""``python -m benchmarks.beam_memory``: the Beam runner's planning step, peak memory against rows.

The planning step (``beam_runner._plan``) runs on one worker and sees every batch's record lengths; it numbers
the records and draws the local runner's seeded split and shard plan. This measures its peak traced memory
(``tracemalloc``: numpy's buffers are traced) at each row count, its gathered input included, each in a fresh
process, and prints bytes per row: flat bytes per row means memory grows with the rows (the plan is per record),
which is what a planner from per-bundle counts and a keyed permutation would remove.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BATCH_ROWS = 65_536


def measure(rows: int) -> dict:
    """Peak traced bytes of one planning step over ``rows`` records (train/valid/test, shuffled, auto shards)."""
    import time
    import tracemalloc

    import numpy as np

    from dataprep.beam_runner import _plan
    from dataprep.job import Job
    from dataprep.options import ConvertOptions
    from dataprep.schema import load_schema

    schema = load_schema(ROOT.parent / "schemas" / "penguins.yaml")
    job = Job(schema, ConvertOptions.build({"split": "train=0.8,valid=0.1,test=0.1", "seed": 1}).for_schema(schema))
    rng = np.random.default_rng(0)
    tracemalloc.start()
    gathered = [((0, i), rng.integers(40, 200, min(BATCH_ROWS, rows - start)).astype(np.int64), None)
                for i, start in enumerate(range(0, rows, BATCH_ROWS))]
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    plan = _plan(gathered, job, None)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"rows": rows, "shards": len(plan.shards), "input_bytes": before, "peak_bytes": peak,
            "peak_bytes_per_row": round(peak / rows, 1), "seconds": round(seconds, 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.beam_memory", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    p.add_argument("--out", type=Path, default=ROOT / "results" / "beam_memory.json", help="JSON results file")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process: measure and print
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one)))
        return 0
    results = []
    for rows in args.rows:
        out = subprocess.run([sys.executable, "-m", "benchmarks.beam_memory", "--one", str(rows)], check=True,
                             capture_output=True, text=True, cwd=ROOT.parent).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        r = results[-1]
        print(f"{r['rows']:>12,} rows  {r['shards']:>4} shards  peak {r['peak_bytes'] / 2**20:8.1f} MiB "
              f"({r['peak_bytes_per_row']} B/row, input {r['input_bytes'] / 2**20:.1f} MiB)  {r['seconds']} s")
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
