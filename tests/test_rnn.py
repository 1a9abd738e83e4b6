"""The RNN trainer: next-step prediction on int sequences and a label per sequence, end to end from
SequenceExample shards, with the same outputs as the other trainers."""
from __future__ import annotations

import json

import keras
import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

import dataprep
from dataprep import SchemaError
from dataprep.cli import main
from dataprep.train import fit


def _convert(tmp_path, columns: dict, features: list, name: str = "seq"):
    out = tmp_path / name
    dataprep.convert(pa.table(columns), {"record": "sequence_example", "features": features}, out,
                     split="train=0.7,valid=0.15,test=0.15", seed=0)
    return out


@pytest.fixture
def counting(tmp_path):
    """Two voices that count up by one (mod 7) from a random start: the next step is fully predictable from
    the current one, and repeating the current one is always wrong."""
    rng = np.random.default_rng(0)
    seqs = []
    for _ in range(240):
        start, n = rng.integers(0, 7, 2), rng.integers(4, 16)
        seqs.append(((start[None, :] + np.arange(n)[:, None]) % 7).tolist())
    return _convert(tmp_path, {"voices": pa.array(seqs, pa.list_(pa.list_(pa.int64(), 2)))},
                    [{"name": "voices", "dtype": "int64", "shape": [None, 2]}])


@pytest.mark.parametrize("window", [None, 6], ids=["whole-sequences", "windows"])
def test_next_step_learns_and_beats_repeating(counting, tmp_path, window):
    r = CliRunner().invoke(main, ["train", "rnn", str(counting), "--out", str(tmp_path / "run"), "--epochs", "25",
                                  "--units", "32", "--layers", "1", "--learning-rate", "0.01", "--batch-size",
                                  "16", "--dropout", "0", "--quiet"] + (["--window", str(window)] if window else []))
    assert r.exit_code == 0, r.output
    assert "repeating the previous step: 0.0000" in r.output
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["task"] == "next_step" and m["options"]["cell"] == "gru" and m["options"]["window"] == window
    test = m["test"]
    assert test["repeat_previous_element_accuracy"] == 0.0
    assert test["model_element_accuracy"] > 0.9 and test["model_step_accuracy"] > 0.8
    assert test["accuracy"] == pytest.approx(test["model_element_accuracy"], abs=1e-4)
    for name in ("model.keras", "history.csv", "learning_curves.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    guess = model.predict({"voices": np.array([[[0, 3], [1, 4], [2, 5]]])}, verbose=0)["main"].argmax(-1)
    assert guess[0, -1].tolist() == [3, 6]


@pytest.mark.parametrize("label_dtype", ["int64", "float32"])
def test_label_per_sequence(tmp_path, label_dtype):
    """Sequences of numbers, labelled by whether their mean is positive (or by the mean itself): the
    recurrent layers see real steps only (a length mask), the padding does not change the result."""
    rng = np.random.default_rng(1)
    seqs, labels = [], []
    for _ in range(300):
        shift = rng.normal(0, 1)
        x = rng.normal(shift, 0.3, rng.integers(3, 20))
        seqs.append(x.astype(np.float32).tolist())
        labels.append(int(x.mean() > 0) if label_dtype == "int64" else float(x.mean()))
    out = _convert(tmp_path, {"x": pa.array(seqs, pa.list_(pa.float32())), "y": labels},
                   [{"name": "x", "dtype": "float32", "shape": [None]},
                    {"name": "y", "dtype": label_dtype, "shape": [], "role": "label"}])
    result = fit("rnn", out, tmp_path / "run", epochs=30, batch_size=16, learning_rate=5e-3, units=16,
                 layers=1, dropout=(0.0,), verbose=False, plot=False, cell="lstm")
    test = result.metrics["test"]
    if label_dtype == "int64":
        assert result.metrics["task"] == "sequence" and test["accuracy"] > 0.85
    else:
        assert test["rmse"] < 0.35 * np.std(labels)
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    x = np.array([[0.5, 0.7, 0.0, 0.0], [0.5, 0.7, 99.0, -99.0]], np.float32)  # same real steps, other padding
    p = model.predict({"x": x, "length": np.array([2, 2])}, verbose=0)["main"]
    assert np.allclose(p[0], p[1], atol=1e-5)


def test_schemas_the_rnn_cannot_fit(tmp_path):
    out = _convert(tmp_path, {"x": pa.array([[0.5, 1.0]] * 20, pa.list_(pa.float32()))},
                   [{"name": "x", "dtype": "float32", "shape": [None]}])
    with pytest.raises(SchemaError, match="next-step prediction needs int64 steps"):
        fit("rnn", out, tmp_path / "run", epochs=1, verbose=False)
    flat = tmp_path / "flat"
    dataprep.convert({"a": np.arange(10.0), "b": np.arange(10.0)}, {"features": [
        {"name": "a", "dtype": "float32", "shape": []}, {"name": "b", "dtype": "float32", "shape": [],
                                                          "role": "label"}]}, flat)
    with pytest.raises(SchemaError, match="exactly one numeric input feature of shape"):
        fit("rnn", flat, tmp_path / "run2", epochs=1, verbose=False)
