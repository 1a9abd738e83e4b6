"""Statistics equal pandas' describe() and exact value counts; quantiles stay bounded in memory."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import dataprep
import dataprep.feature_stats as stats
from dataprep.cli import main
from tests.conftest import PENGUINS, PENGUINS_SCHEMA, SCHEMAS, needs_shared, shared

HOUSING = shared("california_housing.csv")


def assert_describe(got: dict, df: pd.DataFrame) -> None:
    desc = df.describe()
    for c in desc.columns:
        s = got[c]
        assert s["count"] == desc[c]["count"] and s["missing"] == df[c].isna().sum(), c
        for key in ("mean", "std"):
            assert s[key] == pytest.approx(desc[c][key], rel=1e-12), (c, key)
        for key in ("min", "25%", "50%", "75%", "max"):
            assert s[key] == desc[c][key], (c, key)
    for c in df.columns.difference(desc.columns):
        assert got[c]["vocabulary"] == df[c].value_counts().to_dict(), c


def test_penguins_equal_pandas_describe():
    report = stats.source_stats(PENGUINS).to_dict()["splits"]["input"]
    assert_describe(report, pd.read_csv(PENGUINS))


@needs_shared(HOUSING.name)
def test_housing_equal_pandas_describe():
    report = stats.source_stats(HOUSING).to_dict()["splits"]["input"]
    assert_describe(report, pd.read_csv(HOUSING))


def test_large_inputs_keep_a_bounded_sample(monkeypatch):
    monkeypatch.setattr(stats, "SAMPLE", 2000)
    monkeypatch.setattr(stats, "BLOCK", 1000)
    x = np.random.default_rng(0).standard_normal(50_000)
    acc = stats.NumericStats(rng=np.random.default_rng(1))
    for part in np.array_split(x, 17):
        acc.update(part)
    d = acc.to_dict()
    assert len(acc.sample) == 2000 and not d["quantiles_exact"]
    assert d["mean"] == pytest.approx(x.mean(), rel=1e-9) and d["std"] == pytest.approx(x.std(ddof=1), rel=1e-9)
    assert abs(d["50%"] - np.median(x)) < 0.1 and d["min"] == x.min() and d["max"] == x.max()


def test_folder_stats_per_split_and_cli(tmp_path):
    out = tmp_path / "o"
    dataprep.convert(PENGUINS, PENGUINS_SCHEMA, out,
                     split="train=0.8,test=0.2", on_error="skip")
    r = CliRunner().invoke(main, ["stats", str(out), "--plot", str(tmp_path / "s.png")])
    assert r.exit_code == 0, r.output
    data = json.loads((out / "stats.json").read_text())
    train = dataprep.load_numpy(out, "train")
    s = data["splits"]["train"]["body_mass_g"]
    assert s["count"] == len(train["body_mass_g"]) and s["mean"] == pytest.approx(train["body_mass_g"].mean())
    assert sum(data["splits"]["test"]["species"]["vocabulary"].values()) == data["splits"]["test"]["species"]["count"]
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert r.stderr.splitlines()[-1] == f"wrote {tmp_path / 's.png'} (the charts of train, test)"


def test_the_plot_draws_and_names_every_split(tmp_path):
    """Each feature's chart holds one histogram or set of bars per split, named in its legend."""
    out = tmp_path / "o"
    dataprep.convert(PENGUINS, PENGUINS_SCHEMA, out, split="train=0.6,valid=0.2,test=0.2", on_error="skip")
    report = dataprep.stats(out)
    fig = report.figure()
    charts = [ax for ax in fig.axes if ax.get_legend() is not None]
    assert len(charts) == len(report.splits["train"]) and fig.texts[0].get_text().endswith("train, valid, test")
    for ax in charts:
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "valid", "test"], ax.get_title()
        name = ax.get_title().split()[0]
        missing = ", ".join(f"{split} {report.splits[split][name].missing}" for split in ("train", "valid", "test"))
        assert ax.get_title() == f"{name} (missing: {missing})"


