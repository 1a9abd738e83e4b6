"""What a results file records beside its figures: the commit, the date, the machine, the load average and
the versions, so that a figure can be judged (and a table regenerated) without asking who measured it."""
from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (what else was running while we measured)."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    """CPU model, logical cores and RAM of this machine."""
    cpu = platform.processor() or platform.machine()
    ram_kib = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_kib = int(line.split()[1])
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(ram_kib / 2**20, 1),
            "python": platform.python_version(), "system": platform.system()}


def commit() -> str:
    """The checkout's short commit, with ``+dirty`` when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def versions(packages: list[str]) -> dict[str, str | None]:
    """Installed versions of ``packages`` (None where absent), read without importing them."""
    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def header(name: str, settings: dict, packages: list[str]) -> dict:
    """The start of a results file; :func:`finish` adds the load seen at the end."""
    return {"name": name, "commit": commit(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "versions": versions(packages), "settings": settings,
            "load": {"before": load_average()}}


def finish(results: dict) -> dict:
    results["load"]["after"] = load_average()
    return results
