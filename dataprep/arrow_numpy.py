"""Arrow arrays as numpy arrays without pandas.

pyarrow's own ``to_numpy`` imports pandas, even for a float array with no nulls: 0.6-0.9 s of every fresh
Parquet or CSV conversion. The types a conversion meets (numbers, booleans) are read from their buffers
instead; any other type falls back to pyarrow (and its pandas import).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

_NUMERIC = {pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
            pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32, pa.uint64(): np.uint64,
            pa.float32(): np.float32, pa.float64(): np.float64}


def to_numpy(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``arr.to_numpy(zero_copy_only=False)``, bit for bit: numbers without nulls as a (read-only) view of
    their buffer, with nulls as float64 with NaN there; booleans without nulls unpacked to ``bool``."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n, offset = len(arr), arr.offset
    dtype = _NUMERIC.get(arr.type)
    if dtype is not None:
        data = arr.buffers()[1]
        values = np.frombuffer(data, dtype)[offset:offset + n] if n else np.zeros(0, dtype)
        if not arr.null_count:
            return values
        out = values.astype(np.float64)
        out[_nulls(arr)] = np.nan
        return out
    if pa.types.is_boolean(arr.type) and not arr.null_count:
        if not n:
            return np.zeros(0, bool)
        bits = np.frombuffer(arr.buffers()[1], np.uint8)
        return np.unpackbits(bits, count=offset + n, bitorder="little")[offset:].astype(bool)
    return arr.to_numpy(zero_copy_only=False)


def _nulls(arr: pa.Array) -> np.ndarray:
    """Where ``arr`` (with a validity bitmap) is null."""
    bits = np.frombuffer(arr.buffers()[0], np.uint8)
    return ~np.unpackbits(bits, count=arr.offset + len(arr), bitorder="little")[arr.offset:].astype(bool)
