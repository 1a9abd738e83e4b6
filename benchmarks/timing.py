"""Timing helpers shared by the benchmark scripts."""
from __future__ import annotations

import sys
import time

import numpy as np


def timed(fn, repeat: int = 1) -> float:
    """Median wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def step(name: str) -> None:
    print(f"... {name}", file=sys.stderr, flush=True)
