"""``manifest.json``: what a converted folder holds, enough to read it with no dataprep code.

It records the format and compression, the resolved schema, how each feature is stored in the records,
and for each split its shard files with record counts, sizes and SHA-256 checksums. See
docs/output-format.md for a plain-TensorFlow reader built from it.

A manifest is checked when loaded, since every reader trusts it: paths are relative and stay inside the
folder, counts and sizes are non-negative integers that add up, and a missing or mistyped key is one error
naming the manifest and the key. The folder is held open while the manifest is in use, and shards are
opened relative to it, so a folder that ``convert --overwrite`` replaces meanwhile keeps being read whole
as it was, or fails with "the folder changed while reading"; shards of two runs are never mixed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from .checksum import sha256_file
from .compressions import COMPRESSIONS, Compression
from .errors import OutputError
from .formats import FORMATS, ShardFormat
from .schema import Schema
from .storage import cache_folder, download, is_remote, join, read_bytes

MANIFEST = "manifest.json"
STATS = "stats.json"  # beside the manifest: written by convert(stats=True) and `dataprep stats`
FORMAT_VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")


class FolderHandle:
    """A converted folder held open as a directory descriptor: files opened through it come from the folder
    the manifest was read from, even after that folder is renamed (``convert --overwrite`` moves it aside,
    renames the new one into place, then deletes the old)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        weakref.finalize(self, os.close, self.fd)

    def open(self, rel: str) -> BinaryIO:
        """Open ``rel`` (a checked relative path) for reading, never following a symlink at its end."""
        try:
            fd = os.open(rel, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), dir_fd=self.fd)
        except FileNotFoundError:
            if self.changed():
                raise OutputError(f"{self.folder}: the folder changed while reading (replaced by another "
                                  f"conversion?): {rel} is gone; read it again") from None
            raise OutputError(f"{self.folder / rel}: missing shard") from None
        except OSError as e:
            raise OutputError(f"{self.folder / rel}: cannot open ({e.strerror}; shards must be files in the "
                              "folder, not symlinks)") from None
        return os.fdopen(fd, "rb")

    def changed(self) -> bool:
        """Whether the folder's path no longer leads to the folder held open (renamed, replaced, deleted)."""
        held = os.fstat(self.fd)
        try:
            now = os.stat(self.folder)
        except OSError:
            return True
        return (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino)


@dataclass(frozen=True)
class Manifest:
    """A loaded manifest and the folder it describes (held open in ``handle`` when loaded from disk)."""

    folder: Path
    data: dict
    handle: FolderHandle | None = field(default=None, compare=False, repr=False)

    def open(self, rel: str) -> BinaryIO:
        """A file of the folder (a path from this manifest), opened through the held folder."""
        if self.handle is None:
            try:
                return open(self.folder / rel, "rb")
            except FileNotFoundError:
                raise OutputError(f"{self.folder / rel}: missing shard") from None
        return self.handle.open(rel)

    def changed(self) -> bool:
        """Whether the folder on disk is no longer the one this manifest was loaded from."""
        return self.handle is not None and self.handle.changed()

    @property
    def schema(self) -> Schema:
        return Schema.from_dict(self.data["schema"], origin=str(self.folder / MANIFEST))

    @property
    def format(self) -> str:
        return self.data["format"]

    @property
    def compression(self) -> str:
        return self.data["compression"]

    @property
    def shard_format(self) -> ShardFormat:
        """The format's registry entry: how the shards frame, encode and describe their records."""
        return FORMATS[self.format]

    @property
    def shard_compression(self) -> Compression:
        return COMPRESSIONS[self.compression]

    @property
    def splits(self) -> list[str]:
        return list(self.data["splits"])

    def split(self, name: str) -> dict:
        try:
            return self.data["splits"][name]
        except KeyError:
            raise OutputError(f"{self.folder}: no split {name!r}; it has {', '.join(self.splits)}") from None

    def files(self, split: str) -> list[Path]:
        return [self.folder / f["path"] for f in self.split(split)["files"]]

    def entries(self, split: str) -> list[dict]:
        """The shard entries of ``split``: path, num_records, num_bytes, sha256, index, uncompressed_bytes."""
        return self.split(split)["files"]

    def num_records(self, split: str) -> int:
        return int(self.split(split)["num_records"])


