"""``python -m benchmarks.peers`` (``make bench-peers``, in its own venv ``.venv-peers``): the tools users pick
instead of dataprep, on the same 9-float table, against the tutorial write and the best-practice tf.data read
of the same run, every figure the median of fresh processes (:mod:`benchmarks.child`).

Writes: the tutorial loop, dataprep, the ``tfrecord`` package's writer, array_record's writer (records
serialised as the tutorial does), TFDS's ``ExampleSerializer`` and its ``Writer`` (which also shuffles), and
Ray Data's ``write_tfrecords``. Reads: best-practice tf.data, dataprep's ``make_dataset`` and ``iter_batches``,
the ``tfrecord`` package's loader, Ray Data's ``read_tfrecords``, and grain's ``MapDataset`` and
``DataLoader`` over ArrayRecord files of the same records. The slowest readers (Ray Data, grain's DataLoader)
read the first ``--slow-rows`` records, so a run stays within minutes; their rate is per record all the same.
Results: ``benchmarks/results/peers.json``.
"""
from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks import meta, report, workloads
from benchmarks.cases import count_rows
from benchmarks.child import Case, measure

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ["dataprep", "tensorflow-cpu", "tensorflow-datasets", "tfrecord", "array-record", "grain", "ray",
            "numpy", "pyarrow"]
SHARDS = 10


def write_inputs(settings: dict) -> None:
    """The converted folder the TFRecord readers read and the same records as ArrayRecord shards."""
    from array_record.python.array_record_module import ArrayRecordWriter

    import dataprep

    work = Path(settings["work"])
    dataprep.convert(workloads.table(settings["rows"]), workloads.TABLE_SCHEMA, work / "read", num_shards=SHARDS)
    (work / "arrayrecord").mkdir()
    for i, path in enumerate(_shards(work)):
        writer = ArrayRecordWriter(str(work / "arrayrecord" / f"part-{i:02d}.array_record"), "group_size:1")
        for record in _records([path]):
            writer.write(record)
        writer.close()


def _shards(work: Path) -> list[str]:
    import dataprep

    folder = work / "read"
    return [str(folder / f["path"]) for f in dataprep.load_manifest(folder).split("train")["files"]]


def _records(paths: list[str]) -> Iterator[bytes]:
    import tensorflow as tf

    for record in tf.data.TFRecordDataset(paths):
        yield record.numpy()


def _rows(data: dict) -> Iterator[dict]:
    columns = [data[c].tolist() for c in workloads.COLUMNS]
    for values in zip(*columns):
        yield dict(zip(workloads.COLUMNS, values))


