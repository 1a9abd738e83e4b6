"""Reading converted shards without TensorFlow: exact lengths, random access, and numpy batches.

For PyTorch, JAX or Grain users, and for debugging: ``len(SplitReader(path, "train"))`` comes from the
manifest, ``reader[i]`` finds record ``i`` through the shard's record index, ``reader.take(indices)`` decodes
any records as one batch, and ``iter_batches`` yields dicts of numpy arrays (variable-length features as
:class:`RaggedArray`: flat values plus row splits; sparse ones as :class:`SparseArray`, their indices beside),
in file order or a global shuffle, sharded over workers and resumable from a small state
(:mod:`dataprep.epochs`). Examples are
decoded from the protobuf wire format a batch at a time by :mod:`dataprep.encode.columnar` (all records in
lockstep with numpy, any dtype), and by the per-record parser :mod:`dataprep.encode.parse` when a batch holds
records dataprep did not lay out.
"""
from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .encode.columnar import decode_block, decode_spans, ranges
from .encode.fixed import template
from .encode.parse import parse_example
from .epochs import Plan, fingerprint, from_state, make_state
from .errors import OutputError, UsageError
from .manifest import Manifest, load_manifest
from .schema import STORED_TYPES, Feature
from .shardread import check_record, read_index, verify_open
from .shardstreams import ShardStreams

_FEW = 8  # records of a shard below which take parses them one by one


class RaggedArray(NamedTuple):
    """A batch of variable-length values: row ``i`` is ``values[row_splits[i]:row_splits[i + 1]]``."""

    values: np.ndarray
    row_splits: np.ndarray


class SparseArray(NamedTuple):
    """A batch of a sparse feature: record ``i`` holds ``values[row_splits[i]:row_splits[i + 1]]`` at those
    ``indices`` (sorted) of its dense shape ``[size]``: the entries ``tf.io.SparseFeature`` parses."""

    indices: np.ndarray
    values: np.ndarray
    row_splits: np.ndarray


@dataclass
class _Shard:
    entry: dict  # the manifest's entry
    path: Path
    offsets: np.ndarray  # int64, num_records + 1, checked against the manifest


