"""Split planning: which staged record goes to which split, in which order, seeded and reproducible."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrow_numpy import to_numpy
from .batch import Batch
from .errors import DataError, UsageError

SPLIT_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def parse_split(spec: str | Mapping[str, float] | None) -> dict[str, float]:
    """``"train=0.8,valid=0.1,test=0.1"`` (or a dict) -> ratios that sum to 1; None -> ``{"train": 1}``."""
    if spec is None or spec == "":
        return {"train": 1.0}
    if isinstance(spec, str):
        ratios: dict[str, float] = {}
        for part in spec.split(","):
            name, eq, value = part.partition("=")
            name = name.strip()
            try:
                ratio = float(value)
            except ValueError:
                raise UsageError(f"split {part.strip()!r}: expected NAME=RATIO, e.g. train=0.8") from None
            if not eq or not name:
                raise UsageError(f"split {part.strip()!r}: expected NAME=RATIO, e.g. train=0.8")
            if name in ratios:
                raise UsageError(f"split {name!r} is named twice")
            ratios[name] = ratio
    else:
        ratios = {str(k): float(v) for k, v in spec.items()}
    for name, ratio in ratios.items():
        if not SPLIT_NAME.match(name):
            raise UsageError(f"split name {name!r} may hold only letters, digits and _")
        if not ratio > 0:
            raise UsageError(f"split {name!r}: ratio must be > 0, got {ratio}")
    total = sum(ratios.values())
    if abs(total - 1.0) > 1e-6:
        raise UsageError(f"split ratios sum to {total:g}, they must sum to 1")
    return ratios


def split_sizes(n: int, ratios: dict[str, float]) -> dict[str, int]:
    """Exact sizes by the largest-remainder method: they sum to ``n`` and each is within 1 of ratio * n."""
    raw = {k: r * n for k, r in ratios.items()}
    sizes = {k: int(np.floor(v)) for k, v in raw.items()}
    left = n - sum(sizes.values())
    for k in sorted(raw, key=lambda k: (-(raw[k] - sizes[k]), list(raw).index(k)))[:left]:
        sizes[k] += 1
    return sizes


def assign_by_ratio(n: int, ratios: dict[str, float], seed: int, shuffle: bool) -> dict[str, np.ndarray]:
    """Record ids per split: a seeded permutation cut at the ratios; without ``shuffle`` each split keeps
    its records in input order."""
    perm = np.random.default_rng(seed).permutation(n)
    out, start = {}, 0
    for name, size in split_sizes(n, ratios).items():
        ids = perm[start:start + size]
        out[name] = ids if shuffle else np.sort(ids)
        start += size
    return out


def hash_buckets(values: pa.Array | np.ndarray, ratios: dict[str, float]) -> np.ndarray:
    """Split index per row from a stable hash (SHA-256) of the value's text (missing = empty text): the same
    key always lands in the same split, whatever the order, seed or machine."""
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(np.asarray(values))
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    encoded = pc.dictionary_encode(pc.fill_null(arr, ""))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    bounds = np.cumsum(list(ratios.values()))
    digests = [hashlib.sha256(v.encode("utf-8")).digest()[:8] for v in encoded.dictionary.to_pylist()]
    u = np.array([int.from_bytes(d, "big") / 2.0**64 for d in digests])
    per_value = np.minimum(np.searchsorted(bounds, u, side="right"), len(bounds) - 1).astype(np.int8)
    return per_value[to_numpy(encoded.indices).astype(np.int64)]


def named_buckets(values: pa.Array | np.ndarray, names: list[str], where: Callable[[int], str]) -> np.ndarray:
    """Split index per row from a column whose values name the split (``train``, ``valid``, ...)."""
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(np.asarray(values))
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    arr = pc.utf8_trim_whitespace(pc.fill_null(arr, ""))
    index = to_numpy(pc.index_in(arr, value_set=pa.array(names)))
    unknown = np.flatnonzero(np.isnan(index.astype(np.float64)))
    if len(unknown):
        row = int(unknown[0])
        raise DataError(f"{where(row)}: split {arr[row].as_py()!r} is not one of {', '.join(names)} "
                        "(the names given with --split)")
    return index.astype(np.int8)


@dataclass(frozen=True)
class SplitKey:
    """The column that decides each row's split: a stable hash of its value (``split_by``), or the split's
    name itself (``split_column``)."""

    column: str
    named: bool = False

    def buckets(self, batch: Batch, kept: np.ndarray | None, ratios: dict[str, float]) -> np.ndarray:
        """Split index of every kept row of ``batch`` (``kept``: positions kept, None for all)."""
        values = batch.columns[self.column]
        if self.named:
            out = named_buckets(values, list(ratios), lambda row: batch.where(row, self.column))
        else:
            out = hash_buckets(values, ratios)
        return out if kept is None else out[kept]


def parse_split_names(spec: str | None) -> dict[str, float]:
    """Split names for ``split_column`` (``"train,valid,test"``; ratios, if written, are ignored) as the
    ratios mapping the planner takes."""
    names = [part.partition("=")[0].strip() for part in (spec or "train,valid,test").split(",") if part.strip()]
    for name in names:
        if not SPLIT_NAME.match(name):
            raise UsageError(f"split name {name!r} may hold only letters, digits and _")
    if len(set(names)) != len(names):
        raise UsageError(f"split names repeat: {spec}")
    return {name: 1.0 / len(names) for name in names}


def assign_by_bucket(buckets: np.ndarray, ratios: dict[str, float], seed: int, shuffle: bool
                     ) -> dict[str, np.ndarray]:
    """Record ids per split from precomputed bucket numbers, shuffled within each split when asked."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, name in enumerate(ratios):
        ids = np.flatnonzero(buckets == i)
        out[name] = rng.permutation(ids) if shuffle else ids
    return out
