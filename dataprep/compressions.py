"""The compressions a shard can have, as a registry: one object per compression with its shard suffix, the
file-name endings and first bytes that identify it, TensorFlow's name for it and its stream codec.

Streams are written and read with ISA-L (``isal``): standard deflate streams that TensorFlow and zlib read,
written 15-20x faster than zlib's default level at about the same size.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from isal import isal_zlib

from .errors import UsageError


@dataclass(frozen=True)
class Compression:
    """One shard compression: ``suffix`` ends the shard name, ``names`` are the file-name endings that
    identify it in bare files, ``tf_type`` is TensorFlow's ``compression_type``, ``wbits`` the deflate
    container (31: GZIP, 15: ZLIB; None: stored as is), ``sniff`` tells it from a file's first bytes."""

    name: str
    suffix: str
    names: tuple[str, ...]
    tf_type: str
    wbits: int | None
    sniff: Callable[[bytes], bool]  # whether a file's first two bytes start such a stream
    members: bool = False  # whether streams may follow one another in a file (``cat a.gz b.gz``)

    error: ClassVar[Any] = isal_zlib.error  # what a damaged stream raises

    @property
    def compressed(self) -> bool:
        return self.wbits is not None

    def compressor(self) -> Any:
        """A stream compressor (``compress``/``flush``), or None when stored as is."""
        if self.wbits is None:
            return None
        return isal_zlib.compressobj(isal_zlib.ISAL_DEFAULT_COMPRESSION, isal_zlib.DEFLATED, self.wbits)

    def decompressor(self) -> Any:
        """A stream decompressor of one member (``decompress``/``flush``/``eof``/``unused_data``)."""
        if self.wbits is None:
            raise ValueError(f"{self.name}: nothing to decompress")
        return isal_zlib.decompressobj(self.wbits)


GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 2  # how many first bytes ``sniff`` reads
NONE = Compression("none", "", (), "", None, lambda head: False)
GZIP = Compression("gzip", ".gz", (".gz", ".gzip"), "GZIP", 31, lambda head: head == GZIP_MAGIC, members=True)
ZLIB = Compression("zlib", ".zz", (".zz", ".zlib"), "ZLIB", 15,
                   lambda head: len(head) == 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0)
COMPRESSIONS: dict[str, Compression] = {c.name: c for c in (NONE, GZIP, ZLIB)}


def get_compression(name: str | None) -> Compression:
    """The compression called ``name`` (any case; None is ``none``)."""
    key = (name or "none").lower()
    if key not in COMPRESSIONS:
        raise UsageError(f"unknown compression {name!r}; expected one of {', '.join(COMPRESSIONS)}")
    return COMPRESSIONS[key]


def guess_compression(path: Any) -> str:
    """A bare file's compression name from its file name, else from its first bytes."""
    name = str(path).lower()
    for c in COMPRESSIONS.values():
        if c.names and name.endswith(c.names):
            return c.name
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    return next((c.name for c in COMPRESSIONS.values() if c.sniff(head)), NONE.name)
