"""The column batch, the contract between the sources that read input and the checks that convert it.

A source yields :class:`Batch` objects; :func:`dataprep.columns.to_columns` and the bad-row policy turn
their bad rows into :class:`Problem` objects. Both sit in this bottom module, which imports nothing of
dataprep, so neither side has to import the other.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Batch:
    """A source's column batch: named columns (Arrow arrays or numpy arrays) and where the rows came from."""

    columns: dict
    num_rows: int
    origin: str  # file path, or a description such as "<DataFrame>"
    row_start: int  # 0-based index of the first row within the origin
    line_of: Callable[[int], int] | None = None  # row index within origin -> line number (text sources)
    row_names: list[str] | None = None  # a file per row (image folders): named instead of the row
    row_of: Callable[[int], int] | None = None  # row index within origin -> 1-based row of the file (CSV)

    def where(self, row: int, column: str | None = None) -> str:
        """'file, line L (row R), column C' for messages; ``row`` is a row of this batch."""
        r = self.row_start + row
        if self.row_names is not None:
            return self.row_names[row] + (f", column {column!r}" if column else "")
        number = self.row_of(r) if self.row_of is not None else r + 1
        loc = f"{self.origin}, row {number}"
        if self.line_of is not None:
            loc = f"{self.origin}, line {self.line_of(r)} (row {number})"
        return loc + (f", column {column!r}" if column else "")


@dataclass(frozen=True)
class Problem:
    """Rows of a batch that cannot be stored, for one reason in one column."""

    reason: str  # a short key: unparseable, missing, not_finite, out_of_range, not_in_vocabulary, ...
    column: str
    rows: np.ndarray  # sorted unique row positions within the batch
    message: str  # the first bad row, described for a person (location included)
    describe: Callable[[int], str]  # the message of the k-th of ``rows``, naming its own row

    def message_of(self, k: int) -> str:
        """The message of ``rows[k]``, described like the first (each quarantine row names its own place)."""
        return self.message if k == 0 else self.describe(k)
