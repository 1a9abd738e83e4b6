"""The library's own exceptions: every failure a user can cause is one of these.

Only the CLI turns them into exit codes (usage problems 2, data problems 1); library code never prints.
"""
from __future__ import annotations


class DataprepError(Exception):
    """Base of every error dataprep raises on purpose; its message is one line meant for a person."""

    exit_code = 1


class SchemaError(DataprepError):
    """The schema file or object is invalid: unknown dtype, duplicate name, default of the wrong type, ..."""

    exit_code = 2


class UsageError(DataprepError):
    """An option or argument combination that cannot work (bad split ratios, existing output, ...)."""

    exit_code = 2


class SourceError(DataprepError):
    """An input cannot be opened or does not match the schema (missing file, missing column, empty file)."""


class DataError(DataprepError):
    """A value in the input cannot be stored as the schema says; the message names file, row and column."""


class OutputError(DataprepError):
    """Converted output is missing, damaged or inconsistent with its manifest."""


class Interrupted(DataprepError):
    """The run was stopped (Ctrl-C); the message says what it left and how to continue."""

    exit_code = 130
