"""Feature statistics in one streaming pass with bounded memory: count, missing, min, max, mean, std and
quantiles for numbers, value counts for categoricals (``dataprep.stats``, and ``stats.json``).

Means and variances are merged batch by batch (Chan et al.), so they are exact. Quantiles come from a
uniform random sample of at most ``SAMPLE`` values per feature (bottom-k of random keys), so they are
exact up to that many rows and approximate beyond (standard error ~ 1/sqrt(SAMPLE) in rank).
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .outputs import PNG_METADATA

SAMPLE = 100_000
QUANTILES = (0.25, 0.5, 0.75)
MAX_CATEGORIES = 10_000


@dataclass
class NumericStats:
    count: int = 0
    missing: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = np.inf
    max: float = -np.inf
    sample: np.ndarray = field(default_factory=lambda: np.zeros(0))
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def update(self, values: np.ndarray, missing: int, rng: np.random.Generator) -> None:
        """Add present ``values`` (NaN counts as missing, as in pandas) and ``missing`` absent ones."""
        x = values.astype(np.float64).reshape(-1)
        nan = np.isnan(x)
        self.missing += missing + int(nan.sum())
        x = x[~nan]
        if not x.size:
            return
        n, mean, m2 = x.size, float(x.mean()), float(((x - x.mean()) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta ** 2 * self.count * n / total
        self.count = total
        self.min, self.max = min(self.min, float(x.min())), max(self.max, float(x.max()))
        keys = np.concatenate([self.keys, rng.random(n)])
        sample = np.concatenate([self.sample, x])
        if len(keys) > SAMPLE:
            keep = np.argpartition(keys, SAMPLE)[:SAMPLE]
            keys, sample = keys[keep], sample[keep]
        self.keys, self.sample = keys, sample

    def to_dict(self) -> dict:
        if not self.count:
            return {"kind": "numeric", "count": 0, "missing": self.missing}
        q = np.quantile(self.sample, QUANTILES) if len(self.sample) else []
        return {"kind": "numeric", "count": self.count, "missing": self.missing, "mean": self.mean,
                "std": float(np.sqrt(self.m2 / (self.count - 1))) if self.count > 1 else 0.0,
                "min": self.min, **{f"{int(p * 100)}%": float(v) for p, v in zip(QUANTILES, q)}, "max": self.max,
                "quantiles_exact": len(self.sample) == self.count}


@dataclass
class CategoricalStats:
    count: int = 0
    missing: int = 0
    values: Counter = field(default_factory=Counter)
    truncated: bool = False

    def update(self, values: Iterable[Any], missing: int) -> None:
        self.missing += missing
        batch = Counter(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values)
        self.count += sum(batch.values())
        self.values.update(batch)
        if len(self.values) > MAX_CATEGORIES:
            self.values = Counter(dict(self.values.most_common(MAX_CATEGORIES)))
            self.truncated = True

    def to_dict(self) -> dict:
        return {"kind": "categorical", "count": self.count, "missing": self.missing,
                "distinct": len(self.values), "truncated": self.truncated,
                "vocabulary": dict(sorted(self.values.items(), key=lambda kv: (-kv[1], kv[0])))}


class StatsReport:
    """Accumulated statistics per split and feature; ``to_dict`` is what ``stats.json`` holds, ``summary``
    the table ``dataprep stats`` prints; ``written`` is where :func:`stats` wrote it (None: nowhere)."""

    def __init__(self, path: str):
        self.path = path
        self.splits: dict[str, dict[str, NumericStats | CategoricalStats]] = {}
        self.written: Path | None = None

    def summary(self) -> str:
        """A table per split: count, missing and the moments of numbers, the commonest values of categoricals."""
        lines = []
        for split, features in self.to_dict()["splits"].items():
            lines += [f"{split}:", (f"  {'feature':<22}{'count':>10}{'missing':>9}{'mean':>13}{'std':>13}{'min':>12}"
                                    f"{'50%':>12}{'max':>12}")]
            for name, st in features.items():
                if st["kind"] == "numeric" and st["count"]:
                    lines.append(f"  {name:<22}{st['count']:>10,}{st['missing']:>9,}{st['mean']:>13.5g}"
                                 f"{st['std']:>13.5g}{st['min']:>12.5g}{st['50%']:>12.5g}{st['max']:>12.5g}")
                elif st["kind"] == "categorical":
                    top = ", ".join(f"{k} ({v:,})" for k, v in list(st["vocabulary"].items())[:4])
                    lines.append(f"  {name:<22}{st['count']:>10,}{st['missing']:>9,}  {st['distinct']} values: {top}")
                else:
                    lines.append(f"  {name:<22}{0:>10}{st['missing']:>9,}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"path": self.path, "sample_size": SAMPLE,
                "splits": {split: {name: acc.to_dict() for name, acc in feats.items()}
                           for split, feats in self.splits.items()}}

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def plot(self, path: str | Path, split: str | None = None) -> None:
        """A histogram per numeric feature (from its sample) and a bar chart per categorical."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        features = self.splits[split or next(iter(self.splits))]
        cols = 3
        rows = max(1, -(-len(features) // cols))
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
        for ax, (name, acc) in zip(axes.flat, features.items()):
            if isinstance(acc, CategoricalStats):
                top = acc.values.most_common(15)
                ax.bar([str(k)[:12] for k, _ in top], [v for _, v in top])
                ax.tick_params(axis="x", rotation=45, labelsize=7)
            elif acc.count:
                ax.hist(acc.sample, bins=30)
            ax.set_title(f"{name} ({acc.missing} missing)", fontsize=9)
        for ax in list(axes.flat)[len(features):]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(path, dpi=80, metadata=PNG_METADATA)
        plt.close(fig)


def stats(path: str | Path, splits: Sequence[str] | None = None, *, output: str | Path | None = None,
          plot: str | Path | None = None, seed: int = 0) -> StatsReport:
    """Statistics of ``path``: of each split (``splits``: default all) of a converted folder, written to
    ``stats.json`` beside its shards (or to ``output``), or of every scalar column of a raw input, written to
    ``output`` only. ``plot`` draws a histogram per numeric feature and a bar chart per categorical of the
    first split into a PNG. Neither file may be an input or a file dataprep did not write; both are checked
    before the pass."""
    from .manifest import MANIFEST, STATS
    from .outputs import check_file_target

    folder = Path(path).is_dir() and (Path(path) / MANIFEST).is_file()
    target = Path(output) if output else Path(path) / STATS if folder else None
    for file, kind, option in ((target, "stats", "-o"), (plot, "png", "--plot")):
        if file:
            check_file_target(file, [Path(path)], kind, option)
    report = folder_stats(path, list(splits) if splits else None, seed) if folder else source_stats(path, seed)
    if target:
        report.write(target)
        report.written = target
    if plot:
        report.plot(plot, splits[0] if splits else None)
    return report


def folder_stats(path: str | Path, splits: list[str] | None = None, seed: int = 0) -> StatsReport:
    """Statistics of every feature of each split of a converted folder, read without TensorFlow (encoded
    images are left out: their statistics are those of the pixels, which this pass does not decode)."""
    from .manifest import load_manifest
    from .records import RaggedArray, iter_batches

    manifest = load_manifest(path)
    features = [f for f in manifest.schema.features if not f.type_info.encoded_image]
    report = StatsReport(str(path))
    for split in splits or manifest.splits:
        rng = np.random.default_rng(seed)
        acc: dict = report.splits.setdefault(split, {})
        for batch in iter_batches(manifest, split, batch_size=65536):  # the folder loaded above
            for f in features:
                value = batch[f.name]
                flat = (value.values if isinstance(value, RaggedArray) else np.asarray(value)).reshape(-1)
                if f.is_numeric or f.is_image:  # pixels: the values of a uint8 array
                    acc.setdefault(f.name, NumericStats()).update(flat, 0, rng)
                else:  # text and bytes
                    acc.setdefault(f.name, CategoricalStats()).update(flat, 0)
    return report


def source_stats(source: Any, seed: int = 0) -> StatsReport:
    """Statistics of every scalar column of a raw input; text that parses as numbers is numeric."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .sources import iter_batches

    rng = np.random.default_rng(seed)
    report = StatsReport(str(source) if isinstance(source, (str, Path)) else f"<{type(source).__name__}>")
    acc: dict = report.splits.setdefault("input", {})
    for batch in iter_batches(source):
        for name, col in batch.columns.items():
            if isinstance(col, np.ndarray) and col.ndim > 1:
                continue  # array columns: summarised after conversion, per feature
            arr = pa.array(col) if isinstance(col, np.ndarray) else col
            if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):  # CSV fields
                try:
                    arr = pc.cast(arr, pa.string())
                except pa.ArrowInvalid:
                    pass
            numbers = arr
            if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
                arr = pc.utf8_trim_whitespace(arr)
                arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
                try:
                    numbers = pc.cast(arr, pa.float64())
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    numbers = None
            numeric = numbers is not None and (pa.types.is_integer(numbers.type) or pa.types.is_floating(
                numbers.type) or pa.types.is_boolean(numbers.type))
            if numeric and not isinstance(acc.get(name), CategoricalStats):
                values = pc.cast(numbers, pa.float64()).to_numpy(zero_copy_only=False)
                acc.setdefault(name, NumericStats()).update(values, 0, rng)  # nulls arrive as NaN
            else:
                if isinstance(acc.get(name), NumericStats):  # text after numbers: categorical after all
                    acc[name] = CategoricalStats()
                acc.setdefault(name, CategoricalStats()).update(pc.drop_null(arr).to_pylist(), arr.null_count)
    return report
