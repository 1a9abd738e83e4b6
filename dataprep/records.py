"""Reading converted shards without TensorFlow: exact lengths, random access, and numpy batches.

For PyTorch or JAX users, and for debugging: ``len(SplitReader(path, "train"))`` comes from the manifest,
``reader[i]`` finds record ``i`` through the shard's record index, and ``iter_batches`` yields dicts of numpy
arrays (variable-length features as :class:`RaggedArray`: flat values plus row splits). Examples are
decoded from the protobuf wire format here; batches of records that share one layout (every record of a
fixed-shape schema) are decoded with a few numpy slices instead of a parser per record.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from .errors import OutputError, UsageError
from .manifest import Manifest, load_manifest
from .shardread import check_record, read_index, read_shard, verify_open
from .schema import NUMPY_DTYPE, Feature

_KINDS = {1: "bytes", 2: "float", 3: "int64"}


class RaggedArray(NamedTuple):
    """A batch of variable-length values: row ``i`` is ``values[row_splits[i]:row_splits[i + 1]]``."""

    values: np.ndarray
    row_splits: np.ndarray


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message: a varint over 10 bytes or cut short, a length past
    the end of its message, an unknown wire type, packed floats whose length is not a multiple of 4, a key
    that is not UTF-8. The callers, which know the record's file, index and offset, turn it into a
    :class:`~dataprep.errors.DataprepError`."""


_U64 = (1 << 64) - 1
_MAX_VARINT = 10  # bytes: 64 bits in 7-bit groups


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """The varint at ``pos`` (within ``end``) and the position after it; at most 10 bytes are read, so a long
    run of continuation bytes costs nothing, and the value is cut to 64 bits as protobuf does."""
    result = shift = 0
    limit = min(end, pos + _MAX_VARINT)
    while pos < limit:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _U64, pos
        shift += 7
    if pos >= end:
        raise WireError("a varint runs past the end of its message")
    raise WireError(f"a varint is longer than {_MAX_VARINT} bytes")


def _fields(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value start, value end) of a message; varints yield their value as start.

    Raises :class:`WireError` when a field does not fit within ``end`` or has a wire type Examples never use
    (groups, 3 and 4; or 6 and 7, which do not exist)."""
    pos = start
    while pos < end:
        key = buf[pos]  # one-byte keys and lengths (nearly all of them) skip the varint call
        if key < 0x80:
            pos += 1
        else:
            key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 2:
            length = buf[pos] if pos < end else 0x80
            if length < 0x80:
                pos += 1
            else:
                length, pos = _varint(buf, pos, end)
            stop = pos + length
            if stop > end:
                raise WireError(f"field {number} claims {length} bytes, {end - pos} are left in its message")
        elif wire == 0:
            value, pos = _varint(buf, pos, end)
            yield number, wire, value, pos
            continue
        elif wire == 5 or wire == 1:
            stop = pos + (4 if wire == 5 else 8)
            if stop > end:
                raise WireError(f"fixed-width field {number} runs past the end of its message")
        else:
            raise WireError(f"unsupported wire type {wire} (field {number})")
        yield number, wire, pos, stop
        pos = stop


def parse_example(buf: bytes) -> dict[str, tuple[str, list]]:
    """A serialized ``tf.train.Example`` as ``{key: (kind, values)}`` with kind ``bytes``/``float``/``int64``.

    A ``tf.train.SequenceExample`` parses too: its context (field 1) like an Example's features, and each
    feature list (field 2) as the values of all its steps, in order. Malformed bytes raise
    :class:`WireError`, in time linear in the record's length."""
    out = {}
    for number, wire, start, end in _fields(buf, 0, len(buf)):
        if number not in (1, 2) or wire != 2:
            continue
        for entry_no, e_wire, e_start, e_end in _fields(buf, start, end):
            if entry_no != 1 or e_wire != 2:
                continue
            key, kind, values = None, "empty", []
            for f_no, f_wire, f_start, f_end in _fields(buf, e_start, e_end):
                if f_wire != 2:
                    continue
                if f_no == 1:
                    try:
                        key = buf[f_start:f_end].decode("utf-8")
                    except UnicodeDecodeError:
                        raise WireError("a feature name is not UTF-8") from None
                elif f_no == 2 and number == 1:
                    kind, values = _feature_values(buf, f_start, f_end)
                elif f_no == 2:  # a FeatureList: one Feature per step
                    for s_no, s_wire, s_start, s_end in _fields(buf, f_start, f_end):
                        if s_no != 1 or s_wire != 2:
                            continue
                        step_kind, step_values = _feature_values(buf, s_start, s_end)
                        kind = step_kind if step_kind != "empty" else kind
                        values += step_values
            out[key] = (kind, values)
    return out


