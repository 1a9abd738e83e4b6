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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .badrows import BadRows
from .columns import Batch, Column, to_columns
from .encode.csv_text import csv_header, encode_csv_lines, line_break_problems
from .encode.example import example_parts
from .tfrecord import frame_parts
from .workdir import WorkFolder, fingerprint
from .errors import Interrupted, OutputError, UsageError
from .manifest import build_manifest, write_manifest
from .outputs import check_out, check_quarantine, foreign_files, staging
from .ragged import Ragged
from .schema import Schema, load_schema
from .shards import COMPRESSIONS, Shard, ShardResult, Spool, plan_shards, shard_suffix, write_shards
from .sources import DEFAULT_BATCH_ROWS, RowGrouping, input_files, is_path_source, iter_batches
from .feature_stats import STATS, folder_stats
from .splits import SplitKey, assign_by_bucket, assign_by_ratio, parse_split, parse_split_names

FORMATS = ("tfrecord", "csv")
RUNNERS = ("local", "beam")


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


def encode_columns(schema: Schema, columns: dict[str, Column], n: int, fmt: str) -> Ragged:
    """Checked feature columns as encoded records: framed ``tf.train.Example`` bytes or CSV lines."""
    if fmt == "tfrecord":
        return frame_parts(example_parts(schema, columns, n), n)
    return encode_csv_lines(schema, columns, n)


def check_and_encode(schema: Schema, batch: Batch, fmt: str, allow_paths_outside: bool = False
                     ) -> tuple[dict, list, Ragged | None]:
    """Checked feature columns, their problems, and the encoded records when there is no problem.

    Runs in worker threads: Arrow and numpy release the GIL for whole-column work."""
    columns, problems = to_columns(batch, schema, allow_paths_outside)
    if fmt == "csv":
        problems += line_break_problems(schema, columns, batch)
    records = encode_columns(schema, columns, batch.num_rows, fmt) if not problems else None
    return columns, problems, records


@dataclass(frozen=True)
class Job:
    """One conversion's settings, as both runners need them (the Beam runner pickles it to its workers)."""

    schema: Schema
    fmt: str
    compression: str
    ratios: dict[str, float]
    split_key: SplitKey | None
    seed: int
    shuffle: bool
    num_shards: int | None
    rows_per_shard: int | None
    on_error: str
    batch_size: int
    grouping: RowGrouping
    allow_paths_outside: bool = False

    @property
    def columns(self) -> list[str]:
        """The input columns to read: every feature's, and the split key's."""
        return list(dict.fromkeys(self.schema.source_columns + ([self.split_key.column] if self.split_key else [])))

    @property
    def header(self) -> bytes:
        return csv_header(self.schema) if self.fmt == "csv" else b""

    @property
    def suffix(self) -> str:
        return shard_suffix(self.fmt, self.compression)

    def batches(self, source: Any, bad_rows: BadRows):
        """The source's column batches (malformed CSV rows go to ``bad_rows``)."""
        return iter_batches(source, self.columns, self.batch_size, on_malformed=bad_rows.malformed,
                            grouping=self.grouping)

    def keep(self, batch: Batch, checked: tuple, bad_rows: BadRows) -> tuple[Ragged | None, np.ndarray | None]:
        """A checked batch (:func:`check_and_encode`) after the bad-row policy: its records to write (None
        when none is left) and their split buckets (None without a split key)."""
        columns, problems, records = checked
        kept = None
        if problems:
            columns, kept = bad_rows.apply(batch, columns, problems)
            records = encode_columns(self.schema, columns, len(kept), self.fmt) if len(kept) else None
        return records, self.split_key.buckets(batch, kept, self.ratios) if self.split_key else None

    def plan(self, lengths: np.ndarray, buckets: list[np.ndarray]) -> list[Shard]:
        """The seeded split and shard plan of records numbered in input order (``lengths``: bytes per record;
        ``buckets``: their split buckets, batch by batch, with a split key)."""
        if self.split_key:
            splits = assign_by_bucket(np.concatenate(buckets) if buckets else np.zeros(0, np.int8), self.ratios,
                                      self.seed, self.shuffle)
        else:
            splits = assign_by_ratio(len(lengths), self.ratios, self.seed, self.shuffle)
        return plan_shards(splits, self.suffix, lengths, self.num_shards, self.rows_per_shard)


def _encode_all(source: Any, job: Job, spool: Spool, bad_rows: BadRows, workers: int, progress: bool
                ) -> tuple[int, list]:
    """Pass one: stream the source, check and encode batches in ``workers`` threads, and append the records
    to the spool in input order, applying the bad-row policy in that order too."""
    buckets: list[np.ndarray] = []
    rows_read = 0
    with _bar(progress, "encoding", "rows") as bar, ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for batch in itertools.chain(job.batches(source, bad_rows), [None]):
            if batch is not None:
                pending.append((batch, pool.submit(check_and_encode, job.schema, batch, job.fmt,
                                                   job.allow_paths_outside)))
            while pending and (batch is None or len(pending) > workers):
                done, future = pending.popleft()
                records, batch_buckets = job.keep(done, future.result(), bad_rows)
                if records is not None:
                    spool.append(records)
                if batch_buckets is not None:
                    buckets.append(batch_buckets)
                rows_read += done.num_rows
                bar.update(done.num_rows)
    return rows_read, buckets


