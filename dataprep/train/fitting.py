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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..errors import DataError, SchemaError, UsageError
from ..manifest import Manifest, load_manifest
from ..model_inputs import InputPlan, label_task, single_label
from ..readers.dataset import make_dataset
from ..schema import Feature, Schema
from . import cnn, rnn, wide_deep
from .options import (
    LOOPS,
    LOSSES,
    OPTIMIZERS,
    CNNOptions,
    ModelOptions,
    ResolvedTrainOptions,
    RNNOptions,
    RunOptions,
    TrainOptions,
    WideDeepOptions,
    fit_options,
)
from .preflight import check
from .prep import TrainStats, as_model_input, class_counts, encode, train_stats

OPTIMIZER_CLASSES = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
                     "rmsprop": keras.optimizers.RMSprop, "nadam": keras.optimizers.Nadam}  # options.OPTIMIZERS
FILES = ("model.keras", "history.csv", "metrics.json", "learning_curves.png")  # what a fit writes into out


@keras.saving.register_keras_serializable(package="dataprep")
def redef_mse(y_true, y_pred):
    """The seed's hand-written loss: the mean of squared errors (as a named, serialisable choice)."""
    return keras.ops.mean(keras.ops.square(y_pred - keras.ops.cast(y_true, y_pred.dtype)), axis=-1)


@dataclass
class FitResult:
    """What a fit wrote and measured (``metrics`` is ``metrics.json``)."""

    out: Path
    model: keras.Model
    history: dict
    metrics: dict

    def summary(self) -> str:
        """The lines ``dataprep train`` prints: epochs and time, the test scores, the baselines, the files."""
        m = self.metrics
        test = m.get("test", {})
        shown = ", ".join(f"{k} {v:,.4f}" for k, v in test.items() if k in ("rmse", "mae", "accuracy", "log_loss"))
        lines = [(f"{m['model']}: {m['epochs_run']} epochs in {m['seconds']} s ({m['seconds_per_epoch']} s/epoch); "
                  f"test {shown or 'n/a'}")]
        if "model_element_accuracy" in test:
            lines.append(f"next step, test: accuracy per element {test['model_element_accuracy']:.4f} (repeating the "
                         f"previous step: {test['repeat_previous_element_accuracy']:.4f}), per whole step "
                         f"{test['model_step_accuracy']:.4f} (repeating: {test['repeat_previous_step_accuracy']:.4f})")
        if "linear_regression_baseline" in m:
            linear = m["linear_regression_baseline"]
            lines.append(f"linear regression on the same split: test rmse {linear['test_rmse']:,.4f}"
                         + (f" (valid {linear['valid_rmse']:,.4f}, the model's {m['valid']['rmse']:,.4f})"
                            if "valid_rmse" in linear and "valid" in m else ""))
        for key, name in (("majority_class_baseline", "the majority class"),
                          ("logistic_regression_baseline", "logistic regression")):
            if key in m:
                lines.append(f"{name} on the same split: test accuracy {m[key]['test_accuracy']:.4f}, "
                             f"log_loss {m[key]['test_log_loss']:.4f}")
        if m.get("left_out"):
            lines.append(InputPlan((), (), m["left_out"]).line())
        lines.append(f"wrote {self.out}/{', '.join(FILES)}")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Task:
    """What the schema asks a fit to learn: the label, regression or classes, and the RNN's sequence task."""

    label: Feature | None
    regression: bool
    sequence: rnn.SequenceTask | None
    center: float = 0.0  # regression labels are standardised with these while fitting
    scale: float = 1.0
    classes: int = 0  # of a classification with a label

    @property
    def name(self) -> str:
        """What metrics.json calls it: regression, classification, next_step or sequence."""
        if self.sequence is not None:
            return "next_step" if self.next_step else "sequence"
        return "regression" if self.regression else "classification"

    @property
    def next_step(self) -> bool:
        return self.sequence is not None and self.sequence.next_step

    @property
    def known_label(self) -> Feature:
        """The label, for the tasks that have one (all but next-step prediction)."""
        if self.label is None:
            raise SchemaError("next-step prediction has no label")
        return self.label

    @property
    def known_sequence(self) -> rnn.SequenceTask:
        """The RNN's sequence task (only RNN fits have one)."""
        if self.sequence is None:
            raise SchemaError("only the RNN trainer fits a sequence feature")
        return self.sequence


