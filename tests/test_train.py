"""Trainers: every model variant builds from a schema; short fits write their outputs; seeds repeat."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

import dataprep
from dataprep import SchemaError
from dataprep.cli import main
from dataprep.train import (
    CNNOptions,
    FitResult,
    RNNOptions,
    RunOptions,
    TrainOptions,
    WideDeepOptions,
    cnn,
    fit,
    wide_deep,
)
from dataprep.train.fitting import FILES
from dataprep.train.options import ResolvedTrainOptions, fit_options
from dataprep.train.prep import train_stats
from tests.conftest import DIGITS, DIGITS_SCHEMA, PENGUINS, PENGUINS_SCHEMA, run_cli

TABLE = {"features": [
    {"name": "a", "dtype": "float32", "shape": [], "group": "wide"},
    {"name": "b", "dtype": "float32", "shape": [2], "group": "deep", "normalize": "log"},
    {"name": "c", "dtype": "string", "shape": [], "vocabulary": ["x", "y"], "group": "both"},
    {"name": "k", "dtype": "int64", "shape": [], "group": "deep", "normalize": "minmax"},
    {"name": "y", "dtype": "float32", "shape": [], "role": "label"}]}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 400
    a, b = rng.standard_normal(n), rng.uniform(0, 100, (n, 2))
    c = np.where(rng.random(n) < 0.5, "x", "y")
    k = rng.integers(0, 10, n)
    y = 3 * a + np.log1p(b[:, 0]) + (c == "x") * 2 + 0.1 * rng.standard_normal(n)
    out = tmp_path_factory.mktemp("train") / "table"
    dataprep.convert({"a": a, "b": b, "c": c, "k": k, "y": y * 1000}, TABLE, out,
                     split="train=0.7,valid=0.15,test=0.15")
    return out


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "digits"
    dataprep.convert(DIGITS, DIGITS_SCHEMA, out,
                     split="train=0.8,valid=0.1,test=0.1", seed=1)
    return out


@pytest.mark.parametrize("variant, outputs", [("concat", ["main"]), ("two-input", ["main"]),
                                              ("multi-output", ["main", "aux"])])
def test_wide_deep_variants_build(table, variant, outputs):
    m = dataprep.load_manifest(table)
    model = wide_deep.build_model(m.schema, train_stats(m), WideDeepOptions(variant=variant, hidden=(8, 4)))
    assert sorted(model.output_names) == sorted(outputs)
    assert sorted(model.input.keys()) == ["a", "b", "c", "k"]
    assert model.count_params() > 0


@pytest.mark.parametrize("separable, activation", [(False, "relu"), (True, "relu"), (False, "selu")])
def test_cnn_variants_build(digits, separable, activation):
    m = dataprep.load_manifest(digits)
    model = cnn.build_model(m.schema, train_stats(m), 10, CNNOptions(filters=8, separable=separable,
                                                                     activation=activation))
    layers = [type(layer).__name__ for layer in model.layers]
    assert ("SeparableConv2D" if separable else "Conv2D") in layers and "BatchNormalization" in layers
    assert layers.count("Dropout") == 2 and model.get_layer("main").output.shape == (None, 10)
    assert layers.index("BatchNormalization") < layers.index("Activation")


def test_vocabulary_from_training_statistics(tmp_path):
    """`vocabulary: from_stats` keeps conversion open and takes the training split's values, by frequency."""
    rng = np.random.default_rng(0)
    n = 300
    city = np.array(["paris", "lyon", "nice"])[rng.integers(0, 3, n)]
    city[:5] = "rare"  # only in the first rows
    schema = {"features": [{"name": "city", "dtype": "string", "shape": [], "vocabulary": "from_stats",
                            "group": "both"},
                           {"name": "a", "dtype": "float32", "shape": [], "group": "deep"},
                           {"name": "y", "dtype": "float32", "shape": [], "role": "label"}]}
    assert dataprep.Schema.from_dict(schema).to_dict()["features"][0]["vocabulary"] == "from_stats"
    dataprep.convert({"city": city, "a": rng.standard_normal(n), "y": rng.standard_normal(n)}, schema,
                     tmp_path / "o", split="train=0.8,valid=0.1,test=0.1", shuffle=False)
    m = dataprep.load_manifest(tmp_path / "o")
    stats = train_stats(m)
    train = dataprep.load_numpy(tmp_path / "o", "train")["city"]
    values, counts = np.unique(train.astype(str), return_counts=True)
    assert set(stats.vocabulary["city"]) == set(values) and stats.vocabulary["city"][0] == values[counts.argmax()]
    result = fit("wide-deep", tmp_path / "o", tmp_path / "run", hidden=(8,), epochs=2, verbose=False)
    assert result.model.get_layer("wide_city_onehot").vocabulary_size() == len(values) + 1


