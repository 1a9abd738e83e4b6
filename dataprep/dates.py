"""Dates and times as int64 seconds since 1970-01-01 00:00 UTC: the form a feature with ``parse`` stores.

A feature's ``parse`` is a ``strptime`` format, or ``date`` (``%Y-%m-%d``) or ``datetime``
(``%Y-%m-%dT%H:%M:%S``). Times carry no zone and are taken as UTC. Text is parsed a whole column at a time
with Arrow's ``strptime``, then written back with ``strftime`` and compared: a value is a date only if the
format writes its seconds back as exactly that text, so "2012-02-30" (which ``strptime`` rolls over to
March 1st) and "2012-1-1" are refused rather than stored as some other text's seconds, and every stored
value reads back, formatted, as the text it came from.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrow_numpy import to_numpy

DATE_ALIASES = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%dT%H:%M:%S"}
# What schema inference recognises, tried in this order; the first that reads every value of a column wins.
INFERRED_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


def date_format(parse: str) -> str:
    """The ``strptime`` format of a feature's ``parse`` (an alias or a format)."""
    return DATE_ALIASES.get(parse, parse)


def parse_alias(fmt: str) -> str:
    """How a schema writes format ``fmt``: its alias when it has one."""
    return next((alias for alias, f in DATE_ALIASES.items() if f == fmt), fmt)


def parse_dates(text: pa.Array, fmt: str) -> tuple[pa.Array, np.ndarray]:
    """Text (nulls for missing values) as int64 seconds, and where a value is present but is not a date
    written exactly as ``fmt`` writes it (those are null in the seconds too)."""
    stamps = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
    exact = pc.fill_null(pc.equal(pc.strftime(stamps, format=fmt), text), False)
    bad = to_numpy(pc.is_valid(text)) & ~to_numpy(exact)
    seconds = pc.if_else(exact, pc.cast(stamps, pa.int64()), pa.scalar(None, pa.int64()))
    return seconds, bad


def matching_format(text: pa.Array, formats: tuple[str, ...] = INFERRED_FORMATS) -> str | None:
    """The first of ``formats`` that reads every value of ``text`` (no nulls) exactly, or None."""
    if not len(text):
        return None
    for fmt in formats:
        if not parse_dates(text, fmt)[1].any():
            return fmt
    return None
