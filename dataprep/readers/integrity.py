"""Shard integrity for ``make_dataset``: every shard of the pipeline is checked before the graph is built,
so that no exception ever has to cross ``tf.py_function`` (one that does can leave the process hanging at
exit).

:meth:`ShardCheck.run` hashes the shards against the manifest's SHA-256 and size and checks their record
indexes against the manifest's counts (in threads; a file verified before in this process and unchanged is
not hashed again, see :mod:`dataprep.shardread`). A damaged shard is located with a walk over its framing,
then either raises an error naming the file, record and offset, or, with ``on_corrupt="skip"``, gives only
the sound records before the damage, logs it and counts it. Inside the graph, shards are read through
:meth:`ShardCheck.load`, which reads each one through the folder the manifest came from, checks it again
(cheaply: the same unchanged file is not hashed twice) and returns a flag and a message instead of raising;
the graph turns a failed flag into an ``InvalidArgumentError`` with that message, which names the file (or
says "the folder changed while reading").
"""
from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..compressions import guess_compression
from ..errors import OutputError
from ..manifest import Manifest
from ..shardread import MISMATCH, _check_size, hash_matches, read_index, read_shard, shard_error
from ..tfrecord import ScanResult, scan_file

log = logging.getLogger("dataprep")
CORRUPT_POLICIES = ("raise", "skip")
_NONE = np.zeros(0, np.int64)


class ShardCheck:
    """The shard checks of one pipeline over ``entries`` (manifest entries) of ``manifest``."""

    def __init__(self, manifest: Manifest, entries: list[dict], on_corrupt: str):
        self.manifest, self.entries, self.on_corrupt = manifest, entries, on_corrupt
        self.skipped: list[str] = []  # one message per damaged shard
        self.before_damage: dict[str, list[bytes]] = {}  # path -> the sound records before the damage (skip)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._problems: list[Future] = []

    def run(self) -> None:
        """Check every shard now; raise for the first damaged one, or note its sound records (``skip``)."""
        self.start()
        self.finish()

    def start(self) -> None:
        """Start checking every shard in threads (hashing releases the GIL), so that the caller can build its
        pipeline meanwhile; :meth:`finish` waits for the outcome."""
        workers = max(1, min(8, os.cpu_count() or 1, len(self.entries)))
        self._pool = ThreadPoolExecutor(workers)
        self._problems = [self._pool.submit(self._problem, entry) for entry in self.entries]

    def finish(self) -> None:
        """Wait for :meth:`start`'s checks; raise for the first damaged shard, or note its sound records.
        Once is enough: a second call does nothing."""
        if self._pool is None:
            return
        try:
            problems = [f.result() for f in self._problems]
        finally:
            self._pool.shutdown()
            self._pool = None
        for entry, problem in zip(self.entries, problems):
            if problem is None:
                continue
            message, records = problem
            if self.on_corrupt == "raise":
                raise OutputError(message + " (make_dataset(..., on_corrupt='skip') reads the sound records)")
            log.warning("skipping the damaged part of %s", message)
            self.skipped.append(message)
            self.before_damage[entry["path"]] = records

    def _problem(self, entry: dict) -> tuple[str, list[bytes]] | None:
        path = self.manifest.folder / entry["path"]
        try:
            with self.manifest.open(entry["path"]) as fh:
                _check_size(self.manifest, entry, os.fstat(fh.fileno()).st_size)
                if not hash_matches(fh, entry):
                    raise shard_error(self.manifest, entry["path"], MISMATCH)
            if "index" in entry:
                read_index(self.manifest, entry)
            return None
        except OutputError as e:
            if self.manifest.changed():
                raise
            return self._locate(str(e), path) if path.is_file() else (str(e), [])

    def _locate(self, message: str, path) -> tuple[str, list[bytes]]:
        """The damage's record and offset, found by a walk over the framing, and the records before it."""
        if self.manifest.shard_format.lines:
            return message, []
        scan, records = scan_file(path, self.manifest.compression, keep_records=True)
        if scan.error:
            return f"{path}: {scan.error}", records
        if MISMATCH not in message:  # the file is sound, its index is not: every record can be read
            return message, records
        return f"{path}: contents differ from the manifest's SHA-256 although all {scan.num_records} records " \
               "frame correctly (changed after conversion)", records

    def load(self, i) -> tuple[bool, str, bytes, np.ndarray, np.ndarray]:
        """Shard ``i`` of ``entries`` for the graph: (sound, message, stream, record starts, record lengths)."""
        entry = self.entries[int(i)]
        if entry["path"] in self.before_damage:
            records = self.before_damage[entry["path"]]
            lengths = np.array([len(r) for r in records], np.int64)
            return True, "", b"".join(records), np.cumsum(lengths) - lengths, lengths
        lead, framing = self.manifest.shard_format.lead, self.manifest.shard_format.framing
        try:
            data, offsets = read_shard(self.manifest, entry)
        except OutputError as e:
            return False, str(e), b"", _NONE, _NONE
        return True, "", data, offsets[:-1] + lead, np.diff(offsets) - framing

    def still_sound(self, i) -> tuple[bool, str]:
        """Whether shard ``i`` is still the file checked before (for shards streamed by TensorFlow)."""
        entry = self.entries[int(i)]
        try:
            with self.manifest.open(entry["path"]) as fh:
                if entry["path"] in self.before_damage or hash_matches(fh, entry):
                    return True, ""
            raise shard_error(self.manifest, entry["path"], MISMATCH)
        except OutputError as e:
            return False, str(e)


def check_bare(path) -> ScanResult:
    """Walk a bare TFRecord file's framing (no TensorFlow: its reader trusts the length headers, and one
    claiming 2^40 bytes crashes it); a file not named ``.tfrecord``/``.tfr`` whose first record does not
    frame is not a TFRecord file (one so named is a damaged one, its problem in the returned scan)."""
    scan, _ = scan_file(path, guess_compression(path))
    refuse_non_tfrecord(path, scan)
    return scan


def refuse_non_tfrecord(path, scan: ScanResult) -> None:
    """Raise when a walk over ``path`` found no record and the file is not named as a TFRecord file."""
    name = Path(path).name
    if scan.error and not scan.num_records and ".tfrecord" not in name and not name.endswith(".tfr"):
        raise OutputError(f"{path}: not a converted folder or a TFRecord file")
