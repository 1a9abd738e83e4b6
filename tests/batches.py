"""What the TF-free reader tests share: the fixed-layout schema, batches merged back into columns, and a digest
of every byte of a batch (to compare runs, also across processes)."""
from __future__ import annotations

import hashlib

import numpy as np

from dataprep.records import RaggedArray
from tests.tables import SCHEMA

FIXED = {"features": [f for f in SCHEMA["features"] if f["name"] in ("f_scalar", "f_vec", "img", "y")]}


def merged(batches) -> dict:
    """Batches as one column per feature (variable-length ones as lists of per-record arrays)."""
    out: dict = {}
    ragged = set()
    for batch in batches:
        for k, v in batch.items():
            if isinstance(v, RaggedArray):
                ragged.add(k)
                out.setdefault(k, []).extend(v.values[v.row_splits[i]:v.row_splits[i + 1]]
                                             for i in range(len(v.row_splits) - 1))
            else:
                out.setdefault(k, []).append(v)
    return {k: v if k in ragged else np.concatenate(v) for k, v in out.items()}


def digest(batch: dict) -> str:
    """A hash of a batch's every byte (values, ragged row splits, dtypes and shapes)."""
    h = hashlib.sha256()
    for name in sorted(batch):
        v = batch[name]
        for part in (v.values, v.row_splits) if isinstance(v, RaggedArray) else (v,):
            h.update(f"{name}{part.dtype}{part.shape}".encode())
            h.update(b"".join(part.tolist()) if part.dtype == object else part.tobytes())
    return h.hexdigest()
