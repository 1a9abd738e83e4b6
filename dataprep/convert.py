"""``convert()``: sources -> feature columns -> encoded records -> split, sharded, checksummed output.

Pass one streams the source in column batches, checks and encodes every record once, and spools the
encoded records to a temporary file (memory stays bounded by the batch size). Pass two plans splits and
shards now that the count is known and writes the shards in parallel. Everything is written into a hidden
temporary folder beside ``out`` that is renamed into place only when complete, so a failed or killed run
never leaves a folder that looks finished.
"""
from __future__ import annotations

import errno
import itertools
import os
import shutil
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .badrows import BadRows
from .checksum import sha256_file
from .convert_stats import StatsCollector
from .errors import Interrupted, OutputError, UsageError
from .feature_stats import folder_stats
from .job import Job
from .manifest import STATS, build_manifest, write_manifest
from .options import ConvertOptions
from .outputs import check_out, check_quarantine, foreign_files, staging
from .schema import Schema, load_schema
from .shards import ShardResult, Spool, write_shards
from .sources import Source, resolve_source
from .storage import cache_folder, is_remote, remove, upload
from .version import __version__
from .workdir import WorkFolder, fingerprint

if TYPE_CHECKING:
    from .remote_output import RemoteCommit


@dataclass
class ConvertSummary:
    """What a conversion wrote; ``to_dict`` is the CLI's ``--json`` output."""

    out: str
    format: str
    compression: str
    splits: dict[str, int]
    num_shards: int
    num_bytes: int
    rows_read: int
    rows_written: int
    rows_set_aside: int
    set_aside_by_reason: dict[str, int]
    seconds: float
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _encode_all(source: Source, job: Job, spool: Spool, bad_rows: BadRows, workers: int, progress: bool,
                collector: StatsCollector | None = None) -> tuple[int, list]:
    """Pass one: stream the source, check and encode batches in ``workers`` threads, and append the records
    to the spool in input order, applying the bad-row policy in that order too (and the kept columns to the
    ``collector`` of statistics)."""
    buckets: list[np.ndarray] = []
    rows_read = 0
    with _bar(progress, "encoding", "rows") as bar, ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for batch in itertools.chain(job.batches(source, bad_rows), [None]):
            if batch is not None:
                pending.append((batch, pool.submit(job.check, batch)))
            while pending and (batch is None or len(pending) > workers):
                done, future = pending.popleft()
                records, batch_buckets = job.keep(done, future.result(), bad_rows,
                                                  collector.add if collector else None)
                if records is not None:
                    spool.append(records)
                if batch_buckets is not None:
                    buckets.append(batch_buckets)
                rows_read += done.num_rows
                bar.update(done.num_rows)
    return rows_read, buckets


