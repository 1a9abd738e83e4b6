"""``fit``: build a model from a converted folder's schema, fit it on the readers' datasets with early
stopping, evaluate it on the test split, and write the model, history, metrics and learning curves.

Regression labels are standardised with the training split's mean and standard deviation while fitting
(any optimizer then sees a well-scaled loss); metrics are reported in the label's own units and the saved
model predicts in those units.
"""
from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from ..errors import SchemaError, UsageError
from ..manifest import Manifest, load_manifest
from ..readers.dataset import make_dataset
from . import cnn, rnn, wide_deep
from .prep import TrainStats, encode, single_label, train_stats

KINDS = ("wide-deep", "cnn", "rnn")
OPTIMIZERS = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop,
              "nadam": keras.optimizers.Nadam}
LOSSES = ("mse", "redef_mse", "huber", "mae")
FILES = ("model.keras", "history.csv", "metrics.json", "learning_curves.png")  # what a fit writes into out


@keras.saving.register_keras_serializable(package="dataprep")
def redef_mse(y_true, y_pred):
    """The seed's hand-written loss: the mean of squared errors (as a named, serialisable choice)."""
    return keras.ops.mean(keras.ops.square(y_pred - keras.ops.cast(y_true, y_pred.dtype)), axis=-1)


@dataclass
class FitResult:
    """What a fit wrote and measured."""

    out: Path
    model: keras.Model
    history: dict
    metrics: dict


