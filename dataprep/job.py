"""The conversion step both runners share: one :class:`Job` (the schema and the option objects) that reads
a source's batches, checks and encodes them, applies the bad-row policy and plans the shards.

It sits below ``convert`` (the local runner) and ``beam_runner`` so that neither imports the other; the Beam
runner pickles the job to its workers.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .badrows import BadRows
from .batch import Batch
from .columns import Column, to_columns
from .formats import ShardFormat
from .options import ConvertOptions
from .ragged import Ragged
from .schema import Schema
from .shards import Shard, plan_shards
from .sources import Source, iter_batches
from .splits import assign_by_bucket, assign_by_ratio


def check_and_encode(schema: Schema, batch: Batch, fmt: ShardFormat, allow_paths_outside: bool = False
                     ) -> tuple[dict, list, Ragged | None]:
    """Checked feature columns, their problems, and the encoded records when there is no problem.

    Runs in worker threads: Arrow and numpy release the GIL for whole-column work."""
    columns, problems = to_columns(batch, schema, allow_paths_outside)
    problems += fmt.problems(schema, columns, batch)
    records = fmt.encode(schema, columns, batch.num_rows) if not problems else None
    return columns, problems, records


@dataclass(frozen=True)
class Job:
    """One conversion's schema and settings, as both runners need them."""

    schema: Schema
    options: ConvertOptions

    @property
    def columns(self) -> list[str]:
        """The input columns to read: every feature's, and the split key's."""
        key = self.options.splits.key
        return list(dict.fromkeys(self.schema.source_columns + ([key.column] if key else [])))

    @property
    def header(self) -> bytes:
        return self.options.layout.shard_format.header(self.schema)

    def batches(self, source: Source, bad_rows: BadRows) -> Iterator[Batch]:
        """The source's column batches (malformed CSV rows go to ``bad_rows``)."""
        return iter_batches(source, self.columns, self.options.run.batch_size, on_malformed=bad_rows.malformed,
                            grouping=self.options.grouping)

    def check(self, batch: Batch) -> tuple[dict, list, Ragged | None]:
        """:func:`check_and_encode` with this job's schema and settings."""
        return check_and_encode(self.schema, batch, self.options.layout.shard_format,
                                self.options.run.allow_paths_outside)

    def keep(self, batch: Batch, checked: tuple, bad_rows: BadRows,
             on_kept: Callable[[dict[str, Column]], None] | None = None) -> tuple[Ragged | None, np.ndarray | None]:
        """A checked batch (:meth:`check`) after the bad-row policy: its records to write (None when none is
        left) and their split buckets (None without a split key); ``on_kept`` sees the columns of the
        records to write."""
        columns, problems, records = checked
        kept = None
        if problems:
            columns, kept = bad_rows.apply(batch, columns, problems)
            assert kept is not None  # apply gives the kept rows whenever there are problems
            records = self.options.layout.shard_format.encode(self.schema, columns, len(kept)) if len(kept) else None
        if on_kept is not None and records is not None:
            on_kept(columns)
        key = self.options.splits.key
        return records, key.buckets(batch, kept, self.options.splits.ratios) if key else None

    def plan(self, lengths: np.ndarray, buckets: list[np.ndarray]) -> list[Shard]:
        """The seeded split and shard plan of records numbered in input order (``lengths``: bytes per record;
        ``buckets``: their split buckets, batch by batch, with a split key)."""
        splits, layout = self.options.splits, self.options.layout
        if splits.key:
            assigned = assign_by_bucket(np.concatenate(buckets) if buckets else np.zeros(0, np.int8),
                                        splits.ratios, splits.seed, splits.shuffle)
        else:
            assigned = assign_by_ratio(len(lengths), splits.ratios, splits.seed, splits.shuffle)
        return plan_shards(assigned, layout.suffix, lengths, layout.num_shards, layout.rows_per_shard)
