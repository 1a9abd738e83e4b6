"""Trainers: models built from the schema, fitted on the readers' datasets (these import TensorFlow), and
hyper-parameter search over them."""
from .fit import FitResult, fit
from .tune import TuneResult, tune

__all__ = ["FitResult", "TuneResult", "fit", "tune"]
