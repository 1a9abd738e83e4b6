"""``tune``: hyper-parameter search over the trainers, with optuna's samplers and a resumable study.

Every trial is one :func:`dataprep.train.fit` (the same readers, early stopping and model code as
``dataprep train``) scored on the validation split; the test split is used once, to re-evaluate the best
configuration. Searches: ``grid`` (every combination of the listed values), ``random``, ``genetic``
(NSGA-II: a population evolved by crossover and mutation) and ``tpe`` (model-based). The study lives in
``OUT/study.db`` (SQLite), so a search that was interrupted continues where it stopped when run again;
trials run in up to ``jobs`` processes that share it.
"""
from __future__ import annotations

import csv
import fcntl
import json
import math
import multiprocessing
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

import keras

from ..errors import UsageError
from ..schema import FLOAT_DTYPES
from .options import KINDS, MODEL_OPTIONS, SEARCHES, RunOptions, SearchOptions, TrainOptions

STUDY = "dataprep-tune"
FILES = ("study.db", "trials.csv", "best.json", "tuning.png", "trials", "best")  # what a search writes into out
# fit() options a search may set (every model option, and the training options but the search's own epochs and
# seed), and the conveniences below
TUNABLE = tuple(dict.fromkeys(f.name for cls in (TrainOptions, *MODEL_OPTIONS.values()) for f in fields(cls)
                              if f.name not in ("epochs", "seed")))
ALIASES = {"hiddenlayer": "hidden_layers", "layersize": "units", "n_hidden": "hidden_layers",
           "n_neurons": "units"}  # the seed's names


@dataclass(frozen=True)
class Param:
    """One searched parameter: a list of choices, or a range ``low..high`` (``log`` scale, ``integer``)."""

    name: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    def suggest(self, trial) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.low is None or self.high is None:
            raise UsageError(f"--param {self.name}: give a list of values or a range LOW..HIGH")
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)


def parse_param(text: str) -> Param:
    """``name=1,2,3`` (choices: numbers or words), ``name=1e-4..1e-1:log`` or ``name=0..0.5`` (ranges; both
    ends integers: an integer range)."""
    name, eq, spec = text.partition("=")
    name = ALIASES.get(name.strip(), name.strip())
    if not eq or not re.fullmatch(r"[a-z_]+", name) or not spec.strip():
        raise UsageError(f"--param {text!r}: expected NAME=V1,V2,... or NAME=LOW..HIGH[:log]")
    spec = spec.strip()
    log = spec.endswith(":log")
    if log:
        spec = spec[:-4]
    if ".." in spec:
        low_text, _, high_text = spec.partition("..")
        try:
            low, high = float(low_text), float(high_text)
        except ValueError:
            raise UsageError(f"--param {text!r}: range ends must be numbers") from None
        if not low < high or (log and low <= 0):
            raise UsageError(f"--param {text!r}: need low < high (and low > 0 on a log scale)")
        integer = _is_int(low_text) and _is_int(high_text)
        return Param(name, low=low, high=high, log=log, integer=integer)
    if log:
        raise UsageError(f"--param {text!r}: ':log' applies to ranges LOW..HIGH")
    return Param(name, choices=tuple(_value(v.strip()) for v in spec.split(",") if v.strip()))


def _grid(params: Sequence[Param]) -> dict[str, list]:
    """The values a grid search combines, by parameter (each must list its choices)."""
    ranges = [p.name for p in params if p.choices is None]
    if ranges:
        raise UsageError("grid search needs lists of values (NAME=V1,V2,...), not ranges")
    return {p.name: list(p.choices) for p in params if p.choices is not None}


def _is_int(text: str) -> bool:
    return re.fullmatch(r"\s*-?\d+\s*", text) is not None


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def fit_keywords(kind: str, values: dict) -> dict:
    """Searched values as :func:`fit` keyword arguments: ``hidden_layers`` and ``units`` make wide&deep's
    ``hidden`` (``units`` alone keeps the default depth of 3); a scalar ``dropout`` is used for every
    dropout of the CNN."""
    values = {ALIASES.get(k, k): v for k, v in values.items()}
    out: dict[str, Any] = {}
    if kind == "wide-deep" and ("hidden_layers" in values or "units" in values):
        out["hidden"] = [int(values.pop("units", 100))] * int(values.pop("hidden_layers", 3))
    if "dropout" in values and not isinstance(values["dropout"], (list, tuple)):
        d = float(values.pop("dropout"))
        out["dropout"] = (d, d) if kind == "cnn" else (d,)
    unknown = sorted(set(values) - set(TUNABLE))
    if unknown:
        raise UsageError(f"cannot tune {', '.join(unknown)}; tunable: {', '.join(TUNABLE + ('hidden_layers',))}")
    return {**values, **out}


