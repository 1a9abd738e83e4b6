"""Feature statistics in one streaming pass with bounded memory: count, missing, min, max, mean, std,
quantiles and a histogram for numbers, value counts for categoricals, and for every feature how many values
equal the schema's default, how many fall outside its vocabulary and, for variable-length features, a
histogram of the lengths (``dataprep.stats``, and ``stats.json``; :mod:`dataprep.drift` compares them).

Means and variances are merged batch by batch (Chan et al.), so they are exact. Quantiles come from a
uniform random sample of at most ``SAMPLE`` values per feature (bottom-k of random keys), so they are
exact up to that many rows and approximate beyond (standard error ~ 1/sqrt(SAMPLE) in rank). Histograms are
on the fixed grid of :mod:`dataprep.histogram`, exact counts whatever the number of rows.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .histogram import Histogram
from .outputs import PNG_METADATA
from .schema import Feature, Schema

SAMPLE = 100_000
QUANTILES = (0.25, 0.5, 0.75)
MAX_CATEGORIES = 10_000
BLOCK = 65536  # values merged per step, whatever sizes they arrive in


@dataclass
class _Blocked:
    """Values merged in steps of exactly ``BLOCK`` however a reader batches them, so that the statistics
    of a sequence of values do not depend on its batches (the pass-one collector and a folder's reader
    batch differently, and must agree to the bit)."""

    _parts: list = field(default_factory=list, repr=False)
    _queued: int = field(default=0, repr=False)
    lengths: Histogram | None = None  # values per record, of a variable-length feature
    default: Any = None  # the schema's default (a scalar), whose occurrences ``defaults`` counts
    defaults: int = 0

    def count_lengths(self, lengths: np.ndarray | None) -> None:
        """Add the lengths of the records just added (variable-length features only)."""
        if self.lengths is not None and lengths is not None:
            self.lengths.update(lengths)

    def _extra(self) -> dict:
        """What ``to_dict`` adds for a feature with a default or a variable length."""
        out: dict = {}
        if self.default is not None:
            out["default"], out["defaults"] = self.default, self.defaults
        if self.lengths is not None:
            out["lengths"] = self.lengths.to_dict()
        return out

    def _queue(self, values: Any) -> None:
        if len(values):
            self._parts.append(values)
            self._queued += len(values)
        if self._queued >= BLOCK:
            self._drain(final=False)

    def flush(self) -> None:
        """Merge the values still queued (the statistics read below are complete after this)."""
        if self._queued:
            self._drain(final=True)

    def _drain(self, final: bool) -> None:
        parts = self._parts
        x = parts[0] if len(parts) == 1 else pa.concat_arrays(parts) if isinstance(parts[0], pa.Array) \
            else np.concatenate(parts)
        end = len(x) if final else len(x) - len(x) % BLOCK
        for start in range(0, end, BLOCK):
            self._merge(x[start:start + BLOCK])
        self._parts, self._queued = ([x[end:]] if end < len(x) else []), len(x) - end

    def _merge(self, block: Any) -> None:
        raise NotImplementedError


@dataclass
class NumericStats(_Blocked):
    """Count, missing, moments, extremes and a bounded uniform sample of one feature's numbers; ``rng``
    draws the sample's keys (one generator per feature, so no feature's sample depends on another's)."""

    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0), repr=False)
    count: int = 0
    missing: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = np.inf
    max: float = -np.inf
    sample: np.ndarray = field(default_factory=lambda: np.zeros(0))
    histogram: Histogram = field(default_factory=Histogram)
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _bound: float = field(default=np.inf, repr=False)  # the SAMPLE-th smallest key at the last trim
    _candidates: list = field(default_factory=list, repr=False)  # (keys, values) that may join the sample
    _pending: int = field(default=0, repr=False)  # how many

    def update(self, values: np.ndarray, missing: int = 0) -> None:
        """Add present ``values`` (NaN counts as missing, as in pandas) and ``missing`` absent ones."""
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        nan = np.isnan(x)
        absent = int(np.count_nonzero(nan))
        self.missing += missing + absent
        self._queue(x[~nan] if absent else x)

    def _merge(self, x: np.ndarray) -> None:
        """Chan et al.'s merge of a block's moments; its values join the sample when their random keys are
        among the ``SAMPLE`` smallest seen (bottom-k)."""
        n, mean = x.size, float(x.mean())
        d = x - mean
        d *= d  # in place: a second temporary costs more than the arithmetic here
        m2 = float(d.sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta ** 2 * self.count * n / total
        self.count = total
        self.min, self.max = min(self.min, float(x.min())), max(self.max, float(x.max()))
        self.histogram.update(x)
        if self.default is not None:
            self.defaults += int(np.count_nonzero(x == self.default))
        keys = self.rng.random(n)
        if self._bound < np.inf:  # only keys below the SAMPLE-th smallest so far can be in the sample
            below = keys < self._bound
            keys, x = keys[below], x[below]
        self._candidates.append((keys, x))
        self._pending += len(keys)
        if self._pending > SAMPLE:
            self._trim()

    def _trim(self) -> None:
        """Keep the values of the ``SAMPLE`` smallest keys (trimmed in bulk, not once per block)."""
        if not self._candidates:
            return
        keys = np.concatenate([self.keys, *(k for k, _ in self._candidates)])
        sample = np.concatenate([self.sample, *(v for _, v in self._candidates)])
        self._candidates, self._pending = [], 0
        if len(keys) > SAMPLE:
            keep = np.argpartition(keys, SAMPLE)[:SAMPLE]
            keys, sample = keys[keep], sample[keep]
            self._bound = float(keys.max())
        self.keys, self.sample = keys, sample

    def flush(self) -> None:
        super().flush()
        self._trim()

    def to_dict(self) -> dict:
        self.flush()
        if not self.count:
            return {"kind": "numeric", "count": 0, "missing": self.missing, **self._extra()}
        q = np.quantile(self.sample, QUANTILES) if len(self.sample) else []
        return {"kind": "numeric", "count": self.count, "missing": self.missing, "mean": self.mean,
                "std": float(np.sqrt(self.m2 / (self.count - 1))) if self.count > 1 else 0.0,
                "min": self.min, **{f"{int(p * 100)}%": float(v) for p, v in zip(QUANTILES, q)}, "max": self.max,
                "quantiles_exact": len(self.sample) == self.count, **self._extra(),
                "histogram": self.histogram.to_dict()}


@dataclass
class CategoricalStats(_Blocked):
    """Value counts of one feature's text or bytes (as text), the commonest ``MAX_CATEGORIES`` kept."""

    count: int = 0
    missing: int = 0
    values: Counter = field(default_factory=Counter)
    truncated: bool = False
    vocabulary: frozenset | None = None  # the schema's, whose outsiders ``oov`` counts
    oov: int = 0

    def update(self, values: pa.Array | pa.ChunkedArray | np.ndarray, missing: int = 0) -> None:
        """Add ``values`` (an Arrow array, counted by Arrow; or a numpy array of Python objects, such as a
        reader's bytes, counted by ``Counter``) and ``missing`` absent ones."""
        self.missing += missing
        self._queue(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)

    def _merge(self, block: pa.Array | np.ndarray) -> None:
        """Count a block's distinct values, each once (bytes read as UTF-8, others as their text)."""
        counts: Counter = Counter()
        for v, c in _value_counts(block):
            counts[v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)] += c
        self.count += len(block)
        self.values.update(counts)
        if self.vocabulary is not None:
            self.oov += sum(c for v, c in counts.items() if v not in self.vocabulary)
        if self.default is not None:
            self.defaults += counts.get(self.default, 0)
        if len(self.values) > MAX_CATEGORIES:
            self.values = Counter(dict(self.values.most_common(MAX_CATEGORIES)))
            self.truncated = True

    def to_dict(self) -> dict:
        self.flush()
        return {"kind": "categorical", "count": self.count, "missing": self.missing,
                "distinct": len(self.values), "truncated": self.truncated, **self._extra(),
                **({"oov": self.oov} if self.vocabulary is not None else {}),
                "vocabulary": dict(sorted(self.values.items(), key=lambda kv: (-kv[1], kv[0])))}


