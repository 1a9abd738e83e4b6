"""dataprep: schema-driven conversion of tables and arrays to sharded TFRecord/CSV, and fast readers.

Conversion needs no TensorFlow; the readers and trainers import it when they are used.
"""
from __future__ import annotations

from . import columns_sparse  # noqa: F401  (registers the sparse feature kind with dataprep.columns)
from .convert import ConvertSummary, convert
from .drift import DriftReport, DriftThresholds, validate_against
from .errors import DataError, DataprepError, OutputError, SchemaError, SourceError, UsageError
from .feature_stats import StatsReport, stats
from .infer import infer_schema
from .manifest import Manifest, load_manifest
from .records import SplitReader, iter_batches, read_record
from .report import QualityReport, report
from .schema import Feature, Schema, load_schema
from .version import __version__

_READERS = ("make_dataset", "load_numpy", "as_dataframe")

__all__ = [
    "ConvertSummary", "DataError", "DataprepError", "DriftReport", "DriftThresholds", "Feature", "Manifest",
    "OutputError", "QualityReport", "Schema", "SchemaError", "SourceError", "SplitReader", "StatsReport", "UsageError",
    "__version__", "as_dataframe", "convert", "infer_schema", "iter_batches", "load_manifest", "load_numpy",
    "load_schema", "make_dataset", "read_record", "report", "stats", "validate_against",
]


def __getattr__(name: str):
    """The readers import TensorFlow, so they load on first use: ``import dataprep`` stays light."""
    if name in _READERS:
        from . import readers

        return getattr(readers, name)
    raise AttributeError(f"module 'dataprep' has no attribute {name!r}")