@dataclass
class TuneResult:
    """Where a search wrote, its ``best.json`` and the rows of ``trials.csv``."""

    out: Path
    best: dict
    trials: list[dict]

    def summary(self) -> str:
        """The line ``dataprep tune`` prints when done."""
        return f"wrote {self.out}/trials.csv, best.json, tuning.png and best/ ({len(self.trials)} trials)"


def tune(kind: str, data: str | Path, out: str | Path, params: Sequence[Param | str],
         options: SearchOptions | None = None, *, fixed: dict | None = None, verbose: bool = True,
         **keywords: Any) -> TuneResult:
    """Search ``params`` for ``kind`` on ``data``; writes ``OUT/trials.csv``, ``OUT/best.json``,
    ``OUT/tuning.png``, the study (``OUT/study.db``) and the best configuration refitted in ``OUT/best``.

    ``options`` (:class:`~.options.SearchOptions`; ``keywords`` set single fields of it): ``trials`` is the
    number of finished trials wanted; a re-run continues the study in ``out`` (same search and parameters)
    until that many are done. ``prune`` stops a trial early when its validation score after an epoch is worse
    than the median of earlier trials at that epoch (optuna's MedianPruner, after 5 trials and 5 epochs);
    pruned trials count as finished. ``fixed`` sets fit options for every trial."""
    from ..manifest import load_manifest
    from .fitting import check_out

    o = replace(options or SearchOptions(), **keywords)
    search, trials, population, jobs = o.search, o.trials, o.population, o.jobs
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise UsageError("dataprep tune needs optuna: pip install 'dataprep[tune]'") from None
    if kind not in KINDS:
        raise UsageError(f"unknown model kind {kind!r}; expected one of {', '.join(KINDS)}")
    if search not in SEARCHES:
        raise UsageError(f"unknown search {search!r}; expected one of {', '.join(SEARCHES)}")
    check_out(Path(out), Path(data), FILES, "tune.json", "tune")
    searched = [parse_param(p) if isinstance(p, str) else p for p in params]
    if not searched:
        raise UsageError("give at least one --param to search")
    fit_keywords(kind, {p.name: p.choices[0] if p.choices else p.low for p in searched})  # names are tunable
    grid = _grid(searched) if search == "grid" else None
    manifest = load_manifest(data)
    if "valid" not in manifest.splits or not manifest.num_records("valid"):
        raise UsageError(f"{data}: tuning scores trials on a 'valid' split; convert with --split "
                         "train=...,valid=...,test=...")
    grid_size = math.prod(len(values) for values in grid.values()) if grid is not None else None
    trials = trials or grid_size or 20
    if jobs < 1 or trials < 1 or population < 2:
        raise UsageError("jobs and trials must be positive and population at least 2")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = {"kind": kind, "data": str(Path(data).resolve()), "search": search, "epochs": o.epochs,
              "patience": o.patience, "seed": o.seed, "population": population, "fixed": fixed or {},
              "prune": o.prune, "params": [p.__dict__ for p in searched]}
    with _locked(out):
        _check_same_study(out, config)
        study = _study(out, config)
        _retry_interrupted(study)
        done = _completed(study)
        todo = max(0, min(trials, grid_size or trials) - done)
        if verbose and done:
            print(f"resuming: {done} trial(s) already finished, {todo} to run", flush=True)
        if todo:
            jobs = min(jobs, todo, os.cpu_count() or 1)
            shares = [todo // jobs + (i < todo % jobs) for i in range(jobs)]
            if jobs == 1:
                _run_trials(out, config, shares[0], trials, verbose, 1, done)
            else:
                context = multiprocessing.get_context("spawn")
                with context.Pool(jobs) as pool:
                    pool.starmap(_run_trials, [(out, config, share, trials, verbose, jobs, done + i)
                                               for i, share in enumerate(shares)])
        study = _study(out, config)
        rows = _write_trials(out / "trials.csv", study, searched)
        best = _refit_best(out, config, study, verbose)
        _plot(out / "tuning.png", rows, searched, best["metric"])
    return TuneResult(out, best, rows)


def _study(out: Path, config: dict, stream: int = 0):
    """The study in ``out``; ``stream`` picks the sampler's random stream (one per worker and resumption, so
    a resumed or parallel search does not draw the values of its first trials again)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search, seed = config["search"], config["seed"] + 7919 * stream
    params = [Param(**p) for p in config["params"]]
    sampler: optuna.samplers.BaseSampler
    if search == "grid":
        sampler = optuna.samplers.GridSampler(_grid(params), seed=seed)
    elif search == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    elif search == "genetic":
        sampler = optuna.samplers.NSGAIISampler(population_size=config["population"], seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
    minimize = _metric(config["kind"], config["data"])[1] == "minimize"
    direction: Literal["minimize", "maximize"] = "minimize" if minimize else "maximize"
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5) if config["prune"] else \
        optuna.pruners.NopPruner()
    return optuna.create_study(storage=f"sqlite:///{out / 'study.db'}", study_name=STUDY, sampler=sampler,
                               pruner=pruner, direction=direction, load_if_exists=True)


def _metric(kind: str, data: str) -> tuple[str, str]:
    """The validation metric a trial is scored by, and its direction."""
    from ..manifest import load_manifest

    schema = load_manifest(data).schema
    if kind == "wide-deep":
        return "rmse", "minimize"
    if kind == "cnn":
        return "accuracy", "maximize"
    labels = schema.labels
    if not labels:
        return "model_element_accuracy", "maximize"
    return ("rmse", "minimize") if labels[0].dtype in FLOAT_DTYPES else ("accuracy", "maximize")


def _run_trials(out: Path, config: dict, count: int, total: int, verbose: bool, jobs: int, stream: int) -> None:
    """Run ``count`` trials of the study (in this process, or in one of ``jobs`` worker processes) with the
    sampler's random stream ``stream``."""
    import tensorflow as tf

    if jobs > 1:  # share the cores between the worker processes
        tf.config.threading.set_intra_op_parallelism_threads(max(1, (os.cpu_count() or 1) // jobs))
        tf.config.threading.set_inter_op_parallelism_threads(max(1, (os.cpu_count() or 1) // jobs))
    from .fitting import fit

    study = _study(out, config, stream)
    params = [Param(**p) for p in config["params"]]
    metric, _ = _metric(config["kind"], config["data"])

    def objective(trial) -> float:
        values = {p.name: p.suggest(trial) for p in params}
        started = time.perf_counter()
        run = RunOptions(verbose=False, plot=False, linear_baseline=False, test=False, callbacks=[_EpochReport(trial)])
        result = fit(config["kind"], config["data"], out / "trials" / f"{trial.number:04d}", train=_train(config),
                     run=run, **{**fit_keywords(config["kind"], config["fixed"]),
                                 **fit_keywords(config["kind"], values)})
        trial.set_user_attr("epochs", result.metrics["epochs_run"])
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))
        trial.set_user_attr("valid", result.metrics["valid"])
        return float(result.metrics["valid"][metric])

    def progress(study, trial) -> None:
        if not verbose:
            return
        shown = "  ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        score = f"valid {metric} {trial.value:.4f}" if trial.state.name == "COMPLETE" else \
            f"pruned after epoch {trial.last_step + 1}" if trial.state.name == "PRUNED" else trial.state.name.lower()
        finished = _completed(study)
        try:
            best = f"(best {study.best_value:.4f})"
        except ValueError:
            best = ""
        print(f"trial {trial.number + 1:>3} ({finished}/{total} done)  {score} {best}  {shown}  "
              f"{trial.user_attrs.get('seconds', _seconds(trial)) or 0:.1f} s", flush=True)

    study.optimize(objective, n_trials=count, callbacks=[progress])


def _train(config: dict) -> TrainOptions:
    """The training options every fit of a search shares (what a trial sets overrides them)."""
    return TrainOptions(epochs=config["epochs"], patience=config["patience"], seed=config["seed"])


def _completed(study) -> int:
    """Trials that finished: completed or pruned (failed ones are not counted)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


class _EpochReport(keras.callbacks.Callback):
    """Gives the trial its validation score after every epoch, so the pruner can stop it (the Keras metric
    in the search's direction: RMSE for regression, accuracy otherwise)."""

    def __init__(self, trial):
        super().__init__()
        self.trial = trial

    def on_epoch_end(self, epoch, logs=None):
        import optuna

        logs = logs or {}
        key = next((k for k in ("val_main_rmse", "val_rmse", "val_main_accuracy", "val_accuracy") if k in logs),
                   None)
        if key is None:
            return
        self.trial.report(float(logs[key]), epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}")


def _retry_interrupted(study) -> None:
    """Trials left running by an interrupted search (no other search holds the lock) are marked failed and
    their parameters queued again, so the resumed search runs them first. (Optuna's own mechanism,
    heartbeats, only notices a dead trial after a grace period; the lock makes it certain at once.)"""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        if t.params:
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})


def _write_trials(path: Path, study, params: list[Param]) -> list[dict]:
    rows = []
    for t in study.trials:
        rows.append({"trial": t.number + 1, "state": t.state.name.lower(),
                     **{p.name: t.params.get(p.name) for p in params},
                     "score": t.value if t.state.name == "COMPLETE" else None,
                     "epochs": t.user_attrs.get("epochs", None if t.last_step is None else t.last_step + 1),
                     "seconds": t.user_attrs.get("seconds", _seconds(t))})
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["trial"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _refit_best(out: Path, config: dict, study, verbose: bool) -> dict:
    """Fit the best trial's configuration again (same seed: the same model) and evaluate it on test."""
    from .fitting import fit

    metric, direction = _metric(config["kind"], config["data"])
    trial = study.best_trial
    options = {**fit_keywords(config["kind"], config["fixed"]), **fit_keywords(config["kind"], trial.params)}
    shutil.rmtree(out / "best", ignore_errors=True)  # an earlier refit of this study's (its folder is ours)
    result = fit(config["kind"], config["data"], out / "best", train=_train(config), run=RunOptions(verbose=False),
                 **options)
    best = {"search": config["search"], "metric": f"valid {metric}", "direction": direction,
            "trial": trial.number + 1, "valid_score": trial.value, "params": trial.params,
            "fit_options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
            "valid": result.metrics.get("valid"), "test": result.metrics.get("test"),
            "trials_completed": _completed(study), "model": str(out / "best")}
    (out / "best.json").write_text(json.dumps(best, indent=2) + "\n")
    if verbose:
        print(f"best: trial {best['trial']}, valid {metric} {trial.value:.4f}, "
              f"test {metric} {result.metrics['test'].get(metric, float('nan')):.4f}  {trial.params}", flush=True)
    return best


def _plot(path: Path, rows: list[dict], params: list[Param], metric: str) -> None:
    """:func:`tuning_figure` saved as a PNG at ``path``."""
    import matplotlib.pyplot as plt

    fig = tuning_figure(rows, params, metric)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def tuning_figure(rows: list[dict], params: list[Param], metric: str):
    """Score against trial (with the best so far) and against each parameter. A log-scale range gets four
    labelled ticks spread over it (matplotlib's own labels every minor tick of a range within a decade, and
    they overlap)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["score"] is not None]
    fig, axes = plt.subplots(1, 1 + len(params), figsize=(4 * (1 + len(params)), 3.2), squeeze=False)
    ax = axes[0][0]
    scores = [r["score"] for r in done]
    ax.plot([r["trial"] for r in done], scores, "o", label="trial")
    if scores:
        better = min if "rmse" in metric else max
        ax.plot([r["trial"] for r in done], [better(scores[:i + 1]) for i in range(len(scores))], "-",
                label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.legend(fontsize=7)
    for ax, p in zip(axes[0][1:], params):
        xs = [r[p.name] for r in done]
        if p.choices is not None and not all(isinstance(x, (int, float)) for x in xs):
            labels = [str(c) for c in p.choices]
            xs = [labels.index(str(x)) for x in xs]
            ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.plot(xs, [r["score"] for r in done], "o")
        if p.log:
            _log_ticks(ax, p)
        ax.set_xlabel(p.name)
    fig.tight_layout()
    return fig


def _log_ticks(ax, p: Param) -> None:
    """A log x axis with labels only at four points spread evenly (in log) over the searched range."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    low, high = float(p.low or 0), float(p.high or 0)  # a log range has both (parse_param)
    ticks = [low * (high / low) ** (i / 3) for i in range(4)]
    ax.set_xticks(ticks, [f"{t:.2g}" for t in ticks], fontsize=7)
    ax.xaxis.set_minor_formatter(NullFormatter())


def _check_same_study(out: Path, config: dict) -> None:
    """A study folder belongs to one search: resuming with other settings would mix incomparable trials."""
    path = out / "tune.json"
    if path.exists():
        before = json.loads(path.read_text())
        if before != json.loads(json.dumps(config)):
            changed = sorted(k for k in config if before.get(k) != json.loads(json.dumps(config))[k])
            raise UsageError(f"{out} holds a search with other settings ({', '.join(changed)}); use another --out")
    else:
        path.write_text(json.dumps(config, indent=2) + "\n")


class _locked:
    """An exclusive lock on the study folder for the whole search."""

    def __init__(self, out: Path):
        self.path = out / ".lock"

    def __enter__(self):
        self.fh = open(self.path, "w")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            raise UsageError(f"another search is running in {self.path.parent}") from None
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def _seconds(trial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return round((trial.datetime_complete - trial.datetime_start).total_seconds(), 2)


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)
