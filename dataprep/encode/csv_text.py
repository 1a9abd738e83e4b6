"""CSV lines from feature columns, formatted by Arrow's C++ kernels rather than Python per value.

Floats use the shortest text that reads back to the same float32, strings are quoted (RFC 4180) only when
they hold a comma, a quote or nothing at all, and fixed-shape tensors take one column per element. Line
breaks inside values are refused: TensorFlow's CSV readers split records at line breaks.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..columns import Batch, Column, arrow_binary_ragged
from ..errors import DataError
from ..ragged import Ragged
from ..schema import Schema


def csv_header(schema: Schema) -> bytes:
    return (",".join(name for name, _, _ in schema.csv_columns()) + "\n").encode("utf-8")


def encode_csv_lines(schema: Schema, columns: dict[str, Column], n: int, batch: Batch | None = None) -> Ragged:
    """One CSV line (with its newline) per record; ``batch`` only serves error messages."""
    texts: list[pa.Array] = []
    for f in schema.features:
        col = columns[f.name]
        k = f.inner_size
        if f.encoding == "utf8":
            elements = col.values
            for i in range(k):
                part = elements if k == 1 else elements.take(np.arange(i, n * k, k))
                texts.append(_quoted(_ragged_to_arrow(part), batch, f.name))
        else:
            if f.encoding == "raw_uint8":
                matrix = col.values.data[col.values.offsets[0]:col.values.offsets[-1]].reshape(n, k)
            else:
                matrix = np.asarray(col.values).reshape(n, k)
            texts += [pc.cast(pa.array(matrix[:, i]), pa.string()) for i in range(k)]
    texts = [pc.cast(t, pa.large_string()) for t in texts]
    comma, newline = pa.scalar(",", pa.large_string()), pa.scalar("\n", pa.large_string())
    lines = pc.binary_join_element_wise(*texts, comma) if len(texts) > 1 else texts[0]
    lines = pc.binary_join_element_wise(lines, pa.scalar("", pa.large_string()), newline)  # adds the newline
    return arrow_binary_ragged(lines)


def _ragged_to_arrow(r: Ragged) -> pa.Array:
    offsets = r.offsets - r.offsets[0]
    data = r.data[r.offsets[0]:r.offsets[-1]]
    return pa.LargeStringArray.from_buffers(len(r), pa.py_buffer(offsets), pa.py_buffer(data))


def _quoted(text: pa.Array, batch: Batch | None, name: str) -> pa.Array:
    breaks = pc.match_substring_regex(text, r"[\r\n]")
    if pc.any(breaks).as_py():
        row = pc.index(breaks, True).as_py()
        where = batch.where(row, name) if batch is not None else f"row {row + 1}, feature {name!r}"
        raise DataError(f"{where}: value holds a line break, which CSV shards cannot carry "
                        "(TensorFlow reads them line by line); use --format tfrecord")
    needs = pc.or_(pc.match_substring_regex(text, r'[",]'), pc.equal(text, ""))
    if not pc.any(needs).as_py():
        return text
    escaped = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, escaped, text)
