"""What happens to rows that cannot be stored: fail on the first, or set them aside and count them.

Rows are never dropped silently: every set-aside row is counted under the reason that first flagged it,
and the summary and manifest keep ``read = written + set_aside``.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .columns import Column, Problem, first_error
from .errors import UsageError

POLICIES = ("fail", "skip")


@dataclass
class BadRows:
    """The bad-row policy for one conversion and its running counts."""

    on_error: str = "fail"
    set_aside: int = 0
    by_reason: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if self.on_error not in POLICIES:
            raise UsageError(f"unknown --on-error policy {self.on_error!r}; expected one of {', '.join(POLICIES)}")

    def apply(self, columns: dict[str, Column], problems: list[Problem], n: int
              ) -> tuple[dict[str, Column], np.ndarray | None]:
        """Raise on the first problem (``fail``) or drop flagged rows (``skip``); returns the kept columns and
        the kept row positions (None when every row is kept)."""
        if not problems:
            return columns, None
        if self.on_error == "fail":
            raise first_error(problems)
        reason_of = np.full(n, -1, np.int64)
        for i, p in enumerate(problems):
            fresh = p.rows[reason_of[p.rows] < 0]
            reason_of[fresh] = i
            self.by_reason[p.reason] += len(fresh)
        keep = np.flatnonzero(reason_of < 0)
        self.set_aside += n - len(keep)
        return {name: col.take(keep) for name, col in columns.items()}, keep

    def to_dict(self) -> dict:
        return {"set_aside": self.set_aside, "set_aside_by_reason": dict(sorted(self.by_reason.items()))}