class SplitReader:
    """A split of a converted folder as a random-access sequence of records, with no TensorFlow.

    Nothing comes back from a shard before it is checked against the manifest (see :mod:`dataprep.shardread`):
    its size and SHA-256 (hashed in a stream before it is memory-mapped, or as a compressed shard is read
    whole; see :mod:`dataprep.shardstreams`), and its record index against the manifest's count and the file.
    Shards are opened through the folder the manifest was read from, so a folder replaced meanwhile is read as
    it was or fails with "the folder changed while reading"."""

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
        self._streams = ShardStreams(self.manifest)
        self._layout = None if self.manifest.shard_format.lines else template(self.schema.features)
        self._first = self.starts.tolist()  # the first record of each shard, for bisect

    def __len__(self) -> int:
        return self.manifest.num_records(self.split)

    def __repr__(self) -> str:  # Grain's checkpoints name their source by it
        return f"SplitReader({str(self.manifest.folder)!r}, {self.split!r}, {len(self)} records)"

    def __reduce__(self):
        """Pickled as its folder, split and manifest (for worker processes of Grain or a PyTorch DataLoader),
        opened again there and refused if the folder holds another manifest by then."""
        return _reopen, (str(self.manifest.folder), self.split, self.manifest.data)

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
        data, offsets = self._streams.get(shard.entry, shard.offsets)  # inflated whole, checked, kept
        return data[int(offsets[j]) + lead:int(offsets[j + 1]) - (framing - lead)]

    def __getitem__(self, i: int) -> dict:
        """Record ``i`` decoded: name -> numpy array of the feature's shape (a sparse feature: its
        ``(indices, values)``)."""
        if not 0 <= i < len(self):
            raise IndexError(f"record {i} is not in split {self.split!r} of {len(self)} records")
        if self._layout is not None:  # one record of a fixed layout: bytes comparisons, no numpy pass
            k = bisect.bisect_right(self._first, i) - 1
            shard = self.shards[k]
            data, offsets = self._streams.get(shard.entry, shard.offsets)
            j, fmt = i - self._first[k], self.manifest.shard_format
            start, end = int(offsets[j]) + fmt.lead, int(offsets[j + 1]) - (fmt.framing - fmt.lead)
            record = self._layout.decode_one(data[start:end])
            if record is not None:
                return record
        batch = self.take([i])
        return {name: (value.values if isinstance(value, RaggedArray) else (value.indices, value.values)
                       if isinstance(value, SparseArray) else value[0]) for name, value in batch.items()}

    def take(self, indices: Sequence[int] | np.ndarray) -> dict:
        """Records ``indices`` (any order, repeats allowed) as one batch in that order, decoded together per
        shard (see :mod:`dataprep.shardstreams` for what a first access to a shard costs)."""
        idx = self._checked(indices)
        shard = np.searchsorted(self.starts, idx, side="right") - 1
        if shard[0] == shard[-1] and (shard == shard[0]).all():
            return self._take_from(int(shard[0]), idx)
        order = np.argsort(shard, kind="stable")
        cuts = np.flatnonzero(np.diff(shard[order])) + 1
        rows = np.split(order, cuts)
        parts = [self._take_from(int(shard[r[0]]), idx[r]) for r in rows]
        return _reorder(parts, np.argsort(order, kind="stable"))

    def packed(self, indices: np.ndarray) -> tuple[bytes, np.ndarray, np.ndarray]:
        """The serialized records ``indices`` (framing left out) packed in one string, and the start and length
        of each in it, in the order of ``indices`` (for pipelines that parse records themselves)."""
        idx = self._checked(indices)
        shard = np.searchsorted(self.starts, idx, side="right") - 1
        order = np.argsort(shard, kind="stable")
        starts, lengths = np.empty(len(idx), np.int64), np.empty(len(idx), np.int64)
        parts, at = [], 0
        for rows in np.split(order, np.flatnonzero(np.diff(shard[order])) + 1):
            k = int(shard[rows[0]])
            data, s, e = self._spans_of(k, idx[rows])
            lengths[rows] = e - s
            starts[rows] = at + np.cumsum(e - s) - (e - s)
            parts.append(np.frombuffer(data, np.uint8)[ranges(s, e - s)])
            at += int((e - s).sum())
        return np.concatenate(parts).tobytes(), starts, lengths

    def _checked(self, indices) -> np.ndarray:
        idx = np.asarray(indices, np.int64)
        if idx.ndim != 1:
            raise UsageError(f"take needs a 1-D sequence of record numbers, got shape {idx.shape}")
        if len(idx) == 0:
            raise UsageError("take needs at least one record number")
        bad = (idx < 0) | (idx >= len(self))
        if bad.any():
            raise IndexError(f"record {idx[bad][0]} is not in split {self.split!r} of {len(self)} records")
        return idx

    def _spans_of(self, k: int, idx: np.ndarray):
        """Shard ``k``'s checked stream and where records ``idx`` of the split lie in it (framing left out)."""
        shard = self.shards[k]
        data, offsets = self._streams.get(shard.entry, shard.offsets)
        j = idx - int(self.starts[k])
        lead, framing = self.manifest.shard_format.lead, self.manifest.shard_format.framing
        return data, offsets[j] + lead, offsets[j + 1] - (framing - lead)

    def _take_from(self, k: int, idx: np.ndarray) -> dict:
        """Records ``idx`` of split, all in shard ``k``, decoded in that order."""
        data, s, e = self._spans_of(k, idx)
        lines = self.manifest.shard_format.lines
        if not lines and len(idx) < _FEW and self._layout is None:  # the lockstep walk's cost per call is
            return _sparse(self.schema.features, _parse_examples(
                self.schema.stored_features(), [data[x:y] for x, y in zip(s.tolist(), e.tolist())]))
        decoded = None if lines else self._spans(data, s, e)  # that of parsing about _FEW records one by one
        if decoded is None:
            decoded = self._decode([data[x:y] for x, y in zip(s.tolist(), e.tolist())])
        return decoded

    def iter_batches(self, batch_size: int = 1024, *, shuffle: str | None = None, seed: int | None = None,
                     num_epochs: int | None = 1, num_shards: int = 1, shard_index: int = 0, remainder: str = "keep",
                     state: dict | None = None) -> Batches:
        """Batches of ``batch_size`` records: fixed shapes as ``[b, *shape]`` arrays, variable ones as RaggedArray.

        In file order, or with ``shuffle="global"`` in a new uniformly random order each epoch drawn from
        ``(seed, epoch)`` (a random seed when None, kept in the state). Epochs are numbered from 0 and the
        iteration ends before epoch ``num_epochs`` (None: never). Worker ``shard_index`` of ``num_shards`` gets
        its part of every global step, every record once per epoch (``remainder`` says what becomes of the
        last places short of a step: see :mod:`dataprep.epochs`). ``state`` (from :meth:`Batches.state`)
        continues where it was saved, with any number of workers."""
        data = fingerprint([s.entry for s in self.shards])
        if state is not None:
            seed, epoch, place = from_state(state, data, len(self), shuffle, seed)
        else:
            epoch, place = 0, 0
            if seed is None:
                seed = int(np.random.default_rng().integers(2**62)) if shuffle else 0
        plan = Plan(len(self), batch_size, shuffle, seed, num_shards, shard_index, remainder)
        return Batches(self, plan, data, epoch, place, num_epochs)

    def _spans(self, data, starts: np.ndarray, ends: np.ndarray) -> dict | None:
        """Records of a shard's stream decoded in lockstep where they are, or None (see :func:`decode_spans`)."""
        if self._layout is not None:  # fixed-size floats and images: one comparison with the record layout
            fixed = self._layout.decode(np.frombuffer(data, np.uint8), starts, ends)
            if fixed is not None:
                return dict(fixed)
        fast = decode_spans(self.schema.stored_features(), data, starts, ends)
        return None if fast is None else _sparse(self.schema.features, _ragged(fast))

    def _decode(self, raws: list[bytes]) -> dict:
        if self.manifest.shard_format.lines:
            return _decode_csv(self.manifest, raws)
        return _sparse(self.schema.features, _decode_examples(self.schema.stored_features(), raws))


