"""dataprep: schema-driven conversion of tables and arrays to sharded TFRecord/CSV, and fast readers.

Conversion needs no TensorFlow; the readers and trainers import it when they are used.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .convert import ConvertSummary, convert  # noqa: E402
from .errors import DataError, DataprepError, OutputError, SchemaError, SourceError, UsageError  # noqa: E402
from .infer import infer_schema  # noqa: E402
from .manifest import Manifest, load_manifest  # noqa: E402
from .schema import Feature, Schema, load_schema  # noqa: E402

__all__ = [
    "ConvertSummary", "DataError", "DataprepError", "Feature", "Manifest", "OutputError", "Schema",
    "SchemaError", "SourceError", "UsageError", "convert", "infer_schema", "load_manifest", "load_schema",
]