def fit(kind: str, data: str | Path, out: str | Path, *, variant: str = "two-input",
        hidden: Sequence[int] = (100, 100, 50), activation: str = "relu", epochs: int = 100,
        batch_size: int | None = None, learning_rate: float | None = None, optimizer: str = "adam", loss: str = "mse",
        patience: int = 10, min_delta: float = 1e-4, seed: int = 0, separable: bool = False,
        dropout: Sequence[float] = (0.25, 0.5), filters: int = 32, blocks: int | None = None, dense: int = 128,
        augment: bool = False, cell: str = "gru", units: int = 64, layers: int = 2, window: int | None = None,
        verbose: bool = True, plot: bool = True, linear_baseline: bool = True, test: bool = True,
        callbacks: Sequence[keras.callbacks.Callback] = ()) -> FitResult:
    """Fit a ``wide-deep`` regression model, a ``cnn`` classifier or an ``rnn`` (GRU/LSTM: next-step
    prediction, or a label per sequence) on ``data`` and write into ``out``: ``model.keras``,
    ``history.csv``, ``metrics.json`` and ``learning_curves.png``.

    Early stopping watches the validation loss (the training loss without a ``valid`` split), keeps the
    best weights, and the learning rate halves when that loss stalls for ``patience // 3`` epochs.
    ``batch_size`` defaults to 128 for wide&deep and 32 otherwise, ``learning_rate`` to 1e-3 (CNN: 5e-4).
    The RNN uses ``cell``, ``units``, ``layers`` and the first ``dropout`` value; for next-step prediction
    ``window`` trains on overlapping windows of that many steps instead of whole sequences. ``test=False``
    leaves the test split alone (hyper-parameter search scores on ``valid``); ``callbacks`` are added to
    Keras' fit."""
    if kind not in KINDS:
        raise UsageError(f"unknown model kind {kind!r}; expected one of {', '.join(KINDS)}")
    check_out(Path(out), Path(data), FILES, "metrics.json", "train")
    batch_size = batch_size or (128 if kind == "wide-deep" else 32)
    learning_rate = learning_rate or (5e-4 if kind == "cnn" else 1e-3)
    if optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
    if epochs < 1 or batch_size < 1 or learning_rate <= 0:
        raise UsageError("epochs, batch_size and learning_rate must be positive")
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    manifest = load_manifest(data)
    schema = manifest.schema
    stats = train_stats(manifest)
    task = rnn.sequence_task(schema, stats) if kind == "rnn" else None
    label = task.label if task else single_label(schema)
    regression = kind == "wide-deep" or (task is not None and task.regression)
    center, scale = 0.0, 1.0
    if regression:
        if not label.is_numeric:
            raise SchemaError(f"label {label.name!r} is {label.dtype}: wide&deep regression needs a number")
        if loss not in LOSSES:
            raise UsageError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
        center, scale = float(stats.mean[label.name].reshape(-1)[0]), float(np.sqrt(stats.var[label.name])
                                                                          .reshape(-1)[0])
    if kind == "wide-deep":
        model = wide_deep.build_model(schema, stats, variant, hidden, activation)
    elif kind == "cnn":
        model = cnn.build_model(schema, stats, _num_classes(label, stats), filters, blocks, separable, activation,
                                dropout, dense, augment)
    else:
        model = rnn.build_model(task, stats, cell, units, layers, dropout[0] if dropout else 0.0)
    if regression:
        loss_fn: object = redef_mse if loss == "redef_mse" else loss
        metrics = {name: [keras.metrics.RootMeanSquaredError(name="rmse"), keras.metrics.MeanAbsoluteError(
            name="mae")] for name in model.output_names}
    else:
        loss_fn = "sparse_categorical_crossentropy"
        metrics = {"main": ["accuracy"]}
    outputs = list(model.output_names)
    class_ids = None if regression or label is None else _class_ids(label)
    next_step = task is not None and task.next_step
    model.compile(optimizer=OPTIMIZERS[optimizer](learning_rate=learning_rate),
                  loss={name: loss_fn for name in outputs},
                  loss_weights={"main": 0.9, "aux": 0.1} if len(outputs) > 1 else None,
                  metrics=None if next_step else metrics, weighted_metrics=metrics if next_step else None)

    def dataset(split: str, train: bool) -> tf.data.Dataset:
        inputs = [task.feature.name] if task else list(model.input.keys()) if isinstance(model.input, dict) \
            else None
        ds = make_dataset(manifest.folder, split, batch_size, shuffle=train, seed=seed,
                          num_epochs=None if train else 1, features=inputs, deterministic=True)
        if next_step and train and window:
            return rnn.windows(ds, task, window, batch_size, seed).map(rnn.next_step_batches(task)).repeat()
        if next_step:
            return ds.map(rnn.next_step_batches(task))
        if task is not None:
            return ds.map(rnn.sequence_batches(task, class_ids, center, scale))

        def targets(x, y):
            y = (tf.cast(y, tf.float32) - center) / scale if regression else class_ids(y)
            return x, {name: y for name in outputs}
        return ds.map(targets)

    splits = [s for s in manifest.splits if manifest.num_records(s)]  # empty splits are left out
    valid = dataset("valid", False) if "valid" in splits else None
    monitor = "val_loss" if valid is not None else "loss"
    steps = max(1, math.ceil(manifest.num_records("train") / batch_size))
    if next_step and window:
        steps = max(1, math.ceil(rnn.window_count(stats.steps[task.feature.name], window) / batch_size))
    callbacks = [*callbacks,
                 keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, min_delta=min_delta,
                                               restore_best_weights=True),
                 keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=max(1, patience // 3),
                                                   min_delta=min_delta),
                 _EpochLine(epochs, verbose)]
    started = time.perf_counter()
    valid_steps = math.ceil(manifest.num_records("valid") / batch_size) if valid is not None else None
    history = model.fit(dataset("train", True), validation_data=valid, epochs=epochs, steps_per_epoch=steps,
                        validation_steps=valid_steps or None,
                        callbacks=callbacks, verbose=0, shuffle=False).history  # the dataset shuffles
    seconds = time.perf_counter() - started
    result = {"model": model.name, "kind": kind, "label": label.name if label else None,
              "task": ("next_step" if next_step else "sequence") if task else None, "train_rows": stats.rows,
              "epochs_run": len(history["loss"]), "seconds": round(seconds, 2),
              "seconds_per_epoch": round(seconds / max(1, len(history["loss"])), 3)}
    for split in ("valid", "test") if test else ("valid",):
        if split in splits:
            split_steps = math.ceil(manifest.num_records(split) / batch_size)
            scores = model.evaluate(dataset(split, False), verbose=0, return_dict=True, steps=split_steps)
            result[split] = _in_label_units(scores, scale, regression)
            if next_step:
                result[split].update(rnn.next_step_scores(model, dataset(split, False), split_steps))
    if kind == "wide-deep" and linear_baseline and test and "test" in splits:
        result["linear_regression_baseline"] = _linear_baseline(manifest, model, stats, label.name)
    result["options"] = {"batch_size": batch_size, "learning_rate": learning_rate, "optimizer": optimizer,
                         "loss": loss if regression else "sparse_categorical_crossentropy", "patience": patience,
                         "min_delta": min_delta, "seed": seed, "epochs": epochs, "activation": activation,
                         **{"wide-deep": {"variant": variant, "hidden": list(hidden)},
                            "cnn": {"separable": separable, "dropout": list(dropout), "filters": filters,
                                    "blocks": blocks, "dense": dense, "augment": augment},
                            "rnn": {"cell": cell, "units": units, "layers": layers, "dropout": list(dropout)[:1],
                                    "window": window}}[kind],
                         "label_mean": center, "label_std": scale}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _inference_model(model, center, scale, regression).save(out / "model.keras")
    _write_history(out / "history.csv", history)
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    if plot:
        _plot(out / "learning_curves.png", history, "rmse" if regression else "accuracy")
    return FitResult(out, model, history, result)


def _num_classes(label, stats: TrainStats) -> int:
    if label.shape != () or not (label.dtype == "int64" or label.is_categorical):
        raise SchemaError(f"label {label.name!r}: the CNN classifier needs an int64 class id or a string label "
                          "with a vocabulary (class names)")
    return stats.label_classes[label.name]