class Batches:
    """The iterator of :meth:`SplitReader.iter_batches`; :meth:`state` says where it stands, in a few integers.

    Batches are decoded a block of steps at a time (about 32k records: numpy's cost per call spread over many
    records) and handed out one by one; the state counts only the batches handed out."""

    def __init__(self, reader: SplitReader, plan: Plan, data: str, epoch: int, place: int, num_epochs: int | None):
        self.reader, self.plan, self._data, self.num_epochs = reader, plan, data, num_epochs
        self.epoch, self.place = plan.advance(epoch, place, 0)  # a place with no step left (more workers
        # than when the state was saved, "drop") is the next epoch's start
        self._ready: list[dict] = []

    def state(self) -> dict:
        """Where the next batch starts: a JSON-serialisable dict of under 256 bytes, the same for every worker
        that has consumed the same number of steps (pass it to ``iter_batches(..., state=)``)."""
        return make_state(self.plan, self._data, self.epoch, self.place)

    def state_after(self, batches: int) -> dict:
        """The state once ``batches`` more batches are consumed (for pipelines that read ahead)."""
        return make_state(self.plan, self._data, *self.plan.advance(self.epoch, self.place, batches))

    def __iter__(self) -> Batches:
        return self

    def __next__(self) -> dict:
        if self.num_epochs is not None and self.epoch >= self.num_epochs or not self.plan.n:
            raise StopIteration
        if not self._ready:
            self._decode_block()
        self.epoch, self.place = self.plan.advance(self.epoch, self.place, 1)
        return self._ready.pop()

    def _decode_block(self) -> None:
        """Decode this epoch's next steps (about 32k records) at once, ready in reverse order."""
        records, sizes = self.plan.block(self.epoch, self.place)
        decoded = self.reader.take(records)
        cuts = np.cumsum([0] + sizes).tolist()
        self._ready = [{name: _rows(v, a, b) for name, v in decoded.items()}
                       for a, b in zip(cuts[:-1], cuts[1:])][::-1]


def _reopen(folder: str, split: str, data: dict) -> SplitReader:
    reader = SplitReader(folder, split)
    if reader.manifest.data != data:
        raise OutputError(f"{folder}: the folder changed while reading (replaced by another conversion?): its "
                          "manifest differs from the one this reader was opened with; read it again")
    return reader


def _ragged(columns: dict) -> dict:
    """The lockstep decoder's (values, row_splits) pairs as RaggedArray."""
    return {name: RaggedArray(*v) if isinstance(v, tuple) else v for name, v in columns.items()}


def _sparse(features: Sequence[Feature], decoded: dict) -> dict:
    """Each sparse feature's values and indices (decoded as two variable-length features) as one SparseArray."""
    for f in features:
        if f.sparse:
            index, value = decoded.pop(f.index_key), decoded[f.name]
            if not np.array_equal(index.row_splits, value.row_splits):
                row = int(np.flatnonzero(index.row_splits != value.row_splits)[0]) - 1
                raise OutputError(f"record {row} of the batch: sparse feature {f.name!r} has "
                                  f"{index.row_splits[row + 1] - index.row_splits[row]} indices and "
                                  f"{value.row_splits[row + 1] - value.row_splits[row]} values")
            decoded[f.name] = SparseArray(index.values, value.values, value.row_splits)
    return decoded


