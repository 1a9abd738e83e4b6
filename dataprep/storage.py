"""Object storage (``s3://``, ``gs://``, any fsspec URL) behind a few calls; local paths never come here.

fsspec gives one interface to every store (s3fs for S3 and S3-compatible servers, gcsfs for Google Cloud
Storage); each store's standard credentials apply (for S3 the ``AWS_*`` variables, ``AWS_ENDPOINT_URL`` for
MinIO, Ceph or a test server). Every upload is verified: the object's size, then its SHA-256 read back, so
a shard the manifest names is known to be the one written. Downloads go to a temporary name renamed into
place once their size (and checksum, when known) match, so a killed download never looks complete.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .errors import OutputError, SourceError, UsageError

_URL = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}  # scheme -> the pip extra that provides it
_CHUNK = 1 << 22
MAX_SMALL_OBJECT = 64 << 20  # the most read into memory of a manifest, journal or stats object
OUR_MARKERS = ("manifest.json", ".dataprep-journal.json")  # a prefix holding one is a dataprep output


def is_remote(path: Any) -> bool:
    """Whether ``path`` is a URL of a store other than the local disk (``file://`` is local)."""
    if not isinstance(path, str):
        return False
    m = _URL.match(path)
    return m is not None and m.group(1).lower() not in ("file", "local")


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path inside it (bucket/key, no scheme)."""
    scheme = url.split("://", 1)[0].lower()
    try:
        import fsspec

        return fsspec.core.url_to_fs(url, **_options(scheme))
    except ImportError as e:
        extra = _EXTRAS.get(scheme)
        hint = f"pip install 'dataprep[{extra}]'" if extra else "install the fsspec backend of that scheme"
        raise UsageError(f"{url}: {scheme}:// needs {hint} ({e})") from None
    except ValueError as e:
        raise UsageError(f"{url}: not a storage URL fsspec knows ({e})") from None


def _options(scheme: str) -> dict:
    """Settings fsspec's backends do not take from the environment themselves; listings are never cached, since
    other processes (a killed run, a concurrent writer) change the objects between two calls."""
    if scheme in ("s3", "s3a"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return {"use_listings_cache": False, **({"endpoint_url": endpoint} if endpoint else {})}
    return {}


def join(url: str, *parts: str) -> str:
    return "/".join([url.rstrip("/"), *parts])


def read_bytes(url: str, limit: int = MAX_SMALL_OBJECT) -> bytes | None:
    """The whole object (a manifest, a journal, a stats file), or None when there is none; ``limit`` bounds
    what is read: only the first ``limit`` bytes of a larger object."""
    fs, path = filesystem(url)
    try:
        size = int(fs.info(path)["size"])
        return fs.cat_file(path, start=0, end=min(size, limit)) if size else b""
    except FileNotFoundError:
        return None


def write_bytes(url: str, data: bytes) -> None:
    fs, path = filesystem(url)
    fs.pipe_file(path, data)


def list_objects(url: str) -> dict[str, int]:
    """Every object below the prefix ``url`` (relative, ``/``-separated) with its size."""
    fs, path = filesystem(url)
    fs.invalidate_cache()
    root = path.rstrip("/") + "/"
    try:
        found = fs.find(root, detail=True)
    except FileNotFoundError:
        return {}
    return {name[len(root):]: int(info.get("size") or 0) for name, info in found.items()
            if name.startswith(root) and info.get("type", "file") == "file"}


def is_object(url: str) -> bool:
    """Whether ``url`` names an object itself (not a prefix)."""
    fs, path = filesystem(url)
    try:
        return bool(fs.isfile(path))
    except (FileNotFoundError, PermissionError):
        return False


def remove(urls: list[str]) -> None:
    """Delete these objects (those already gone are fine)."""
    if not urls:
        return
    fs, _ = filesystem(urls[0])
    paths = [filesystem(u)[1] for u in urls]
    try:
        fs.rm(paths)
    except FileNotFoundError:
        pass


def sha256_object(url: str) -> str:
    """SHA-256 of an object, streamed in ranged reads (memory stays at one chunk)."""
    fs, path = filesystem(url)
    h = hashlib.sha256()
    with fs.open(path, "rb", block_size=_CHUNK, cache_type="none") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def upload(local: Path, url: str, size: int, sha256: str) -> None:
    """Upload a file (multipart when large) and check the object: its size, then its SHA-256 read back."""
    fs, path = filesystem(url)
    fs.put_file(str(local), path)
    verify(url, size, sha256)


def verify(url: str, size: int, sha256: str) -> None:
    """Raise unless the object has this size and SHA-256."""
    fs, path = filesystem(url)
    try:
        got = int(fs.info(path)["size"])
    except FileNotFoundError:
        raise OutputError(f"{url}: missing after upload") from None
    if got != size:
        raise OutputError(f"{url}: the store holds {got} bytes, {size} were uploaded")
    if sha256_object(url) != sha256:
        raise OutputError(f"{url}: the object read back has another SHA-256 than the file uploaded")


def download(url: str, local: Path, size: int | None = None, sha256: str | None = None) -> Path:
    """Copy an object to ``local`` (through a temporary name), checked against ``size`` and ``sha256`` when given."""
    fs, path = filesystem(url)
    local.parent.mkdir(parents=True, exist_ok=True)
    part = local.with_name(f".{local.name}.{os.getpid()}.download")
    h = hashlib.sha256()
    n = 0
    try:
        with fs.open(path, "rb", block_size=_CHUNK, cache_type="none") as src, open(part, "wb") as dst:
            for chunk in iter(lambda: src.read(_CHUNK), b""):
                dst.write(chunk)
                h.update(chunk)
                n += len(chunk)
    except FileNotFoundError:
        part.unlink(missing_ok=True)
        raise SourceError(f"{url}: no such object") from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if size is not None and n != size or sha256 is not None and h.hexdigest() != sha256:
        part.unlink(missing_ok=True)
        raise OutputError(f"{url}: the object has {n} bytes and another SHA-256 than its manifest records "
                          "(changed or damaged)")
    os.replace(part, local)
    return local


_FETCHED: dict[Path, str] = {}  # input files this process fetched -> the URL each came from


def fetched_from(path: Path) -> str | None:
    """The URL a local input file was fetched from (:func:`fetch_inputs`), so messages name the object."""
    return _FETCHED.get(path)


def note_fetched(path: Path, url: str) -> None:
    """Name ``path`` by ``url`` in messages: a local copy made elsewhere (a Beam worker's)."""
    _FETCHED[path] = url


def cache_root() -> Path:
    """Where objects read from storage are kept locally: ``$DATAPREP_CACHE``, else ``~/.cache/dataprep``."""
    return Path(os.environ.get("DATAPREP_CACHE") or Path.home() / ".cache" / "dataprep")


def cache_folder(kind: str, url: str) -> Path:
    """A local folder of its own for ``url`` under the cache (the same URL always maps to the same folder)."""
    return cache_root() / kind / hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:24]


def fetch_inputs(pattern: str, keep: Callable[[str], bool]) -> list[Path]:
    """Download the objects a URL names (one object; a glob's or a prefix's objects that ``keep`` accepts,
    without dataprep outputs: objects beside a ``manifest.json`` or a run's journal) into the input cache,
    keeping their relative names (so suffixes, hence input kinds, stay); in a stable order."""
    fs, path = filesystem(pattern)
    fs.invalidate_cache()
    scheme = pattern.split("://", 1)[0]
    wild = any(ch in path for ch in "*?[")
    if not wild and fs.isfile(path):
        names = [path]
    else:
        try:
            found = [n for n in sorted(fs.glob(path) if wild else fs.find(path)) if keep(n)]
        except ValueError as e:  # a pattern fsspec cannot read
            raise SourceError(f"{pattern}: {e}") from None
        parts = path.rstrip("/").split("/")
        root = "/".join(parts[:next((i for i, p in enumerate(parts) if any(ch in p for ch in "*?[")), len(parts))])
        below = {"/".join(n.split("/")[:i]) for n in found for i in range(root.count("/") + 2, n.count("/") + 1)}
        ours = {d for d in below if any(fs.exists(f"{d}/{m}") for m in OUR_MARKERS)}
        names = [n for n in found if not any(n.startswith(f"{d}/") for d in ours)]
    if not names:
        raise SourceError(f"no objects match {pattern}")
    folder = cache_folder("inputs", pattern)
    common = os.path.commonpath([n.rsplit("/", 1)[0] if "/" in n else n for n in names])
    with ThreadPoolExecutor(8) as pool:  # several objects in flight
        files = list(pool.map(lambda n: download(f"{scheme}://{n}", folder / n[len(common):].lstrip("/")), names))
    _FETCHED.update({f: f"{scheme}://{n}" for f, n in zip(files, names)})
    return files