def build_manifest(*, schema: Schema, fmt: ShardFormat, compression: Compression, splits: dict[str, list[dict]],
                   rows: dict[str, int], options: dict[str, Any], sources: list[str], version: str) -> dict:
    data: dict[str, Any] = {
        "dataprep_manifest": FORMAT_VERSION,
        "created_by": f"dataprep {version}",
        "format": fmt.name,
        "compression": compression.name,
        "record": fmt.record_type(schema),
        "schema": schema.to_dict(),
        **fmt.layout(schema),
    }
    data["splits"] = {
        name: {"num_records": sum(f["num_records"] for f in files),
               "num_bytes": sum(f["num_bytes"] for f in files), "files": files}
        for name, files in splits.items()
    }
    data["rows"] = rows
    data["options"] = options
    data["sources"] = sources
    return data


def write_manifest(folder: Path, data: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_manifest(folder: str | Path) -> Manifest:
    """The manifest of a converted folder, checked (see the module docstring), with the folder held open; a folder
    on object storage (a URL) is read from its local copy (:func:`local_copy`)."""
    if is_remote(folder):
        folder = local_copy(str(folder))
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise OutputError(f"{folder}: no {MANIFEST}; is this a dataprep output folder?")
    try:
        handle = FolderHandle(folder)
        with handle.open(MANIFEST) as fh:
            data = json.loads(fh.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise OutputError(f"{path}: unreadable manifest: {e}") from None
    if not isinstance(data, dict) or data.get("dataprep_manifest") != FORMAT_VERSION:
        version = data.get("dataprep_manifest") if isinstance(data, dict) else None
        raise OutputError(f"{path}: unsupported manifest version {version!r}")
    _check(data, folder, path)
    manifest = Manifest(folder, data, handle)
    try:
        Schema.from_dict(data["schema"], origin=str(path))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise OutputError(f"{path}: key 'schema' is invalid ({type(e).__name__}: {e})") from None
    return manifest


def _check(data: dict, folder: Path, path: Path) -> None:
    """Every key a reader uses is present, of its type, and consistent; raises OutputError naming the key."""
    def bad(key: str, what: str) -> OutputError:
        return OutputError(f"{path}: key {key!r} {what}")

    def need(obj: dict, key: str, where: str, kind: type | tuple, what: str):
        if key not in obj:
            raise bad(where + key, "is missing")
        value = obj[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise bad(where + key, f"must be {what}, got {value!r:.60}")
        return value

    def count(obj: dict, key: str, where: str) -> int:
        value = need(obj, key, where, int, "a non-negative integer")
        if value < 0:
            raise bad(where + key, f"must be a non-negative integer, got {value}")
        return value

    fmt = need(data, "format", "", str, "a string")
    if fmt not in FORMATS:
        raise bad("format", f"must be one of {', '.join(FORMATS)}, got {fmt!r:.60}")
    comp = need(data, "compression", "", str, "a string")
    if comp not in COMPRESSIONS:
        raise bad("compression", f"must be one of {', '.join(COMPRESSIONS)}, got {comp!r:.60}")
    need(data, "schema", "", dict, "an object")
    FORMATS[fmt].check_layout(data, need, bad)
    seen: dict[str, str] = {}
    root = os.path.realpath(folder)
    for name, split in need(data, "splits", "", dict, "an object").items():
        where = f"splits.{name}."
        if not isinstance(split, dict):
            raise bad(where[:-1], "must be an object")
        records, size = count(split, "num_records", where), count(split, "num_bytes", where)
        files = need(split, "files", where, list, "a list")
        for i, entry in enumerate(files):
            at = f"{where}files[{i}]."
            if not isinstance(entry, dict):
                raise bad(at[:-1], "must be an object")
            count(entry, "num_records", at)
            count(entry, "num_bytes", at)
            if "uncompressed_bytes" in entry:
                count(entry, "uncompressed_bytes", at)
            if not _SHA256.fullmatch(need(entry, "sha256", at, str, "a hex SHA-256")):
                raise bad(at + "sha256", f"must be 64 lowercase hex digits, got {entry['sha256']!r:.70}")
            for key in ("path", "index") if "index" in entry else ("path",):
                rel = need(entry, key, at, str, "a relative path")
                _check_path(rel, root, bad(at + key, f"must be a relative path inside the folder, got {rel!r:.80}"))
                if rel in seen:
                    raise bad(at + key, f"names {rel!r}, which {seen[rel]} names too")
                seen[rel] = at + key
        if sum(e["num_records"] for e in files) != records:
            raise bad(where + "num_records", f"is {records}, but its files hold "
                      f"{sum(e['num_records'] for e in files)} records")
        if sum(e["num_bytes"] for e in files) != size:
            raise bad(where + "num_bytes", f"is {size}, but its files hold {sum(e['num_bytes'] for e in files)} "
                      "bytes")


def _check_path(rel: str, root: str, error: OutputError) -> None:
    """A manifest path must be relative, without ``..``, and lead inside the folder (no symlink out)."""
    parts = PurePosixPath(rel).parts
    if not rel or "\\" in rel or "\0" in rel or PurePosixPath(rel).is_absolute() or ".." in parts \
            or rel in (".", MANIFEST) or Path(rel).is_absolute():
        raise error
    real = os.path.realpath(os.path.join(root, rel))
    if os.path.commonpath([root, real]) != root or real == root:
        raise error


_PARALLEL = 8  # objects fetched at once


def local_path(path: str | Path) -> Path:
    """``path`` itself, or for a URL the local copy of the output folder there (see :func:`local_copy`)."""
    return local_copy(str(path)) if is_remote(path) else Path(path)


def local_copy(url: str) -> Path:
    """A committed output on object storage, fetched into the local cache: its manifest, then every object the
    manifest names (nothing else), each checked against the manifest's size and SHA-256; files already in the
    cache with the right checksum are kept. Raises when ``url`` has no dataprep manifest."""
    raw = read_bytes(join(url, MANIFEST))
    if raw is None:
        raise OutputError(f"{url}: no {MANIFEST}; is this a dataprep output folder? (a folder without one is "
                          "never read: it may be an unfinished upload)")
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise OutputError(f"{join(url, MANIFEST)}: unreadable manifest: {e}") from None
    folder = cache_folder("outputs", url)
    folder.mkdir(parents=True, exist_ok=True)
    if not isinstance(data, dict):
        raise OutputError(f"{join(url, MANIFEST)}: unreadable manifest: not a JSON object")
    _check(data, folder, Path(join(url, MANIFEST)))  # paths stay inside the folder before any is written
    wanted: dict[str, tuple[int | None, str | None]] = {}
    for split in data["splits"].values():
        for f in split["files"]:
            wanted[f["path"]] = (f["num_bytes"], f["sha256"])
            if "index" in f:
                wanted[f["index"]] = (8 * (f["num_records"] + 1), None)
    (folder / MANIFEST).unlink(missing_ok=True)  # the copy is not a folder to read until complete again

    def fetch(rel: str) -> None:
        size, sha = wanted[rel]
        local = folder / rel
        if local.is_file() and local.stat().st_size == size and (sha is None or sha256_file(local) == sha):
            return
        download(join(url, rel), local, size, sha)

    with ThreadPoolExecutor(_PARALLEL) as pool:
        for _ in pool.map(fetch, wanted):
            pass
    for p in [p for p in folder.rglob("*") if p.is_file()]:  # an earlier manifest's files: our cache, not named now
        if p.relative_to(folder).as_posix() not in wanted and p.name not in (MANIFEST, STATS):
            p.unlink(missing_ok=True)
    stats = read_bytes(join(url, STATS))
    if stats is not None:
        (folder / STATS).write_bytes(stats)
    else:
        (folder / STATS).unlink(missing_ok=True)
    part = folder / f".{MANIFEST}.{hashlib.sha256(raw).hexdigest()[:12]}"
    part.write_bytes(raw)
    part.replace(folder / MANIFEST)
    return folder