def _first_shards(work: Path, settings: dict) -> list[str]:
    """The shards holding the first ``slow_rows`` records (whole shards, so the count is exact)."""
    per_shard = settings["rows"] // SHARDS
    return _shards(work)[:max(1, -(-settings["slow_rows"] // per_shard))]


# writes -------------------------------------------------------------------------------------------------------

def _write(body: Callable[[dict, Path], None], *imports: str) -> Callable[[dict], Callable[[], Any]]:
    """A write case: ``body(table, out)`` timed on the benchmark table, into a new folder each run; the
    modules it uses are imported before (start-up, not the timed run)."""
    def prepare(s: dict) -> Callable[[], Any]:
        for module in imports:
            importlib.import_module(module)
        data = workloads.table(s["rows"])

        def run() -> None:
            body(data, Path(tempfile.mkdtemp(prefix=f"out-{body.__name__}-", dir=s["work"])))
        return run
    return prepare


def tutorial(data: dict, out: Path) -> None:
    from benchmarks import baselines

    baselines.tutorial_write(data, out / "data.tfrecord")


def dataprep_convert(data: dict, out: Path) -> None:
    import dataprep

    dataprep.convert(data, workloads.TABLE_SCHEMA, out / "folder", num_shards=SHARDS)


def tfrecord_package(data: dict, out: Path) -> None:
    from tfrecord.writer import TFRecordWriter

    writer = TFRecordWriter(str(out / "data.tfrecord"))
    for row in _rows(data):
        writer.write({name: (value, "float") for name, value in row.items()})
    writer.close()


def array_record(data: dict, out: Path) -> None:
    import tensorflow as tf
    from array_record.python.array_record_module import ArrayRecordWriter

    writer = ArrayRecordWriter(str(out / "data.array_record"), "group_size:1")
    for row in _rows(data):
        feature = {n: tf.train.Feature(float_list=tf.train.FloatList(value=[v])) for n, v in row.items()}
        writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    writer.close()


def _tfds_features() -> Any:
    import tensorflow as tf
    import tensorflow_datasets as tfds

    return tfds.features.FeaturesDict({c: tfds.features.Scalar(dtype=tf.float32) for c in workloads.COLUMNS})


def tfds_serializer(data: dict, out: Path) -> None:
    import tensorflow as tf
    from tensorflow_datasets.core import example_serializer

    features = _tfds_features()
    serializer = example_serializer.ExampleSerializer(features.get_serialized_info())
    with tf.io.TFRecordWriter(str(out / "data.tfrecord")) as writer:
        for row in _rows(data):
            writer.write(serializer.serialize_example(features.encode_example(row)))


def tfds_writer(data: dict, out: Path) -> None:
    from tensorflow_datasets.core import example_serializer, file_adapters, naming
    from tensorflow_datasets.core import writer as writer_lib

    features = _tfds_features()
    template = naming.ShardedFileTemplate(data_dir=out, dataset_name="bench", split="train",
                                          filetype_suffix="tfrecord")
    writer = writer_lib.Writer(
        serializer=example_serializer.ExampleSerializer(features.get_serialized_info()),
        filename_template=template, hash_salt="bench", disable_shuffling=False,
        example_writer=writer_lib.ExampleWriter(file_format=file_adapters.FileFormat.TFRECORD))
    for i, row in enumerate(_rows(data)):
        writer.write(i, features.encode_example(row))
    writer.finalize()


def _ray() -> Any:
    """Ray started as its guide does (local cluster, no dashboard): part of the start-up, not the timed run."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    return ray


def _ray_write(s: dict) -> Callable[[], Any]:
    import pyarrow as pa

    ray = _ray()
    data = workloads.table(s["rows"])

    def run() -> None:
        ray.data.from_arrow(pa.table(data)).write_tfrecords(tempfile.mkdtemp(prefix="out-ray-", dir=s["work"]))
    return run


# reads --------------------------------------------------------------------------------------------------------

def _best_practice(s: dict) -> Callable[[], Any]:
    from benchmarks import baselines

    return lambda: count_rows(baselines.best_practice_read(_shards(Path(s["work"])), workloads.COLUMNS))


def _make_dataset(s: dict) -> Callable[[], Any]:
    import tensorflow  # noqa: F401  (imports are start-up)

    import dataprep

    return lambda: count_rows(dataprep.make_dataset(Path(s["work"]) / "read", batch_size=1024, num_epochs=1, seed=1))


def _iter_batches(s: dict) -> Callable[[], Any]:
    import dataprep

    return lambda: count_rows(dataprep.iter_batches(Path(s["work"]) / "read", batch_size=1024))


def _tfrecord_package_read(s: dict) -> Callable[[], Any]:
    from tfrecord.reader import tfrecord_loader

    description = {c: "float" for c in workloads.COLUMNS}

    def run() -> int:
        return sum(1 for path in _shards(Path(s["work"])) for _ in tfrecord_loader(path, None, description))
    return run


def _ray_read(s: dict) -> Callable[[], Any]:
    ray = _ray()
    paths = _first_shards(Path(s["work"]), s)
    return lambda: count_rows(ray.data.read_tfrecords(paths).iter_batches(batch_size=1024, batch_format="numpy"))


def _parse(record: bytes) -> dict:
    """What a grain user writes to get the floats back out of a serialised Example."""
    import numpy as np
    import tensorflow as tf

    feature = tf.train.Example.FromString(record).features.feature
    return {c: np.float32(feature[c].float_list.value[0]) for c in workloads.COLUMNS}


def _arrayrecord_paths(s: dict, first: int | None = None) -> list[str]:
    paths = sorted(str(p) for p in (Path(s["work"]) / "arrayrecord").iterdir())
    return paths[:first] if first else paths


def _grain_map(s: dict) -> Callable[[], Any]:
    import grain
    import tensorflow  # noqa: F401  (_parse's import is start-up)

    source = grain.sources.ArrayRecordDataSource(_arrayrecord_paths(s))

    def run() -> int:
        return count_rows(grain.MapDataset.source(source).shuffle(seed=1).map(_parse).batch(1024))
    return run


def _grain_loader(s: dict) -> Callable[[], Any]:
    import grain
    import tensorflow  # noqa: F401

    source = grain.sources.ArrayRecordDataSource(_arrayrecord_paths(s, len(_first_shards(Path(s["work"]), s))))

    class Parse(grain.transforms.Map):
        def map(self, record: bytes) -> dict:
            return _parse(record)

    def run() -> int:
        sampler = grain.samplers.IndexSampler(len(source), shard_options=grain.sharding.NoSharding(), shuffle=True,
                                              num_epochs=1, seed=1)
        loader = grain.DataLoader(data_source=source, sampler=sampler, worker_count=0,
                                  operations=[Parse(), grain.transforms.Batch(1024)])
        return count_rows(loader)
    return run


def _slow(prepare: Callable[[dict], Callable[[], Any]]) -> Callable[[dict], Callable[[], Any]]:
    """A reader of the first shards only: its timed call reports the records it read."""
    def wrapped(s: dict) -> Callable[[], Any]:
        run = prepare(s)
        return lambda: {"rows": run()}
    return wrapped


CASES: dict[str, Case] = {
    "tutorial_write": Case("tutorial write (one `tf.train.Example` per row)", "write",
                           _write(tutorial, "benchmarks.baselines")),
    "dataprep_write": Case("dataprep `convert` from numpy", "write", _write(dataprep_convert, "dataprep"),
                           baseline="tutorial_write"),
    "tfrecord_write": Case("`tfrecord` package `TFRecordWriter`", "write",
                           _write(tfrecord_package, "tfrecord.writer"), baseline="tutorial_write"),
    "array_record_write": Case("array_record `ArrayRecordWriter` (Examples)", "write",
                               _write(array_record, "tensorflow", "array_record.python.array_record_module"),
                               baseline="tutorial_write"),
    "tfds_serializer_write": Case("TFDS `ExampleSerializer` + `TFRecordWriter`", "write",
                                  _write(tfds_serializer, "tensorflow_datasets"), baseline="tutorial_write"),
    "tfds_writer_write": Case("TFDS `Writer` (shuffles, shards)", "write",
                              _write(tfds_writer, "tensorflow_datasets"), baseline="tutorial_write"),
    "ray_write": Case("Ray Data `write_tfrecords`", "write", _ray_write, baseline="tutorial_write", tree_rss=True),
    "best_practice_read": Case("best-practice tf.data (interleave, shuffle, `parse_example`)", "read",
                               _best_practice),
    "make_dataset_read": Case("dataprep `make_dataset`, first epoch", "read", _make_dataset,
                              baseline="best_practice_read"),
    "iter_batches_read": Case("dataprep `iter_batches` (TF-free)", "read", _iter_batches,
                              baseline="best_practice_read"),
    "tfrecord_read": Case("`tfrecord` package `tfrecord_loader`", "read", _tfrecord_package_read,
                          baseline="best_practice_read"),
    "grain_map_read": Case("grain `MapDataset` over ArrayRecord (shuffle, parse, batch)", "read", _grain_map,
                           baseline="best_practice_read"),
    "grain_loader_read": Case("grain `DataLoader` over ArrayRecord (first shards)", "read",
                              _slow(_grain_loader), baseline="best_practice_read"),
    "ray_read": Case("Ray Data `read_tfrecords` (first shards)", "read", _slow(_ray_read),
                     baseline="best_practice_read", tree_rss=True),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000, help="rows of the table (default 200,000)")
    p.add_argument("--slow-rows", type=int, default=40_000,
                   help="records the slowest readers read (default 40,000; whole shards)")
    p.add_argument("--repeat", type=int, default=3, help="fresh processes per figure (median)")
    p.add_argument("--cases", help=f"comma-separated, of: {', '.join(CASES)}")
    p.add_argument("--name", default="peers", help="results file name (default: peers)")
    args = p.parse_args(argv)
    chosen = args.cases.split(",") if args.cases else list(CASES)
    if unknown := sorted(set(chosen) - set(CASES)):
        p.error(f"unknown cases {unknown}")
    results = meta.header(args.name, {"rows": args.rows, "slow_rows": args.slow_rows, "repeat": args.repeat},
                          PACKAGES)
    work = Path(tempfile.mkdtemp(prefix="dataprep-peers-"))
    try:
        settings = {"rows": args.rows, "slow_rows": args.slow_rows, "work": str(work)}
        print("... writing the inputs", file=sys.stderr, flush=True)
        write_inputs(settings)
        results["cases"] = measure("benchmarks.peers", {c: CASES[c] for c in chosen}, settings, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta.finish(results)
    out = RESULTS / f"{args.name}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(report.render_peers(results, file=str(out.relative_to(RESULTS.parent.parent))))
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
