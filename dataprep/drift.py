"""Drift and skew: each feature of a data set's statistics against a baseline's (``dataprep validate DIR
--against BASELINE``), or the splits of one folder against its first (``dataprep stats DIR``).

Only statistics are compared (``stats.json``, or computed from the shards when a folder has none), never the
data again. Per feature, beside schema conformance (dtype, shape, kind, vocabulary):

- numbers: the Jensen-Shannon divergence, in bits (log base 2, so it lies in [0, 1]), of the two
  histograms on bin edges taken from the baseline: up to ``BINS`` bins of equal baseline mass, cut at edges of
  the shared grid of :mod:`dataprep.histogram` (so both sides are counted exactly), plus one bin below and one
  above the baseline's range; the share of values in those two is ``out_of_range``;
- categoricals: the L-infinity distance of the value frequencies (the largest change of one value's share)
  and the rise of the share of values outside the vocabulary (the schema's, else the values the baseline holds);
- every feature: the change of the share of missing values and of values equal to the schema default; for
  variable-length features the Jensen-Shannon divergence of the length histograms.

A check is breached when its figure exceeds its threshold (:class:`DriftThresholds`: the defaults below,
a feature's ``drift:`` key in the schema, then the command line's ``--threshold``) and also ``noise`` times
the figure an unshifted resample of the same sizes is expected to show (``Check.noise``), so that two small
splits of one distribution are not flagged for their sampling noise.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .drift_thresholds import DriftThresholds
from .errors import DataError, UsageError
from .histogram import Histogram, bin_bounds

MAX_STATS_BYTES = 256 << 20  # a stats.json read whole: refused beyond this, unread
BINS = 20  # bins of equal baseline mass: enough to see a shift, few enough that sampling noise stays small


def parse_thresholds(items: list[str]) -> dict[str | None, dict[str, float]]:
    """Command-line thresholds ``CHECK=VALUE`` (every feature) or ``FEATURE:CHECK=VALUE``, by feature (None:
    every feature)."""
    out: dict[str | None, dict[str, float]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        feature, _, check = key.rpartition(":")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or check not in DriftThresholds.checks() or not number >= 0:
            raise UsageError(f"--threshold {item!r}: expected CHECK=VALUE or FEATURE:CHECK=VALUE with a number "
                             f">= 0, CHECK one of {', '.join(DriftThresholds.checks())}")
        out.setdefault(feature or None, {})[check] = number
    return out


SHORT = {"jensen_shannon": "js", "l_infinity": "linf", "out_of_range": "range", "missing_rate": "missing",
         "default_rate": "default", "oov_rate": "oov", "length": "length"}  # table headings


@dataclass
class Check:
    """One figure of one feature, its threshold, and the two sides it was computed from."""

    value: float | None  # None: not computable (no values on one side)
    threshold: float
    baseline: Any = None
    current: Any = None
    noise: float = 0.0  # the figure an unshifted resample of these sizes is expected to show
    limit: float = 0.0  # what the value must exceed: the threshold, or ``DriftThresholds.noise`` x noise

    @property
    def breached(self) -> bool:
        return self.value is not None and bool(self.value > self.limit)


def _check(value: float | None, threshold: float, noise: float, limits: DriftThresholds, baseline: Any = None,
           current: Any = None) -> Check:
    return Check(value, threshold, baseline, current, float(noise), float(max(threshold, limits.noise * noise)))


def _js_noise(detail: dict, n: float, m: float) -> float:
    """The expected JS divergence (bits) of two samples of ``n`` and ``m`` values of one distribution on the
    bins of ``detail`` that either side fills."""
    bins = sum(1 for a, b in zip(detail["baseline"], detail["current"]) if a or b)
    return max(bins - 1, 0) / 8 * (1 / n + 1 / m) / np.log(2)


def _rate_noise(b: float, c: float, n: float, m: float) -> float:
    """The standard deviation of the difference of two rates of ``m`` and ``n`` draws, at their pooled rate."""
    r = (b * m + c * n) / (n + m)
    return float(np.sqrt(r * (1 - r) * (1 / n + 1 / m)))


@dataclass
class FeatureDrift:
    """A feature of one split against the baseline's split: conformance problems and every check."""

    feature: str
    split: str
    baseline_split: str
    kind: str
    problems: list[str] = field(default_factory=list)
    checks: dict[str, Check] = field(default_factory=dict)
    detail: dict = field(default_factory=dict)  # what a chart needs: the bins and both distributions

    @property
    def breaches(self) -> list[str]:
        return [*(["schema"] if self.problems else []), *(n for n, c in self.checks.items() if c.breached)]

    def to_dict(self) -> dict:
        return {"feature": self.feature, "split": self.split, "baseline_split": self.baseline_split,
                "kind": self.kind, "problems": self.problems, "breaches": self.breaches,
                "checks": {n: {**asdict(c), "breached": c.breached} for n, c in self.checks.items()},
                **self.detail}


