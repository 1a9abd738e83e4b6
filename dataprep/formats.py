"""The shard formats dataprep writes, as a registry: one object per format, from which every suffix,
framing rule, header, encoder, schema check and manifest layout is looked up.

A format knows how checked columns become records, how its records are framed in a shard (what the record
index points at, how a reader finds where a record starts), the header its shards open with, and which
compressions (:mod:`dataprep.compressions`) and schemas it can carry. Adding a format (e.g. ArrayRecord) is
one :class:`ShardFormat` subclass registered in :data:`FORMATS`; the CLI's choices are derived from it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .batch import Batch, Problem
from .columns import Column
from .compressions import Compression
from .encode.csv_text import csv_header, encode_csv_lines, line_break_problems
from .encode.example import example_parts
from .errors import UsageError
from .ragged import Ragged
from .schema import Schema
from .tfrecord import frame_parts


class ShardFormat:
    """One shard format. ``lead`` and ``framing`` say where a record index entry points: ``lead`` bytes of
    framing before a record's data, ``framing`` bytes of framing in all; ``has_header`` says whether the
    stream opens with a header before the first record, ``lines`` whether TensorFlow reads the records as
    text lines (else as TFRecords), ``misplaced`` how a record that does not start where the index says
    looks."""

    name: str
    title: str
    suffix: str
    compressions: tuple[str, ...]
    lead: int
    framing: int
    has_header: bool
    lines: bool
    misplaced: str

    def check(self, schema: Schema, compression: Compression) -> None:
        """Raise when this format cannot carry ``schema`` or be compressed with ``compression``."""
        if compression.name not in self.compressions:
            raise UsageError(f"{self.title} shards can be compressed with {'/'.join(self.compressions[1:])} only")

    def header(self, schema: Schema) -> bytes:
        return b""

    def encode(self, schema: Schema, columns: dict[str, Column], n: int) -> Ragged:
        """Checked feature columns as ``n`` encoded records, each with its framing."""
        raise NotImplementedError

    def problems(self, schema: Schema, columns: dict[str, Column], batch: Batch) -> list[Problem]:
        """Rows this format cannot carry although the schema accepts them."""
        return []

    def record_type(self, schema: Schema) -> str:
        """The manifest's ``record``: what one record is."""
        raise NotImplementedError

    def layout(self, schema: Schema) -> dict[str, Any]:
        """The manifest keys that say how features are stored in the records."""
        raise NotImplementedError

    def check_layout(self, data: dict, need: Callable, bad: Callable) -> None:
        """Check a loaded manifest's :meth:`layout` keys (``need(obj, key, where, type, what)`` returns the
        value or raises, ``bad(key, what)`` is the error to raise)."""

    def misplaced_records(self, buf: np.ndarray, offsets: np.ndarray) -> np.ndarray | str:
        """Per record of the uncompressed stream ``buf``, whether it does not start where ``offsets`` says
        (or a message when the stream's header is wrong)."""
        raise NotImplementedError

    def frames(self, framed: bytes) -> bool:
        """Whether one record read with its framing is framed as this format frames it."""
        raise NotImplementedError


class TFRecordFormat(ShardFormat):
    """``tf.train.Example`` (or SequenceExample) records in TFRecord framing:
    ``u64 length | masked crc32c(length) | data | masked crc32c(data)``."""

    name, title, suffix, compressions = "tfrecord", "TFRecord", ".tfrecord", ("none", "gzip", "zlib")
    lead, framing, has_header, lines = 12, 16, False, False
    misplaced = "its length header says another length"

    def encode(self, schema: Schema, columns: dict[str, Column], n: int) -> Ragged:
        return frame_parts(example_parts(schema, columns, n), n)

    def record_type(self, schema: Schema) -> str:
        return "tf.train.SequenceExample" if schema.record == "sequence_example" else "tf.train.Example"

    def layout(self, schema: Schema) -> dict[str, Any]:
        return {"features": schema.storage()}

    def misplaced_records(self, buf: np.ndarray, offsets: np.ndarray) -> np.ndarray | str:
        length = np.ascontiguousarray(buf[offsets[:-1, None] + np.arange(8)]).view("<u8")[:, 0]
        return length != (np.diff(offsets) - self.framing).astype(np.uint64)

    def frames(self, framed: bytes) -> bool:
        return len(framed) >= self.framing and int.from_bytes(framed[:8], "little") == len(framed) - self.framing


class CSVFormat(ShardFormat):
    """One CSV line per record after a header line, read by TensorFlow's text-line readers."""

    name, title, suffix, compressions = "csv", "CSV", ".csv", ("none", "gzip")
    lead, framing, has_header, lines = 0, 1, True, True
    misplaced = "no newline ends it"

    def check(self, schema: Schema, compression: Compression) -> None:
        super().check(schema, compression)
        schema.csv_columns()  # raises when a feature cannot be a CSV column

    def header(self, schema: Schema) -> bytes:
        return csv_header(schema)

    def encode(self, schema: Schema, columns: dict[str, Column], n: int) -> Ragged:
        return encode_csv_lines(schema, columns, n)

    def problems(self, schema: Schema, columns: dict[str, Column], batch: Batch) -> list[Problem]:
        return line_break_problems(schema, columns, batch)

    def record_type(self, schema: Schema) -> str:
        return "csv"

    def layout(self, schema: Schema) -> dict[str, Any]:
        # every field is written, so only text can be empty: an empty field is the empty string
        return {"csv": {"header": True, "delimiter": ",",
                        "columns": [{"name": name, "feature": f.name, "element": i, "dtype": f.dtype,
                                     "record_default": f.csv_record_default}
                                    for name, f, i in schema.csv_columns()]}}

    def check_layout(self, data: dict, need: Callable, bad: Callable) -> None:
        columns = need(need(data, "csv", "", dict, "an object"), "columns", "csv.", list, "a list")
        for i, c in enumerate(columns):
            if not isinstance(c, dict):
                raise bad(f"csv.columns[{i}]", "must be an object")
            for key in ("name", "feature", "dtype"):
                need(c, key, f"csv.columns[{i}].", str, "a string")

    def misplaced_records(self, buf: np.ndarray, offsets: np.ndarray) -> np.ndarray | str:
        if not (offsets[0] > 0 and buf[offsets[0] - 1] == 10 and 10 not in buf[:offsets[0] - 1]):
            return "the first offset is not the end of the header line"
        return buf[offsets[1:] - 1] != 10

    def frames(self, framed: bytes) -> bool:
        return framed.endswith(b"\n")


FORMATS: dict[str, ShardFormat] = {f.name: f for f in (TFRecordFormat(), CSVFormat())}


def get_format(name: str) -> ShardFormat:
    """The shard format called ``name``."""
    if name not in FORMATS:
        raise UsageError(f"unknown format {name!r}; expected one of {', '.join(FORMATS)}")
    return FORMATS[name]
