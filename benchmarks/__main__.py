"""``python -m benchmarks`` (or ``make bench``): dataprep's write and read paths against the tutorial
baselines, in one process on this machine, printed as a table of rows/s and ratios and saved as JSON.

Targets (issue 4): numpy/Parquet -> TFRecord >= 30x the tutorial write; CSV >= 15x pandas + tutorial write;
GZIP >= 10x the tutorial GZIP write; make_dataset >= 4x the best-practice reader and >= 1M rows/s; a 10M-row
CSV converted under 1 GiB peak RSS; images >= 5x the per-image tutorial write.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dataprep  # noqa: E402
from benchmarks import baselines, workloads  # noqa: E402
from benchmarks.timing import step, timed  # noqa: E402

ROOT = Path(__file__).resolve().parent


def count_rows(ds, key: str | None = None) -> int:
    n = 0
    for batch in ds:
        x = batch[0] if isinstance(batch, tuple) else batch
        n += int((x[key] if key else next(iter(x.values())) if isinstance(x, dict) else x).shape[0])
    return n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the 9-column float table")
    p.add_argument("--image-rows", type=int, default=60_000, help="28x28 uint8 images")
    p.add_argument("--big-csv-rows", type=int, default=10_000_000, help="rows of the memory test CSV (0: skip)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each dataprep measurement (median)")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "latest.json", help="JSON results file")
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="dataprep-bench-"))
    results: dict = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
                     "rows": args.rows, "rows_per_s": {}, "ratios": {}}
    rate, ratio = results["rows_per_s"], results["ratios"]
    try:
        data = workloads.table(args.rows)
        files = workloads.write_files(data, work)
        n = args.rows

        def convert(source, name, **kw):
            return lambda: dataprep.convert(source, workloads.TABLE_SCHEMA, work / name, num_shards=10,
                                            overwrite=True, **kw)

        step("tutorial write (none)")
        rate["tutorial_write"] = n / timed(lambda: baselines.tutorial_write(data, work / "tut.tfrecord"))
        step("tutorial write (gzip)")
        rate["tutorial_write_gzip"] = n / timed(lambda: baselines.tutorial_write(data, work / "tut.gz", gzip=True))
        step("pandas.read_csv + tutorial write")
        rate["tutorial_csv_write"] = n / timed(lambda: baselines.tutorial_csv_write(files["csv"],
                                                                                     work / "tutcsv.tfrecord"))
        for source_name, source in (("numpy", data), ("parquet", files["parquet"]), ("csv", files["csv"])):
            for comp in ("none", "gzip"):
                key = f"dataprep_{source_name}_{comp}"
                step(key)
                rate[key] = n / timed(convert(source, key, compression=comp), args.repeat)
                base = "tutorial_write_gzip" if comp == "gzip" else \
                    "tutorial_csv_write" if source_name == "csv" else "tutorial_write"
                ratio[key] = rate[key] / rate[base]

        img = workloads.images(args.image_rows)
        step("images")
        rate["tutorial_images"] = args.image_rows / timed(lambda: baselines.tutorial_write(img, work / "img.tfr"))
        rate["dataprep_images"] = args.image_rows / timed(
            lambda: dataprep.convert(img, workloads.IMAGE_SCHEMA, work / "img", num_shards=10, overwrite=True),
            args.repeat)
        ratio["dataprep_images"] = rate["dataprep_images"] / rate["tutorial_images"]

        folder = work / "dataprep_numpy_none"
        shards = [str(folder / f["path"]) for f in dataprep.load_manifest(folder).split("train")["files"]]
        names = workloads.COLUMNS
        step("readers")
        rate["tutorial_read"] = n / timed(lambda: count_rows(baselines.tutorial_read(shards, names)))
        rate["best_practice_read"] = n / timed(lambda: count_rows(baselines.best_practice_read(shards, names)))
        rate["raw_bytes_read"] = n / timed(lambda: count_rows(baselines.raw_read(shards)), args.repeat)
        rate["make_dataset"] = n / timed(lambda: count_rows(dataprep.make_dataset(
            folder, batch_size=1024, num_epochs=1, seed=1)), args.repeat)
        ratio["make_dataset_vs_best_practice"] = rate["make_dataset"] / rate["best_practice_read"]
        ratio["make_dataset_vs_tutorial_read"] = rate["make_dataset"] / rate["tutorial_read"]
        results["shuffle"] = shuffle_quality(folder)

        if args.big_csv_rows:
            step(f"memory: {args.big_csv_rows:,}-row CSV")
            results["memory"] = memory_test(work, args.big_csv_rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults written to {args.out}")
    return 0


def shuffle_quality(folder: Path) -> dict:
    """How far make_dataset's order is from file order: the correlation of positions (0 = no relation) and
    how many output batches one shard's records spread over."""
    plain = dataprep.make_dataset(folder, batch_size=1024, num_epochs=1, shuffle=False, inputs="tuple",
                                  features=["f0"])
    shuffled = dataprep.make_dataset(folder, batch_size=1024, num_epochs=1, seed=3, inputs="tuple",
                                     features=["f0"], deterministic=True)
    order = np.concatenate([x[0].numpy() for x, _ in plain])
    got = np.concatenate([x[0].numpy() for x, _ in shuffled])
    position = {v: i for i, v in enumerate(order.tolist())}
    ranks = np.array([position[v] for v in got.tolist()])
    first_shard = len(order) // 10
    batches = np.unique(np.flatnonzero(ranks < first_shard) // 1024)
    return {"position_correlation": round(float(np.corrcoef(ranks, np.arange(len(ranks)))[0, 1]), 4),
            "batches_holding_shard_0": int(len(batches)), "batches": int(-(-len(ranks) // 1024))}


_PEAK_RSS_CHILD = """
import sys
from dataprep.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    if e.code:
        raise
# VmHWM belongs to this process image alone (ru_maxrss would also count the parent it was forked from)
hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print("PEAK_RSS_KB", hwm)
"""


def memory_test(work: Path, rows: int) -> dict:
    """Peak RSS of `dataprep convert` on a CSV of ``rows`` rows, in a child process."""
    csv = work / "big.csv"
    workloads.write_big_csv(csv, rows)
    schema = work / "big.yaml"
    dataprep.Schema.from_dict(workloads.TABLE_SCHEMA).save(schema)
    cmd = [sys.executable, "-c", _PEAK_RSS_CHILD, "convert", str(csv), "--schema", str(schema), "--out",
           str(work / "big"), "--num-shards", "16", "--quiet"]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"memory test conversion failed: {out.stderr.strip()[-500:]}")
    peak_kb = int(out.stdout.split("PEAK_RSS_KB")[-1])
    size = csv.stat().st_size
    csv.unlink()
    return {"rows": rows, "csv_bytes": size, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
            "peak_rss_mib": round(peak_kb / 1024, 1)}


def report(results: dict) -> None:
    rate, ratio = results["rows_per_s"], results["ratios"]
    print(f"\n{'path':<34}{'rows/s':>14}{'ratio':>10}")
    for key, value in rate.items():
        r = ratio.get(key) or ratio.get(f"{key}_vs_best_practice")
        print(f"{key:<34}{value:>14,.0f}{(f'{r:.1f}x' if r else ''):>10}")
    s = results["shuffle"]
    print(f"\nmake_dataset shuffle: position correlation {s['position_correlation']}, shard 0 spread over "
          f"{s['batches_holding_shard_0']} of {s['batches']} batches")
    if "memory" in results:
        m = results["memory"]
        print(f"{m['rows']:,}-row CSV ({m['csv_bytes'] / 2**20:,.0f} MiB) -> TFRecord: {m['seconds']} s, "
              f"{m['rows_per_s']:,} rows/s, peak RSS {m['peak_rss_mib']} MiB")


if __name__ == "__main__":
    sys.exit(main())