def fit(kind: str, data: str | Path, out: str | Path, model: ModelOptions | None = None,
        train: TrainOptions | None = None, run: RunOptions | None = None, **keywords: Any) -> FitResult:
    """Fit a ``wide-deep`` model (regression, or classification of a label with classes), a ``cnn``
    classifier or an ``rnn`` (GRU/LSTM: next-step prediction, or a label per sequence) on ``data`` and write
    into ``out``: ``model.keras``, ``history.csv``, ``metrics.json`` and ``learning_curves.png``.

    ``model`` (the kind's :class:`~.options.WideDeepOptions`, :class:`~.options.CNNOptions` or
    :class:`~.options.RNNOptions`), ``train`` (:class:`~.options.TrainOptions`) and ``run``
    (:class:`~.options.RunOptions`) default to their documented defaults; ``keywords`` set single fields of
    any of them (``fit("cnn", data, out, epochs=5, filters=16)``). A sequence of ``dropout`` rates gives the
    RNN its first."""
    model_options, train, run = fit_options(kind, model, train, run, **keywords)
    check_out(Path(out), Path(data), FILES, "metrics.json", "train")
    train = train.for_model(model_options)
    if train.optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {train.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
    if train.epochs < 1 or train.batch_size < 1 or train.learning_rate <= 0:
        raise UsageError("epochs, batch_size and learning_rate must be positive")
    if train.loop not in LOOPS:
        raise UsageError(f"unknown training loop {train.loop!r}; expected one of {', '.join(LOOPS)}")
    manifest = load_manifest(data)
    plan = check(manifest.schema, model_options)
    keras.utils.set_random_seed(train.seed)
    tf.config.experimental.enable_op_determinism()
    stats = train_stats(manifest)
    task = _task(kind, manifest.schema, stats, train, model_options)
    if run.verbose and plan is not None and plan.left_out:
        print(plan.line(), flush=True)
    net = _build(model_options, manifest.schema, stats, task)
    _compile(net, task, train)
    splits = [s for s in manifest.splits if manifest.num_records(s)]  # empty splits are left out
    batches = _Batches(manifest, net, task, train, model_options, stats)
    valid = batches("valid", False) if "valid" in splits else None
    started = time.perf_counter()
    loop = tape_fit if train.loop == "tape" else _keras_fit
    history = loop(net, batches("train", True), valid, train.epochs, batches.train_steps(stats),
                   batches.steps("valid") if valid is not None else None,
                   _callbacks(train, run, "val_loss" if valid is not None else "loss"))
    seconds = time.perf_counter() - started
    result = {"model": net.name, "kind": kind, "label": task.label.name if task.label else None,
              "task": task.name, "train_rows": stats.rows, "epochs_run": len(history["loss"]),
              "seconds": round(seconds, 2), "seconds_per_epoch": round(seconds / max(1, len(history["loss"])), 3)}
    if plan is not None:
        result["left_out"] = plan.left_out
    for split in ("valid", "test") if run.test else ("valid",):
        if split in splits:
            result[split] = _evaluate(net, batches, split, task)
    if run.linear_baseline and run.test and "test" in splits and (kind == "wide-deep" or task.classes):
        result.update(_baselines(manifest, net, stats, task, linear=kind == "wide-deep"))
    recorded = replace(train, loss=train.loss if task.regression else "sparse_categorical_crossentropy")
    result["options"] = {**recorded.to_dict(), **model_options.to_dict(), "label_mean": task.center,
                         "label_std": task.scale}
    _write(Path(out), net, history, result, task, run)
    return FitResult(Path(out), net, history, result)


def _task(kind: str, schema: Schema, stats: TrainStats, train: TrainOptions, options: ModelOptions) -> _Task:
    """The label and task of ``kind`` on ``schema``, with the label's moments for a regression."""
    sequence = rnn.sequence_task(schema, stats) if kind == "rnn" else None
    if sequence is None:
        label = single_label(schema)
    elif sequence.label is None:  # next step: the steps are the classes
        return _Task(None, False, sequence)
    else:
        label = sequence.label
    if isinstance(options, WideDeepOptions):
        regression = _wide_deep_task(label, stats, options.task) == "regression"
    else:
        regression = sequence is not None and sequence.regression
    if not regression:
        classes = _num_classes(label, stats) if sequence is None else 0
        return _Task(label, False, sequence, classes=classes)
    if train.loss not in LOSSES:
        raise UsageError(f"unknown loss {train.loss!r}; expected one of {', '.join(LOSSES)}")
    return _Task(label, True, sequence, float(stats.mean[label.name].reshape(-1)[0]),
                 float(np.sqrt(stats.var[label.name]).reshape(-1)[0]))


def _wide_deep_task(label: Feature, stats: TrainStats, requested: str | None) -> str:
    """``regression`` or ``classification``: an int64 label not settled by the schema or ``requested`` is a
    class id when the training split holds few distinct values, none negative."""
    task = label_task(label, requested)
    seen = stats.label_counts.get(label.name)
    if task is None:
        task = "classification" if seen and min(seen) >= 0 else "regression"
    if task == "classification" and label.dtype == "int64" and seen and min(seen) < 0:
        raise SchemaError(f"label {label.name!r} holds {min(seen)}: class ids start at 0")
    return task


def _build(options: ModelOptions, schema: Schema, stats: TrainStats, task: _Task) -> keras.Model:
    if isinstance(options, WideDeepOptions):
        return wide_deep.build_model(schema, stats, options, task.classes)
    if isinstance(options, CNNOptions):
        return cnn.build_model(schema, stats, task.classes, options)
    return rnn.build_model(task.known_sequence, stats, options)


def _compile(model: keras.Model, task: _Task, train: ResolvedTrainOptions) -> None:
    """Losses and metrics per output: RMSE and MAE for a regression, accuracy for classes (weighted by the
    real steps for next-step prediction); an auxiliary output's loss weighs a tenth."""
    if task.regression:
        loss: object = redef_mse if train.loss == "redef_mse" else train.loss
        metrics = {name: [keras.metrics.RootMeanSquaredError(name="rmse"), keras.metrics.MeanAbsoluteError(
            name="mae")] for name in model.output_names}
    else:
        loss = "sparse_categorical_crossentropy"
        metrics = {"main": ["accuracy"]}
    outputs = list(model.output_names)
    model.compile(optimizer=OPTIMIZER_CLASSES[train.optimizer](learning_rate=train.learning_rate),
                  loss={name: loss for name in outputs},
                  loss_weights={"main": 0.9, "aux": 0.1} if len(outputs) > 1 else None,
                  metrics=None if task.next_step else metrics, weighted_metrics=metrics if task.next_step else None)


class _Batches:
    """The readers' datasets of a fit, mapped to the model's inputs and targets."""

    def __init__(self, manifest: Manifest, model: keras.Model, task: _Task, train: ResolvedTrainOptions,
                 options: ModelOptions, stats: TrainStats):
        self.manifest, self.task, self.train = manifest, task, train
        self.class_weights = None  # training records of class c weigh n / (classes * count of c)
        if isinstance(options, WideDeepOptions) and options.class_weights:
            if task.regression:
                raise UsageError("class weights are for classification; this label is regressed")
            counts = class_counts(task.known_label, stats, task.classes)
            self.class_weights = tf.constant(stats.rows / (task.classes * np.maximum(counts, 1)), tf.float32)
        self.window = options.window if isinstance(options, RNNOptions) and task.next_step else None
        self.outputs = list(model.output_names)
        self.inputs = [task.sequence.feature.name] if task.sequence else list(model.input.keys()) \
            if isinstance(model.input, dict) else None
        self.class_ids = _class_ids(task.label)

    def __call__(self, split: str, train: bool) -> tf.data.Dataset:
        task, batch_size, seed = self.task, self.train.batch_size, self.train.seed
        ds = make_dataset(self.manifest.folder, split, batch_size, shuffle=train, seed=seed,
                          num_epochs=None if train else 1, features=self.inputs, deterministic=True)
        if train and self.window:
            return rnn.windows(ds, task.known_sequence, self.window, batch_size, seed).map(
                rnn.next_step_batches(task.known_sequence)).repeat()
        if task.next_step:
            return ds.map(rnn.next_step_batches(task.known_sequence))
        if task.sequence is not None:
            return ds.map(rnn.sequence_batches(task.sequence, self.class_ids, task.center, task.scale))

        def targets(x, y):
            y = (tf.cast(y, tf.float32) - task.center) / task.scale if task.regression else self.class_ids(y)
            if train and self.class_weights is not None:
                w = tf.gather(self.class_weights, y)
                return x, {name: y for name in self.outputs}, {name: w for name in self.outputs}
            return x, {name: y for name in self.outputs}
        return ds.map(targets)

    def steps(self, split: str) -> int:
        return math.ceil(self.manifest.num_records(split) / self.train.batch_size)

    def train_steps(self, stats: TrainStats) -> int:
        """Steps per epoch: one pass over the training records (or, with windows, over their windows)."""
        if self.window:
            windows = rnn.window_count(stats.steps[self.task.known_sequence.feature.name], self.window)
            return max(1, math.ceil(windows / self.train.batch_size))
        return max(1, self.steps("train"))


def _keras_fit(net: keras.Model, train: tf.data.Dataset, valid: tf.data.Dataset | None, epochs: int, steps: int,
               valid_steps: int | None, callbacks: list) -> dict:
    """Keras' own ``fit``; the history of every logged value per epoch."""
    return net.fit(train, validation_data=valid, epochs=epochs, steps_per_epoch=steps, validation_steps=valid_steps,
                   callbacks=callbacks, verbose=0, shuffle=False).history  # the dataset shuffles


def tape_fit(net: keras.Model, train: tf.data.Dataset, valid: tf.data.Dataset | None, epochs: int, steps: int,
             valid_steps: int | None, callbacks: list) -> dict:
    """The tutorial's custom training loop, as :func:`_keras_fit` takes it: a ``tf.GradientTape`` step under
    ``tf.function`` whose gradients the optimizer applies, the metrics reset each epoch and the valid split
    scored after it, and the same Keras callbacks driven by hand, so early stopping, the best weights and the
    learning-rate halving act as in ``fit``. The loss and metrics are the compiled ones (the same names)."""
    mean_loss = keras.metrics.Mean(name="loss")
    net.optimizer.build(net.trainable_variables)

    def batch_size(x) -> tf.Tensor:
        return tf.shape(keras.tree.flatten(x)[0])[0]

    @tf.function
    def train_step(data):
        x, y, w = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            pred = net(x, training=True)
            loss = net.compute_loss(x, y, pred, w, training=True)
        gradients = tape.gradient(loss, net.trainable_variables)
        net.optimizer.apply_gradients(zip(gradients, net.trainable_variables))
        mean_loss.update_state(loss, sample_weight=batch_size(x))
        net.compute_metrics(x, y, pred, w)

    @tf.function
    def test_step(data):
        x, y, w = keras.utils.unpack_x_y_sample_weight(data)
        pred = net(x, training=False)
        mean_loss.update_state(net.compute_loss(x, y, pred, w, training=False), sample_weight=batch_size(x))
        net.compute_metrics(x, y, pred, w)

    def scores() -> dict:
        logs = {k: float(v) for k, v in net.get_metrics_result().items()}
        logs["loss"] = float(mean_loss.result())
        net.reset_metrics()
        mean_loss.reset_state()
        return logs

    calls = keras.callbacks.CallbackList(callbacks, add_history=True, model=net)  # fit's History, last
    net.stop_training = False
    batches = iter(train)  # endless: each epoch takes the next ``steps`` batches, as fit does
    calls.on_train_begin()
    for epoch in range(epochs):
        calls.on_epoch_begin(epoch)
        for _ in range(steps):
            train_step(next(batches))
        logs = scores()
        if valid is not None:
            for data in valid.take(valid_steps or -1):
                test_step(data)
            logs.update({f"val_{k}": v for k, v in scores().items()})
        calls.on_epoch_end(epoch, logs)
        if net.stop_training:
            break
    calls.on_train_end()
    return net.history.history


def _callbacks(train: ResolvedTrainOptions, run: RunOptions, monitor: str) -> list:
    return [*run.callbacks,
            keras.callbacks.EarlyStopping(monitor=monitor, patience=train.patience, min_delta=train.min_delta,
                                          restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=max(1, train.patience // 3),
                                              min_delta=train.min_delta),
            _EpochLine(train.epochs, run.verbose)]


def _evaluate(model: keras.Model, batches: _Batches, split: str, task: _Task) -> dict:
    """Scores on ``split`` in the label's units (next step: with the repeat-the-previous-step baseline)."""
    steps = batches.steps(split)
    scores = _in_label_units(model.evaluate(batches(split, False), verbose=0, return_dict=True, steps=steps),
                             task.scale, task.regression)
    if task.classes:  # the cross-entropy of the main output
        scores["log_loss"] = scores.get("main_loss", scores["loss"])
        scores["accuracy"] = scores.get("main_accuracy", scores.get("accuracy"))
    if task.next_step:
        scores.update(rnn.next_step_scores(model, batches(split, False), steps))
    return scores


def _write(out: Path, model: keras.Model, history: dict, result: dict, task: _Task, run: RunOptions) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _inference_model(model, task.center, task.scale, task.regression).save(out / "model.keras")
    _write_history(out / "history.csv", history)
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    if run.plot:
        _plot(out / "learning_curves.png", history, "rmse" if task.regression else "accuracy")


def _num_classes(label: Feature, stats: TrainStats) -> int:
    if label.shape != () or not (label.dtype == "int64" or label.is_categorical):
        raise SchemaError(f"label {label.name!r}: a classifier needs an int64 class id or a string label "
                          "with a vocabulary (class names)")
    return stats.label_classes[label.name]


def _class_ids(label: Feature | None) -> Callable:
    """Label values to class ids: int64 labels are ids already; class names map to their vocabulary index
    (numbers, and no label, pass through)."""
    if label is None or not label.is_text:
        return lambda y: y
    if label.vocabulary is None:
        raise SchemaError(f"label {label.name!r}: string labels need a vocabulary (their class names)")
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
        out["rmse"] = out["main_rmse"] if "main_rmse" in out else out["rmse"]
        out["mse"] = round(out["rmse"] ** 2, 6)
    return out


def _inference_model(model: keras.Model, center: float, scale: float, regression: bool) -> keras.Model:
    """The fitted model with regression outputs mapped back to the label's units."""
    if not regression:
        return model
    outputs = {name: keras.layers.Rescaling(scale, offset=center, name=f"{name}_units")(tensor)
               for name, tensor in zip(model.output_names, keras.tree.flatten(model.outputs))}
    return keras.Model(model.inputs, outputs, name=model.name)


def _baselines(manifest: Manifest, model: keras.Model, stats: TrainStats, task: _Task, linear: bool) -> dict:
    """The bars a model has to beat, fitted on the training split and scored on the test split: for a
    classification the majority class (predicting the training frequencies); with ``linear`` (wide&deep), on
    the model's inputs (numbers normalised, categoricals one-hot), ordinary least squares for a regression and a
    logistic regression for a classification."""
    from ..readers.numpy_access import iter_numpy_batches

    schema, label = manifest.schema, task.known_label
    used = [schema[name] for name in model.input.keys()] if linear else []
    inputs = {f.name: model.input[f.name] for f in used}
    design = keras.Model(inputs, encode(used, inputs, stats, "wide")) if linear else None
    class_ids = {v: i for i, v in enumerate(label.vocabulary or ())}

    def matrix(split: str) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for batch in iter_numpy_batches(manifest, split):
            if design is not None:
                xs.append(np.asarray(design({f.name: as_model_input(f, batch[f.name]) for f in used})))
            y = batch[label.name]
            ys.append(np.array([class_ids.get(v.decode("utf-8"), -1) for v in y]) if label.is_text else y)
        y = np.concatenate(ys)
        if not task.regression and len(y) and (y.min() < 0 or y.max() >= task.classes):
            raise DataError(f"{manifest.folder}: split {split!r}, label {label.name!r}: a value outside the "
                            f"{task.classes} classes of the training split")
        x = np.concatenate(xs).astype(np.float64) if xs else np.zeros((len(y), 0))
        return np.hstack([x, np.ones((len(x), 1))]), y

    x_test, y_test = matrix("test")
    result = {}
    if not task.regression:
        prior = class_counts(label, stats, task.classes) / stats.rows
        result = {"majority_class_baseline": _class_scores(np.tile(prior, (len(y_test), 1)), y_test)}
    if not linear:
        return result
    x_train, y_train = matrix("train")
    if task.regression:
        coef, *_ = np.linalg.lstsq(x_train, y_train.astype(np.float64), rcond=None)
        rmse = float(np.sqrt(np.mean((x_test @ coef - y_test) ** 2)))
        scores = {"test_rmse": round(rmse, 6), "test_mse": round(rmse ** 2, 6)}
        if "valid" in manifest.splits and manifest.num_records("valid"):  # small splits disagree: says how much
            x_valid, y_valid = matrix("valid")
            scores["valid_rmse"] = round(float(np.sqrt(np.mean((x_valid @ coef - y_valid) ** 2))), 6)
        return {"linear_regression_baseline": scores}
    logistic = _softmax(x_test @ _logistic_regression(x_train, y_train.astype(np.int64), task.classes))
    return {**result, "logistic_regression_baseline": _class_scores(logistic, y_test)}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _logistic_regression(x: np.ndarray, y: np.ndarray, classes: int, l2: float = 1e-4,
                         iterations: int = 500) -> np.ndarray:
    """Multinomial logistic regression (a small L2 penalty keeps separable classes finite), fitted by
    accelerated gradient descent with the step that its Lipschitz bound guarantees converges."""
    n = len(x)
    target = np.eye(classes)[y]
    step = 1.0 / (0.5 * np.linalg.norm(x, 2) ** 2 / n + l2)
    w = v = np.zeros((x.shape[1], classes))
    t = 1.0
    for _ in range(iterations):
        gradient = x.T @ (_softmax(x @ v) - target) / n + l2 * v
        w_next = v - step * gradient
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        v, w, t = w_next + (t - 1) / t_next * (w_next - w), w_next, t_next
    return w


def _class_scores(probabilities: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy and log-loss (probabilities clipped as Keras clips them) of predictions for class ids ``y``."""
    p = np.clip(probabilities[np.arange(len(y)), y], 1e-7, 1.0)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == y))
    return {"test_accuracy": round(accuracy, 6), "test_log_loss": round(float(-np.mean(np.log(p))), 6)}


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