def _value_counts(block: pa.Array | np.ndarray) -> Iterable[tuple[Any, int]]:
    """A block's distinct values and their counts, in order of first appearance (as ``Counter`` keeps them,
    so that which values a truncation keeps does not depend on how they were counted)."""
    if isinstance(block, np.ndarray):
        return Counter(block.tolist()).items()
    try:
        vc = pc.value_counts(block)
    except pa.ArrowNotImplementedError:  # nested values: counted by their text
        return Counter(map(str, block.to_pylist())).items()
    return zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist())


def accumulator(f: Feature, index: int, seed: int) -> NumericStats | CategoricalStats:
    """The statistics of feature ``f`` (the ``index``-th summarised): numbers for numbers and pixels, value
    counts for text and bytes; its sample is drawn from a generator of its own, seeded by ``seed`` and
    ``index``. Occurrences of a scalar default are counted (a filled-in missing value cannot be told from a
    genuine one once written), values outside a vocabulary too, and the lengths of variable-length records."""
    default = None if isinstance(f.default, list) else f.default
    lengths = None if f.is_fixed else Histogram()
    if f.is_numeric or f.is_image:  # pixels: the values of a uint8 array
        return NumericStats(rng=np.random.default_rng([seed, index]), lengths=lengths,
                            default=None if default is None else float(np.asarray(default, f.type_info.numpy)))
    return CategoricalStats(lengths=lengths, default=default,
                            vocabulary=None if f.vocabulary is None else frozenset(f.vocabulary))