def convert(source: Any, schema: str | Path | Schema, out: str | Path, *, options: ConvertOptions | None = None,
            **settings: Any) -> ConvertSummary:
    """Convert ``source`` into sharded TFRecord or CSV files under ``out`` with a ``manifest.json``.

    Settings come as option objects (``options``, or one concern at a time: ``layout=ShardLayout(...)``,
    ``splits=SplitPlan(...)``, ``bad_rows=BadRowPolicy(...)``, ``grouping=RowGrouping(...)``,
    ``images=ImageOverrides(...)``, ``run=RunOptions(...)``; see :mod:`dataprep.options`) and/or as keywords
    named after their fields, which win (``format``, ``compression``, ``num_shards``, ``rows_per_shard``;
    ``split``, ``split_by``, ``split_column``, ``seed``, ``shuffle``; ``on_error``, ``max_errors``,
    ``max_error_rate``, ``quarantine``; ``sequence_per_file``, ``sequence_id``, ``sequence_order``;
    ``image_format``, ``image_quality``, ``image_size``; ``runner``, ``beam_options``, ``workers``,
    ``batch_size``, ``progress``, ``resume``, ``overwrite``, ``stats``, ``allow_paths_outside``).

    ``split`` gives ratios (``"train=0.8,valid=0.1,test=0.1"``) applied to a seeded permutation, or, with
    ``split_by``, to a stable hash of that column's values; with ``split_column`` that column names each row's
    split (``split`` then lists the names, default ``"train,valid,test"``). ``shuffle`` (seeded by ``seed``) orders the
    records within each split; the same inputs and seed always give byte-identical files. ``on_error``
    is ``"fail"`` (stop at the first bad row), ``"skip"`` (set bad rows aside and count them by reason) or
    ``"quarantine"`` (also write them to a CSV: ``quarantine``, by default ``<out>.quarantine.csv`` beside the
    output); ``max_errors`` / ``max_error_rate`` fail the conversion when too many rows are bad.
    ``sequence_per_file`` makes each input file one record of list-valued columns (per-sequence CSVs);
    ``sequence_id`` makes the rows of a long table that share an id one record, in ``sequence_order``
    (the input columns of fixed-shape features keep the sequence's one value). ``image_format``
    (``jpeg``/``png``), ``image_quality`` and ``image_size`` (height, width) re-encode and resize every image
    feature (see :meth:`Schema.with_image_options`); by default encoded images are stored as they are.
    ``allow_paths_outside`` lets an ``image: {from_paths: true}`` column name files outside the table's folder.

    ``stats`` writes ``stats.json`` (per split and feature; see ``dataprep stats``) into the output, computed
    from the columns pass one checks, gathered per split once the plan is drawn (the Beam runner: from the
    shards just written); it equals ``dataprep stats`` of the output.
    ``runner="beam"`` runs the conversion as an Apache Beam pipeline (``beam_options``: pipeline options as
    command-line text, e.g. ``"--runner=DirectRunner --direct_num_workers=2"``); its shards are
    byte-identical to the local runner's.

    Everything is written into ``.{out}.partial`` beside ``out`` and renamed into place when complete; a
    failed run removes it, an interrupted one (killed, Ctrl-C: :class:`Interrupted`) leaves it for
    ``resume=True``, which keeps the shards already written and verified and gives byte-identical results.
    The work folder is locked while a run uses it: a second conversion into the same ``out`` fails at once.
    ``overwrite`` replaces only a dataprep output (see :mod:`dataprep.outputs`) and an earlier quarantine
    file; nothing that is or holds an input, or that dataprep did not write, is ever replaced.

    ``out`` (and inputs, ``quarantine``) may be URLs (``s3://bucket/prefix``, ``gs://...``): the conversion runs
    into a local folder in the cache, then its files are uploaded and verified and the manifest is written
    last (see :mod:`dataprep.remote_output`); ``resume`` then uploads only what an interrupted run had not.
    With ``runner="beam"`` the workers write the shards to ``out`` themselves (see :mod:`dataprep.beam_runner`).
    """
    started = time.perf_counter()
    opts = ConvertOptions.build({**_concerns(options), **settings})
    if is_remote(out):
        return _convert_to_store(source, schema, str(out), opts)
    return _convert(source, schema, Path(out), opts, started)


def _convert(source: Any, schema: str | Path | Schema, out: Path, opts: ConvertOptions, started: float,
             remote: RemoteCommit | None = None) -> ConvertSummary:
    """Convert into the local folder ``out``; with ``remote`` (the Beam runner, an output on object storage) the
    workers write the shards to ``remote.url`` and ``out`` gets the rest (manifest, quarantine)."""
    schema = opts.images.apply(load_schema(schema))
    opts = opts.for_schema(schema)
    run = opts.run
    quarantine = opts.bad_rows.quarantine_path(out)
    source = resolve_source(source)
    check_out(out, source.inputs, run.overwrite)
    if quarantine is not None:
        check_quarantine(quarantine, out, source.inputs, run.overwrite)
    policy = opts.bad_rows
    bad_rows = BadRows(policy.on_error, policy.max_errors, policy.max_error_rate, quarantine, schema.source_columns,
                       staging=staging(quarantine) if quarantine else None)
    job, recorded = Job(schema, opts), opts.recorded()
    resumable = {"version": __version__, "schema": schema.to_dict(), **recorded}  # what a resumed run must share
    try:
        work = WorkFolder(out, fingerprint(source, resumable) if run.runner == "local" else None, run.resume)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted before {out} was started; nothing was written") from None
    with _cleanup(work, bad_rows, out, run.runner):
        collector = StatsCollector(schema, work.path / "stats.spool") if run.stats and run.runner == "local" else None
        if run.runner == "beam":
            results, rows_read = _run_beam(source, job, bad_rows, work.path, run.beam_options, remote)
        else:
            results, rows_read = _run_local(source, job, bad_rows, work, run.workers, run.progress, collector)
        manifest = _publish(source, job, results, rows_read, bad_rows, work, out, recorded, collector)
    return ConvertSummary(
        out=str(out), format=opts.layout.format, compression=opts.layout.compression,
        splits={k: v["num_records"] for k, v in manifest["splits"].items()}, num_shards=len(results),
        num_bytes=sum(r.num_bytes for r in results), rows_read=rows_read, rows_written=manifest["rows"]["written"],
        rows_set_aside=bad_rows.set_aside, set_aside_by_reason=dict(bad_rows.by_reason),
        seconds=round(time.perf_counter() - started, 3), files=[r.name for r in results])


