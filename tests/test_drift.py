"""Drift against a baseline and skew between splits: every shift is flagged on its feature with the distance
numpy/scipy compute from the raw values, an unshifted resample is not, and the exit codes gate on it."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.spatial.distance import jensenshannon

import dataprep
from dataprep.cli import main
from dataprep.errors import SchemaError
from dataprep.histogram import Histogram, bin_bounds, bin_keys

N = 5000
VALUES = np.array(["a", "b", "c", "d"], dtype=object)
SCHEMA = {"features": [
    {"name": "x", "dtype": "float32", "shape": []},
    {"name": "c", "dtype": "string", "shape": [], "vocabulary": ["a", "b", "c", "d"], "oov": "keep"},
    {"name": "s", "dtype": "string", "shape": [], "default": "x"},
    {"name": "v", "dtype": "float32", "shape": [None]},
    {"name": "i", "dtype": "int64", "shape": []}]}


def make(seed: int, *, scale: float = 1.0, shares=(0.4, 0.3, 0.2, 0.1), oov: float = 0.0, nan: float = 0.0,
         blank: float = 0.1, longer: int = 0) -> dict:
    """Rows of the test data set; each keyword shifts one thing."""
    r = np.random.default_rng(seed)
    x = (r.standard_normal(N) * scale + 3).astype(np.float32)
    x[r.random(N) < nan] = np.nan
    c = VALUES[r.choice(4, N, p=shares)]
    c[r.random(N) < oov] = "zzz"
    s = np.array(["x", "y"], dtype=object)[r.integers(0, 2, N)]
    s[r.random(N) < blank] = None  # filled with the default "x"
    v = np.empty(N, dtype=object)
    v[:] = [r.standard_normal(k).astype(np.float32) for k in r.integers(0, 5, N) + longer]
    return {"x": x, "c": c, "s": s, "v": v, "i": r.integers(0, 50, N)}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """The baseline, an unshifted resample and one copy per shift, converted with --stats (split train)."""
    root = tmp_path_factory.mktemp("drift")
    cases = {"baseline": make(1), "resample": make(2), "scaled": make(3, scale=2.0),
             "share": make(4, shares=(0.3, 0.2, 0.4, 0.1)), "oov": make(5, oov=0.03),
             "missing": make(6, nan=0.2, blank=0.3), "longer": make(7, longer=2)}
    out = {}
    for name, data in cases.items():
        dataprep.convert(data, SCHEMA, root / name, stats=True, progress=False)
        out[name] = (root / name, data)
    return out


def drift_of(folders, name: str, *args: str) -> tuple[int, dict]:
    r = CliRunner().invoke(main, ["validate", str(folders[name][0]), "--against", str(folders["baseline"][0]),
                                  "--json", *args])
    assert r.exit_code in (0, 1), r.output
    return r.exit_code, {f["feature"]: f for f in json.loads(r.stdout)["features"]}


def js_on(edges: list[float], base: np.ndarray, cur: np.ndarray) -> tuple[float, np.ndarray]:
    """JS divergence in bits of two samples on ``edges`` (with a bin below and one above), and the baseline's
    shares, with numpy and scipy."""
    e = np.asarray(edges)
    p = np.bincount(np.searchsorted(e, base, side="right"), minlength=len(e) + 1) / len(base)
    q = np.bincount(np.searchsorted(e, cur, side="right"), minlength=len(e) + 1) / len(cur)
    return float(jensenshannon(p, q, base=2) ** 2), p


def present(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return a[~np.isnan(a)]


def test_an_unshifted_resample_is_not_flagged(folders):
    code, features = drift_of(folders, "resample")
    assert code == 0 and not any(f["breaches"] for f in features.values())
    assert set(features) == {"x", "c", "s", "v", "i"}
    for f in features.values():  # every figure is there, breached or not
        assert all(isinstance(c["value"], float) for c in f["checks"].values()), f
    assert set(features["x"]["checks"]) == {"missing_rate", "jensen_shannon", "out_of_range"}
    assert set(features["c"]["checks"]) == {"missing_rate", "l_infinity", "oov_rate"}
    assert set(features["v"]["checks"]) == {"missing_rate", "jensen_shannon", "out_of_range", "length"}
    assert "default_rate" in features["s"]["checks"]


def test_a_scaled_number_is_flagged_with_the_js_divergence_scipy_computes(folders):
    code, features = drift_of(folders, "scaled")
    assert code == 1
    assert {n for n, f in features.items() if f["breaches"]} == {"x"}
    x = features["x"]
    assert {"jensen_shannon", "out_of_range"} <= set(x["breaches"])
    base, cur = folders["baseline"][1]["x"].astype(np.float64), folders["scaled"][1]["x"].astype(np.float64)
    edges = x["histogram"]["edges"]
    assert edges[0] <= base.min() and base.max() < edges[-1] and len(edges) <= 21
    expected, p = js_on(edges, base, cur)
    assert x["histogram"]["baseline"] == pytest.approx(p.tolist(), abs=1e-15) and p[0] == p[-1] == 0
    assert x["checks"]["jensen_shannon"]["value"] == pytest.approx(expected, rel=1e-9) and expected > 0.1
    outside = np.mean((cur < edges[0]) | (cur >= edges[-1]))
    assert x["checks"]["out_of_range"]["value"] == pytest.approx(outside, rel=1e-12) and outside > 0.05


def test_a_doubled_share_is_flagged_with_the_l_infinity_distance(folders):
    code, features = drift_of(folders, "share")
    assert code == 1 and {n for n, f in features.items() if f["breaches"]} == {"c"}
    assert features["c"]["breaches"] == ["l_infinity"]
    freq = [Counter(folders[k][1]["c"]) for k in ("baseline", "share")]
    expected = max(abs(freq[1][v] - freq[0][v]) / N for v in VALUES)
    assert features["c"]["checks"]["l_infinity"]["value"] == pytest.approx(expected, rel=1e-12)
    assert features["c"]["values"]["value"] == "c" and expected > 0.15


def test_a_new_value_out_of_the_vocabulary_is_flagged(folders):
    code, features = drift_of(folders, "oov")
    assert code == 1 and {n for n, f in features.items() if f["breaches"]} == {"c"}
    assert "oov_rate" in features["c"]["breaches"]
    expected = np.mean(folders["oov"][1]["c"] == "zzz")
    check = features["c"]["checks"]["oov_rate"]
    assert check["value"] == pytest.approx(expected, rel=1e-12) and check["baseline"] == 0 and expected > 0.02


def test_more_missing_values_are_flagged_on_the_features_that_lose_them(folders):
    code, features = drift_of(folders, "missing")
    assert code == 1 and {n for n, f in features.items() if f["breaches"]} == {"x", "s"}
    assert features["x"]["breaches"] == ["missing_rate"]
    assert features["s"]["breaches"] == ["default_rate", "l_infinity"]  # the default's share grew with them
    nan = [np.mean(np.isnan(folders[k][1]["x"])) for k in ("baseline", "missing")]
    assert features["x"]["checks"]["missing_rate"]["value"] == pytest.approx(abs(nan[1] - nan[0]), rel=1e-12)
    filled = [np.mean([v in (None, "x") for v in folders[k][1]["s"]]) for k in ("baseline", "missing")]
    check = features["s"]["checks"]["default_rate"]
    assert (check["baseline"], check["current"]) == pytest.approx(filled, rel=1e-12)


def test_longer_lists_are_flagged_on_the_length_distribution(folders):
    code, features = drift_of(folders, "longer")
    assert code == 1 and "length" in features["v"]["breaches"]
    lengths = [np.array([len(r) for r in folders[k][1]["v"]], np.float64) for k in ("baseline", "longer")]
    expected, _ = js_on(features["v"]["lengths"]["edges"], *lengths)
    assert features["v"]["checks"]["length"]["value"] == pytest.approx(expected, rel=1e-9) and expected > 0.1


def test_thresholds_from_the_command_line_and_the_schema(folders, tmp_path):
    """``--threshold`` raises a limit for every feature or one; a baseline's ``drift:`` key does the same."""
    assert drift_of(folders, "scaled", "--threshold", "x:jensen_shannon=1", "--threshold", "out_of_range=1")[0] == 0
    assert drift_of(folders, "scaled", "--threshold", "c:jensen_shannon=1", "--threshold", "out_of_range=1")[0] == 1
    r = CliRunner().invoke(main, ["validate", str(folders["scaled"][0]), "--against", str(folders["baseline"][0]),
                                  "--threshold", "x:js=1"])
    assert r.exit_code == 2 and "--threshold 'x:js=1'" in r.output
    stats = json.loads((folders["baseline"][0] / "stats.json").read_text())
    stats["schema"]["features"][0]["drift"] = {"jensen_shannon": 1, "out_of_range": 1}
    (tmp_path / "stats.json").write_text(json.dumps(stats))
    report = dataprep.validate_against(folders["scaled"][0], tmp_path / "stats.json")
    assert report.ok and report.features[0].checks["jensen_shannon"].threshold == 1
    assert not dataprep.validate_against(folders["scaled"][0], folders["baseline"][0]).ok
    with pytest.raises(SchemaError, match="unknown drift check 'js'"):
        dataprep.Schema.from_dict({"features": [{"name": "x", "dtype": "float32", "drift": {"js": 0.1}}]})


