"""The work folder of a conversion, where everything is written before it is renamed into place.

It is named after the output (``.{out}.partial``), so an interrupted run (killed, out of time, Ctrl-C) can
be resumed: ``run.json`` fingerprints the inputs and options, and ``journal.jsonl`` lists every shard that
was completely written, with its size and checksum. A resumed run re-encodes the input (deterministic, so
the plan is the same) and writes only the shards the journal vouches for no longer, or never did.

The folder is also the conversion's lock: the run holds an exclusive ``flock`` on it (``lock.json`` says who),
so a second conversion into the same output fails at once instead of both writing the same files. The kernel
drops the lock when the process dies, however it dies, so ``--resume`` after ``kill -9`` needs no clean-up.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
from pathlib import Path

from .checksum import sha256_file
from .errors import UsageError
from .outputs import RUN, work_folder
from .shards import ShardResult
from .sources import Source

JOURNAL = "journal.jsonl"
HOLDER = "lock.json"


class WorkFolder:
    """``.{out}.partial`` beside ``out``, locked for this run; ``done`` holds the shards a resumed run can keep."""

    def __init__(self, out: Path, fingerprint: dict | None, resume: bool):
        self.path = work_folder(out)
        self.done: dict[str, ShardResult] = {}
        self.written = 0  # shards completed by this run
        self._lock = threading.Lock()
        self._fd: int | None = _lock(self.path, out)
        try:
            (self.path / HOLDER).write_text(json.dumps({"pid": os.getpid(), "started": time.strftime(
                "%Y-%m-%d %H:%M:%S UTC", time.gmtime())}))
            earlier = _read_json(self.path / RUN) if resume else None
            if resume and fingerprint is not None and earlier == fingerprint:
                self.done = self._verified()
            elif fingerprint is not None and isinstance(earlier, dict) and \
                    earlier.get("settings") == fingerprint["settings"]:
                raise UsageError(f"cannot resume {out}: {_changed(earlier.get('files'), fingerprint['files'])} "
                                 "since the interrupted run; rerun without --resume to convert it afresh")
            else:
                _clear(self.path)
                (self.path / RUN).write_text(json.dumps(fingerprint))
            (self.path / JOURNAL).write_text("".join(json.dumps(r.__dict__) + "\n" for r in self.done.values()))
        except BaseException:
            self.release()
            raise

    def record(self, result: ShardResult) -> None:
        """Note a shard as complete (called once its file and index are closed)."""
        with self._lock, open(self.path / JOURNAL, "a") as fh:
            fh.write(json.dumps(result.__dict__) + "\n")
            self.written += 1

    def finish(self) -> None:
        """Remove the run's bookkeeping before the folder becomes the output (the lock stays held)."""
        for name in (RUN, JOURNAL, HOLDER):
            (self.path / name).unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self.release()

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None

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


def fingerprint(source: Source, settings: dict) -> dict | None:
    """What must be equal for a run to resume another: the settings and every input file's name, size and
    SHA-256 (:meth:`Source.fingerprint`; the hash costs about 0.2 s per 100 MB, hardware SHA). In-memory
    sources cannot be fingerprinted (None: no resume)."""
    files = source.fingerprint()
    return None if files is None else {"settings": settings, "files": files}


def _changed(before, now: list[dict]) -> str:
    """Which input differs between two fingerprints, in words."""
    old = {f.get("path"): f for f in before} if isinstance(before, list) else {}
    for f in now:
        if f["path"] not in old:
            return f"the input {f['path']} is new"
        if old[f["path"]] != f:
            return f"the input {f['path']} changed (its size or SHA-256 differs)"
    return "an input was removed"


def _lock(path: Path, out: Path) -> int:
    """Create ``path`` if needed and hold an exclusive lock on it; raise naming the run that holds it."""
    for _ in range(10):
        try:
            path.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except FileExistsError:
            raise UsageError(f"{path} exists and is not a folder; dataprep needs it as the work folder of {out}") \
                from None
        except NotADirectoryError:
            raise UsageError(f"{path} is not a folder; dataprep needs it as the work folder of {out}") from None
        except FileNotFoundError:
            continue  # removed between the two calls: try again
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read_json(path / HOLDER) or {}
            raise UsageError(f"another conversion into {out} is running (pid {holder.get('pid', '?')}, started "
                             f"{holder.get('started', '?')}; work folder {path}); wait for it to finish, or stop "
                             "it and rerun with --resume") from None
        try:
            same = os.path.samestat(os.stat(path), os.fstat(fd))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the folder we locked was renamed into place or removed by its run: lock the new one
    raise UsageError(f"cannot lock the work folder {path}: other conversions keep replacing it")


def _clear(path: Path) -> None:
    """Empty a work folder for a fresh run (the folder itself stays: it is what we hold the lock on)."""
    entries = [p for p in path.iterdir() if p.name != HOLDER]
    if entries and not (path / RUN).is_file():
        raise UsageError(f"{path} holds files but is not a dataprep work folder (no {RUN}); move it away")
    for p in entries:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
