"""TFRecord framing and protobuf wire bytes built by hand (no TensorFlow, no dataprep), and a child interpreter
with a capped address space: what the framing and fuzz tests feed the TFRecord and wire readers."""
from __future__ import annotations

import struct
import subprocess
import sys
import textwrap

import crc32c

from tests.conftest import ROOT, subprocess_env


def masked_crc(b: bytes) -> int:
    """TFRecord's masked CRC-32C of ``b``."""
    c = crc32c.crc32c(b)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """``data`` as one TFRecord record: length, its masked CRC, the bytes, their masked CRC."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))


def len_field(number: int, payload: bytes) -> bytes:
    """A protobuf length-delimited field (wire type 2): tag, varint length, payload."""
    n, size = len(payload), b""
    while n >= 0x80:
        size += bytes([n & 0x7F | 0x80])
        n >>= 7
    return bytes([number << 3 | 2]) + size + bytes([n]) + payload


def example(**floats: float) -> bytes:
    """A ``tf.train.Example`` with one float per key, serialized by hand (no TensorFlow)."""
    entries = b"".join(len_field(1, len_field(1, k.encode()) + len_field(2, len_field(2, len_field(
        1, struct.pack("<f", v))))) for k, v in floats.items())
    return len_field(1, entries)


def records(n: int, first: int = 0) -> bytes:
    """``n`` framed records ``x=first``, ``x=first+1``, ..."""
    return b"".join(frame(example(x=float(i))) for i in range(first, first + n))


_CAPPED = """
import resource, sys
from pathlib import Path
from dataprep import sources
from dataprep.tfrecord import check_framing, iter_records, scan_file
size = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
cap = size + (512 << 20)
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
args = sys.argv[1:]
{body}
"""


def run_capped(body: str, *args: str, timeout: float = 120) -> str:
    """Run ``body`` in a fresh interpreter whose address space is capped at 512 MiB over what its imports
    take, so a runaway allocation fails the test (MemoryError) instead of exhausting the machine."""
    code = _CAPPED.format(body=textwrap.dedent(body))
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout
