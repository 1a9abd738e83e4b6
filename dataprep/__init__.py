"""dataprep: schema-driven conversion of tables and arrays to sharded TFRecord/CSV, and fast readers.

Conversion needs no TensorFlow; the readers and trainers import it when they are used.
"""
from __future__ import annotations

__version__ = "0.2.0"

from .convert import ConvertSummary, convert  # noqa: E402
from .errors import DataError, DataprepError, OutputError, SchemaError, SourceError, UsageError  # noqa: E402
from .feature_stats import StatsReport, stats  # noqa: E402
from .infer import infer_schema  # noqa: E402
from .manifest import Manifest, load_manifest  # noqa: E402
from .records import SplitReader, iter_batches, read_record  # noqa: E402
from .schema import Feature, Schema, load_schema  # noqa: E402

_READERS = ("make_dataset", "load_numpy", "as_dataframe")

__all__ = [
    "ConvertSummary", "DataError", "DataprepError", "Feature", "Manifest", "OutputError", "Schema",
    "SchemaError", "SourceError", "SplitReader", "StatsReport", "UsageError", "as_dataframe", "convert",
    "infer_schema", "iter_batches", "load_manifest", "load_numpy", "load_schema", "make_dataset", "read_record",
    "stats",
]


def __getattr__(name: str):
    """The readers import TensorFlow, so they load on first use: ``import dataprep`` stays light."""
    if name in _READERS:
        from . import readers

        return getattr(readers, name)
    raise AttributeError(f"module 'dataprep' has no attribute {name!r}")
