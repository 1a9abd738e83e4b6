"""Split planning: which staged record goes to which split, in which order, seeded and reproducible."""
from __future__ import annotations

import hashlib
import re
from typing import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import UsageError

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
    return per_value[encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)]


def assign_by_bucket(buckets: np.ndarray, ratios: dict[str, float], seed: int, shuffle: bool
                     ) -> dict[str, np.ndarray]:
    """Record ids per split from precomputed bucket numbers, shuffled within each split when asked."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, name in enumerate(ratios):
        ids = np.flatnonzero(buckets == i)
        out[name] = rng.permutation(ids) if shuffle else ids
    return out