@dataclass
class DriftReport:
    """Every feature of every compared split; ``ok`` when no check is breached."""

    current: str
    baseline: str
    features: list[FeatureDrift] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # splits only one side has

    @property
    def ok(self) -> bool:
        return not any(f.breaches for f in self.features)

    def to_dict(self) -> dict:
        return {"current": self.current, "baseline": self.baseline, "ok": self.ok,
                "breached": sum(bool(f.breaches) for f in self.features), "notes": self.notes,
                "features": [f.to_dict() for f in self.features]}

    def summary(self) -> str:
        """A line per feature and split: its main figures, and what is breached."""
        lines = [f"{'split':<14}{'feature':<22}" + "".join(f"{h:>9}" for h in SHORT.values()) + "  breached"]
        for f in self.features:
            cells = "".join(f"{_figure(f.checks.get(n)):>9}" for n in SHORT)
            split = f.split if f.split == f.baseline_split else f"{f.split}/{f.baseline_split}"
            lines.append(f"{split:<14}{f.feature:<22}{cells}  {', '.join(f.breaches) or '-'}")
            lines += [f"    {p}" for p in f.problems]
        lines += self.notes
        lines.append(f"{self.current} against {self.baseline}: " +
                     ("no threshold breached" if self.ok else
                      f"{sum(bool(f.breaches) for f in self.features)} feature(s) breached"))
        return "\n".join(lines)


def _figure(check: Check | None) -> str:
    return "-" if check is None or check.value is None else f"{check.value:.4f}"


def load_stats(path: str | Path) -> dict:
    """The statistics of ``path``: a ``stats.json``, or a converted folder's (its ``stats.json`` when that
    covers every split with histograms, else computed from its shards, in memory)."""
    from .feature_stats import folder_stats
    from .manifest import MANIFEST, STATS, load_manifest

    path = Path(path)
    if path.is_dir():
        if not (path / MANIFEST).is_file():
            raise UsageError(f"{path}: not a converted folder (no {MANIFEST}) nor a {STATS}")
        file = path / STATS
        if file.is_file():
            data = _read_stats(file)
            if set(data["splits"]) >= set(load_manifest(path).splits) and _has_histograms(data):
                return data
        return folder_stats(path).to_dict()
    return _read_stats(path)