def _reorder(parts: list[dict], rows: np.ndarray) -> dict:
    """Batches ``parts`` put end to end, then rows ``rows`` of that taken in order."""
    out = {}
    for name, first in parts[0].items():
        if isinstance(first, (RaggedArray, SparseArray)):
            sizes = np.concatenate([np.diff(p[name].row_splits) for p in parts])
            begins = np.cumsum(sizes) - sizes
            splits = np.zeros(len(rows) + 1, np.int64)
            np.cumsum(sizes[rows], out=splits[1:])
            at = ranges(begins[rows], sizes[rows])
            values = np.concatenate([p[name].values for p in parts])[at]
            out[name] = RaggedArray(values, splits) if isinstance(first, RaggedArray) else \
                SparseArray(np.concatenate([p[name].indices for p in parts])[at], values, splits)
        else:
            out[name] = np.concatenate([p[name] for p in parts])[rows]
    return out


def _rows(value, a: int, b: int):
    """Rows ``a:b`` of a decoded column (a RaggedArray's or SparseArray's splits start again at 0)."""
    if isinstance(value, SparseArray):
        splits = value.row_splits[a:b + 1]
        return SparseArray(value.indices[splits[0]:splits[-1]], value.values[splits[0]:splits[-1]],
                           splits - splits[0])
    if isinstance(value, RaggedArray):
        splits = value.row_splits[a:b + 1]
        return RaggedArray(value.values[splits[0]:splits[-1]], splits - splits[0])
    return value[a:b]


def _decode_examples(features: Sequence[Feature], raws: list[bytes]) -> dict:
    """Decode Examples: in one lockstep numpy pass over all records when they are laid out as dataprep
    writes them, else record by record (foreign or malformed records: the parser's values and errors)."""
    fast = decode_block(features, raws)
    if fast is not None:
        return _ragged(fast)
    return _parse_examples(features, raws)


def _parse_examples(features: Sequence[Feature], raws: list[bytes]) -> dict:
    """Decode Examples of any writer record by record (the reference the lockstep decoder is tested against)."""
    parsed = [parse_example(r) for r in raws]
    out = {}
    for f in features:
        rows = [p.get(f.name, ("empty", []))[1] for p in parsed]
        out[f.name] = _column(f, rows)
    return out


def _column(f: Feature, rows: list[list]):
    """One feature's values of a batch as the schema's dtype; float64 comes back from its bit patterns
    (the inverse of ``encode.example._list_payload``)."""
    dtype = STORED_TYPES[f.stored_dtype].numpy or object
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

    schema = manifest.schema
    columns = schema.csv_columns()  # as tf.io.decode_csv reads them: Schema.csv_parse_spec
    types = {name: pa.type_for_alias(f.type_info.csv) for name, f, _ in columns}
    table = pacsv.read_csv(io.BytesIO(b"\n".join(lines) + b"\n"), read_options=pacsv.ReadOptions(
        column_names=[name for name, _, _ in columns]), convert_options=pacsv.ConvertOptions(
        column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False))
    out = {}
    for f in schema.features:
        arrays = [table.column(name).to_numpy(zero_copy_only=False) for name, g, _ in columns if g is f]
        value = np.stack(arrays, axis=1).reshape(len(lines), *f.shape) if f.shape else arrays[0]
        if f.is_text:
            value = value.astype(object)
            value = np.vectorize(lambda s: s.encode("utf-8"), otypes=[object])(value) if value.size else value
        numpy = f.type_info.numpy
        out[f.name] = value if numpy is None else value.astype(numpy)
    return out


def read_record(path: str | Path | Manifest, split: str, i: int) -> dict:
    """Record ``i`` of ``split``, decoded, found through the record index (no scan, no TensorFlow)."""
    return SplitReader(path, split)[i]


def iter_batches(path: str | Path | Manifest, split: str = "train", batch_size: int = 1024, **options) -> Batches:
    """Numpy batches of ``split``, decoded without TensorFlow: file order, or shuffled, sharded and resumable
    with the options of :meth:`SplitReader.iter_batches`."""
    return SplitReader(path, split).iter_batches(batch_size, **options)
