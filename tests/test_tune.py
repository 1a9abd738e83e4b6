"""Hyper-parameter search end to end on the penguins sample: grid, random (resumed), genetic, parallel
processes, an interrupted trial retried; and GridSearchCV over the scikit-learn estimators."""
from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import optuna
import pytest
from click.testing import CliRunner

import dataprep
from dataprep import UsageError
from dataprep.cli import main
from dataprep.train.tuning import Param, parse_param, tune, tuning_figure
from tests.conftest import DIGITS, PENGUINS, PENGUINS_SCHEMA

FAST = dict(epochs=2, patience=2, verbose=False)


@pytest.fixture(scope="module")
def penguins(tmp_path_factory):
    out = tmp_path_factory.mktemp("tune") / "penguins"
    dataprep.convert(PENGUINS, PENGUINS_SCHEMA, out,
                     split="train=0.7,valid=0.15,test=0.15", on_error="skip", seed=1)
    return out


def rows(out: Path) -> list[dict]:
    with open(out / "trials.csv") as fh:
        return list(csv.DictReader(fh))


def test_grid_search_covers_every_combination(penguins, tmp_path):
    r = CliRunner().invoke(main, ["tune", "wide-deep", str(penguins), "--search", "grid", "--param",
                                  "learning_rate=1e-3,1e-2", "--param", "units=4,8", "--param", "hidden_layers=1",
                                  "--set", "variant=concat", "--epochs", "2", "--patience", "2",
                                  "--out", str(tmp_path / "t")])
    assert r.exit_code == 0, r.output
    assert r.output.count("valid rmse") >= 4 and "best: trial" in r.output
    got = rows(tmp_path / "t")
    assert len(got) == 4 and {(g["learning_rate"], g["units"]) for g in got} == \
        {("0.001", "4"), ("0.001", "8"), ("0.01", "4"), ("0.01", "8")}
    assert all(g["state"] == "complete" and float(g["score"]) > 0 and int(g["epochs"]) <= 2 for g in got)
    best = json.loads((tmp_path / "t" / "best.json").read_text())
    assert best["valid_score"] == min(float(g["score"]) for g in got)
    assert best["fit_options"]["variant"] == "concat" and best["fit_options"]["hidden"] in ([4], [8])
    assert best["test"]["rmse"] > 0 and best["metric"] == "valid rmse"
    assert (tmp_path / "t" / "best" / "model.keras").exists() and (tmp_path / "t" / "tuning.png").stat().st_size > 0


def mean_baseline(penguins: Path, split: str) -> float:
    """The RMSE on ``split`` of always predicting the training split's mean body mass: what any model must beat."""
    train, other = (dataprep.load_numpy(penguins, s)["body_mass_g"] for s in ("train", split))
    return float(np.sqrt(np.mean((other - train.mean()) ** 2)))


def test_random_search_resumes_without_repeating(penguins, tmp_path):
    params = ["learning_rate=1e-4..1e-1:log", "units=2..32", "activation=relu,selu"]
    assert [parse_param(p) for p in params] == [Param("learning_rate", low=1e-4, high=1e-1, log=True),
                                                Param("units", low=2, high=32, integer=True),
                                                Param("activation", choices=("relu", "selu"))]
    tune("wide-deep", penguins, tmp_path / "t", params, search="random", trials=3, **FAST)
    first = rows(tmp_path / "t")
    result = tune("wide-deep", penguins, tmp_path / "t", params, search="random", trials=5, **FAST)
    again = rows(tmp_path / "t")
    assert again[:3] == first and len(again) == 5 == len(result.trials)
    assert len({(g["learning_rate"], g["units"]) for g in again}) == 5
    assert all(1e-4 <= float(g["learning_rate"]) <= 1e-1 and 2 <= int(g["units"]) <= 32 for g in again)
    assert {g["activation"] for g in again} <= {"relu", "selu"} and all(g["state"] == "complete" for g in again)
    best = result.best
    assert best["trials_completed"] == 5 and best["valid_score"] == min(float(g["score"]) for g in again)
    assert next(g for g in again if int(g["trial"]) == best["trial"])["units"] == str(best["params"]["units"])
    assert best["fit_options"]["hidden"] == [best["params"]["units"]] * 3  # units alone keeps the depth of 3
    # the refit reproduces the best trial, and the tuned model beats predicting the mean on both held-out splits
    assert best["valid"]["rmse"] == pytest.approx(best["valid_score"], rel=1e-4)
    assert best["valid_score"] < 0.9 * mean_baseline(penguins, "valid")
    assert best["test"]["rmse"] < 0.9 * mean_baseline(penguins, "test")
    with pytest.raises(UsageError, match="other settings"):
        tune("wide-deep", penguins, tmp_path / "t", params, search="tpe", trials=5, **FAST)


