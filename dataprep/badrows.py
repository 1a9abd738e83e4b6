"""What happens to rows that cannot be stored: fail on the first, set them aside and count them, or also
write them to a quarantine CSV with their file, line, reason and values.

Rows are never dropped silently: every set-aside row is counted under the reason that first flagged it,
and the summary and manifest keep ``read = written + set_aside``. ``max_errors`` and ``max_error_rate``
turn a flood of bad rows into a failure.
"""
from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from .batch import Batch, Problem
from .columns import Column, first_error
from .errors import DataError, UsageError
from .outputs import QUARANTINE_HEADER

POLICIES = ("fail", "skip", "quarantine")


@dataclass
class BadRows:
    """The bad-row policy for one conversion and its running counts."""

    on_error: str = "fail"
    max_errors: int | None = None
    max_error_rate: float | None = None
    quarantine: Path | None = None
    source_columns: list[str] = field(default_factory=list)  # the input columns a quarantine row shows
    staging: Path | None = None  # where the quarantine CSV is written until the conversion commits it
    set_aside: int = 0
    by_reason: Counter = field(default_factory=Counter)
    _writer: object = None
    _file: TextIO | None = None
    _first: str | None = None

    def __post_init__(self) -> None:
        if self.on_error not in POLICIES:
            raise UsageError(f"unknown --on-error policy {self.on_error!r}; expected one of {', '.join(POLICIES)}")
        if self.max_errors is not None and self.max_errors < 0:
            raise UsageError("max_errors must be >= 0")
        if self.max_error_rate is not None and not 0 <= self.max_error_rate <= 1:
            raise UsageError("max_error_rate must be between 0 and 1")
        if self.on_error == "quarantine" and self.quarantine is None:
            raise UsageError("--on-error quarantine needs a quarantine file")

    def apply(self, batch: Batch, columns: dict[str, Column], problems: list[Problem]
              ) -> tuple[dict[str, Column], np.ndarray | None]:
        """Raise on the first problem (``fail``) or drop flagged rows (``skip``, ``quarantine``); returns the
        kept columns and the kept row positions (None when every row is kept)."""
        if not problems:
            return columns, None
        if self.on_error == "fail":
            raise first_error(problems)
        n = batch.num_rows
        reason_of = np.full(n, -1, np.int64)
        for i, p in enumerate(problems):
            fresh = p.rows[reason_of[p.rows] < 0]
            reason_of[fresh] = i
            if len(fresh):
                self.by_reason[p.reason] += len(fresh)
        bad = np.flatnonzero(reason_of >= 0)
        self.set_aside += len(bad)
        self._first = self._first or first_error(problems).args[0]
        if self.on_error == "quarantine":
            self._write(batch, bad, [problems[i] for i in reason_of[bad]])
        self._check_max()
        keep = np.flatnonzero(reason_of < 0)
        return {name: col.take(keep) for name, col in columns.items()}, keep

    @property
    def first_error(self) -> str | None:
        """The message of the first bad row, for summaries."""
        return self._first

    def merge(self, set_aside: int, by_reason: dict, first: str | None, quarantined: Path | None = None) -> None:
        """Add the rows another worker set aside (and its quarantine file's rows), then apply ``max_errors``
        to the total."""
        self.set_aside += set_aside
        self.by_reason.update(by_reason)
        self._first = self._first or first
        if quarantined is not None:
            with open(quarantined, newline="", encoding="utf-8") as fh:
                rows = csv.reader(fh)
                next(rows, None)
                writer = self._open()
                for row in rows:
                    writer.writerow(row)
        self._check_max()

    def malformed(self, origin: str, text: str, line: int | str = "", row: int | str = "",
                  why: str = "wrong number of fields") -> bool:
        """A malformed CSV row (``why`` it is): False (fail) or count and quarantine it, True."""
        if self.on_error == "fail":
            return False
        self.set_aside += 1
        self.by_reason["malformed_csv"] += 1
        where = f"{origin}, line {line}" if line != "" else origin
        self._first = self._first or f"{where}: malformed CSV row: {why}: {text[:80]!r}"
        if self.on_error == "quarantine":
            self._open().writerow([origin, line, row, "malformed_csv", "", f"{why}: {text!r}"])
        self._check_max()
        return True

    def _check_max(self) -> None:
        if self.max_errors is not None and self.set_aside > self.max_errors:
            raise DataError(f"{self.set_aside} bad rows exceed --max-errors {self.max_errors}; first: {self._first}")

    def _open(self):
        if self._writer is None:
            path = self.staging or self.quarantine
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._file)
            self._writer.writerow(QUARANTINE_HEADER + self.source_columns)
        return self._writer

    @property
    def written(self) -> bool:
        """Whether a quarantine CSV was written (a row was quarantined)."""
        return self._writer is not None

    def discard(self) -> None:
        """Close and remove the staged quarantine CSV of a run that did not finish."""
        if self._file is not None:
            self._file.close()
        if self.staging is not None:
            self.staging.unlink(missing_ok=True)

    def finish(self, rows_read: int) -> None:
        """Close the quarantine file and check the error rate over the whole input."""
        if self._file is not None:
            self._file.close()
        if self.max_error_rate is not None and rows_read and self.set_aside / rows_read > self.max_error_rate:
            raise DataError(f"{self.set_aside} of {rows_read} rows are bad ({self.set_aside / rows_read:.2%}), "
                            f"over --max-error-rate {self.max_error_rate:g}; first: {self._first}")

    def _write(self, batch: Batch, rows: np.ndarray, problems: list[Problem]) -> None:
        writer = self._open()
        values = {c: _texts(batch.columns[c], rows) for c in self.source_columns}
        for i, (row, problem) in enumerate(zip(rows.tolist(), problems)):
            r = batch.row_start + row
            line = batch.line_of(r) if batch.line_of else ""
            message = problem.message_of(int(np.searchsorted(problem.rows, row)))
            writer.writerow([batch.origin, line, batch.row_of(r) if batch.row_of else r + 1, problem.reason,
                             problem.column, message] + [values[c][i] for c in self.source_columns])

    def to_dict(self) -> dict:
        out = {"set_aside": self.set_aside, "set_aside_by_reason": dict(sorted(self.by_reason.items()))}
        if self.quarantine is not None and self.written:
            out["quarantine"] = str(self.quarantine)
        return out


def _texts(column, rows: np.ndarray) -> list[str]:
    """The values of ``rows`` as text, as read from the source (arrays as their list form)."""
    values = column.take(rows) if not isinstance(column, np.ndarray) else column[rows]
    items = values.to_pylist() if hasattr(values, "to_pylist") else values.tolist()
    return ["" if v is None else v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else str(v)
            for v in items]