def _convert_to_store(source: Any, schema: str | Path | Schema, url: str, opts: ConvertOptions) -> ConvertSummary:
    """Convert into a local staging folder (in the cache, one per ``url``: an interrupted run's local work folder
    is resumed too; with the Beam runner it gets all but the shards, which the workers write to ``url``), then
    commit it to ``url`` on object storage, and the quarantine CSV beside it."""
    from .remote_output import RemoteCommit, check_remote_out, check_remote_quarantine

    started = time.perf_counter()
    run, policy = opts.run, opts.bad_rows
    on_workers = run.runner == "beam"  # its workers write the shards to url themselves
    if on_workers and run.stats:
        raise UsageError(f"--stats with --runner beam and --out {url}: the shards are not on this machine; run "
                         "`dataprep stats` on the output afterwards")
    check_remote_out(url, run.overwrite)
    qurl = None
    if policy.on_error == "quarantine" and (policy.quarantine is None or is_remote(str(policy.quarantine))):
        qurl = str(policy.quarantine) if policy.quarantine else url.rstrip("/") + ".quarantine.csv"
        check_remote_quarantine(qurl, run.overwrite)
    staging = cache_folder("staging", url)
    local = staging / "out"
    commit = RemoteCommit(url, run.resume, run.overwrite)
    inner = replace(opts, run=replace(run, overwrite=True),
                    bad_rows=replace(policy, quarantine=None) if qurl else policy)
    try:
        summary = _convert(source, schema, local, inner, started, commit if on_workers else None)
    except BaseException:
        commit.discard()  # nothing unless the workers began writing to url
        raise
    try:
        commit.run(local, written=on_workers)
        if qurl is not None:
            rows = staging / "out.quarantine.csv"
            if rows.is_file():
                upload(rows, qurl, rows.stat().st_size, sha256_file(rows))
            else:
                remove([qurl])
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted while uploading to {url}: its manifest was not written, so nothing there "
                          "is read; rerun the same command with --resume to upload only what is missing") from None
    except BaseException:
        commit.discard()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return replace(summary, out=url, seconds=round(time.perf_counter() - started, 3))


def _concerns(options: ConvertOptions | None) -> dict[str, Any]:
    """The concerns of an options bundle as :meth:`ConvertOptions.build` takes them."""
    return {} if options is None else {f.name: getattr(options, f.name) for f in fields(options)}


def _publish(source: Source, job: Job, results: list[ShardResult], rows_read: int, bad_rows: BadRows,
             work: WorkFolder, out: Path, recorded: dict, collector: StatsCollector | None = None) -> dict:
    """Check the counts, write the manifest (and stats: the ``collector``'s, else from the shards written),
    and move the output and quarantine into place."""
    written = sum(r.num_records for r in results)
    if written + bad_rows.set_aside != rows_read:
        raise OutputError(f"wrote {written} records and set aside {bad_rows.set_aside} rows but read {rows_read}")
    files_by_split: dict[str, list[dict]] = {name: [] for name in job.options.splits.ratios}
    for r in results:
        files_by_split[r.split].append(r.to_dict())
    layout, tmp = job.options.layout, work.path
    manifest = build_manifest(schema=job.schema, fmt=layout.shard_format, compression=layout.shard_compression,
                              splits=files_by_split, rows={"read": rows_read, "written": written,
                                                           **bad_rows.to_dict()},
                              options=recorded, sources=source.description, version=__version__)
    work.finish()
    write_manifest(tmp, manifest)
    if job.options.run.stats:
        report = (collector.report if collector else None) or folder_stats(tmp)
        report.path = str(out)
        report.write(tmp / STATS)
    _commit(tmp, out, job.options.run.overwrite)
    _commit_quarantine(bad_rows)
    work.release()
    return manifest


