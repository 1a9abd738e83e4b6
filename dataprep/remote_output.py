"""A converted folder on object storage: committed by its manifest, since a store cannot rename a folder.

Writing (:class:`RemoteCommit`): the conversion runs into a local folder first; its files are then uploaded to
their final names (a set fixed by the plan), each verified (size, SHA-256 read back), and ``manifest.json`` is
uploaded last: it is the commit record. Until it exists, ``.dataprep-journal.json`` in the prefix names every
object the run may write (so a later run knows them as ours) and every one already verified (so ``--resume``
uploads only the rest). ``--overwrite`` first removes the old manifest (the old output is then no longer
readable: object stores give no way to swap the two at once), and only objects that manifest or a journal of
ours lists are ever removed or replaced; a prefix holding anything else is refused, as locally.

Reading is :func:`dataprep.manifest.local_copy`: a folder without a manifest is never read; the objects its
manifest names (and only those) are fetched whole, several at a time, into the local cache and checked against
the manifest's sizes and SHA-256 before any reader sees them.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .checksum import sha256_file
from .errors import OutputError, UsageError
from .manifest import MANIFEST, STATS
from .outputs import QUARANTINE_HEADER, listed_in
from .storage import (
    is_object,
    join,
    list_objects,
    read_bytes,
    remove,
    upload,
    verify,
    write_bytes,
)

JOURNAL = ".dataprep-journal.json"
_PARALLEL = 8  # objects in flight at once


def _manifest_of(url: str) -> dict | None:
    """The prefix's dataprep manifest (None: none, or not ours)."""
    raw = read_bytes(join(url, MANIFEST))
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) and "dataprep_manifest" in data else None


def _journal_of(url: str) -> dict | None:
    raw = read_bytes(join(url, JOURNAL))
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("dataprep_journal") == 1 else None


def ours(url: str) -> tuple[set[str], dict | None, dict | None]:
    """The objects of the prefix a manifest or journal of ours accounts for, with that manifest and journal."""
    manifest, journal = _manifest_of(url), _journal_of(url)
    names = {JOURNAL}
    if manifest is not None:
        names |= listed_in(manifest) or set()
    if journal is not None:
        names |= set(journal.get("planned", []))
    return names, manifest, journal


def check_remote_out(url: str, overwrite: bool) -> None:
    """Refuse an ``out`` prefix that holds objects that are not ours, or a finished output without ``overwrite``."""
    if is_object(url):
        raise UsageError(f"--out {url} is an object, not a folder (prefix)")
    present = list_objects(url)
    if not present:
        return
    known, manifest, journal = ours(url)
    foreign = sorted(set(present) - known)
    if manifest is None and journal is None:
        raise UsageError(f"--out {url} holds objects that are not a dataprep output (no dataprep {MANIFEST}); "
                         "--overwrite replaces only a dataprep output folder: give another --out")
    if foreign:
        raise UsageError(f"--out {url} holds a dataprep output and also objects that are not part of it "
                         f"({', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''}); move them out first, "
                         "--overwrite replaces only dataprep's files")
    if manifest is not None and not overwrite:
        raise UsageError(f"output folder {url} is not empty; pass --overwrite to replace it (a dataprep output)")


def check_remote_quarantine(url: str, overwrite: bool) -> None:
    """An existing quarantine object is replaced only when it is one of ours and ``overwrite`` is given."""
    raw = read_bytes(url, 1 << 16)
    if raw is None:
        return
    first = raw.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r").split(",")
    if first[:len(QUARANTINE_HEADER)] != QUARANTINE_HEADER:
        raise UsageError(f"--quarantine {url} exists and is not a dataprep quarantine file; give another file, "
                         "dataprep never replaces one it did not write")
    if not overwrite:
        raise UsageError(f"quarantine file {url} exists (an earlier run's); pass --overwrite to replace it")


def journal_with(raw: bytes | None, names: list[str]) -> bytes:
    """A run's journal (``raw``: as stored) naming ``names`` too, as planned objects of the run."""
    journal: dict = json.loads(raw) if raw else {"dataprep_journal": 1, "planned": [], "done": {}}
    journal["planned"] = sorted(set(journal["planned"]) | set(names))
    return json.dumps(journal).encode()


