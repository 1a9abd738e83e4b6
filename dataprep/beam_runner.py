"""``convert(..., runner="beam")``: the same conversion as an Apache Beam pipeline.

The pipeline runs this package's own sources, checks, encoders, split planner and shard writer, so its output
is byte-identical to the local runner's for the same inputs and seed:

1. one element per input file (per row group of a Parquet file): stream it in column batches, check, encode
   (bad-row policy per file) -> batches of encoded records, plus the per-file bad-row counts;
2. a single planning step sees only the record lengths (and split-key buckets) of every batch, numbers the
   records in input order and draws the same seeded split and shard plan as the local runner;
3. every batch is routed to its shards, grouped by shard, put in plan order and written with its index;
4. the driver checks the counts, writes the manifest and renames the folder into place.

Parallelism is over input files and the row groups of each Parquet file (so one large Parquet file spreads
over many workers; a large CSV is still one unit: give it as several files), encoding and shard writing; the plan
holds 12 bytes per record on one worker. Shards are written with plain file I/O into the work folder beside
``out``, so on a distributed runner ``out`` must be on a filesystem every worker mounts.
"""
from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .badrows import BadRows
from .errors import DataprepError, UsageError
from .job import Job
from .ragged import Ragged
from .shards import Shard, ShardResult, write_shard
from .sources import Source


@dataclass
class FileCounts:
    """What reading one input file gave: rows read and the rows its bad-row policy set aside."""

    unit: int
    rows_read: int
    set_aside: int
    by_reason: dict
    first: str | None
    quarantine: str | None


@dataclass
class Plan:
    """Where each record goes: first record id per batch, and per record its shard and position in it."""

    first_id: dict
    shard_of: np.ndarray
    position: np.ndarray
    shards: list


def run_pipeline(source: Source, job: Job, folder: str, beam_options: str | None
                 ) -> tuple[list[ShardResult], list[FileCounts]]:
    """Run the conversion pipeline, writing into the work folder ``folder``; returns the written shards in
    plan order and the per-file counts."""
    try:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        raise UsageError("--runner beam needs Apache Beam: pip install 'dataprep[beam]'") from None
    if not source.is_path:
        raise UsageError("--runner beam converts files (paths, globs, folders), not data held in memory")
    grouping = job.options.grouping
    units = source.units(split_files=not grouping.per_file and grouping.sequence_id is None)
    pipeline = beam.Pipeline(options=PipelineOptions(shlex.split(beam_options or "")))
    encoded = (pipeline
               | "Files" >> beam.Create(list(enumerate(units)))
               | "Encode" >> beam.FlatMap(_encode_file, job, folder).with_outputs("counts", main="batches"))
    plan = (encoded.batches
            | "Lengths" >> beam.Map(lambda b: (b[0], b[1].lengths, b[2]))
            | "Gather" >> beam.combiners.ToList()
            | "Plan" >> beam.Map(_plan, job))
    results = (encoded.batches
               | "Route" >> beam.FlatMap(_route, beam.pvalue.AsSingleton(plan))
               | "ByShard" >> beam.GroupByKey()
               | "Write" >> beam.Map(_write, job, beam.pvalue.AsSingleton(plan), folder)
               | "Results" >> beam.combiners.ToList())
    counts = encoded.counts | "Counts" >> beam.combiners.ToList()
    shards_out = Path(folder) / ".beam-results.pkl"
    counts_out = Path(folder) / ".beam-counts.pkl"
    _ = results | "SaveResults" >> beam.Map(_save, str(shards_out))
    _ = counts | "SaveCounts" >> beam.Map(_save, str(counts_out))
    try:
        pipeline.run().wait_until_finish()
    except DataprepError:
        raise
    except Exception as e:  # runners wrap a step's exception; report the library error inside it
        cause = _dataprep_cause(e)
        if cause is not None:
            raise cause from None
        raise
    shard_results = [r for _, r in sorted(_load(shards_out))]
    file_counts = sorted(_load(counts_out), key=lambda c: c.unit)
    shards_out.unlink()
    counts_out.unlink()
    return shard_results, file_counts


def _encode_file(item: tuple[int, Source], job: Job, folder: str) -> Iterator:
    """Read one input file in batches, apply the bad-row policy, encode: ``(key, records, buckets)`` per
    batch, then the file's counts on the ``counts`` output."""
    import apache_beam as beam

    unit, part = item
    on_error = job.options.bad_rows.on_error
    quarantine = Path(folder) / f".quarantine-{unit:06d}.csv" if on_error == "quarantine" else None
    bad = BadRows(on_error, None, None, quarantine, job.schema.source_columns)
    rows_read = 0
    for i, batch in enumerate(job.batches(part, bad)):
        records, buckets = job.keep(batch, job.check(batch), bad)
        rows_read += batch.num_rows
        if records is not None:
            yield (unit, i), records, buckets
    bad.finish(0)
    yield beam.pvalue.TaggedOutput("counts", FileCounts(
        unit, rows_read + bad.by_reason.get("malformed_csv", 0), bad.set_aside, dict(bad.by_reason),
        bad.first_error, str(quarantine) if quarantine and quarantine.exists() else None))


def _plan(batches: list, job: Job) -> Plan:
    """Number the records in input order and draw the local runner's split and shard plan."""
    batches = sorted(batches, key=lambda b: b[0])
    first_id, start = {}, 0
    for key, lengths, _ in batches:
        first_id[key] = start
        start += len(lengths)
    lengths = np.concatenate([b[1] for b in batches]) if batches else np.zeros(0, np.int64)
    plan = job.plan(lengths, [b[2] for b in batches if b[2] is not None])
    shard_of = np.empty(len(lengths), np.int32)
    position = np.empty(len(lengths), np.int64)
    for i, shard in enumerate(plan):
        shard_of[shard.records] = i
        position[shard.records] = np.arange(len(shard.records))
    shards = [Shard(s.split, s.index, s.count, np.zeros(0, np.int64), s.suffix) for s in plan]
    return Plan(first_id, shard_of, position, shards)


def _route(batch: tuple, plan: Plan) -> Iterator[tuple[int, tuple[np.ndarray, Ragged]]]:
    """Cut a batch of records into its pieces per shard: ``(shard number, (positions, records))``."""
    key, records, _ = batch
    ids = plan.first_id[key] + np.arange(len(records))
    owner = plan.shard_of[ids]
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(len(plan.shards) + 1))
    for s in np.flatnonzero(np.diff(bounds)):
        take = order[bounds[s]:bounds[s + 1]]
        yield int(s), (plan.position[ids[take]], records.take(take))


def _write(item: tuple[int, list], job: Job, plan: Plan, folder: str) -> tuple[int, ShardResult]:
    """Write one shard from its pieces, in plan order, with its record index."""
    number, pieces = item
    pieces = list(pieces)
    positions = np.concatenate([p for p, _ in pieces])
    records = Ragged.concat([r for _, r in pieces])
    template = plan.shards[number]
    shard = Shard(template.split, template.index, template.count, np.argsort(positions, kind="stable"),
                  template.suffix)
    return number, write_shard(shard, records, records.lengths, Path(folder), job.options.layout.shard_compression,
                               job.header)


def _save(value: Any, path: str) -> None:
    import pickle

    Path(path).write_bytes(pickle.dumps(value))


def _load(path: Path) -> Any:
    import pickle

    return pickle.loads(path.read_bytes())


def _dataprep_cause(e: BaseException | None) -> DataprepError | None:
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, DataprepError):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None
