"""Fresh processes for every figure: ``python -m benchmarks.child MODULE CASE SETTINGS`` runs one case of
``MODULE.CASES`` in a new interpreter and prints one JSON line; :func:`measure` spawns those children, runs of
all cases interleaved (so a burst of load hits the tutorial and dataprep alike), and keeps the medians.

A child times its case's first run (cold: what a CLI user or a first epoch feels) and, for cases that say
so, a second run in the same process (warm). Imports and input generation are excluded (``prepare``); the
start-up figure is the time from spawning the child to the end of ``prepare``, imports included.
"""
from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    """One measured path. ``prepare(settings)`` imports and builds what is not timed and returns the timed
    call, which returns the rows it handled (or None: ``settings[rows]``) or a dict with ``rows`` and more."""
    label: str
    group: str  # the table it belongs to (see benchmarks.report)
    prepare: Callable[[dict], Callable[[], Any]]
    rows: str = "rows"  # the settings key holding its row count
    baseline: str | None = None  # the case its ratio is against
    warm: bool = False  # also time a second run in the same process
    runs: int | None = None  # fewer fresh runs than the others (slow peers); None: all
    tree_rss: bool = False  # peak RSS of the whole process tree (engines with worker processes)
    extra: dict = field(default_factory=dict)  # fixed facts shown beside the figure


def _own_peak_rss_mib() -> float:
    """VmHWM: this process image's own peak (ru_maxrss would count what the parent had when it forked)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PeakSampler:
    """Samples ``measure()`` every ``every`` seconds in a thread, for its peak (the last value included)."""

    def __init__(self, measure: Callable[[], float], every: float) -> None:
        self.measure, self.every, self.peak = measure, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self.measure())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self.measure())


def _tree_rss_mib(root: int) -> float:
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
        except OSError:
            continue
        parents[int(entry.name)] = int(fields.get("PPid", "0"))
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(p for p, parent in parents.items() if parent == pid)
    return total / 1024


def child_main(module: str, name: str, settings: dict) -> dict:
    """Run one case here and return its figures (the body of a child process)."""
    case: Case = importlib.import_module(module).CASES[name]
    run = case.prepare(settings)
    ready = time.time()
    sampler = PeakSampler(lambda: _tree_rss_mib(os.getpid()), 0.2) if case.tree_rss else None  # RSS of the tree
    out: dict[str, Any] = {"ready_at": ready}
    for kind in ("cold", "warm") if case.warm else ("cold",):
        start = time.perf_counter()
        got = run()
        out[f"{kind}_s"] = time.perf_counter() - start
        info = got if isinstance(got, dict) else {"rows": got}
        out["rows"] = info.pop("rows", None) or settings[case.rows]
        out.update(info)
    out["peak_rss_mib"] = round(sampler.stop() if sampler else _own_peak_rss_mib(), 1)
    return out


def spawn(module: str, name: str, settings: dict, python: str = sys.executable) -> dict:
    """One fresh child process running case ``name``; its figures with ``startup_s`` filled in."""
    start = time.time()
    done = subprocess.run([python, "-m", "benchmarks.child", module, name, json.dumps(settings)], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        raise SystemExit(f"benchmark case {name} failed:\n{done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["startup_s"] = result.pop("ready_at") - start
    return result


def measure(module: str, cases: dict[str, Case], settings: dict, repeat: int,
            log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> dict[str, dict]:
    """Every case of ``cases`` in ``repeat`` fresh processes, interleaved; per case its runs and medians."""
    runs: dict[str, list[dict]] = {name: [] for name in cases}
    for i in range(repeat):
        for name, case in cases.items():
            if case.runs is not None and i >= case.runs:
                continue
            log(f"... run {i + 1}/{repeat}: {name}")
            runs[name].append(spawn(module, name, settings))
    return {name: summarise(case, runs[name]) for name, case in cases.items()}


def summarise(case: Case, runs: list[dict]) -> dict:
    """A case's entry in the results file: what it is, its runs, and the medians the tables show."""
    rows = runs[0]["rows"]
    out: dict[str, Any] = {"label": case.label, "group": case.group, "baseline": case.baseline, "rows": rows,
                           "runs": len(runs), **case.extra}
    for kind in ("cold", "warm"):
        if f"{kind}_s" in runs[0]:
            out[f"{kind}_rows_per_s"] = round(rows / statistics.median(r[f"{kind}_s"] for r in runs))
    out["startup_s"] = round(statistics.median(r["startup_s"] for r in runs), 2)
    out["peak_rss_mib"] = round(statistics.median(r["peak_rss_mib"] for r in runs), 1)
    known = {"rows", "cold_s", "warm_s", "startup_s", "peak_rss_mib"}
    for key in sorted(set(runs[0]) - known):  # case-specific facts: the median run's
        values = [r[key] for r in runs]
        out[key] = statistics.median(values) if all(isinstance(v, (int, float)) for v in values) else values[0]
    out["raw"] = runs
    return out


if __name__ == "__main__":
    print(json.dumps(child_main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))))