class RemoteCommit:
    """Upload a finished local output folder to ``url``, verified object by object, manifest last.

    With the Beam runner the workers write the shards to ``url`` themselves (each read back and checked): the
    commit then :meth:`begin` s before the pipeline runs (the journal, the old output uncommitted), the plan adds
    the shards to the journal, and :meth:`run` with ``written`` uploads the rest and the manifest."""

    def __init__(self, url: str, resume: bool, overwrite: bool):
        self.url, self.resume, self.overwrite = url, resume, overwrite
        self._lock = threading.Lock()
        self._done: dict[str, str] = {}
        self._planned: list[str] = []
        self._touched = False  # whether an earlier output may have been uncommitted or replaced
        self._old: set[str] = set()
        self._earlier: dict[str, str] = {}

    def begin(self, names: list[str]) -> None:
        """Name ``names`` (and the old output's objects) in the journal, then uncommit the old output."""
        check_remote_out(self.url, self.overwrite)  # again: objects may have appeared since the first check
        _, manifest, journal = ours(self.url)
        self._old = (listed_in(manifest) or set()) if manifest is not None else set()
        self._earlier = journal.get("done", {}) if journal is not None and self.resume else {}
        self._planned = sorted(set(names) | self._old | set(journal.get("planned", []) if journal else []))
        self._write_journal()
        self._touched = True
        if manifest is not None:
            remove([join(self.url, MANIFEST)])  # uncommit the old output before replacing its objects

    def run(self, local: Path, written: bool = False) -> None:
        """Commit the output folder ``local``; ``written``: its shards and indexes are at ``url`` already."""
        self.local = local
        manifest = json.loads((local / MANIFEST).read_text(encoding="utf-8"))
        self.files: dict[str, tuple[int, str]] = {}  # rel -> (size, sha256), the manifest last
        already: set[str] = set()
        for split in manifest["splits"].values():
            for f in split["files"]:
                self.files[f["path"]] = (f["num_bytes"], f["sha256"])
                if isinstance(f.get("index"), str):
                    self.files[f["index"]] = (8 * (f["num_records"] + 1), "") if written else \
                        _size_sha(local / f["index"])
                if written:
                    already |= {f["path"], f["index"]}
        if (local / STATS).is_file():
            self.files[STATS] = _size_sha(local / STATS)
        self.files[MANIFEST] = _size_sha(local / MANIFEST)
        if not self._touched:
            self.begin(list(self.files))
        else:
            self._planned = sorted(set(self._planned) | set(self.files) | set(ours(self.url)[0]) - {JOURNAL})
        known = set(self._planned) | {JOURNAL}
        present = list_objects(self.url)
        missing = sorted(rel for rel in already if present.get(rel) != self.files[rel][0])
        if missing:
            raise OutputError(f"{join(self.url, missing[0])}: missing or of another size than its worker wrote")
        todo = []
        for rel, (size, sha) in self.files.items():
            if rel == MANIFEST or rel in already:
                continue
            if self._earlier.get(rel) == sha and present.get(rel) == size:
                try:
                    verify(join(self.url, rel), size, sha)
                    self._done[rel] = sha
                    continue
                except OutputError:
                    pass
            todo.append(rel)
        with ThreadPoolExecutor(_PARALLEL) as pool:
            for _ in pool.map(self._upload, todo):
                pass
        size, sha = self.files[MANIFEST]
        upload(self.local / MANIFEST, join(self.url, MANIFEST), size, sha)  # the commit
        stale = sorted((self._old | set(present)) - set(self.files) - {JOURNAL})
        remove([join(self.url, rel) for rel in stale if rel in known])
        remove([join(self.url, JOURNAL)])

    def _upload(self, rel: str) -> None:
        size, sha = self.files[rel]
        upload(self.local / rel, join(self.url, rel), size, sha)
        with self._lock:
            self._done[rel] = sha
            self._write_journal()

    def _write_journal(self) -> None:
        write_bytes(join(self.url, JOURNAL), json.dumps({"dataprep_journal": 1, "planned": self._planned,
                                                         "done": self._done}).encode())

    def discard(self) -> None:
        """After a failure (not an interruption): remove what this run may have written, when it got that far
        (what the journal names: a Beam plan adds its shards there)."""
        if self._touched:
            journal = _journal_of(self.url)
            planned = set(self._planned) | set(journal.get("planned", []) if journal else [])
            remove([join(self.url, rel) for rel in sorted(planned) if rel != MANIFEST] + [join(self.url, JOURNAL)])


def _size_sha(path: Path) -> tuple[int, str]:
    return path.stat().st_size, sha256_file(path)
