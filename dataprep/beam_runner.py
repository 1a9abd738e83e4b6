"""``convert(..., runner="beam")``: the same conversion as an Apache Beam pipeline.

The pipeline runs this package's own sources, checks, encoders, split planner and shard writer, so its output
is byte-identical to the local runner's for the same inputs and seed:

1. one element per input file (per row group of a Parquet file): stream it in column batches, check, encode
   (bad-row policy per file) -> batches of encoded records, plus the per-file bad-row counts;
2. a single planning step sees only the record lengths (and split-key buckets) of every batch, numbers the
   records in input order and draws the same seeded split and shard plan as the local runner; for an output on
   object storage it first adds the plan's file names to the run's journal there (so they are known as ours);
3. every batch is routed to its shards, grouped by shard, put in plan order and written with its index, each
   file read back and checked (size, SHA-256);
4. the driver checks the counts, writes the manifest (last, on object storage: the commit) and, locally,
   renames the folder into place.

Workers do all their I/O through Beam's filesystems (``apache_beam.io.filesystems.FileSystems``): an input
fetched from a URL is read again from that URL by the worker, shards go straight to ``shards_at`` (the output
URL) or the local work folder, and the per-file counts, quarantined rows and results go to a scratch folder
(``.dataprep-beam``) beside the shards, so workers and driver need no shared disk (Dataflow). Parallelism is over
input files, the row groups of each Parquet file and the parts of a plain CSV file (cut at record starts,
quotes respected: :func:`~dataprep.sources.csv_files.csv_parts`), encoding and shard writing; the plan holds 12
bytes per record on one worker.
"""
from __future__ import annotations

import hashlib
import shlex
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .badrows import BadRows
from .errors import DataprepError, OutputError, UsageError
from .job import Job
from .ragged import Ragged
from .shards import Shard, ShardResult, write_shard
from .sources import FILES, Source
from .storage import fetched_from, note_fetched

SCRATCH = ".dataprep-beam"  # beside the shards: what workers hand the driver
CSV_PART_BYTES = 64 << 20  # a plain CSV file is read in units of work of about this size
_CHUNK = 1 << 22


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


def scratch_names(units: int) -> list[str]:
    """The scratch files a run of ``units`` units of work may write, relative to the shards' folder."""
    return [f"{SCRATCH}/{n}" for n in ("results.pkl", "counts.pkl")] + \
        [f"{SCRATCH}/quarantine-{u:06d}.csv" for u in range(units)]


def run_pipeline(source: Source, job: Job, folder: str, beam_options: str | None, shards_at: str | None = None,
                 begin: Callable[[list[str]], None] | None = None) -> tuple[list[ShardResult], list[FileCounts]]:
    """Run the conversion pipeline, writing the shards into ``shards_at`` (a URL: the output on object storage,
    whose journal the planning step extends) or else the work folder ``folder``; ``begin`` is called with the
    scratch names before anything is written. Returns the written shards in plan order and the per-file counts,
    whose quarantine files are local copies under ``folder``."""
    try:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        raise UsageError("--runner beam needs Apache Beam: pip install 'dataprep[beam]'") from None
    if not source.is_path:
        raise UsageError("--runner beam converts files (paths, globs, folders), not data held in memory")
    grouping = job.options.grouping
    units = source.units(split_files=not grouping.per_file and grouping.sequence_id is None,
                         csv_part_bytes=CSV_PART_BYTES)
    target = shards_at or folder
    scratch = _join(target, SCRATCH)
    if begin is not None:
        begin(scratch_names(len(units)))
    elements = [(i, u, fetched_from(u.files[0]) if u.kind == FILES else None) for i, u in enumerate(units)]
    pipeline = beam.Pipeline(options=PipelineOptions(shlex.split(beam_options or "")))
    encoded = (pipeline
               | "Files" >> beam.Create(elements)
               | "Encode" >> beam.FlatMap(_encode_file, job, scratch).with_outputs("counts", main="batches"))
    plan = (encoded.batches
            | "Lengths" >> beam.Map(lambda b: (b[0], b[1].lengths, b[2]))
            | "Gather" >> beam.combiners.ToList()
            | "Plan" >> beam.Map(_plan, job, shards_at))
    results = (encoded.batches
               | "Route" >> beam.FlatMap(_route, beam.pvalue.AsSingleton(plan))
               | "ByShard" >> beam.GroupByKey()
               | "Write" >> beam.Map(_write, job, beam.pvalue.AsSingleton(plan), target)
               | "Results" >> beam.combiners.ToList())
    counts = encoded.counts | "Counts" >> beam.combiners.ToList()
    _ = results | "SaveResults" >> beam.Map(_save, _join(scratch, "results.pkl"))
    _ = counts | "SaveCounts" >> beam.Map(_save, _join(scratch, "counts.pkl"))
    try:
        pipeline.run().wait_until_finish()
    except DataprepError:
        raise
    except Exception as e:  # runners wrap a step's exception; report the library error inside it
        cause = _dataprep_cause(e)
        if cause is not None:
            raise cause from None
        raise
    from apache_beam.io.filesystems import FileSystems

    shard_results = [r for _, r in sorted(_load(_join(scratch, "results.pkl")))]
    file_counts = sorted(_load(_join(scratch, "counts.pkl")), key=lambda c: c.unit)
    done = [_join(scratch, "results.pkl"), _join(scratch, "counts.pkl")]
    for c in file_counts:
        if c.quarantine is not None:
            done.append(c.quarantine)
            c.quarantine = str(_fetch(c.quarantine, Path(folder) / Path(c.quarantine).name))
    FileSystems.delete(done)
    if shards_at is None:
        Path(scratch).rmdir()
    return shard_results, file_counts


