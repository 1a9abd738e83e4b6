"""TFRecord files of ``tf.train.Example`` records (from TensorFlow or anyone else) as list columns, read
without TensorFlow: the framing and CRCs are checked by :mod:`dataprep.tfrecord`, the records parsed by
:func:`dataprep.records.parse_example`.
"""
from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from pathlib import Path

import pyarrow as pa

from ..batch import Batch
from ..errors import SourceError
from .tables import select_columns

TFRECORD_BATCH_BYTES = 64 << 20  # records held per TFRecord source batch (see tfrecord_batches)


def tfrecord_batches(path: Path, columns, batch_size: int) -> Iterator[Batch]:
    """``tf.train.Example`` records (from TensorFlow or anyone else) as list columns, one per key; a key
    missing from a record is a missing value. Framing and CRCs are checked; no TensorFlow is needed.

    The file is streamed: a batch holds at most ``batch_size`` records and about ``TFRECORD_BATCH_BYTES`` of
    them, so memory does not grow with the file (or with what a compressed file inflates to)."""
    from ..compressions import guess_compression
    from ..tfrecord import FramingError, iter_records

    batch: list = []
    held = start = 0
    bits = float64_bit_keys(path)
    try:
        for rec in iter_records(path, guess_compression(path)):
            batch.append(rec)
            held += len(rec.data)
            if len(batch) >= batch_size or held >= TFRECORD_BATCH_BYTES:
                yield _example_batch(path, batch, columns, start, bits)
                start += len(batch)
                batch, held = [], 0
    except FramingError as e:
        raise SourceError(str(e)) from None
    if batch:
        yield _example_batch(path, batch, columns, start, bits)


def float64_bit_keys(path: Path) -> set[str]:
    """The keys of a dataprep shard that hold float64 values as their int64 bit patterns (the manifest beside
    the file lists it and its schema says so): read back as those float64 values, not as huge integers."""
    from ..errors import OutputError
    from ..manifest import load_manifest

    if not (path.parent / "manifest.json").is_file():
        return set()
    try:
        manifest = load_manifest(path.parent)
    except OutputError:
        return set()  # not a folder we can vouch for: its records are read as any writer's
    ours = {e["path"] for split in manifest.splits for e in manifest.entries(split)}
    if path.name not in ours:
        return set()
    return {f.name for f in manifest.schema.features if f.encoding == "float64_bits"}


def _example_batch(path: Path, records: list, columns, start: int, bits: AbstractSet[str] = frozenset()) -> Batch:
    from ..encode.parse import WireError, parse_example
    from ..schema import SPARSE_INDEX_SUFFIX, STORED_TYPES

    parsed = []
    for rec in records:
        try:
            parsed.append(parse_example(rec.data))
        except WireError as e:
            raise SourceError(f"{path}: record {rec.number} at offset {rec.offset} is not a tf.train.Example: "
                              f"{e}") from None
    list_type = {kind: pa.list_(t.arrow_type) for kind, t in STORED_TYPES.items()}
    kinds = {k: kind for p in parsed for k, (kind, _) in p.items() if kind != "empty"}
    have = sorted(set(kinds) | {k for p in parsed for k in p})
    wanted = select_columns(str(path), have, columns)
    wanted += [k for k in have if k.endswith(SPARSE_INDEX_SUFFIX) and k[:-len(SPARSE_INDEX_SUFFIX)] in wanted
               and k not in wanted]  # a sparse feature's indices travel with its values
    cols = {k: pa.array([p[k][1] if k in p else None for p in parsed],
                        list_type[kinds[k]] if k in kinds else pa.list_(pa.float32())) for k in wanted}
    for k in bits & set(cols):
        if kinds.get(k) == "int64":
            ints = cols[k]
            values = pa.array(ints.values.to_numpy(zero_copy_only=False).view("<f8"))
            cols[k] = pa.ListArray.from_arrays(ints.offsets, values, mask=ints.is_null())
    return Batch(cols, len(parsed), str(path), start)
