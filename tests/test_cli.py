"""The CLI is a thin layer: help on everything, summaries, --json, one-line errors with exit codes."""
from __future__ import annotations

import json
import os

import click
import pytest

from dataprep.cli import main
from tests.conftest import DIGITS, DIGITS_SCHEMA, PENGUINS, ROOT, run_cli


def _commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, prefix + (name,))


def test_every_command_and_option_has_help(runner):
    """Every command, group and option (the top-level ones too) says what it does, and --help runs."""
    for path, cmd in [((), main), *_commands(main)]:
        assert cmd.help, path
        for param in cmd.params:
            if isinstance(param, click.Option):
                assert param.help, (path, param.name)
        assert runner.invoke(main, [*path, "--help"]).exit_code == 0


def test_training_options_show_the_library_defaults_and_choices():
    """The train and tune commands take their defaults and choices from the option dataclasses."""
    from dataprep.train.options import (
        KINDS,
        SEARCHES,
        VARIANTS,
        CNNOptions,
        RNNOptions,
        SearchOptions,
        TrainOptions,
        WideDeepOptions,
        defaults,
    )

    def default(param: click.Parameter):
        if getattr(param, "is_flag", False):
            return False  # a flag is off unless given
        if getattr(param, "multiple", False):
            return []  # a repeatable option: none unless given
        return None if param.default is None else param.type.convert(param.default, param, None)

    commands = dict(_commands(main))
    for name, cls in (("wide-deep", WideDeepOptions), ("cnn", CNNOptions), ("rnn", RNNOptions)):
        params = {p.name: p for p in commands[("train", name)].params}
        for field, value in {**defaults(TrainOptions), **defaults(cls)}.items():
            if field in params and field not in ("batch_size", "learning_rate"):
                assert default(params[field]) == (list(value) if isinstance(value, tuple) else value), (name, field)
        assert f"default: {cls.BATCH_SIZE})" in params["batch_size"].help
    tune = {p.name: p for p in commands[("tune",)].params}
    assert all(default(tune[k]) == v for k, v in defaults(SearchOptions).items())
    assert tuple(tune["kind"].type.choices) == KINDS and tuple(tune["search"].type.choices) == SEARCHES
    assert tuple({p.name: p for p in commands[("train", "wide-deep")].params}["variant"].type.choices) == VARIANTS


def test_infer_then_convert(runner, tmp_path):
    schema = tmp_path / "p.yaml"
    r = runner.invoke(main, ["schema", "infer", str(PENGUINS), "--label", "body_mass_g",
                             "-o", str(schema)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    r = runner.invoke(main, ["convert", str(PENGUINS), "--schema", str(schema), "--out",
                             str(out), "--split", "train=0.8,valid=0.2", "--on-error", "skip", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["rows_read"] == 344 and summary["rows_set_aside"] == 2
    assert summary["splits"]["train"] + summary["splits"]["valid"] == 342
    r = runner.invoke(main, ["convert", str(DIGITS), "--schema",
                             str(DIGITS_SCHEMA), "--out", str(tmp_path / "d"), "--num-shards", "2"])
    assert r.exit_code == 0 and "Converted 1,797 rows into 2 tfrecord shard(s)" in r.stdout


@pytest.mark.parametrize("args, code, message", [
    (["convert", "sample_data/penguins.csv", "--schema", "schemas/penguins.yaml", "--out", "{tmp}/o"], 1,
     "Error: sample_data/penguins.csv, line 5 (row 4), column 'body_mass_g': missing value"),
    (["convert", "nope.csv", "--schema", "schemas/penguins.yaml", "--out", "{tmp}/o"], 2,
     "Error: Invalid value for 'SOURCE...': Path 'nope.csv' does not exist."),
    (["convert", "sample_data/penguins.csv", "--schema", "nope.yaml", "--out", "{tmp}/o"], 2,
     "Error: Invalid value for '--schema': File 'nope.yaml' does not exist."),
    (["convert", "sample_data/penguins.csv", "--schema", "schemas/penguins.yaml", "--out", "{tmp}/o",
      "--split", "train=0.5"], 2, "Error: split ratios sum to 0.5"),
    (["convert", "sample_data/penguins.csv", "--schema", "schemas/penguins.yaml", "--out", "{tmp}/o",
      "--format", "xml"], 2, "Invalid value for '--format'"),
])
def test_errors_are_one_line_with_exit_codes(runner, tmp_path, monkeypatch, args, code, message):
    monkeypatch.chdir(ROOT)
    r = runner.invoke(main, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.exit_code == code, r.output
    assert message in r.output
    assert "Traceback" not in r.output


def test_debug_shows_the_traceback(tmp_path):
    """The same failure through the real entry point (a fresh interpreter, so nothing catches what the CLI lets
    out): one line without --debug, the traceback down to the library's raise with it; the exit code is the same."""
    args = ["convert", "sample_data/penguins.csv", "--schema", "schemas/penguins.yaml", "--out", str(tmp_path / "o")]
    message = "sample_data/penguins.csv, line 5 (row 4), column 'body_mass_g': missing value"
    plain = run_cli(*args)
    assert plain.returncode == 1, plain.stderr
    assert plain.stderr.startswith(f"Error: {message}") and plain.stderr.count("\n") == 1, plain.stderr
    debug = run_cli("--debug", *args)
    assert debug.returncode == 1, debug.stderr
    assert debug.stderr.startswith("Traceback (most recent call last):\n") and "\nError: " not in debug.stderr
    assert f"{os.sep}dataprep{os.sep}" in debug.stderr, debug.stderr  # the library's frames are shown
    assert debug.stderr.splitlines()[-1].startswith(f"dataprep.errors.DataError: {message}"), debug.stderr
    assert not (tmp_path / "o").exists()
