"""CSV lines from feature columns, formatted by Arrow's C++ kernels rather than Python per value.

Floats use the shortest text that reads back to the same float32, or for float64 features to the same
float64 (the digits Python's ``repr`` picks: ``31.95376472`` stays ``31.95376472``; a NaN is ``nan`` whatever
its sign or payload, which text cannot carry). Strings are quoted (RFC 4180) only when they hold a comma, a
quote or nothing at all, and fixed-shape tensors take one column per element. Values with line breaks are
reported as bad rows first: TensorFlow's CSV readers split records at line breaks.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..arrow_numpy import to_numpy
from ..batch import Batch, Problem
from ..columns import Column, arrow_binary_ragged
from ..ragged import Ragged
from ..schema import Schema


def csv_header(schema: Schema) -> bytes:
    return (",".join(name for name, _, _ in schema.csv_columns()) + "\n").encode("utf-8")


def line_break_problems(schema: Schema, columns: dict[str, Column], batch: Batch) -> list[Problem]:
    """Rows whose text holds a line break: TensorFlow's CSV readers split records at line breaks."""
    problems = []
    for f in schema.features:
        if f.encoding != "utf8":
            continue
        text = _ragged_to_arrow(columns[f.name].byte_values)
        bad = to_numpy(pc.match_substring_regex(text, r"[\r\n]"))
        if bad.any():
            problems.append(_line_break(batch, f.name, np.unique(np.flatnonzero(bad) // f.inner_size)))
    return problems


def _line_break(batch: Batch, column: str, rows: np.ndarray) -> Problem:
    """The rows of ``column`` whose value holds a line break, each message naming its own row."""
    def describe(k: int) -> str:
        return (f"{batch.where(int(rows[k]), column)}: value holds a line break, which CSV shards cannot carry "
                "(TensorFlow reads them line by line); use --format tfrecord")

    return Problem("line_break", column, rows, describe(0), describe)


def encode_csv_lines(schema: Schema, columns: dict[str, Column], n: int) -> Ragged:
    """One CSV line (with its newline) per record."""
    texts: list[pa.Array] = []
    for f in schema.features:
        col = columns[f.name]
        k = f.inner_size
        if f.encoding == "utf8":
            elements = col.byte_values
            for i in range(k):
                part = elements if k == 1 else elements.take(np.arange(i, n * k, k))
                texts.append(_quoted(_ragged_to_arrow(part)))
        else:
            if f.encoding == "raw_uint8":
                pixels = col.byte_values
                matrix = pixels.data[pixels.offsets[0]:pixels.offsets[-1]].reshape(n, k)
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


def _quoted(text: pa.Array) -> pa.Array:
    needs = pc.or_(pc.match_substring_regex(text, r'[",]'), pc.equal(text, ""))
    if not pc.any(needs).as_py():
        return text
    quote = pa.scalar('"', text.type)
    escaped = pc.binary_join_element_wise(quote, pc.replace_substring(text, '"', '""'), quote,
                                          pa.scalar("", text.type))
    return pc.if_else(needs, escaped, text)