def convert(source: Any, schema: str | Path | Schema, out: str | Path, *, format: str = "tfrecord",
            compression: str = "none", num_shards: int | None = None, rows_per_shard: int | None = None,
            split: str | dict | None = None, split_by: str | None = None, split_column: str | None = None,
            seed: int = 0, shuffle: bool = True,
            on_error: str = "fail", max_errors: int | None = None, max_error_rate: float | None = None,
            quarantine: str | Path | None = None, sequence_per_file: bool = False, sequence_id: str | None = None,
            sequence_order: str | None = None, image_format: str | None = None, image_quality: int | None = None,
            image_size: tuple[int, int] | None = None, allow_paths_outside: bool = False, overwrite: bool = False,
            resume: bool = False, stats: bool = False, runner: str = "local", beam_options: str | None = None,
            batch_size: int = DEFAULT_BATCH_ROWS, workers: int | None = None, progress: bool = False
            ) -> ConvertSummary:
    """Convert ``source`` into sharded TFRecord or CSV files under ``out`` with a ``manifest.json``.

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
    from the shards just written (from the page cache, not a second pass over the source).
    ``runner="beam"`` runs the conversion as an Apache Beam pipeline (``beam_options``: pipeline options as
    command-line text, e.g. ``"--runner=DirectRunner --direct_num_workers=2"``); its shards are
    byte-identical to the local runner's.

    Everything is written into ``.{out}.partial`` beside ``out`` and renamed into place when complete; a
    failed run removes it, an interrupted one (killed, Ctrl-C: :class:`Interrupted`) leaves it for
    ``resume=True``, which keeps the shards already written and verified and gives byte-identical results.
    The work folder is locked while a run uses it: a second conversion into the same ``out`` fails at once.
    ``overwrite`` replaces only a dataprep output (see :mod:`dataprep.outputs`) and an earlier quarantine
    file; nothing that is or holds an input, or that dataprep did not write, is ever replaced.
    """
    started = time.perf_counter()
    schema = load_schema(schema).with_image_options(image_format, image_quality, image_size)
    compression = (compression or "none").lower()
    _check_options(schema, format, compression, num_shards, rows_per_shard, batch_size)
    if runner not in RUNNERS:
        raise UsageError(f"unknown runner {runner!r}; expected one of {', '.join(RUNNERS)}")
    if runner == "beam" and resume:
        raise UsageError("--resume works with the local runner; a Beam runner retries failed work itself")
    if split_by and split_column:
        raise UsageError("give --split-by or --split-column, not both")
    ratios = parse_split_names(split) if split_column else parse_split(split)
    split_key = SplitKey(split_by, False) if split_by else SplitKey(split_column, True) if split_column else None
    out = Path(out)
    if on_error == "quarantine" and quarantine is None:
        quarantine = out.parent / f"{out.name}.quarantine.csv"
    quarantine = Path(quarantine) if quarantine and on_error == "quarantine" else None
    inputs = _inputs(source)
    check_out(out, inputs, overwrite)
    if quarantine is not None:
        check_quarantine(quarantine, out, inputs, overwrite)
    bad_rows = BadRows(on_error, max_errors, max_error_rate, quarantine, schema.source_columns,
                       staging=staging(quarantine) if quarantine else None)

    options = {"sequence_id": sequence_id, "sequence_order": sequence_order, "seed": seed, "shuffle": shuffle,
               "split": list(ratios) if split_column else ratios, "split_by": split_by, "split_column": split_column,
               "num_shards": num_shards, "rows_per_shard": rows_per_shard, "on_error": on_error,
               "max_errors": max_errors, "max_error_rate": max_error_rate, "runner": runner}
    settings = {"version": __version__, "schema": schema.to_dict(), "format": format, "compression": compression,
                "batch_size": batch_size, "sequence_per_file": sequence_per_file, **options,
                **({"allow_paths_outside": True} if allow_paths_outside else {})}
    grouping = RowGrouping(sequence_per_file, sequence_id, sequence_order,
                           tuple(c for f in schema.features if f.is_fixed for c in f.sources))
    job = Job(schema, format, compression, ratios, split_key, seed, shuffle, num_shards, rows_per_shard, on_error,
              batch_size, grouping, allow_paths_outside)
    try:
        work = WorkFolder(out, fingerprint(source, settings) if runner == "local" else None, resume)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted before {out} was started; nothing was written") from None
    tmp = work.path
    try:
        if runner == "beam":
            results, rows_read = _run_beam(source, job, bad_rows, tmp, beam_options)
        else:
            results, rows_read = _run_local(source, job, bad_rows, work, workers, progress)
        written = sum(r.num_records for r in results)
        if written + bad_rows.set_aside != rows_read:
            raise OutputError(f"wrote {written} records and set aside {bad_rows.set_aside} rows but read "
                              f"{rows_read}")
        files_by_split: dict[str, list[dict]] = {name: [] for name in ratios}
        for r in results:
            files_by_split[r.split].append(r.to_dict())
        manifest = build_manifest(schema=schema, fmt=format, compression=compression, splits=files_by_split,
                                  rows={"read": rows_read, "written": written, **bad_rows.to_dict()},
                                  options=options, sources=_describe(source), version=__version__)
        work.finish()
        write_manifest(tmp, manifest)
        if stats:
            report = folder_stats(tmp)
            report.path = str(out)
            report.write(tmp / STATS)
        _commit(tmp, out, overwrite)
        _commit_quarantine(bad_rows)
        work.release()
    except KeyboardInterrupt:
        bad_rows.discard()
        work.release()
        kept = f"{len(work.done) + work.written} shard(s)" if runner == "local" else "its files"
        raise Interrupted(f"interrupted: the work folder {tmp} keeps {kept}; rerun the same command with "
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
    return ConvertSummary(
        out=str(out), format=format, compression=compression,
        splits={k: v["num_records"] for k, v in manifest["splits"].items()}, num_shards=len(results),
        num_bytes=sum(r.num_bytes for r in results), rows_read=rows_read, rows_written=written,
        rows_set_aside=bad_rows.set_aside, set_aside_by_reason=dict(bad_rows.by_reason),
        seconds=round(time.perf_counter() - started, 3), files=[r.name for r in results])


def _run_local(source, job: Job, bad_rows: BadRows, work: WorkFolder, workers: int | None, progress: bool
               ) -> tuple[list[ShardResult], int]:
    """Encode into a spool (pass one), plan, write the shards the work folder does not hold yet."""
    tmp = work.path
    spool = Spool(tmp / "records.spool")
    workers = workers or os.cpu_count() or 1
    rows_read, buckets = _encode_all(source, job, spool, bad_rows, workers, progress)
    rows_read += bad_rows.by_reason.get("malformed_csv", 0)  # rows the CSV parser set aside
    bad_rows.finish(rows_read)
    spool.finish()
    plan = job.plan(spool.lengths, buckets)
    todo = [shard for shard in plan if shard.name not in work.done]
    with _bar(progress, "writing shards", "shards", total=len(todo)) as bar:
        def done(result):
            work.record(result)
            bar.update(1)
        fresh = write_shards(spool, todo, tmp, job.compression, job.header, workers, on_done=done)
    spool.remove()
    return [work.done.get(shard.name) or fresh.pop(0) for shard in plan], rows_read


def _run_beam(source, job: Job, bad_rows: BadRows, tmp: Path, beam_options: str | None
              ) -> tuple[list[ShardResult], int]:
    """The same conversion as an Apache Beam pipeline (see ``beam_runner``); bad-row counts are merged here."""
    from .beam_runner import run_pipeline

    results, counts = run_pipeline(source, job, str(tmp), beam_options)
    for c in counts:
        part = Path(c.quarantine) if c.quarantine else None
        bad_rows.merge(c.set_aside, c.by_reason, c.first, part)
        if part is not None:
            part.unlink()
    rows_read = sum(c.rows_read for c in counts)
    bad_rows.finish(rows_read)
    return results, rows_read


def _check_options(schema: Schema, fmt: str, compression: str, num_shards, rows_per_shard, batch_size) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if compression not in COMPRESSIONS:
        raise UsageError(f"unknown compression {compression!r}; expected one of {', '.join(COMPRESSIONS)}")
    if fmt == "csv":
        if compression == "zlib":
            raise UsageError("CSV shards can be compressed with gzip only")
        schema.csv_columns()  # raises when a feature cannot be a CSV column
    if num_shards is not None and rows_per_shard is not None:
        raise UsageError("give --num-shards or --rows-per-shard, not both")
    for name, value in (("num_shards", num_shards), ("rows_per_shard", rows_per_shard),
                        ("batch_size", batch_size)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise UsageError(f"{name} must be a positive integer, got {value!r}")


def _inputs(source: Any) -> list[Path]:
    """Every input path, resolved: the files read and the paths given (a folder is an input too)."""
    if not is_path_source(source):
        return []
    given = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    named = [Path(p).resolve() for p in given if not any(ch in os.fspath(p) for ch in "*?[")]
    return list(dict.fromkeys(named + [p.resolve() for p in input_files(source)]))


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
        os.replace(bad_rows.staging, bad_rows.quarantine)
    else:
        bad_rows.quarantine.unlink(missing_ok=True)


def _describe(source: Any) -> list[str]:
    if not is_path_source(source):
        return [f"<{type(source).__name__}>"]
    return [os.fspath(s) for s in ([source] if isinstance(source, (str, os.PathLike)) else source)]


def _bar(enabled: bool, desc: str, unit: str, total: int | None = None):
    """A tqdm bar on stderr with a rate; shown only when asked for and stderr is a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=f" {unit}", unit_scale=True, disable=None if enabled else True,
                leave=False, dynamic_ncols=True)
