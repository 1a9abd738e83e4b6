"""Synthetic inputs for the benchmarks: the 9-column float table in numpy, Parquet and CSV, and an image set."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

COLUMNS = [f"f{i}" for i in range(8)] + ["target"]
TABLE_SCHEMA = {"name": "bench", "features": [
    *({"name": c, "dtype": "float32", "shape": []} for c in COLUMNS[:-1]),
    {"name": "target", "dtype": "float32", "shape": [], "role": "label"}]}
IMAGE_SCHEMA = {"name": "images", "features": [
    {"name": "image", "dtype": "uint8", "shape": [28, 28, 1]},
    {"name": "label", "dtype": "int64", "shape": [], "role": "label"}]}


def table(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {c: rng.standard_normal(rows).astype(np.float32) for c in COLUMNS}


def images(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"image": rng.integers(0, 256, (rows, 28, 28, 1), dtype=np.uint8),
            "label": rng.integers(0, 10, rows).astype(np.int64)}


def write_files(data: dict[str, np.ndarray], folder: Path) -> dict[str, Path]:
    """The table as Parquet and CSV files (CSV floats in shortest round-trip text, as exports have)."""
    t = pa.table(data)
    paths = {"parquet": folder / "table.parquet", "csv": folder / "table.csv"}
    pq.write_table(t, paths["parquet"])
    pacsv.write_csv(t, paths["csv"])
    return paths


def write_big_csv(path: Path, rows: int, chunk: int = 1_000_000) -> None:
    """A CSV of ``rows`` rows written chunk by chunk, so generating it needs little memory."""
    with pacsv.CSVWriter(str(path), pa.schema([(c, pa.float32()) for c in COLUMNS])) as w:
        for start in range(0, rows, chunk):
            w.write_table(pa.table(table(min(chunk, rows - start), seed=start)))


TEXT_SCHEMA = {"name": "bench_text", "features": [
    *TABLE_SCHEMA["features"][:-1], {"name": "city", "dtype": "string", "shape": []},
    TABLE_SCHEMA["features"][-1]]}


def text_table(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The float table with one 3-value string column, as a new user's first CSV often has."""
    data = table(rows, seed)
    cities = np.array(["Lisbon", "Oslo", "Kyoto"], dtype=object)
    return {**{c: data[c] for c in COLUMNS[:-1]}, "city": cities[np.random.default_rng(seed).integers(0, 3, rows)],
            "target": data["target"]}
