"""``python -m benchmarks.random_access``: random access and shuffled iteration over the 9-float table
(``--rows`` records in 10 shards, read from the page cache), saved as ``benchmarks/results/random_access.json``
(commit, date, machine, load) and printed on the performance page by :mod:`benchmarks.report`; ``make bench``
runs it after :mod:`benchmarks`.

Figures: ``SplitReader.take`` of random indices (batches of 1,024 and 32,768), single ``reader[i]`` at random
places, the same on gzip shards (whose every first access to a shard inflates it), and ``iter_batches`` in file
order against the global shuffle, with the shuffle's quality: the correlation of a record's place in the epoch
with its place in the files, and how many of the epoch's batches hold a record of the first shard; then Grain
over ``SplitReader`` against Grain over an ArrayRecord file of the same records.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import dataprep
from benchmarks import meta
from benchmarks.workloads import TABLE_SCHEMA, table
from dataprep.records import SplitReader


def rate(fn, records: int, repeat: int = 3) -> float:
    """Records per second of ``fn`` (best of ``repeat`` after one warm-up run)."""
    fn()
    best = min(_timed(fn) for _ in range(repeat))
    return records / best


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def random_access(folder: Path, rows: int) -> dict:
    order = np.random.default_rng(0).permutation(rows)
    # a new reader's first batch maps (or inflates) every shard it touches: all 10 here
    out = {"first_take_1024_s": _timed(lambda: SplitReader(folder, "train").take(order[:1024]))}
    reader = SplitReader(folder, "train")
    for batch in (1024, 32768):
        span = order[:min(rows, 32 * batch)]
        out[f"take_{batch}_per_s"] = round(rate(lambda span=span, b=batch: [reader.take(span[a:a + b])
                                                                      for a in range(0, len(span), b)], len(span)))
    singles = order[:50_000].tolist()
    out["single_per_s"] = round(rate(lambda: [reader[i] for i in singles], len(singles)))
    return out


def quality(batches: list[np.ndarray], rows: int) -> dict:
    """How well an epoch's order (batches of record numbers) is mixed: the correlation of each record's place
    with its number (file order: 1, a uniform shuffle: about 0), and the share of batches holding a record
    of the first of the 10 shards (a uniform shuffle of batches of b: 1 - 0.9**b)."""
    order = np.concatenate(batches)
    first = rows // 10
    return {"position_correlation": round(float(np.corrcoef(order, np.arange(len(order)))[0, 1]), 4),
            "batches_with_shard0": round(float(np.mean([(b < first).any() for b in batches])), 4)}


def shuffles(folder: Path, rows: int, batch: int = 256) -> dict:
    """One epoch of make_dataset and iter_batches per shuffle: records/s and the order's quality."""
    out = {}
    for shuffle in (False, True, "global"):
        ds = dataprep.make_dataset(folder, batch_size=batch, shuffle=shuffle, seed=1, num_epochs=1)
        seen: list[np.ndarray] = []
        secs = _timed(lambda ds=ds, seen=seen: seen.extend(x["f0"].numpy().astype(np.int64) for x, _ in ds))
        out[f"make_dataset_{shuffle}"] = {"per_s": round(rows / secs), **quality(seen, rows)}
    for shuffle in (None, "global"):
        reader_seen: list[np.ndarray] = []
        secs = _timed(lambda s=shuffle, seen=reader_seen: seen.extend(
            b["f0"].astype(np.int64) for b in dataprep.iter_batches(folder, "train", batch, shuffle=s, seed=1)))
        out[f"iter_batches_{shuffle}"] = {"per_s": round(rows / secs), **quality(reader_seen, rows)}
    return out


def grain_sources(folder: Path, tmp: Path, rows: int, batches: int = 40) -> dict:
    """Grain's ``MapDataset.source(...).shuffle(seed).batch(256)`` over ``SplitReader`` (decoded records) and
    over an ArrayRecord file of the same serialized records (``group_size:1``, as Grain asks; bytes only, not
    parsed), and batched random reads of 32,768 records from each (``take`` / ``__getitems__``)."""
    import grain
    from array_record.python.array_record_module import ArrayRecordWriter

    reader = SplitReader(folder, "train")
    blob, starts, lengths = reader.packed(np.arange(rows))
    path = str(tmp / "table.array_record")
    writer = ArrayRecordWriter(path, "group_size:1")
    view = memoryview(blob)
    for s, n in zip(starts.tolist(), lengths.tolist()):
        writer.write(bytes(view[s:s + n]))
    writer.close()
    array_record = grain.sources.ArrayRecordDataSource(path)
    order = np.random.default_rng(1).permutation(rows)[:32768]
    out = {}
    for name, source, batched in (("splitreader", reader, reader.take),
                                  ("array_record", array_record, array_record.__getitems__)):
        ds = grain.MapDataset.source(source).shuffle(seed=1).batch(256)
        out[f"grain_{name}_per_s"] = round(rate(lambda ds=ds: [ds[i] for i in range(batches)], 256 * batches, 1))
        out[f"batched_{name}_per_s"] = round(rate(lambda f=batched: f(order.tolist()), len(order), 1))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.random_access", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--name", default="random_access", help="results file name (default: random_access)")
    args = p.parse_args(argv)
    results = meta.header(args.name, {"rows": args.rows}, ["dataprep", "numpy", "grain", "array-record"])
    with tempfile.TemporaryDirectory() as tmp:
        data = table(args.rows)
        data["f0"] = np.arange(args.rows, dtype=np.float32)  # the record's number (exact below 2**24)
        results["rows"] = args.rows
        for compression in ("none", "gzip"):
            folder = Path(tmp) / compression
            dataprep.convert(data, TABLE_SCHEMA, folder, num_shards=10, compression=compression, shuffle=False,
                             progress=False)
            results[compression] = random_access(folder, args.rows)
        results["shuffles"] = shuffles(Path(tmp) / "none", args.rows)
        results["grain"] = grain_sources(Path(tmp) / "none", Path(tmp), args.rows)
    meta.finish(results)
    out = Path(__file__).resolve().parent / "results" / f"{args.name}.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
