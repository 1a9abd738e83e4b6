"""The work folder of a conversion, where everything is written before it is renamed into place.

It is named after the output (``.{out}.partial``), so an interrupted run (killed, out of time, Ctrl-C) can
be resumed: ``run.json`` fingerprints the inputs and options, and ``journal.jsonl`` lists every shard that
was completely written, with its size and checksum. A resumed run re-encodes the input (deterministic, so
the plan is the same) and writes only the shards the journal vouches for no longer, or never did.
"""
from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

from .checksum import sha256_file
from .shards import ShardResult
from .sources import input_files, is_path_source

RUN = "run.json"
JOURNAL = "journal.jsonl"


class WorkFolder:
    """``.{out}.partial`` beside ``out``; ``done`` holds the shards a resumed run can keep."""

    def __init__(self, out: Path, fingerprint: dict | None, resume: bool):
        self.path = out.parent / f".{out.name}.partial"
        self.done: dict[str, ShardResult] = {}
        self._lock = threading.Lock()
        if resume and fingerprint is not None and self.path.is_dir() and _read_json(self.path / RUN) == fingerprint:
            self.done = self._verified()
        else:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.mkdir(parents=True)
            (self.path / RUN).write_text(json.dumps(fingerprint))
        (self.path / JOURNAL).write_text("".join(json.dumps(r.__dict__) + "\n" for r in self.done.values()))

    def record(self, result: ShardResult) -> None:
        """Note a shard as complete (called once its file and index are closed)."""
        with self._lock, open(self.path / JOURNAL, "a") as fh:
            fh.write(json.dumps(result.__dict__) + "\n")

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def _verified(self) -> dict[str, ShardResult]:
        """Journal entries whose shard and index files are there with the recorded size and checksum."""
        done = {}
        lines = (self.path / JOURNAL).read_text().splitlines() if (self.path / JOURNAL).exists() else []
        for line in lines:
            try:
                r = ShardResult(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a line cut short by the interruption
            shard, index = self.path / r.name, self.path / r.index
            if shard.is_file() and index.is_file() and shard.stat().st_size == r.num_bytes and \
                    index.stat().st_size == 8 * (r.num_records + 1) and sha256_file(shard) == r.sha256:
                done[r.name] = r
        return done


def fingerprint(source, settings: dict) -> dict | None:
    """What must be equal for a run to resume another: the settings and every input file's name, size and
    modification time. In-memory sources cannot be fingerprinted (None: no resume)."""
    if is_path_source(source):
        files = [{"path": str(p.resolve()), "size": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns}
                 for p in input_files(source)]
        return {"settings": settings, "files": files}
    return None


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
