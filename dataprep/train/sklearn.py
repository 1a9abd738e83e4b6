"""scikit-learn estimators over the trainers, for ``GridSearchCV``/``RandomizedSearchCV`` and pipelines.

Keras 3 no longer ships the ``KerasRegressor`` wrapper the seed's grid search used. These estimators take
numpy arrays, convert them with :func:`dataprep.convert` into a temporary folder (train, and valid from
``validation_data`` or a seeded 10% of the training rows) and fit with :func:`dataprep.train.fit`, so a
search over them trains exactly like ``dataprep train``: same model code, normalisation and early stopping.
The seed's code needs one changed line::

    sklearn_model = WideDeepRegressor()   # was KerasRegressor(build_fn=build_model)
    GridSearchCV(sklearn_model, {"hiddenlayer": [1, 2, 3], "learning_rate": [1e-3, 1e-2],
                                 "layersize": [5, 25]}, n_jobs=-1).fit(
        xtrain, ytrain, epochs=50, validation_data=(xvalid, yvalid), callbacks=callbacks)
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from ..convert import convert
from ..schema import load_schema
from .options import CNNOptions, ModelOptions, RunOptions, TrainOptions, WideDeepOptions


class _DataprepEstimator(BaseEstimator):
    """Shared fitting: arrays -> converted folder -> ``fit`` -> the saved inference model."""

    kind = ""

    def _schema(self, x: np.ndarray, y: np.ndarray) -> dict:
        raise NotImplementedError

    def _model_options(self) -> ModelOptions:
        raise NotImplementedError

    def _train_options(self, epochs: int | None) -> TrainOptions:
        return TrainOptions(epochs=epochs or self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                            patience=self.patience, seed=self.seed, optimizer=self.optimizer)

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, epochs: int | None, validation_data,
                    callbacks: Sequence | None) -> None:
        import keras

        from .fitting import fit

        arrays, split, split_column = {"x": x, "y": y}, "train=0.9,valid=0.1", None
        if validation_data is not None:
            xv, yv = (np.asarray(a) for a in validation_data[:2])
            arrays = {"x": np.concatenate([x, xv.astype(x.dtype)]), "y": np.concatenate([y, yv.astype(y.dtype)]),
                      "part": np.array(["train"] * len(x) + ["valid"] * len(xv))}
            split, split_column = "train,valid", "part"
        with tempfile.TemporaryDirectory(prefix="dataprep-sklearn-") as tmp:
            convert(arrays, load_schema(self._schema(x, y)), Path(tmp) / "data", seed=self.seed, split=split,
                    split_column=split_column)
            run = RunOptions(verbose=self.verbose, plot=False, linear_baseline=False, test=False,
                             callbacks=list(callbacks or ()))
            result = fit(self.kind, Path(tmp) / "data", Path(tmp) / "run", self._model_options(),
                         self._train_options(epochs), run)
            self.model_ = keras.saving.load_model(Path(tmp) / "run" / "model.keras")
        self.history_ = result.history
        self.metrics_ = result.metrics


class WideDeepRegressor(RegressorMixin, _DataprepEstimator):
    """A wide&deep regressor on a feature matrix ``X [n, d]``.

    ``hidden_layers`` x ``units`` make the deep tower (the seed's ``hiddenlayer`` and ``layersize`` are
    accepted too). With ``wide_columns`` and ``deep_columns`` (slices ``"0:5"``, ``"2:8"`` of X's columns)
    the model is the seed's two-input wide&deep; without, one input (``concat``)."""

    kind = "wide-deep"

    def __init__(self, hidden_layers: int = 3, units: int = 100, learning_rate: float = 1e-3,
                 batch_size: int = 128, epochs: int = 100, patience: int = 10, activation: str = "relu",
                 optimizer: str = "adam", loss: str = "mse", wide_columns: str | None = None,
                 deep_columns: str | None = None, seed: int = 0, verbose: bool = False,
                 hiddenlayer: int | None = None, layersize: int | None = None):
        self.hidden_layers = hidden_layers
        self.units = units
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.activation = activation
        self.optimizer = optimizer
        self.loss = loss
        self.wide_columns = wide_columns
        self.deep_columns = deep_columns
        self.seed = seed
        self.verbose = verbose
        self.hiddenlayer = hiddenlayer
        self.layersize = layersize

    def fit(self, X, y, epochs: int | None = None, validation_data=None, callbacks=None):
        """Fit on ``X [n, d]``, ``y [n]``; ``validation_data=(X_valid, y_valid)`` drives early stopping."""
        x, y = np.asarray(X, np.float32), np.asarray(y, np.float32).reshape(-1)
        self.n_features_in_ = x.shape[1]
        self._fit_arrays(x, y, epochs, validation_data, callbacks)
        return self

    def predict(self, X) -> np.ndarray:
        x = np.asarray(X, np.float32)
        return np.asarray(self.model_.predict(self._inputs(x), verbose=0)["main"]).reshape(-1)

    def _inputs(self, x: np.ndarray) -> dict:
        columns = self._columns()
        if not columns:
            return {"x": x}
        return {name: x[:, start:stop] for name, (_, start, stop) in columns.items()}

    def _columns(self) -> dict[str, tuple[str, int, int]]:
        """The two inputs' columns of X (as given, start, stop) by input; none without both slices."""
        if self.wide_columns is None or self.deep_columns is None:
            return {}
        columns = {}
        for name, cols in (("wide", self.wide_columns), ("deep", self.deep_columns)):
            start, stop = map(int, cols.split(":"))
            columns[name] = (cols, start, stop)
        return columns

    def _schema(self, x: np.ndarray, y: np.ndarray) -> dict:
        label = {"name": "y", "dtype": "float32", "shape": [], "role": "label"}
        columns = self._columns()
        if not columns:
            return {"features": [{"name": "x", "dtype": "float32", "shape": [x.shape[1]], "group": "both"},
                                 label]}
        parts = [{"name": name, "source": "x", "select": cols, "dtype": "float32", "shape": [stop - start],
                  "group": name} for name, (cols, start, stop) in columns.items()]
        return {"features": [*parts, label]}

    def _train_options(self, epochs: int | None) -> TrainOptions:
        return replace(super()._train_options(epochs), loss=self.loss)

    def _model_options(self) -> WideDeepOptions:
        layers = self.hiddenlayer if self.hiddenlayer is not None else self.hidden_layers
        units = self.layersize if self.layersize is not None else self.units
        return WideDeepOptions(variant="two-input" if self._columns() else "concat",
                               hidden=(int(units),) * int(layers), activation=self.activation)


class CNNClassifier(ClassifierMixin, _DataprepEstimator):
    """A CNN classifier on images ``X [n, h, w]`` or ``[n, h, w, c]`` (uint8 pixels, or floats) with any
    labels ``y`` (numbers or strings; ``classes_`` keeps them)."""

    kind = "cnn"

    def __init__(self, filters: int = 32, blocks: int | None = None, dense: int = 128,
                 dropout: float | tuple = (0.25, 0.5), separable: bool = False, activation: str = "relu",
                 augment: bool = False, learning_rate: float = 5e-4, batch_size: int = 32, epochs: int = 30,
                 patience: int = 10, optimizer: str = "adam", seed: int = 0, verbose: bool = False):
        self.filters = filters
        self.blocks = blocks
        self.dense = dense
        self.dropout = dropout
        self.separable = separable
        self.activation = activation
        self.augment = augment
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.optimizer = optimizer
        self.seed = seed
        self.verbose = verbose

    def fit(self, X, y, epochs: int | None = None, validation_data=None, callbacks=None):
        x = self._images(X)
        self.classes_, ids = np.unique(np.asarray(y), return_inverse=True)
        if validation_data is not None:
            xv, yv = validation_data[:2]
            validation_data = (self._images(xv), np.searchsorted(self.classes_, np.asarray(yv)))
        self._fit_arrays(x, ids.astype(np.int64), epochs, validation_data, callbacks)
        return self

    def predict_proba(self, X) -> np.ndarray:
        return np.asarray(self.model_.predict({"x": self._images(X)}, verbose=0)["main"])

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @staticmethod
    def _images(X) -> np.ndarray:
        x = np.asarray(X)
        x = x[..., None] if x.ndim == 3 else x
        return x if x.dtype == np.uint8 else x.astype(np.float32)

    def _schema(self, x: np.ndarray, y: np.ndarray) -> dict:
        return {"features": [{"name": "x", "dtype": "uint8" if x.dtype == np.uint8 else "float32",
                              "shape": list(x.shape[1:])},
                             {"name": "y", "dtype": "int64", "shape": [], "role": "label"}]}

    def _model_options(self) -> CNNOptions:
        rates = self.dropout
        dropout = tuple(rates) if isinstance(rates, Iterable) else (rates, rates)
        return CNNOptions(filters=self.filters, blocks=self.blocks, dense=self.dense, dropout=dropout,
                          separable=self.separable, activation=self.activation, augment=self.augment)