def _encode_file(item: tuple[int, Source, str | None], job: Job, scratch: str) -> Iterator:
    """Read one input file (an object fetched from ``url`` is read from there again, into a local file of the
    worker) in batches, apply the bad-row policy, encode: ``(key, records, buckets)`` per batch, then the file's
    counts on the ``counts`` output."""
    import apache_beam as beam

    unit, part, url = item
    with tempfile.TemporaryDirectory(prefix="dataprep-beam-") as tmp:
        if url is not None:
            local = _fetch(url, Path(tmp) / part.files[0].name)
            part = replace(part, given=(local,), files=(local,))
            note_fetched(local, url)
        on_error = job.options.bad_rows.on_error
        quarantine = Path(tmp) / f"quarantine-{unit:06d}.csv" if on_error == "quarantine" else None
        bad = BadRows(on_error, None, None, quarantine, job.schema.source_columns)
        rows_read = 0
        for i, batch in enumerate(job.batches(part, bad)):
            records, buckets = job.keep(batch, job.check(batch), bad)
            rows_read += batch.num_rows
            if records is not None:
                yield (unit, i), records, buckets
        bad.finish(0)
        kept = None
        if quarantine is not None and quarantine.exists():
            kept = _join(scratch, quarantine.name)
            _put(quarantine, kept)
    yield beam.pvalue.TaggedOutput("counts", FileCounts(
        unit, rows_read + bad.by_reason.get("malformed_csv", 0), bad.set_aside, dict(bad.by_reason),
        bad.first_error, kept))


def _plan(batches: list, job: Job, shards_at: str | None) -> Plan:
    """Number the records in input order and draw the local runner's split and shard plan; on object storage,
    name its files in the run's journal before any is written."""
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
    if shards_at is not None:
        from .remote_output import JOURNAL, journal_with

        journal = _join(shards_at, JOURNAL)
        with _create(journal) as fh:
            fh.write(journal_with(_read(journal), [n for s in plan for n in (s.name, s.index_name)]))
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


def _write(item: tuple[int, list], job: Job, plan: Plan, target: str) -> tuple[int, ShardResult]:
    """Write one shard from its pieces, in plan order, with its record index, through Beam's filesystems; then
    read both back and check their sizes and SHA-256."""
    number, pieces = item
    pieces = list(pieces)
    positions = np.concatenate([p for p, _ in pieces])
    records = Ragged.concat([r for _, r in pieces])
    template = plan.shards[number]
    shard = Shard(template.split, template.index, template.count, np.argsort(positions, kind="stable"),
                  template.suffix)
    written: dict[str, _Hashed] = {}

    def opener(rel: str) -> BinaryIO:
        written[rel] = _Hashed(_create(_join(target, rel)))
        return written[rel]  # type: ignore[return-value]

    result = write_shard(shard, records, records.lengths, Path(target), job.options.layout.shard_compression,
                         job.header, opener)
    for rel, f in written.items():
        _verify(_join(target, rel), f.size, f.sha.hexdigest())
    return number, result


class _Hashed:
    """A file being written, counting and hashing what goes through."""

    def __init__(self, file: Any):
        self.file, self.sha, self.size = file, hashlib.sha256(), 0

    def write(self, data: bytes | memoryview) -> int:
        self.file.write(data)
        self.sha.update(data)
        self.size += len(data)
        return len(data)

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> _Hashed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _join(folder: str, rel: str) -> str:
    return folder.rstrip("/") + "/" + rel


def _create(path: str) -> Any:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.create(path, "application/octet-stream", CompressionTypes.UNCOMPRESSED)


def _open(path: str) -> Any:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(path, "application/octet-stream", CompressionTypes.UNCOMPRESSED)


def _read(path: str) -> bytes | None:
    from apache_beam.io.filesystems import FileSystems

    if not FileSystems.exists(path):
        return None
    with _open(path) as fh:
        return fh.read()


def _verify(path: str, size: int, sha256: str) -> None:
    """Raise unless the file read back through Beam's filesystems has this size and SHA-256."""
    h, n = hashlib.sha256(), 0
    with _open(path) as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
            n += len(chunk)
    if n != size or h.hexdigest() != sha256:
        raise OutputError(f"{path}: read back {n} bytes with another SHA-256 than the {size} written")


def _fetch(path: str, local: Path) -> Path:
    """Copy a file or object (Beam's filesystems) to ``local``."""
    with _open(path) as src, open(local, "wb") as dst:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            dst.write(chunk)
    return local


def _put(local: Path, path: str) -> None:
    with open(local, "rb") as src, _create(path) as dst:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            dst.write(chunk)


def _save(value: Any, path: str) -> None:
    import pickle

    with _create(path) as fh:
        fh.write(pickle.dumps(value))


def _load(path: str) -> Any:
    import pickle

    raw = _read(path)
    if raw is None:
        raise OutputError(f"{path}: the pipeline finished without writing it")
    return pickle.loads(raw)


def _dataprep_cause(e: BaseException | None) -> DataprepError | None:
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, DataprepError):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None