def _feature_values(buf: bytes, start: int, end: int) -> tuple[str, list]:
    """A ``Feature`` message: its list kind and values (fields other than the three lists are skipped, as
    protobuf skips unknown fields)."""
    kind, values = "empty", []
    for k_no, wire, l_start, l_end in _fields(buf, start, end):
        if k_no in _KINDS and wire == 2:
            kind = _KINDS[k_no]
            values = _list_values(buf, kind, l_start, l_end)
    return kind, values


def _list_values(buf: bytes, kind: str, start: int, end: int) -> list:
    values: list = []
    for number, wire, v_start, v_end in _fields(buf, start, end):
        if number != 1:
            continue
        if kind == "bytes" and wire == 2:
            values.append(buf[v_start:v_end])
        elif kind == "float" and wire in (2, 5):
            if (v_end - v_start) % 4:
                raise WireError(f"packed floats of {v_end - v_start} bytes, not a multiple of 4")
            values.extend(struct.unpack(f"<{(v_end - v_start) // 4}f", buf[v_start:v_end]))
        elif kind == "int64" and wire == 0:  # one unpacked int64 (the varint's value is in v_start)
            values.append(v_start - (1 << 64) if v_start >= 1 << 63 else v_start)
        elif kind == "int64" and wire == 2:
            pos = v_start
            while pos < v_end:
                v, pos = _varint(buf, pos, v_end)
                values.append(v - (1 << 64) if v >= 1 << 63 else v)
        else:
            raise WireError(f"a {kind} list holds a value of wire type {wire}")
    return values


@dataclass
class _Shard:
    entry: dict  # the manifest's entry
    path: Path
    offsets: np.ndarray  # int64, num_records + 1, checked against the manifest