def summarised(schema: Schema) -> list[Feature]:
    """The features a folder's statistics cover: all but encoded images (their statistics are those of the
    pixels, which these passes do not decode)."""
    return [f for f in schema.features if not f.type_info.encoded_image]


class StatsReport:
    """Accumulated statistics per split and feature; ``to_dict`` is what ``stats.json`` holds, ``summary``
    the table ``dataprep stats`` prints; ``written`` is where :func:`stats` wrote it (None: nowhere)."""

    def __init__(self, path: str, schema: Schema | None = None):
        self.path, self.schema = path, schema  # schema: that of a converted folder (written into stats.json)
        self.splits: dict[str, dict[str, NumericStats | CategoricalStats]] = {}
        self.written: Path | None = None
        self.plotted: Path | None = None  # where :func:`stats` drew the splits' charts (None: nowhere)

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
                **({"schema": self.schema.to_dict()} if self.schema is not None else {}),
                "splits": {split: {name: acc.to_dict() for name, acc in feats.items()}
                           for split, feats in self.splits.items()}}

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def plot(self, path: str | Path) -> None:
        """:meth:`figure` saved as a PNG at ``path``."""
        import matplotlib.pyplot as plt

        fig = self.figure()
        fig.savefig(path, dpi=80, metadata=PNG_METADATA)
        plt.close(fig)

    def figure(self):
        """A histogram per numeric feature (from its sample) and a bar chart per categorical, every split drawn
        on the same axes and named in a legend (shares of each split, so splits of any size compare)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = list(dict.fromkeys(name for features in self.splits.values() for name in features))
        cols = 3
        rows = max(1, -(-len(names) // cols))
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
        for ax, name in zip(axes.flat, names):
            drawn = {split: features[name] for split, features in self.splits.items() if name in features}
            for acc in drawn.values():
                acc.flush()
            first = next(iter(drawn.values()))
            if isinstance(first, CategoricalStats):
                _bars(ax, drawn)
            else:
                _histograms(ax, drawn)
            missing = ", ".join(f"{split} {acc.missing}" for split, acc in drawn.items())
            ax.set_title(f"{name} (missing: {missing})", fontsize=8)
            ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(names):]:
            ax.axis("off")
        fig.suptitle(f"{self.path}: {', '.join(self.splits)}", fontsize=9)
        fig.tight_layout()
        return fig


def _histograms(ax, drawn: dict) -> None:
    """Each split's sample as an outlined histogram over the same 30 bins, as a share of its values."""
    samples = {split: acc.sample for split, acc in drawn.items() if isinstance(acc, NumericStats) and acc.count}
    values = np.concatenate(list(samples.values())) if samples else np.zeros(0)
    values = values[np.isfinite(values)]
    if not len(values):
        return
    bins = np.histogram_bin_edges(values, bins=30)
    for split, sample in samples.items():
        sample = sample[np.isfinite(sample)]
        ax.hist(sample, bins=bins, histtype="step", weights=np.full(len(sample), 1 / max(len(sample), 1)),
                label=split)


