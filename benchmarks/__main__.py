"""``python -m benchmarks`` (or ``make bench``): dataprep's write and read paths against the tutorial
baselines in the same run, every figure the median of fresh processes, saved as ``benchmarks/results/<name>.json``
(commit, date, machine, load average before and after, versions) and printed by :mod:`benchmarks.report`.

A fresh process is what a CLI user feels: each case runs in a new child (:mod:`benchmarks.child`), its first
run is the cold figure and, for dataprep's paths and the readers' later epoch, a second run in the same
process is the warm one. ``--quick`` runs small inputs as a smoke test (``*quick.json`` is not committed).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks import cases, meta, report
from benchmarks.child import measure

RESULTS = Path(__file__).resolve().parent / "results"
FULL = {"rows": 1_000_000, "image_rows": 60_000, "text_rows": 250_000, "big_csv_rows": 10_000_000}
QUICK = {"rows": 20_000, "image_rows": 3_000, "text_rows": 5_000, "big_csv_rows": 200_000}
PACKAGES = ["dataprep", "numpy", "pyarrow", "tensorflow-cpu", "tensorflow", "pandas", "isal", "crc32c"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small inputs, for a smoke run (results: quick.json)")
    p.add_argument("--repeat", type=int, default=3, help="fresh processes per figure (median)")
    p.add_argument("--cases", help="comma-separated case names (default: all; see benchmarks/cases.py)")
    for key, value in FULL.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=int, help=f"default {value:,} ({QUICK[key]:,} quick)")
    p.add_argument("--name", help="results file name (default: latest, or quick with --quick)")
    args = p.parse_args(argv)

    sizes = {k: getattr(args, k) if getattr(args, k) is not None else (QUICK if args.quick else FULL)[k]
             for k in FULL}
    chosen = args.cases.split(",") if args.cases else list(cases.CASES)
    unknown = sorted(set(chosen) - set(cases.CASES))
    if unknown:
        p.error(f"unknown cases {unknown}; known: {', '.join(cases.CASES)}")
    if not sizes["big_csv_rows"]:
        chosen = [c for c in chosen if cases.CASES[c].rows != "big_csv_rows"]
    name = args.name or ("quick" if args.quick else "latest")
    results = meta.header(name, {**sizes, "repeat": args.repeat, "quick": args.quick}, PACKAGES)
    work = Path(tempfile.mkdtemp(prefix="dataprep-bench-"))
    try:
        settings = {**sizes, "work": str(work)}
        print("... writing the inputs", file=sys.stderr, flush=True)
        cases.write_inputs(settings)
        results["cases"] = measure("benchmarks.cases", {c: cases.CASES[c] for c in chosen}, settings, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta.finish(results)
    out = RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(report.render_bench(results, file=str(out.relative_to(RESULTS.parent.parent))))
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