class SplitReader:
    """A split of a converted folder as a random-access sequence of records, with no TensorFlow.

    Nothing comes back from a shard before it is checked against the manifest (see :mod:`dataprep.shardread`):
    its size and SHA-256 (hashed while it is read whole for ``iter_batches``, or in a stream before the first
    random access), and its record index against the manifest's count and the file. Shards are opened
    through the folder the manifest was read from, so a folder replaced meanwhile is read as it was or
    fails with "the folder changed while reading"."""

    def __init__(self, path: str | Path | Manifest, split: str = "train"):
        self.manifest: Manifest = path if isinstance(path, Manifest) else load_manifest(path)
        self.split = split
        self.schema = self.manifest.schema
        entries = self.manifest.entries(split)
        if any("index" not in e for e in entries):
            raise OutputError(f"{self.manifest.folder}: shards without a record index (written by an older "
                              "dataprep)")
        self.shards = [_Shard(e, self.manifest.folder / e["path"], read_index(self.manifest, e)) for e in entries]
        self.starts = np.cumsum([0] + [len(s.offsets) - 1 for s in self.shards])
        self._cache: tuple[Path, bytes] | None = None

    def __len__(self) -> int:
        return self.manifest.num_records(self.split)

    def raw(self, i: int) -> bytes:
        """The serialized record ``i`` (an Example, or a CSV line without its newline)."""
        if not 0 <= i < len(self):
            raise IndexError(f"record {i} is not in split {self.split!r} of {len(self)} records")
        k = int(np.searchsorted(self.starts, i, side="right") - 1)
        shard, j = self.shards[k], i - int(self.starts[k])
        lead, framing = self.manifest.shard_format.lead, self.manifest.shard_format.framing
        start, end = int(shard.offsets[j]), int(shard.offsets[j + 1])
        if not self.manifest.shard_compression.compressed:
            with self.manifest.open(shard.entry["path"]) as fh:
                verify_open(self.manifest, shard.entry, fh)
                fh.seek(start)
                framed = fh.read(end - start)
            check_record(self.manifest, shard.entry, j, start, framed)
            return framed[lead:len(framed) - (framing - lead)]
        return self._stream(shard)[start + lead:end - (framing - lead)]

    def _stream(self, shard: _Shard) -> bytes:
        """A compressed shard's uncompressed bytes, checked (the last one is kept for the next access)."""
        if self._cache is None or self._cache[0] != shard.path:
            data, shard.offsets = read_shard(self.manifest, shard.entry)
            self._cache = (shard.path, data)
        return self._cache[1]

    def __getitem__(self, i: int) -> dict:
        """Record ``i`` decoded: name -> numpy array of the feature's shape."""
        batch = self._decode([self.raw(i)])
        return {name: (value.values if isinstance(value, RaggedArray) else value[0]) for name, value in batch.items()}

    def iter_batches(self, batch_size: int = 1024) -> Iterator[dict]:
        """Batches in file order: fixed shapes as ``[b, *shape]`` arrays, variable ones as RaggedArray."""
        if batch_size < 1:
            raise UsageError("batch_size must be positive")
        for shard in self.shards:
            data, offsets = read_shard(self.manifest, shard.entry)
            lead, framing = self.manifest.shard_format.lead, self.manifest.shard_format.framing
            starts, ends = offsets[:-1] + lead, offsets[1:] - (framing - lead)
            for b in range(0, len(starts), batch_size):
                s, e = starts[b:b + batch_size], ends[b:b + batch_size]
                yield self._decode([data[x:y] for x, y in zip(s.tolist(), e.tolist())])

    def _decode(self, raws: list[bytes]) -> dict:
        if self.manifest.shard_format.lines:
            return _decode_csv(self.manifest, raws)
        return _decode_examples(self.schema.features, raws)


def _decode_examples(features: list[Feature], raws: list[bytes]) -> dict:
    """Decode Examples, with one vectorised pass when every record has the same layout."""
    fast = _same_layout(features, raws)
    if fast is not None:
        return fast
    parsed = [parse_example(r) for r in raws]
    out = {}
    for f in features:
        rows = [p.get(f.name, ("empty", []))[1] for p in parsed]
        out[f.name] = _column(f, rows)
    return out


def _value_spans(buf: bytes) -> dict[str, tuple[str, int, int]]:
    """Where each feature's values sit: the packed floats, or the single bytes value; (kind, start, end)."""
    spans = {}
    for number, _, start, end in _fields(buf, 0, len(buf)):
        for entry_no, _, e_start, e_end in _fields(buf, start, end) if number == 1 else ():
            key, span = None, None
            for f_no, _, f_start, f_end in _fields(buf, e_start, e_end) if entry_no == 1 else ():
                if f_no == 1:
                    key = buf[f_start:f_end].decode("utf-8")
                elif f_no == 2:
                    for k_no, _, l_start, l_end in _fields(buf, f_start, f_end):
                        inner = list(_fields(buf, l_start, l_end))
                        span = (_KINDS.get(k_no, "empty"), *inner[0][2:]) if len(inner) == 1 else None
            spans[key] = span
    return spans