def _bars(ax, drawn: dict) -> None:
    """The first split's 15 commonest values, each split's share of them side by side."""
    counters = {split: acc.values for split, acc in drawn.items() if isinstance(acc, CategoricalStats)}
    top = [k for k, _ in next(iter(counters.values())).most_common(15)]
    width = 0.8 / max(len(counters), 1)
    for i, (split, counts) in enumerate(counters.items()):
        total = sum(counts.values()) or 1
        ax.bar(np.arange(len(top)) + i * width, [counts.get(k, 0) / total for k in top], width, label=split)
    ax.set_xticks(np.arange(len(top)) + 0.4 - width / 2, [str(k)[:12] for k in top])
    ax.tick_params(axis="x", rotation=45, labelsize=7)


def stats(path: str | Path, splits: Sequence[str] | None = None, *, output: str | Path | None = None,
          plot: str | Path | None = None, seed: int = 0) -> StatsReport:
    """Statistics of ``path``: of each split (``splits``: default all) of a converted folder, written to
    ``stats.json`` beside its shards (or to ``output``), or of every scalar column of a raw input, written to
    ``output`` only. ``plot`` draws a histogram per numeric feature and a bar chart per categorical of
    every split (named in a legend) into a PNG. Neither file may be an input or a file dataprep did not
    write; both are checked before the pass."""
    from .manifest import MANIFEST, STATS
    from .outputs import check_file_target
    from .storage import is_object, is_remote, join

    remote = is_remote(path)  # a folder on object storage: its stats.json is written only where -o says
    folder = is_object(join(str(path), MANIFEST)) if remote else (Path(path) / MANIFEST).is_file()
    target = Path(output) if output else Path(path) / STATS if folder and not remote else None
    for file, kind, option in ((target, "stats", "-o"), (plot, "png", "--plot")):
        if file:
            check_file_target(file, [Path(path)], kind, option)
    report = folder_stats(path, list(splits) if splits else None, seed) if folder else source_stats(path, seed)
    if target:
        report.write(target)
        report.written = target
    if plot:
        report.plot(plot)
        report.plotted = Path(plot)
    return report


def folder_stats(path: str | Path, splits: list[str] | None = None, seed: int = 0) -> StatsReport:
    """Statistics of every feature (:func:`summarised`) of each split of a converted folder, read without
    TensorFlow in file order."""
    from .manifest import load_manifest
    from .records import RaggedArray, SparseArray, iter_batches

    manifest = load_manifest(path)
    features = summarised(manifest.schema)
    report = StatsReport(str(path), manifest.schema)
    for split in splits or manifest.splits:
        acc: dict = report.splits.setdefault(split, {})
        for batch in iter_batches(manifest, split, batch_size=BLOCK):  # the folder loaded above
            for i, f in enumerate(features):
                value = batch[f.name]
                if f.name not in acc:
                    acc[f.name] = accumulator(f, i, seed)
                listed = isinstance(value, (RaggedArray, SparseArray))  # sparse: its stored entries, as pass one's
                acc[f.name].update((value.values if listed else np.asarray(value)).reshape(-1))
                acc[f.name].count_lengths(np.diff(value.row_splits) if listed else None)
    return report


def source_stats(source: Any, seed: int = 0) -> StatsReport:
    """Statistics of every scalar column of a raw input; text that parses as numbers is numeric."""
    from .sources import iter_batches

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
                if name not in acc:
                    acc[name] = NumericStats(rng=np.random.default_rng([seed, len(acc)]))
                acc[name].update(values)  # nulls arrive as NaN
            else:
                if isinstance(acc.get(name), NumericStats):  # text after numbers: categorical after all
                    acc[name] = CategoricalStats()
                acc.setdefault(name, CategoricalStats()).update(pc.drop_null(arr), arr.null_count)
    return report