@needs_shared(HOUSING.name)
def test_convert_stats_equal_pandas_describe_of_each_split(tmp_path):
    """``convert --stats`` writes stats.json in the output: per split, equal to pandas on that split."""
    out = tmp_path / "h"
    r = CliRunner().invoke(main, ["convert", str(HOUSING), "--schema",
                                  str(SCHEMAS / "california_housing.yaml"),
                                  "--out", str(out), "--split", "train=0.8,valid=0.1,test=0.1", "--seed", "1",
                                  "--stats", "-q"])
    assert r.exit_code == 0, r.output
    data = json.loads((out / "stats.json").read_text())
    assert data["path"] == str(out) and list(data["splits"]) == ["train", "valid", "test"]
    for split in data["splits"]:
        df = dataprep.as_dataframe(out, split)
        df = df.apply(lambda c: c.astype("float64") if c.dtype.kind == "f" else
                      c.map(lambda v: v.decode() if isinstance(v, bytes) else v))
        assert_describe(data["splits"][split], df)


def test_the_library_function_is_what_the_command_prints(tmp_path):
    """``dataprep.stats`` computes, writes and plots what ``dataprep stats`` shows; a raw input's report is
    written only where asked."""
    report = dataprep.stats(PENGUINS)
    assert report.written is None and report.to_dict() == stats.source_stats(PENGUINS).to_dict()
    r = CliRunner().invoke(main, ["stats", str(PENGUINS)])
    assert r.exit_code == 0 and r.stdout == report.summary() + "\n" and r.stderr == ""
    assert report.summary().splitlines()[0] == "input:" and "species" in report.summary()
    out = tmp_path / "o"
    dataprep.convert(PENGUINS, PENGUINS_SCHEMA, out, on_error="skip")
    folder = dataprep.stats(out, ["train"], output=tmp_path / "s.json")
    assert folder.written == tmp_path / "s.json" and not (out / "stats.json").exists()
    assert json.loads((tmp_path / "s.json").read_text()) == folder.to_dict() and list(folder.splits) == ["train"]


def test_convert_stats_equal_the_folders_stats_and_numpy_for_every_dtype(tmp_path):
    """Pass one's statistics (``convert(stats=True)``) equal ``folder_stats`` of the written folder to the bit,
    and a plain numpy/Counter computation on each split's records."""
    from collections import Counter

    rng = np.random.default_rng(3)
    n = 3000
    x = rng.standard_normal(n).astype(np.float32)
    x[::7] = np.nan
    data = {"f": x, "d": rng.standard_normal(n) * 1e6, "i": rng.integers(-5, 5, n),
            "s": np.array(["a", "bb", "ccc", ""], dtype=object)[rng.integers(0, 4, n)],
            "v": np.array([rng.standard_normal(k).astype(np.float32) for k in rng.integers(0, 4, n)], dtype=object),
            "p": rng.integers(0, 256, (n, 2, 2, 1), dtype=np.uint8)}
    schema = {"features": [{"name": "f", "dtype": "float32", "shape": [], "allow_nan": True},
                           {"name": "d", "dtype": "float64", "shape": []}, {"name": "i", "dtype": "int64", "shape": []},
                           {"name": "s", "dtype": "string", "shape": []}, {"name": "v", "dtype": "float32",
                                                                            "shape": [None]},
                           {"name": "p", "dtype": "uint8", "shape": [2, 2, 1]}]}
    out = tmp_path / "o"
    dataprep.convert(data, schema, out, split="train=0.7,test=0.3", rows_per_shard=500, stats=True)
    written = json.loads((out / "stats.json").read_text())
    folder = stats.folder_stats(out).to_dict()
    assert written["splits"] == folder["splits"] and list(written["splits"]) == ["train", "test"]
    for split, got in written["splits"].items():
        rows = dataprep.load_numpy(out, split)
        for name in ("f", "d", "i", "p"):
            v = np.asarray(rows[name], np.float64).reshape(-1)
            present = v[~np.isnan(v)]
            s = got[name]
            assert s["count"] == len(present) and s["missing"] == len(v) - len(present), name
            assert s["min"] == present.min() and s["max"] == present.max() and s["50%"] == np.median(present)
            assert s["mean"] == pytest.approx(present.mean(), rel=1e-12) and \
                s["std"] == pytest.approx(present.std(ddof=1), rel=1e-12)
        assert got["s"]["vocabulary"] == dict(sorted(Counter(b.decode() for b in rows["s"]).items(),
                                                     key=lambda kv: (-kv[1], kv[0])))
        flat = np.concatenate([np.asarray(r, np.float64).reshape(-1) for r in rows["v"]])
        assert got["v"]["count"] == len(flat) and got["v"]["mean"] == pytest.approx(flat.mean(), rel=1e-12)