def _read_stats(path: Path) -> dict:
    size = path.stat().st_size
    if size > MAX_STATS_BYTES:
        raise DataError(f"{path}: {size:,} bytes, over the {MAX_STATS_BYTES >> 20} MiB a stats.json may hold (ours "
                        "hold at most 10,000 values and 1,024 bins per feature and split)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not a stats.json ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("splits"), dict):
        raise DataError(f"{path}: not a stats.json dataprep wrote (no 'splits')")
    return data


def _has_histograms(data: dict) -> bool:
    return all("histogram" in s for feats in data["splits"].values() for s in feats.values()
               if s.get("kind") == "numeric" and s.get("count"))


def validate_against(current: str | Path | dict, baseline: str | Path | dict,
                     thresholds: list[str] | dict | None = None) -> DriftReport:
    """Compare the statistics of ``current`` with ``baseline`` (each a converted folder, a ``stats.json``, or
    such a dict), split by split: same-named splits, or every split against a baseline of one split.
    ``thresholds``: the command line's ``CHECK=VALUE`` / ``FEATURE:CHECK=VALUE`` items (or their parsed dict)."""
    cur, base = (s if isinstance(s, dict) else load_stats(s) for s in (current, baseline))
    report = DriftReport(_name(current, cur), _name(baseline, base))
    common = [s for s in cur["splits"] if s in base["splits"]]
    if common:
        pairs = [(s, s) for s in common]
        report.notes += [f"split {s}: not in the baseline, not compared" for s in cur["splits"] if s not in common]
        report.notes += [f"baseline split {s}: not in {report.current}" for s in base["splits"] if s not in common]
    elif len(base["splits"]) == 1:
        only = next(iter(base["splits"]))
        pairs = [(s, only) for s in cur["splits"]]
    else:
        raise UsageError(f"{report.current} (splits {', '.join(cur['splits'])}) and {report.baseline} (splits "
                         f"{', '.join(base['splits'])}) have no split in common")
    _compare_pairs(report, cur, base, pairs, thresholds)
    return report


def skew(stats: dict, thresholds: list[str] | dict | None = None) -> DriftReport:
    """Each split of one folder's statistics against its first (train vs valid vs test)."""
    splits = list(stats["splits"])
    report = DriftReport(str(stats.get("path", "")), f"split {splits[0]}" if splits else "")
    _compare_pairs(report, stats, stats, [(s, splits[0]) for s in splits[1:]], thresholds)
    return report


def _name(given: Any, stats: dict) -> str:
    return str(stats.get("path", "<stats>")) if isinstance(given, dict) else str(given)


def _compare_pairs(report: DriftReport, cur: dict, base: dict, pairs: list[tuple[str, str]],
                   thresholds: list[str] | dict | None) -> None:
    cli = parse_thresholds(thresholds) if isinstance(thresholds, list) else dict(thresholds or {})
    base_schema, cur_schema = _features(base), _features(cur)
    drift_keys = {**{n: f.drift for n, f in cur_schema.items()}, **{n: f.drift for n, f in base_schema.items()}}
    for split, base_split in pairs:
        for name, b in base["splits"][base_split].items():
            limits = DriftThresholds().updated(dict(drift_keys.get(name) or ()), f"feature {name}") \
                .updated(cli.get(None, {}), "--threshold").updated(cli.get(name, {}), "--threshold")
            try:
                report.features.append(compare_feature(name, split, base_split, cur["splits"][split].get(name), b,
                                                       cur_schema.get(name), base_schema.get(name), limits))
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
                raise DataError(f"{report.current} against {report.baseline}: split {split}, feature {name}: "
                                f"statistics not as dataprep writes them ({type(e).__name__}: {e})") from None
        for name, c in cur["splits"][split].items():
            if name not in base["splits"][base_split]:
                report.features.append(FeatureDrift(name, split, base_split, c.get("kind", "?"),
                                                    [f"feature {name}: not in the baseline"]))


def _features(stats: dict) -> dict:
    from .schema import Schema

    return {} if "schema" not in stats else {f.name: f for f in Schema.from_dict(stats["schema"]).features}


def compare_feature(name: str, split: str, base_split: str, cur: dict | None, base: dict, cur_f: Any, base_f: Any,
                    limits: DriftThresholds) -> FeatureDrift:
    """One feature's statistics ``cur`` (None: absent) against ``base``; ``cur_f``/``base_f`` are its schema
    features where known."""
    out = FeatureDrift(name, split, base_split, base.get("kind", "?"))
    if cur is None:
        out.problems.append(f"feature {name}: in the baseline, not in this data")
        return out
    if base_f is not None and cur_f is not None:
        for what in ("dtype", "shape"):
            if getattr(cur_f, what) != getattr(base_f, what):
                out.problems.append(f"{what} {_show(getattr(cur_f, what))}, the baseline's is "
                                    f"{_show(getattr(base_f, what))}")
        if cur_f.vocabulary != base_f.vocabulary:
            out.problems.append("the vocabulary differs from the baseline's")
    if cur.get("kind") != base.get("kind"):
        out.problems.append(f"{cur.get('kind')} values, the baseline's are {base.get('kind')}")
        return out
    c = out.checks
    c["missing_rate"] = _rate_change(cur, base, "missing", lambda s: s["count"] + s["missing"],
                                     limits.missing_rate, limits)
    if "defaults" in cur and "defaults" in base:
        c["default_rate"] = _rate_change(cur, base, "defaults", lambda s: s["count"], limits.default_rate, limits)
    if out.kind == "numeric":
        if cur.get("count") and base.get("count"):
            _numeric(out, cur, base, limits)
    else:
        _categorical(out, cur, base, base_f, cur_f, limits)
    if "lengths" in cur and "lengths" in base:
        js, detail = _histogram_js(Histogram.from_dict(cur["lengths"]), Histogram.from_dict(base["lengths"]))
        records = [sum(s["lengths"]["counts"]) for s in (cur, base)]
        c["length"] = _check(js, limits.length, _js_noise(detail, *records), limits)
        out.detail["lengths"] = detail
    return out


def _show(v: Any) -> str:
    return str(list(v)) if isinstance(v, tuple) else str(v)


def _rate_change(cur: dict, base: dict, key: str, total, threshold: float, limits: DriftThresholds) -> Check:
    b, c = (s[key] / total(s) if total(s) else None for s in (base, cur))
    if b is None or c is None:
        return _check(None, threshold, 0.0, limits, b, c)
    return _check(abs(c - b), threshold, _rate_noise(b, c, total(cur), total(base)), limits, b, c)


def _numeric(out: FeatureDrift, cur: dict, base: dict, limits: DriftThresholds) -> None:
    for side in (cur, base):
        if "histogram" not in side:
            raise DataError(f"feature {out.feature}: its statistics have no histogram (a stats.json of an older "
                            "dataprep); run `dataprep stats` on the folder again")
    js, detail = _histogram_js(Histogram.from_dict(cur["histogram"]), Histogram.from_dict(base["histogram"]))
    q = np.asarray(detail["current"])
    out.checks["jensen_shannon"] = _check(js, limits.jensen_shannon, _js_noise(detail, cur["count"], base["count"]),
                                          limits)
    # a resample's value lies beyond the baseline's extremes with probability 2 / (m + 1): that share, plus
    # one standard deviation of a count of such rare values among n
    beyond = 2 / (base["count"] + 1)
    out.checks["out_of_range"] = _check(float(q[0] + q[-1]), limits.out_of_range,
                                        beyond + float(np.sqrt(beyond / cur["count"])), limits,
                                        [base["min"], base["max"]], [cur["min"], cur["max"]])
    out.detail["histogram"] = detail


def _histogram_js(cur: Histogram, base: Histogram) -> tuple[float, dict]:
    """The JS divergence (bits) of two histograms on the baseline's bins, and those bins: ``edges`` and each
    side's share per bin, the first bin below ``edges[0]``, the last at or above ``edges[-1]``."""
    resolution = min(cur.resolution, base.resolution)
    bkeys, bcounts = base.at(resolution)
    ckeys, ccounts = cur.at(resolution)
    lower, upper = bin_bounds(bkeys, resolution)
    cum = np.cumsum(bcounts)
    targets = cum[-1] * np.arange(1, BINS) / BINS
    cuts = np.unique(np.searchsorted(cum, targets, side="left") + 1)  # first bin of each new coarse bin
    cuts = cuts[cuts < len(bkeys)]
    edges = np.concatenate([[lower[0]], lower[cuts], [upper[-1]]])
    p = _coarse(bkeys, bcounts, resolution, edges)
    q = _coarse(ckeys, ccounts, resolution, edges)
    return jensen_shannon(p, q), {"edges": edges.tolist(), "baseline": p.tolist(), "current": q.tolist()}


def _coarse(keys: np.ndarray, counts: np.ndarray, resolution: int, edges: np.ndarray) -> np.ndarray:
    """Shares of the grid bins ``keys`` per bin of ``edges`` (with one below and one above them)."""
    lower, _ = bin_bounds(keys, resolution)
    total = np.bincount(np.searchsorted(edges, lower, side="right"), counts, len(edges) + 1)
    return total / total.sum()


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """The Jensen-Shannon divergence of two distributions, in bits (0: equal, 1: disjoint)."""
    m = (p + q) / 2
    return float(sum(0.5 * np.sum(a[a > 0] * np.log2(a[a > 0] / m[a > 0])) for a in (p, q)))


def _categorical(out: FeatureDrift, cur: dict, base: dict, base_f: Any, cur_f: Any, limits: DriftThresholds) -> None:
    cv, bv = cur.get("vocabulary", {}), base.get("vocabulary", {})
    if cur.get("count") and base.get("count"):
        values = list(dict.fromkeys([*bv, *cv]))
        p = np.array([bv.get(v, 0) for v in values]) / base["count"]
        q = np.array([cv.get(v, 0) for v in values]) / cur["count"]
        diff = np.abs(q - p)
        worst = int(np.argmax(diff))
        pooled = (p * base["count"] + q * cur["count"]) / (base["count"] + cur["count"])
        noise = float(np.sqrt((pooled * (1 - pooled)).max() * (1 / base["count"] + 1 / cur["count"])))
        out.checks["l_infinity"] = _check(float(diff[worst]), limits.l_infinity, noise, limits, float(p[worst]),
                                          float(q[worst]))
        out.detail["values"] = {"value": values[worst], "top": {v: [float(a), float(b)] for v, a, b in
                                                                  list(zip(values, p, q))[:20]}}
    # the schema's vocabulary, else the values the baseline holds
    vocabulary = base_f.vocabulary if base_f is not None and base_f.vocabulary is not None else tuple(bv)
    vocab = set(vocabulary)
    rates: list[float | None] = []
    for side, feature in ((base, base_f), (cur, cur_f)):
        if not side.get("count"):
            rates.append(None)
        elif "oov" in side and feature is not None and feature.vocabulary == tuple(vocabulary):
            rates.append(side["oov"] / side["count"])  # counted exactly as the values went by
        else:
            rates.append(sum(c for v, c in side.get("vocabulary", {}).items() if v not in vocab) / side["count"])
    b, c = rates
    if b is None or c is None:
        out.checks["oov_rate"] = _check(None, limits.oov_rate, 0.0, limits, b, c)
    else:
        out.checks["oov_rate"] = _check(max(0.0, c - b), limits.oov_rate, _rate_noise(b, c, cur["count"],
                                                                                      base["count"]), limits, b, c)
    if cur.get("truncated") or base.get("truncated"):
        out.detail["approximate"] = "value counts truncated to the commonest values"
