"""Trainers: models built from the schema, fitted on the readers' datasets, and hyper-parameter search over
them. ``fit`` and ``tune`` import TensorFlow, so they load on first use; the option dataclasses
(:mod:`.options`) do not, and the CLI builds its choices and defaults from them."""
from __future__ import annotations

from .options import CNNOptions, RNNOptions, RunOptions, SearchOptions, TrainOptions, WideDeepOptions

_LAZY = {"fit": "fitting", "FitResult": "fitting", "tune": "tuning", "TuneResult": "tuning"}

__all__ = ["CNNOptions", "FitResult", "RNNOptions", "RunOptions", "SearchOptions", "TrainOptions", "TuneResult",
           "WideDeepOptions", "fit", "tune"]


def __getattr__(name: str):
    """``fit`` and ``tune`` (and their results) from their modules, imported when first used."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'dataprep.train' has no attribute {name!r}")
