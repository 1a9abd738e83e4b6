"""TFRecord framing: ``u64 length | masked crc32c(length) | data | masked crc32c(data)`` for each record.

CRC32C is computed for all records of a batch at once: records of similar length go through a vectorised
table-driven CRC (one numpy step per byte column over every record), others through the ``crc32c``
library, which uses the CPU's CRC instruction.
"""
from __future__ import annotations

import crc32c
import numpy as np

from ..ragged import Ragged, concat_rows

_MASK_DELTA = np.uint32(0xA282EAD8)
_POLY = 0x82F63B78  # CRC-32C (Castagnoli), reflected


def _table() -> np.ndarray:
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(_POLY), t >> 1).astype(np.uint32)
    return t


_TABLE = _table()


def crc32c_matrix(mat: np.ndarray) -> np.ndarray:
    """CRC32C of every row of a [n, w] uint8 matrix."""
    crc = np.full(mat.shape[0], 0xFFFFFFFF, np.uint32)
    for j in range(mat.shape[1]):
        crc = _TABLE[(crc ^ mat[:, j]) & 0xFF] ^ (crc >> 8)
    return crc ^ np.uint32(0xFFFFFFFF)


def crc32c_rows(rows: Ragged) -> np.ndarray:
    """CRC32C of every row; vectorised when padding the rows to equal width wastes little."""
    n = len(rows)
    lengths = rows.lengths
    if n == 0:
        return np.zeros(0, np.uint32)
    width = int(lengths.max())
    if width <= 512 and width * n <= 1.5 * int(lengths.sum()) + n:
        if (lengths == width).all():
            mat = rows.data[rows.offsets[:-1, None] + np.arange(width)]
            return crc32c_matrix(mat)
        # left-pad to a common width, and keep each row's CRC unchanged until its first real byte
        pad = width - lengths
        idx = rows.offsets[:-1, None] - pad[:, None] + np.arange(width)
        mat = rows.data[np.clip(idx, 0, max(len(rows.data) - 1, 0))]
        crc = np.full(n, 0xFFFFFFFF, np.uint32)
        for j in range(width):
            step = _TABLE[(crc ^ mat[:, j]) & 0xFF] ^ (crc >> 8)
            crc = np.where(j >= pad, step, crc)
        return crc ^ np.uint32(0xFFFFFFFF)
    buf = memoryview(rows.data)
    o = rows.offsets.tolist()
    return np.fromiter((crc32c.crc32c(buf[o[i]:o[i + 1]]) for i in range(n)), np.uint32, n)


def mask(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC: rotate right by 15 bits and add a constant."""
    crc = crc.astype(np.uint32)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + _MASK_DELTA


def frame_records(records: Ragged) -> Ragged:
    """Wrap every serialized record in TFRecord framing, as one ragged buffer of framed records."""
    n = len(records)
    length = records.lengths.astype("<u8").view(np.uint8).reshape(n, 8)
    length_crc = mask(crc32c_matrix(length)).astype("<u4").view(np.uint8).reshape(n, 4)
    data_crc = mask(crc32c_rows(records)).astype("<u4").view(np.uint8).reshape(n, 4)
    return concat_rows([length, length_crc, records, data_crc], n)