def test_genetic_search_and_an_interrupted_trial(penguins, tmp_path):
    params = ["learning_rate=1e-3..1e-1:log", "units=2,4,8,16"]
    tune("wide-deep", penguins, tmp_path / "t", params, search="genetic", population=2, trials=2, **FAST)
    study = optuna.load_study(study_name="dataprep-tune", storage=f"sqlite:///{tmp_path / 't' / 'study.db'}")
    killed = study.ask({"learning_rate": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True),
                        "units": optuna.distributions.CategoricalDistribution([2, 4, 8, 16])})
    lost = killed.params  # a trial left running, as a killed search leaves it
    tune("wide-deep", penguins, tmp_path / "t", params, search="genetic", population=2, trials=5, **FAST)
    got = rows(tmp_path / "t")
    assert [g["state"] for g in got].count("fail") == 1 and [g["state"] for g in got].count("complete") == 5
    retried = got[3]  # the first trial after the resume re-runs the lost parameters
    assert retried["state"] == "complete" and float(retried["learning_rate"]) == lost["learning_rate"]


def test_parallel_trials(penguins, tmp_path):
    result = tune("wide-deep", penguins, tmp_path / "t", ["units=2,4,8,16"], search="random", trials=4, jobs=2,
                  **FAST)
    assert len(result.trials) == 4 and all(r["state"] == "complete" for r in result.trials)


def test_bad_searches(penguins, tmp_path):
    with pytest.raises(UsageError, match="grid search needs lists"):
        tune("wide-deep", penguins, tmp_path / "a", ["learning_rate=1e-3..1e-2"], search="grid", **FAST)
    with pytest.raises(UsageError, match="cannot tune momentum"):
        tune("wide-deep", penguins, tmp_path / "b", ["momentum=0.9,0.99"], **FAST)
    with pytest.raises(UsageError, match="expected NAME="):
        parse_param("learning_rate")
    with pytest.raises(UsageError, match="low < high"):
        parse_param("dropout=0.5..0.1")


def test_seed_grid_search_cv_with_a_one_line_change():
    """The seed's GridSearchCV code, with ``KerasRegressor(build_fn=build_model)`` replaced."""
    import keras
    from sklearn.model_selection import GridSearchCV

    from dataprep.train.sklearn import WideDeepRegressor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 8)).astype(np.float32)
    y = x @ rng.normal(size=8) + 0.1 * rng.normal(size=240)
    xtrain, ytrain, xvalid, yvalid = x[:180], y[:180], x[180:], y[180:]
    sklearn_model = WideDeepRegressor()
    param_distribution = {"hiddenlayer": [1, 2], "learning_rate": [1e-3, 1e-2], "layersize": [8]}
    gridsearch_cv = GridSearchCV(sklearn_model, param_distribution, n_jobs=2, cv=2)
    callbacks = [keras.callbacks.EarlyStopping(patience=5, min_delta=1e-3)]
    gridsearch_cv.fit(xtrain, ytrain, epochs=4, validation_data=(xvalid, yvalid), callbacks=callbacks)
    assert set(gridsearch_cv.best_params_) == {"hiddenlayer", "learning_rate", "layersize"}
    assert len(gridsearch_cv.cv_results_["mean_test_score"]) == 4
    best = gridsearch_cv.best_estimator_
    assert best.predict(xvalid).shape == (60,) and best.metrics_["epochs_run"] <= 4
    two = WideDeepRegressor(wide_columns="0:5", deep_columns="2:8", epochs=3).fit(xtrain, ytrain)
    assert two.metrics_["options"]["variant"] == "two-input" and np.isfinite(two.score(xvalid, yvalid))


def test_estimators_options_and_schema():
    """What the estimators hand to convert and fit, without fitting: a scalar CNN dropout (numpy's too) is used
    for both rates; the two column slices make the two inputs' features and split X the same way."""
    from dataprep.train.sklearn import CNNClassifier, WideDeepRegressor

    for rate in (0.3, np.float32(0.3)):
        assert CNNClassifier(dropout=rate)._model_options().dropout == (rate, rate)
    assert CNNClassifier(dropout=[0.1, 0.2])._model_options().dropout == (0.1, 0.2)
    x = np.arange(24, dtype=np.float32).reshape(3, 8)
    two = WideDeepRegressor(wide_columns="0:5", deep_columns="2:8")
    features = two._schema(x, x[:, 0])["features"]
    assert [(f["name"], f.get("select"), f["shape"]) for f in features] == [
        ("wide", "0:5", [5]), ("deep", "2:8", [6]), ("y", None, [])]
    inputs = two._inputs(x)
    assert (inputs["wide"] == x[:, 0:5]).all() and (inputs["deep"] == x[:, 2:8]).all()
    assert two._model_options().variant == "two-input"
    one = WideDeepRegressor(wide_columns="0:5")
    assert one._model_options().variant == "concat" and list(one._inputs(x)) == ["x"]


def test_cnn_classifier_on_digits():
    from dataprep.train.sklearn import CNNClassifier

    digits = np.load(DIGITS)
    images, labels = digits["image"], digits["label"]
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[labels]
    clf = CNNClassifier(epochs=8, filters=8, dense=16, learning_rate=3e-3).fit(images[:1200], names[:1200])
    assert list(clf.classes_) == sorted(set(names))
    assert clf.predict(images[1200:1300]).dtype.kind == "U" and clf.predict_proba(images[:5]).shape == (5, 10)
    assert clf.score(images[1200:], names[1200:]) > 0.5


def test_pruning(penguins, tmp_path):
    """Trials whose validation score falls behind the median of earlier trials stop early; they count as
    finished, show no score, and cannot be the best."""
    from dataprep.train.tuning import _EpochReport

    class Trial:
        reported: list = []

        def report(self, value, step):
            self.reported.append((step, value))

        def should_prune(self):
            return len(self.reported) >= 2

    callback = _EpochReport(Trial())
    callback.on_epoch_end(0, {"val_rmse": 2.0, "val_loss": 4.0})
    with pytest.raises(optuna.TrialPruned, match="after epoch 2"):
        callback.on_epoch_end(1, {"val_rmse": 1.5})
    assert Trial.reported == [(0, 2.0), (1, 1.5)]

    params = ["learning_rate=1e-2,3e-3,1e-7,3e-7,1e-6,2e-2,5e-3"]
    result = tune("wide-deep", penguins, tmp_path / "t", params, search="grid", epochs=8, patience=20,
                  prune=True, verbose=False)
    got = rows(tmp_path / "t")
    assert len(got) == 7 and {g["state"] for g in got} <= {"complete", "pruned"}
    for g in got:
        assert (g["score"] == "") == (g["state"] == "pruned") and int(g["epochs"]) <= 8
    # the first five trials are never pruned (n_startup_trials); of the last two, a hopeless rate stops early
    pruned = [g for g in got if g["state"] == "pruned"]
    assert pruned and all(int(g["trial"]) > 5 and float(g["learning_rate"]) <= 1e-6 and int(g["epochs"]) < 8
                          for g in pruned), got
    best = next(g for g in got if int(g["trial"]) == result.best["trial"])
    assert best["state"] == "complete" and float(best["learning_rate"]) >= 3e-3
    assert result.best["valid_score"] < 0.6 * mean_baseline(penguins, "valid")


@pytest.mark.parametrize("spec", ["learning_rate=1.5e-3..9e-3:log", "dropout=0.05..0.5:log",
                                  "learning_rate=1e-5..1e-1:log"])
def test_the_log_axis_labels_of_tuning_png_do_not_overlap(spec):
    """A log range within a decade got a label at every minor tick (2x10^-3, 3x10^-3, ... drawn over each
    other); every label shown in range now has room of its own."""
    import matplotlib.pyplot as plt

    p = parse_param(spec)
    rows = [{"trial": i, "score": 1 / (i + 1), p.name: p.low + i * (p.high - p.low) / 9} for i in range(10)]
    fig = tuning_figure(rows, [p, p, p], "rmse")  # three parameters: the width each axis has in a real search
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[1]
    lo, hi = ax.get_xlim()
    shown = [t for t in ax.get_xticklabels() + ax.get_xticklabels(minor=True)
             if t.get_visible() and t.get_text() and lo <= t.get_position()[0] <= hi]
    boxes = [t.get_window_extent(renderer) for t in shown]
    plt.close(fig)
    assert len(shown) >= 3 and not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2)), \
        [t.get_text() for t in shown]