def test_two_input_needs_both_sides(tmp_path):
    """A schema naming groups must fill both sides; with no group at all every feature goes to both."""
    dataprep.convert({"a": np.zeros(10), "y": np.zeros(10)},
                     {"features": [{"name": "a", "dtype": "float32", "shape": [], "group": "wide"},
                                   {"name": "y", "dtype": "float32", "shape": [], "role": "label"}]},
                     tmp_path / "o")
    m = dataprep.load_manifest(tmp_path / "o")
    with pytest.raises(SchemaError, match="group 'wide' and 'deep'"):
        wide_deep.build_model(m.schema, train_stats(m), WideDeepOptions(variant="two-input"))
    ungrouped = m.schema.with_features([replace(f, group=None) for f in m.schema])
    model = wide_deep.build_model(ungrouped, train_stats(m), WideDeepOptions(variant="two-input"))
    normalised = sorted(layer.name for layer in model.layers if layer.name.endswith("_norm"))
    assert normalised == ["deep_a_norm", "wide_a_norm"]
    with pytest.raises(SchemaError, match="shape \\[height, width, channels\\]"):
        cnn.build_model(m.schema, train_stats(m), 2)


def test_wide_deep_fit_writes_outputs_and_repeats(table, tmp_path):
    kw = dict(variant="multi-output", hidden=(16, 8), epochs=4, seed=3, verbose=False, loss="redef_mse")
    first = fit("wide-deep", table, tmp_path / "run1", **kw)
    second = fit("wide-deep", table, tmp_path / "run2", **kw)
    for name in ("model.keras", "history.csv", "metrics.json", "learning_curves.png"):
        assert (tmp_path / "run1" / name).stat().st_size > 0
    metrics = json.loads((tmp_path / "run1" / "metrics.json").read_text())
    assert {"test", "valid", "linear_regression_baseline", "options", "seconds_per_epoch"} <= set(metrics)
    assert metrics["test"]["rmse"] == pytest.approx(metrics["test"]["main_rmse"]) and metrics["options"]["loss"] \
        == "redef_mse"
    assert first.metrics["test"] == second.metrics["test"]  # same seed, same result
    lines = (tmp_path / "run1" / "history.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,") and len(lines) == 1 + metrics["epochs_run"]
    # the saved model predicts in the label's units
    model = keras.models.load_model(tmp_path / "run1" / "model.keras")
    batch = dataprep.load_numpy(table, "test")
    pred = model.predict({k: tf.constant(batch[k]) for k in ("a", "b", "c", "k")}, verbose=0)["main"].reshape(-1)
    rmse = float(np.sqrt(np.mean((pred - batch["y"]) ** 2)))
    assert rmse == pytest.approx(metrics["test"]["rmse"], rel=1e-3)