def _same_layout(features: list[Feature], raws: list[bytes]) -> dict | None:
    """Records of one layout (same length, every byte outside the float values and pixel arrays equal):
    each feature's values are a column block of the records matrix."""
    if not raws or any(f.stored_dtype == "int64" or not f.is_fixed or f.encoding in ("utf8", "encoded_image")
                       for f in features):
        return None  # varints and text change the layout from record to record
    width = len(raws[0])
    if any(len(r) != width for r in raws):
        return None
    spans = _value_spans(raws[0])
    if any(spans.get(f.name) is None for f in features):
        return None
    mat = np.frombuffer(b"".join(raws), np.uint8).reshape(len(raws), width)
    layout = np.ones(width, bool)
    for _, start, end in spans.values():
        layout[start:end] = False
    if (mat[:, layout] != mat[0, layout]).any():
        return None
    out = {}
    for f in features:
        kind, start, end = spans[f.name]
        block = np.ascontiguousarray(mat[:, start:end])
        out[f.name] = (block.view("<f4") if kind == "float" else block).reshape(len(raws), *f.shape)
    return out


def _column(f: Feature, rows: list[list]):
    """One feature's values of a batch as the schema's dtype; float64 comes back from its bit patterns
    (the inverse of ``encode.example._list_payload``)."""
    dtype = {"float": np.float32, "int64": np.int64}.get(f.stored_dtype, object)
    as_float64 = (lambda a: a.view(np.float64)) if f.encoding == "float64_bits" else (lambda a: a)
    if f.encoding == "raw_uint8":
        return np.stack([np.frombuffer(r[0], np.uint8).reshape(f.shape) for r in rows])
    if f.encoding == "encoded_image":  # the encoded file bytes, one per record
        out = np.empty(len(rows), dtype=object)
        out[:] = [r[0] for r in rows]
        return out
    if f.is_fixed:
        flat = as_float64(np.array([v for r in rows for v in r], dtype=dtype))
        return flat.reshape(len(rows), *f.shape)
    counts = np.array([len(r) for r in rows], np.int64)
    splits = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(counts // f.inner_size, out=splits[1:])
    values = as_float64(np.array([v for r in rows for v in r], dtype=dtype)).reshape(-1, *f.shape[1:])
    return RaggedArray(values, splits)


def _decode_csv(manifest: Manifest, lines: list[bytes]) -> dict:
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = manifest.data["csv"]["columns"]
    arrow = {"float32": pa.float32(), "float64": pa.float64(), "string": pa.string()}
    types = {c["name"]: arrow.get(c["dtype"], pa.int64()) for c in columns}
    table = pacsv.read_csv(io.BytesIO(b"\n".join(lines) + b"\n"), read_options=pacsv.ReadOptions(
        column_names=[c["name"] for c in columns]), convert_options=pacsv.ConvertOptions(
        column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False))
    out = {}
    for f in manifest.schema.features:
        names = [c["name"] for c in columns if c["feature"] == f.name]
        arrays = [table.column(n).to_numpy(zero_copy_only=False) for n in names]
        value = np.stack(arrays, axis=1).reshape(len(lines), *f.shape) if f.shape else arrays[0]
        if f.dtype == "string":
            value = value.astype(object)
            value = np.vectorize(lambda s: s.encode("utf-8"), otypes=[object])(value) if value.size else value
        out[f.name] = value.astype(NUMPY_DTYPE[f.dtype]) if f.dtype in NUMPY_DTYPE else value
    return out


def read_record(path: str | Path | Manifest, split: str, i: int) -> dict:
    """Record ``i`` of ``split``, decoded, found through the record index (no scan, no TensorFlow)."""
    return SplitReader(path, split)[i]


def iter_batches(path: str | Path | Manifest, split: str = "train", batch_size: int = 1024) -> Iterator[dict]:
    """Numpy batches of ``split`` in file order, decoded without TensorFlow (see :class:`SplitReader`)."""
    return SplitReader(path, split).iter_batches(batch_size)