def test_a_folder_without_stats_json_is_summarised_from_its_shards(folders, tmp_path):
    dataprep.convert(folders["scaled"][1], SCHEMA, tmp_path / "o", progress=False)
    assert not (tmp_path / "o" / "stats.json").exists()
    got = dataprep.validate_against(tmp_path / "o", folders["baseline"][0] / "stats.json").to_dict()
    want = dataprep.validate_against(folders["scaled"][0], folders["baseline"][0]).to_dict()
    assert got["features"] == want["features"] and not (tmp_path / "o" / "stats.json").exists()


def test_stats_on_a_folder_reports_the_skew_of_its_splits(tmp_path):
    """A test split drawn from a shifted distribution is flagged against train by ``dataprep stats``."""
    train, test = make(1), make(3, scale=2.0)
    data = {k: np.concatenate([train[k], test[k]]) for k in train}
    data["which"] = np.array(["train"] * N + ["test"] * N, dtype=object)
    dataprep.convert(data, SCHEMA, tmp_path / "o", split="train,test", split_column="which", progress=False)
    r = CliRunner().invoke(main, ["stats", str(tmp_path / "o"), "--json"])
    assert r.exit_code == 0, r.output
    skew = json.loads(r.stdout)["skew"]
    assert {f["feature"] for f in skew["features"] if f["breaches"]} == {"x"} and not skew["ok"]
    assert {(f["split"], f["baseline_split"]) for f in skew["features"]} == {("test", "train")}
    text = CliRunner().invoke(main, ["stats", str(tmp_path / "o")]).stdout
    assert "skew against split train:" in text and "1 feature(s) breached" in text