@contextmanager
def _cleanup(work: WorkFolder, bad_rows: BadRows, out: Path, runner: str) -> Iterator[None]:
    """What a failed run leaves: an interrupted one its work folder (for ``--resume``), any other nothing."""
    try:
        yield
    except KeyboardInterrupt:
        bad_rows.discard()
        work.release()
        kept = f"{len(work.done) + work.written} shard(s)" if runner == "local" else "its files"
        raise Interrupted(f"interrupted: the work folder {work.path} keeps {kept}; rerun the same command with "
                          "--resume to continue (or delete that folder)") from None
    except SystemExit:
        work.release()
        raise  # the work folder stays for --resume
    except OSError as e:
        bad_rows.discard()
        work.remove()
        if e.errno == errno.ENOSPC:
            raise OutputError(f"disk full while writing {out} ({e.filename or 'work folder'}); nothing was "
                              "kept") from None
        raise
    except BaseException:
        bad_rows.discard()
        work.remove()
        raise


def _run_local(source: Source, job: Job, bad_rows: BadRows, work: WorkFolder, workers: int | None, progress: bool,
               collector: StatsCollector | None = None) -> tuple[list[ShardResult], int]:
    """Encode into a spool (pass one), plan, write the shards the work folder does not hold yet; the
    ``collector`` of statistics sees pass one's columns and the plan."""
    tmp = work.path
    spool = Spool(tmp / "records.spool")
    workers = workers or os.cpu_count() or 1
    rows_read, buckets = _encode_all(source, job, spool, bad_rows, workers, progress, collector)
    rows_read += bad_rows.by_reason.get("malformed_csv", 0)  # rows the CSV parser set aside
    bad_rows.finish(rows_read)
    spool.finish()
    plan = job.plan(spool.lengths, buckets)
    todo = [shard for shard in plan if shard.name not in work.done]
    with _bar(progress, "writing shards", "shards", total=len(todo)) as bar, ThreadPoolExecutor(1) as side:
        stats = side.submit(collector.finish, plan) if collector is not None else None  # beside the writing
        def done(result):
            work.record(result)
            bar.update(1)
        fresh = write_shards(spool, todo, tmp, job.options.layout.shard_compression, job.header, workers,
                             on_done=done)
        if stats is not None:
            stats.result()
    spool.remove()
    return [work.done.get(shard.name) or fresh.pop(0) for shard in plan], rows_read


def _run_beam(source: Source, job: Job, bad_rows: BadRows, tmp: Path, beam_options: str | None,
              remote: RemoteCommit | None = None) -> tuple[list[ShardResult], int]:
    """The same conversion as an Apache Beam pipeline (see ``beam_runner``); bad-row counts are merged here."""
    from .beam_runner import run_pipeline

    results, counts = run_pipeline(source, job, str(tmp), beam_options, remote.url if remote else None,
                                   remote.begin if remote else None)
    for c in counts:
        part = Path(c.quarantine) if c.quarantine else None
        bad_rows.merge(c.set_aside, c.by_reason, c.first, part)
        if part is not None:
            part.unlink()
    rows_read = sum(c.rows_read for c in counts)
    bad_rows.finish(rows_read)
    return results, rows_read


def _commit(tmp: Path, out: Path, overwrite: bool) -> None:
    """Move the finished folder into place; an existing ``out`` is replaced only after this succeeds, and only
    when it still holds nothing but a dataprep output (checked again: files may have appeared during the run)."""
    old = None
    if out.exists() and any(out.iterdir()):
        if not overwrite or foreign_files(out) != []:
            check_out(out, [], overwrite)  # raises with the reason
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        out.rename(old)
    try:
        tmp.rename(out)
    except OSError:
        if old is not None:
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _commit_quarantine(bad_rows: BadRows) -> None:
    """Move this run's quarantine CSV into place; an earlier one (ours, checked up front) goes when this run
    set nothing aside, so the file beside the output always belongs to it."""
    if bad_rows.quarantine is None:
        return
    if bad_rows.written:
        assert bad_rows.staging is not None  # a quarantine is written to its staging path
        os.replace(bad_rows.staging, bad_rows.quarantine)
    else:
        bad_rows.quarantine.unlink(missing_ok=True)


def _bar(enabled: bool, desc: str, unit: str, total: int | None = None):
    """A tqdm bar on stderr with a rate; shown only when asked for and stderr is a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=f" {unit}", unit_scale=True, disable=None if enabled else True,
                leave=False, dynamic_ncols=True)