def test_cnn_fit_and_cli(digits, tmp_path):
    r = CliRunner().invoke(main, ["train", "cnn", str(digits), "--epochs", "2", "--filters", "8", "--out",
                                  str(tmp_path / "cnn"), "--json"])
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.stdout)
    assert metrics["options"]["dropout"] == [0.25, 0.5] and metrics["epochs_run"] == 2
    # two epochs already learn digits: far above the majority class (about 0.1 of the test split)
    labels = dataprep.load_numpy(digits, "test")["label"]
    majority = np.unique(labels, return_counts=True)[1].max() / len(labels)
    assert metrics["test"]["accuracy"] > max(0.4, 3 * majority), (metrics["test"], majority)
    assert 0 < metrics["majority_class_baseline"]["test_accuracy"] <= majority  # the training split's majority
    assert metrics["options"]["batch_size"] == CNNOptions.BATCH_SIZE and metrics["options"]["filters"] == 8
    assert (tmp_path / "cnn" / "learning_curves.png").exists()
    r = CliRunner().invoke(main, ["train", "wide-deep", str(digits), "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "Error:" in r.output


def test_keywords_set_fields_of_the_option_objects():
    """fit()'s keywords are the fields of its option objects: the two spellings give the same options."""
    by_keyword = fit_options("cnn", epochs=3, filters=8, dropout=[0.1, 0.2], verbose=False, cell="lstm")
    assert by_keyword == (CNNOptions(filters=8, dropout=(0.1, 0.2)), TrainOptions(epochs=3), RunOptions(verbose=False))
    assert fit_options("rnn", RNNOptions(units=8), dropout=(0.0,))[0] == RNNOptions(units=8, dropout=0.0)
    assert TrainOptions().for_model(CNNOptions()) == ResolvedTrainOptions(batch_size=32, learning_rate=5e-4)
    assert TrainOptions(batch_size=8).for_model(RNNOptions()).to_dict() == TrainOptions(8, 1e-3).to_dict()
    with pytest.raises(TypeError, match="momentum"):
        fit_options("wide-deep", momentum=0.9)
    with pytest.raises(dataprep.UsageError, match="not the options of a rnn model"):
        fit_options("rnn", CNNOptions())


def test_the_summary_shows_the_scores_and_the_baselines(tmp_path):
    metrics = {"model": "wide_deep_concat", "epochs_run": 3, "seconds": 1.5, "seconds_per_epoch": 0.5,
               "test": {"rmse": 2.0, "mae": 1.25, "loss_standardised": 0.3}, "valid": {"rmse": 2.5},
               "linear_regression_baseline": {"test_rmse": 3.5, "test_mse": 12.25, "valid_rmse": 3.0}}
    assert FitResult(tmp_path, None, {}, metrics).summary().splitlines() == [
        "wide_deep_concat: 3 epochs in 1.5 s (0.5 s/epoch); test rmse 2.0000, mae 1.2500",
        "linear regression on the same split: test rmse 3.5000 (valid 3.0000, the model's 2.5000)",
        f"wrote {tmp_path}/model.keras, history.csv, metrics.json, learning_curves.png"]
    classes = {"model": "wide_deep_two_input", "epochs_run": 2, "seconds": 1.0, "seconds_per_epoch": 0.5,
               "test": {"accuracy": 0.9, "log_loss": 0.25}, "left_out": {"note": "free text"},
               "majority_class_baseline": {"test_accuracy": 0.4, "test_log_loss": 1.05},
               "logistic_regression_baseline": {"test_accuracy": 0.8, "test_log_loss": 0.5}}
    assert FitResult(tmp_path, None, {}, classes).summary().splitlines()[:4] == [
        "wide_deep_two_input: 2 epochs in 1.0 s (0.5 s/epoch); test accuracy 0.9000, log_loss 0.2500",
        "the majority class on the same split: test accuracy 0.4000, log_loss 1.0500",
        "logistic regression on the same split: test accuracy 0.8000, log_loss 0.5000",
        "left out of the model inputs: note (free text)"]


def _classes_csv(path, n: int = 240) -> None:
    """Three classes told apart by a number and a categorical, beside an id and free text a model cannot use."""
    rng = np.random.default_rng(0)
    label = rng.integers(0, 3, n)
    rows = ["id,size,colour,note,kind"]
    for i, c in enumerate(label):
        colour = ["red", "green", "blue"][c] if rng.random() < 0.7 else "grey"
        rows.append(f"{i},{c * 2 + rng.standard_normal():.3f},{colour},seen on day {i},{['low', 'mid', 'high'][c]}")
    path.write_text("\n".join(rows) + "\n")


def test_inferred_schema_to_a_classifier_that_beats_its_baselines(tmp_path):
    """schema infer -> convert -> train wide-deep with no edit: the string label is classified, the id and the
    free text are left out with their reasons, and the model beats the majority class."""
    _classes_csv(tmp_path / "in.csv")
    dataprep.infer_schema(tmp_path / "in.csv", label="kind").save(tmp_path / "schema.yaml")
    dataprep.convert(tmp_path / "in.csv", tmp_path / "schema.yaml", tmp_path / "o",
                     split="train=0.7,valid=0.15,test=0.15")
    result = fit("wide-deep", tmp_path / "o", tmp_path / "run", hidden=(16,), epochs=8, class_weights=True,
                 verbose=False, plot=False)
    m = result.metrics
    assert m["task"] == "classification" and result.model.get_layer("main").output.shape == (None, 3)
    assert set(m["left_out"]) == {"id", "note"} and "no group" in m["left_out"]["id"]  # infer gave it none
    assert {"accuracy", "log_loss"} <= set(m["test"]) and m["options"]["class_weights"] is True
    majority, logistic = m["majority_class_baseline"], m["logistic_regression_baseline"]
    assert m["test"]["accuracy"] > majority["test_accuracy"] + 0.2, m
    assert logistic["test_accuracy"] > majority["test_accuracy"] + 0.2 and logistic["test_log_loss"] < math.log(3)
    assert "logistic regression on the same split: test accuracy" in result.summary()


def test_an_int64_label_with_few_values_is_classified_unless_told(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(120)
    data = {"x": x, "y": (x > 0).astype(np.int64) + 2}  # classes 2 and 3
    schema = dataprep.infer_schema(data, label="y")
    dataprep.convert(data, schema, tmp_path / "o", split="train=0.8,valid=0.1,test=0.1")
    classified = fit("wide-deep", tmp_path / "o", tmp_path / "c", hidden=(4,), epochs=1, verbose=False, plot=False)
    assert classified.metrics["task"] == "classification" and classified.model.get_layer("main").output.shape == (
        None, 4)  # ids 0..3, as the CNN's class ids
    regressed = fit("wide-deep", tmp_path / "o", tmp_path / "r", hidden=(4,), epochs=1, task="regression",
                    verbose=False, plot=False)
    assert regressed.metrics["task"] == "regression" and "linear_regression_baseline" in regressed.metrics


def test_the_tape_loop_reaches_the_validation_loss_of_keras_fit(tmp_path):
    """The GradientTape loop on the bundled penguins: the same epochs (early stopping, learning-rate halving) and
    validation losses as Keras' fit, and the same files."""
    dataprep.convert(PENGUINS, PENGUINS_SCHEMA, tmp_path / "p", split="train=0.8,valid=0.1,test=0.1",
                     on_error="skip", seed=42)
    kw = dict(hidden=(16, 8), epochs=20, patience=3, learning_rate=0.05, seed=1, verbose=False, linear_baseline=False)
    keras_fit = fit("wide-deep", tmp_path / "p", tmp_path / "keras", **kw)
    tape = fit("wide-deep", tmp_path / "p", tmp_path / "tape", loop="tape", **kw)
    assert sorted(tape.history) == sorted(keras_fit.history) and "val_rmse" in tape.history
    rates = tape.history["learning_rate"]
    assert rates == keras_fit.history["learning_rate"] and rates[-1] < rates[0]  # halved on a plateau
    assert len(tape.history["loss"]) == len(keras_fit.history["loss"]) < 20  # stopped early
    np.testing.assert_allclose(tape.history["val_loss"], keras_fit.history["val_loss"], rtol=1e-3)
    best = min(tape.history["val_loss"])  # the best weights are restored
    assert best < tape.history["val_loss"][-1] and tape.metrics["valid"]["loss_standardised"] == pytest.approx(
        best, abs=1e-6)
    assert tape.metrics["test"]["rmse"] == pytest.approx(keras_fit.metrics["test"]["rmse"], rel=1e-3)
    assert tape.metrics["options"]["loop"] == "tape"
    assert sorted(p.name for p in (tmp_path / "tape").iterdir()) == sorted(FILES)


def test_the_cli_checks_the_schema_before_tensorflow_loads(tmp_path):
    dataprep.convert({"a": np.zeros(10), "y": np.array(["u", "v"] * 5)},
                     {"features": [{"name": "a", "dtype": "float32", "shape": []},
                                   {"name": "y", "dtype": "string", "shape": [], "role": "label"}]}, tmp_path / "o")
    hide = "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None"  # importing them fails
    r = run_cli("train", "wide-deep", str(tmp_path / "o"), "--out", str(tmp_path / "run"), prelude=hide)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "Error: label 'y': a string label needs a listed vocabulary (its class names)"], r.stderr


def test_the_tutorial_dense_layer_matches_keras_dense():
    """Given Keras Dense's weights, the tutorial code's hand-written layer gives the same outputs, and it
    survives a save and load by its registered name."""
    from dataprep.train.layers import TutorialDense

    x = np.random.default_rng(0).standard_normal((6, 5)).astype("float32")
    reference, custom = keras.layers.Dense(3, activation="tanh"), TutorialDense(3, activation="tanh")
    reference(x), custom(x)
    custom.set_weights(reference.get_weights())
    np.testing.assert_array_equal(custom(x).numpy(), reference(x).numpy())
    again = keras.layers.deserialize(keras.layers.serialize(custom))
    assert isinstance(again, TutorialDense) and again.get_config() == custom.get_config()


def test_wide_deep_with_the_tutorial_dense_layer_fits_and_loads(table, tmp_path):
    """`--dense custom`: the tower is built from the tutorial's layer, a short fit runs and the saved model loads
    and predicts as the fitted one."""
    r = CliRunner().invoke(main, ["train", "wide-deep", str(table), "--out", str(tmp_path / "run"), "--dense",
                                  "custom", "--hidden", "8,4", "--epochs", "2", "--quiet"])
    assert r.exit_code == 0, r.output
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    assert [type(model.get_layer(f"hidden{i}")).__name__ for i in (1, 2)] == ["TutorialDense"] * 2
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["options"]["dense"] == "custom"
    m = dataprep.load_manifest(table)
    same_with_keras = wide_deep.build_model(m.schema, train_stats(m), WideDeepOptions(hidden=(8, 4)))
    assert same_with_keras.count_params() == model.count_params()
    batch = {k: tf.constant(v[:8]) for k, v in dataprep.load_numpy(table, "test").items() if k != "y"}
    assert np.isfinite(model.predict(batch, verbose=0)["main"]).all()