def test_histogram_bins_hold_their_values_and_survive_json():
    """Every value lies in ``[lower, upper)`` of its bin; halving the resolution keeps counts; to_dict/from_dict
    round-trip."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(20000) * 10.0 ** rng.integers(-6, 6, 20000),
                        [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, np.inf, -np.inf]])
    for resolution in (1024, 16, 1):
        lo, hi = bin_bounds(bin_keys(x, resolution), resolution)
        assert (((lo <= x) & (x < hi)) | (np.isinf(x) & (lo == x))).all()
    h = Histogram()
    h.update(x)
    assert h.counts.sum() == len(x) and len(h.keys) <= 1024 and h.resolution < 1024
    back = Histogram.from_dict(json.loads(json.dumps(h.to_dict())))
    assert (back.keys == h.keys).all() and (back.counts == h.counts).all() and back.resolution == h.resolution


def test_a_feature_the_baseline_lacks_and_one_it_has_are_schema_breaches(folders, tmp_path):
    renamed = {**SCHEMA, "features": [{**SCHEMA["features"][0], "name": "y", "source": "x"}, *SCHEMA["features"][1:]]}
    dataprep.convert(folders["resample"][1], renamed, tmp_path / "o", stats=True, progress=False)
    report = dataprep.validate_against(tmp_path / "o", folders["baseline"][0])
    assert {f.feature: f.breaches for f in report.features if f.breaches} == {"x": ["schema"], "y": ["schema"]}
    assert [f.problems for f in report.features if f.feature == "y"] == [["feature y: not in the baseline"]]


def test_small_samples_are_not_flagged_for_their_sampling_noise(folders, tmp_path):
    """150 rows of the baseline's distribution: each limit grows to 3x the figure a resample of that size is
    expected to show, so nothing is flagged; with ``noise=0`` the bare thresholds flag the noise."""
    small = {k: v[:150] for k, v in folders["resample"][1].items()}
    dataprep.convert(small, SCHEMA, tmp_path / "o", stats=True, progress=False)
    report = dataprep.validate_against(tmp_path / "o", folders["baseline"][0])
    assert report.ok
    x = next(f for f in report.features if f.feature == "x")
    js = x.checks["jensen_shannon"]
    bins = sum(1 for a, b in zip(x.detail["histogram"]["baseline"], x.detail["histogram"]["current"]) if a or b)
    assert js.noise == pytest.approx((bins - 1) / 8 * (1 / 150 + 1 / N) / np.log(2)) and js.limit == 3 * js.noise
    bare = dataprep.validate_against(tmp_path / "o", folders["baseline"][0], ["noise=0"])
    assert not bare.ok and all(c.limit == c.threshold for f in bare.features for c in f.checks.values())
    r = CliRunner().invoke(main, ["validate", str(tmp_path / "o"), "--against", str(folders["baseline"][0]), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["features"][0]["checks"]["jensen_shannon"]["limit"] == js.limit


def test_a_damaged_stats_json_is_one_line_naming_the_feature(folders, tmp_path):
    stats = json.loads((folders["baseline"][0] / "stats.json").read_text())
    del stats["splits"]["train"]["x"]["count"]
    (tmp_path / "stats.json").write_text(json.dumps(stats))
    r = CliRunner().invoke(main, ["validate", str(folders["resample"][0]), "--against", str(tmp_path / "stats.json")])
    assert r.exit_code == 1 and r.output.count("\n") == 1
    assert "split train, feature x: statistics not as dataprep writes them (KeyError: 'count')" in r.output
    (tmp_path / "stats.json").write_text("[1, 2]")
    r = CliRunner().invoke(main, ["validate", str(folders["resample"][0]), "--against", str(tmp_path / "stats.json")])
    assert r.exit_code == 1 and "not a stats.json dataprep wrote" in r.output


def test_histograms_of_different_resolutions_are_compared_on_the_coarser_grid():
    """A wide baseline (its grid coarsened to stay within 1,024 bins) against a narrow sample at full
    resolution: the divergence on the baseline's edges equals scipy's on the raw values."""
    from dataprep.drift import _histogram_js

    rng = np.random.default_rng(5)
    base = rng.standard_normal(50000) * 10.0 ** rng.integers(-3, 4, 50000)
    cur = rng.standard_normal(500) * 5 + 2
    hb, hc = Histogram(), Histogram()
    hb.update(base)
    hc.update(cur)
    assert hb.resolution < hc.resolution == 1024  # 500 values: at most 500 bins
    js, detail = _histogram_js(hc, hb)
    expected, p = js_on(detail["edges"], base, cur)
    assert js == pytest.approx(expected, rel=1e-9) and detail["baseline"] == pytest.approx(p.tolist(), abs=1e-15)