def _class_ids(label):
    """Label values to class ids: int64 labels are ids already; class names map to their vocabulary index."""
    if not label.is_text:
        return lambda y: y
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(list(label.vocabulary)), tf.range(len(label.vocabulary), dtype=tf.int64)), default_value=-1)
    return table.lookup


def _in_label_units(scores: dict, scale: float, regression: bool) -> dict:
    """Evaluation results with regression errors converted back from standardised units."""
    out = {}
    for key, value in scores.items():
        if regression and (key.endswith("rmse") or key.endswith("mae")):
            value *= scale
        elif regression and key.endswith("loss"):
            out[f"{key}_standardised"] = round(float(value), 6)
            continue
        out[key] = round(float(value), 6)
    if regression:
        out["rmse"] = out.get("main_rmse", out.get("rmse"))
        out["mse"] = round(out["rmse"] ** 2, 6)
    return out


def _inference_model(model: keras.Model, center: float, scale: float, regression: bool) -> keras.Model:
    """The fitted model with regression outputs mapped back to the label's units."""
    if not regression:
        return model
    outputs = {name: keras.layers.Rescaling(scale, offset=center, name=f"{name}_units")(tensor)
               for name, tensor in zip(model.output_names, keras.tree.flatten(model.outputs))}
    return keras.Model(model.inputs, outputs, name=model.name)


def _linear_baseline(manifest: Manifest, model: keras.Model, stats: TrainStats, label: str) -> dict:
    """Ordinary least squares on the same split and the same inputs (numbers normalised, categoricals
    one-hot): the bar a wide&deep model has to beat."""
    from ..readers.numpy_access import iter_numpy_batches

    schema = manifest.schema
    used = [schema[name] for name in model.input.keys()]
    inputs = {f.name: model.input[f.name] for f in used}
    design = keras.Model(inputs, encode(used, inputs, stats, "wide"))

    def matrix(split: str):
        xs, ys = [], []
        for batch in iter_numpy_batches(manifest, split):
            xs.append(np.asarray(design({f.name: batch[f.name] for f in used})))
            ys.append(batch[label].astype(np.float64))
        x = np.concatenate(xs).astype(np.float64)
        return np.hstack([x, np.ones((len(x), 1))]), np.concatenate(ys)

    x_train, y_train = matrix("train")
    coef, *_ = np.linalg.lstsq(x_train, y_train, rcond=None)
    x_test, y_test = matrix("test")
    rmse = float(np.sqrt(np.mean((x_test @ coef - y_test) ** 2)))
    return {"test_rmse": round(rmse, 6), "test_mse": round(rmse ** 2, 6)}


class _EpochLine(keras.callbacks.Callback):
    """One line of progress per epoch."""

    def __init__(self, epochs: int, verbose: bool):
        super().__init__()
        self.epochs, self.verbose, self.started = epochs, verbose, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in sorted((logs or {}).items())
                              if k.endswith(("loss", "rmse", "accuracy")))
            print(f"epoch {epoch + 1:>3}/{self.epochs}  {shown}  ({time.perf_counter() - self.started:.1f}s)",
                  flush=True)


def check_out(out: Path, data: Path, files: Sequence[str], marker: str, command: str) -> None:
    """Refuse an ``out`` whose ``files`` a run would replace when it is not an earlier result of ``command``
    (its ``marker`` JSON, with the model ``kind``, is missing), and one that is, holds or lies in the converted
    folder (whose files are the manifest's)."""
    real, folder = out.resolve(), data.resolve()
    if real == folder or real in folder.parents or folder in real.parents:
        raise UsageError(f"--out {out} is, holds or lies in the data folder {data}; give a folder of its own")
    taken = [name for name in files if (out / name).exists()]
    try:
        earlier = json.loads((out / marker).read_text())
    except (OSError, ValueError):
        earlier = None
    ours = isinstance(earlier, dict) and "kind" in earlier
    if taken and not ours:
        raise UsageError(f"--out {out} holds {', '.join(taken)} but is not an earlier `dataprep {command}` "
                         "result; give another --out, dataprep never replaces files it did not write")


def _write_history(path: Path, history: dict) -> None:
    keys = sorted(history)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", *keys])
        for i in range(len(history[keys[0]]) if keys else 0):
            w.writerow([i + 1, *(history[k][i] for k in keys)])


def _plot(path: Path, history: dict, metric: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in history if not k.startswith("val_")]
    panels = [k for k in ("loss", f"main_{metric}", metric) if k in keys][:2]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, key in zip(axes[0], panels):
        epochs = range(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label="valid")
        ax.set_xlabel("epoch")
        ax.set_title(key + (" (standardised)" if metric == "rmse" else ""))
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
