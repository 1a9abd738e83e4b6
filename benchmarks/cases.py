"""The cases of ``python -m benchmarks``: each one path, run by :mod:`benchmarks.child` in a fresh process.

Inputs are written once by the parent (:func:`write_inputs`) under ``settings["work"]``; a child only reads
them. Ratios are against the tutorial path each case names as its baseline, measured in the same run.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import workloads
from benchmarks.child import Case, PeakSampler


def write_inputs(settings: dict) -> None:
    """The Parquet and CSV table, the converted folder the readers read, and the text-column table."""
    import dataprep

    work = Path(settings["work"])
    workloads.write_files(workloads.table(settings["rows"]), work)
    dataprep.convert(workloads.table(settings["rows"]), workloads.TABLE_SCHEMA, work / "read", num_shards=10)
    text = workloads.text_table(settings["text_rows"])
    import pyarrow as pa
    import pyarrow.csv as pacsv

    pacsv.write_csv(pa.table(text), work / "text.csv")
    dataprep.convert(str(work / "text.csv"), workloads.TEXT_SCHEMA, work / "text", num_shards=4)
    if settings["big_csv_rows"]:
        workloads.write_big_csv(work / "big.csv", settings["big_csv_rows"])


def _shards(work: Path) -> list[str]:
    import dataprep

    folder = work / "read"
    return [str(folder / f["path"]) for f in dataprep.load_manifest(folder).split("train")["files"]]


def count_rows(batches) -> int:
    """Rows in an iterable of batches (dicts, tuples of dicts, or tensors)."""
    n = 0
    for batch in batches:
        x = batch[0] if isinstance(batch, tuple) else batch
        x = next(iter(x.values())) if isinstance(x, dict) else x
        n += int(x.shape[0])
    return n


# writes -------------------------------------------------------------------------------------------------------

def _tutorial(kind: str) -> Callable[[dict], Callable[[], Any]]:
    def prepare(s: dict) -> Callable[[], Any]:
        from benchmarks import baselines

        work, out = Path(s["work"]), Path(s["work"]) / f"tutorial-{kind}.tfrecord"
        if kind == "csv":
            return lambda: baselines.tutorial_csv_write(work / "table.csv", out)
        data = workloads.images(s["image_rows"]) if kind == "images" else workloads.table(s["rows"])
        return lambda: baselines.tutorial_write(data, out, gzip=kind == "gzip")
    return prepare


def _convert(source: str, compression: str = "none", **kw: Any) -> Callable[[dict], Callable[[], Any]]:
    def prepare(s: dict) -> Callable[[], Any]:
        import dataprep

        work = Path(s["work"])
        inputs = {"numpy": lambda: workloads.table(s["rows"]), "images": lambda: workloads.images(s["image_rows"]),
                  "parquet": lambda: str(work / "table.parquet"), "csv": lambda: str(work / "table.csv"),
                  "text": lambda: str(work / "text.csv"), "big": lambda: str(work / "big.csv")}
        data = inputs[source]()
        schema = {"images": workloads.IMAGE_SCHEMA, "text": workloads.TEXT_SCHEMA}.get(source, workloads.TABLE_SCHEMA)
        out = work / f"out-{source}-{compression}-{'stats' if kw.get('stats') else 'plain'}"
        if source == "big":  # its disk peak is a fresh conversion's: an earlier run's output is no overwrite
            shutil.rmtree(out, ignore_errors=True)

        def run() -> Any:
            folders = [out, out.parent / f".{out.name}.partial"]  # the output and its work folder, on disk
            disk = PeakSampler(lambda: sum(_tree_bytes(f) for f in folders), 0.1) if source == "big" else None
            dataprep.convert(data, schema, out, num_shards=16 if source == "big" else 10, compression=compression,
                             overwrite=True, **kw)
            if disk:
                return {"rows": None, "disk_peak_mib": round(disk.stop() / 2**20, 1),
                        "input_mib": round(Path(data).stat().st_size / 2**20, 1)}
            return None
        return run
    return prepare


def _tree_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512  # allocated, as du counts
            except FileNotFoundError:
                pass  # renamed or removed between listing and stat
    return total


# reads ----------------------------------------------------------------------------------------------------------

def _tf_reader(build: Callable[[Path], Any]) -> Callable[[dict], Callable[[], Any]]:
    """A tf.data reader: built on the first (cold) call, its later epoch is the warm call."""
    def prepare(s: dict) -> Callable[[], Any]:
        import tensorflow  # noqa: F401  (imports are start-up, not the first epoch)

        import dataprep.readers  # noqa: F401

        built: list = []

        def epoch() -> int:
            if not built:
                built.append(build(Path(s["work"])))
            return count_rows(built[0])
        return epoch
    return prepare


def _baseline_reader(name: str) -> Callable[[Path], Any]:
    def build(work: Path) -> Any:
        from benchmarks import baselines

        if name == "raw_read":
            return baselines.raw_read(_shards(work))
        return getattr(baselines, name)(_shards(work), workloads.COLUMNS)
    return build


def _make_dataset(work: Path) -> Any:
    import dataprep

    return dataprep.make_dataset(work / "read", batch_size=1024, num_epochs=1, seed=1)


def _make_dataset_global(work: Path) -> Any:
    import dataprep

    return dataprep.make_dataset(work / "read", batch_size=1024, num_epochs=1, seed=1, shuffle="global")


def _iter_batches(folder: str, shuffle: str | None = None) -> Callable[[dict], Callable[[], Any]]:
    def prepare(s: dict) -> Callable[[], Any]:
        import dataprep

        return lambda: count_rows(dataprep.iter_batches(Path(s["work"]) / folder, batch_size=1024, shuffle=shuffle,
                                                        seed=1))
    return prepare


def _take_random(s: dict) -> Callable[[], Any]:
    """The whole split read by ``SplitReader.take`` in batches of 1024 random indices."""
    import numpy as np

    import dataprep

    reader = dataprep.SplitReader(Path(s["work"]) / "read", "train")
    order = np.random.default_rng(0).permutation(len(reader))
    return lambda: count_rows(reader.take(order[a:a + 1024]) for a in range(0, len(order), 1024))


def _stats(s: dict) -> Callable[[], Any]:
    import dataprep

    def run() -> None:
        dataprep.stats(Path(s["work"]) / "text")
    return run


def _shuffle_quality(s: dict) -> Callable[[], Any]:
    """How far make_dataset's order is from file order: the correlation of positions (0: no relation) and
    how many output batches one shard's records spread over."""
    import numpy as np

    import dataprep

    folder = Path(s["work"]) / "read"

    def run() -> dict:
        plain = dataprep.make_dataset(folder, batch_size=1024, num_epochs=1, shuffle=False, inputs="tuple",
                                      features=["f0"])
        shuffled = dataprep.make_dataset(folder, batch_size=1024, num_epochs=1, seed=3, inputs="tuple",
                                         features=["f0"], deterministic=True)
        order = np.concatenate([x[0].numpy() for x, _ in plain])
        got = np.concatenate([x[0].numpy() for x, _ in shuffled])
        position = {v: i for i, v in enumerate(order.tolist())}
        ranks = np.array([position[v] for v in got.tolist()])
        batches = np.unique(np.flatnonzero(ranks < len(order) // 10) // 1024)
        return {"rows": len(ranks),
                "position_correlation": round(float(np.corrcoef(ranks, np.arange(len(ranks)))[0, 1]), 4),
                "batches_holding_shard_0": int(len(batches)), "batches": int(-(-len(ranks) // 1024))}
    return run


TUTORIAL = "one `tf.train.Example` per row + `TFRecordWriter`"
CASES: dict[str, Case] = {
    "tutorial_write": Case(f"tutorial write ({TUTORIAL})", "write", _tutorial("none")),
    "tutorial_write_gzip": Case("tutorial write, GZIP", "write", _tutorial("gzip")),
    "tutorial_csv_write": Case("`pandas.read_csv` + tutorial write", "write", _tutorial("csv")),
    **{f"dataprep_{src}_{comp}": Case(
        f"dataprep {label} -> TFRecord{' GZIP' if comp == 'gzip' else ''}", "write", _convert(src, comp),
        baseline="tutorial_write_gzip" if comp == "gzip" else "tutorial_csv_write" if src == "csv"
        else "tutorial_write", warm=True)
       for src, label in (("numpy", "numpy"), ("parquet", "Parquet"), ("csv", "CSV")) for comp in ("none", "gzip")},
    "tutorial_images": Case("tutorial write, 28x28 uint8 images", "write", _tutorial("images"), rows="image_rows"),
    "dataprep_images": Case("dataprep 28x28 uint8 images -> TFRecord", "write", _convert("images"),
                            rows="image_rows", baseline="tutorial_images", warm=True),
    "tutorial_read": Case("tutorial read (`map(parse_single_example)`, batch 32)", "read",
                          _tf_reader(_baseline_reader("tutorial_read"))),
    "best_practice_read": Case("best-practice tf.data (interleave, shuffle 10k, batch, `parse_example`)", "read",
                               _tf_reader(_baseline_reader("best_practice_read")), warm=True),
    "raw_bytes_read": Case("raw `TFRecordDataset` bytes, batched", "read",
                           _tf_reader(_baseline_reader("raw_read")), warm=True),
    "make_dataset": Case("`make_dataset` (shuffled, parsed batches of 1024)", "read", _tf_reader(_make_dataset),
                         baseline="best_practice_read", warm=True),
    "iter_batches": Case("`iter_batches` (TF-free, file order)", "read", _iter_batches("read"), warm=True),
    "make_dataset_global": Case("`make_dataset(shuffle='global')`", "read", _tf_reader(_make_dataset_global),
                                baseline="make_dataset", warm=True),
    "iter_batches_global": Case("`iter_batches(shuffle='global')`", "read", _iter_batches("read", "global"),
                                baseline="iter_batches", warm=True),
    "take_random": Case("`SplitReader.take`, random batches of 1024", "read", _take_random, baseline="iter_batches",
                        warm=True),
    "iter_batches_text": Case("`iter_batches`, table with one string column", "text", _iter_batches("text"),
                              rows="text_rows", baseline="iter_batches"),
    "stats_folder_text": Case("`dataprep stats` on the converted folder", "text", _stats, rows="text_rows"),
    "convert_text": Case("CSV with a string column -> TFRecord", "text", _convert("text"), rows="text_rows"),
    "convert_text_stats": Case("the same with `--stats`", "text", _convert("text", stats=True), rows="text_rows",
                               baseline="convert_text"),
    "shuffle_quality": Case("make_dataset's shuffle against file order", "shuffle", _shuffle_quality, runs=1),
    "convert_big_csv": Case("big CSV -> TFRecord (16 shards)", "memory", _convert("big"), rows="big_csv_rows"),
}
