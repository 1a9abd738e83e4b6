"""Shard integrity for the readers: each shard is checked against the manifest's SHA-256 the first time it
is read in a process, and again only if its size or modification time changes (a fast whole-file hash
instead of a CRC per record). A damaged shard is located with a
walk over its framing, then either raises an error naming the file, record and offset, or, with
``on_corrupt="skip"``, gives only the sound records before the damage, logs it and counts it."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from ..checksum import sha256_file
from ..errors import OutputError
from ..manifest import Manifest
from ..tfrecord import scan_file

log = logging.getLogger("dataprep")
CORRUPT_POLICIES = ("raise", "skip")
_VERIFIED: dict[str, tuple[int, int, str]] = {}  # path -> (size, mtime_ns, sha256) checked in this process
_VERIFIED_LOCK = threading.Lock()


class ShardCheck:
    """Callable on a shard path (bytes): returns ``(sound, records)``: ``sound`` when the shard verifies,
    else the records that precede the damage (``skip``), or raises (``raise``)."""

    def __init__(self, manifest: Manifest, on_corrupt: str):
        self.manifest, self.on_corrupt = manifest, on_corrupt
        self.expected = {str(manifest.folder / e["path"]): e["sha256"]
                         for s in manifest.splits for e in manifest.split(s)["files"]}
        self.skipped: list[str] = []  # one message per damaged shard
        self._lock = threading.Lock()

    def __call__(self, path) -> tuple[bool, np.ndarray]:
        path = path.numpy() if hasattr(path, "numpy") else path  # a tensor inside tf.py_function
        path = path.decode() if isinstance(path, bytes) else str(path)
        if _verified(path, self.expected.get(path)):
            return True, np.zeros(0, object)
        problem, records = self._locate(Path(path))
        message = f"{path}: {problem}"
        if self.on_corrupt == "raise":
            raise OutputError(message + " (make_dataset(..., on_corrupt='skip') reads the sound records)")
        log.warning("skipping the damaged part of %s", message)
        with self._lock:
            self.skipped.append(message)
        return False, np.array(records, dtype=object)

    def _locate(self, path: Path) -> tuple[str, list[bytes]]:
        if not path.exists():
            return "missing shard", []
        if self.manifest.format != "tfrecord":
            return "contents differ from the manifest's SHA-256 (damaged or changed)", []
        scan, records = scan_file(path, self.manifest.compression, keep_records=True)
        if scan.error:
            return scan.error, records
        return f"contents differ from the manifest's SHA-256 although all {scan.num_records} records frame " \
               "correctly (changed after conversion)", records


def _verified(path: str, expected: str | None) -> bool:
    """Whether the file hashes to ``expected``; a file already verified in this process and unchanged
    since (same size and modification time) is not hashed again."""
    try:
        st = Path(path).stat()
    except OSError:
        return False
    key = (st.st_size, st.st_mtime_ns, expected)
    if _VERIFIED.get(path) == key:
        return True
    try:
        if expected is None or sha256_file(path) != expected:
            return False
    except OSError:
        return False
    with _VERIFIED_LOCK:
        _VERIFIED[path] = key
    return True
