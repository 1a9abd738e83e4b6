"""Trainers: models built from the schema, fitted on the readers' datasets (these import TensorFlow)."""
from .fit import FitResult, fit

__all__ = ["FitResult", "fit"]
