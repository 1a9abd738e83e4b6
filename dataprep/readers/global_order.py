"""``make_dataset(shuffle="global")``: batches of serialized records in the epoch orders of :mod:`dataprep.epochs`.

The records of a block of batches (about 32k records) are gathered by the TF-free reader from memory-mapped
(or inflated and kept) shards (:meth:`dataprep.records.SplitReader.packed`), handed to tf.data as one string
with the records' starts and lengths, cut with one ``tf.strings.substr`` (and, when every feature has a
fixed shape, parsed by one op for the block) and split into the batches. The epoch order,
the workers' parts and the state are those of ``iter_batches``, so one state restores either reader, and
``dataset.dataprep_state(k)`` is the state after the dataset's first ``k`` batches: computed, not read off an
iterator, so tf.data's prefetching does not make it run ahead.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf

from ..epochs import Plan, fingerprint, from_state, make_state
from ..manifest import Manifest
from ..records import SplitReader


def global_batches(manifest: Manifest, split: str, batch_size: int, seed: int | None, num_epochs: int | None,
                   num_shards: int, shard_index: int, remainder: str, state: dict | None, parse=None
                   ) -> tuple[tf.data.Dataset, Callable[[int], dict]]:
    """A dataset of this worker's batches, as record vectors (or, with ``parse``, a function of dense features
    only, as features parsed a block at a time), and the function ``k -> state``."""
    reader = SplitReader(manifest, split)
    data = fingerprint(reader.manifest.entries(split))
    if state is not None:
        seed, epoch, place = from_state(state, data, len(reader), "global", seed)
    else:
        epoch, place = 0, 0
        if seed is None:
            seed = int(np.random.default_rng().integers(2**62))
    plan = Plan(len(reader), batch_size, "global", seed, num_shards, shard_index, remainder)

    def blocks() -> Iterator[tuple[bytes, np.ndarray, np.ndarray, list[int]]]:
        e, p = plan.advance(epoch, place, 0)  # (no step left at a saved place: the next epoch)
        while plan.n and (num_epochs is None or e < num_epochs):
            records, sizes = plan.block(e, p)
            yield (*reader.packed(records), sizes)
            e, p = plan.advance(e, p, len(sizes))

    def cut(blob, starts, lengths, sizes):
        """A block's records (or parsed features), one row per batch."""
        records = tf.strings.substr(blob, starts, lengths)
        return tf.nest.map_structure(lambda t: tf.RaggedTensor.from_row_lengths(t, sizes),
                                     records if parse is None else parse(records))

    spec = (tf.TensorSpec([], tf.string), tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None], tf.int64))
    ds = tf.data.Dataset.from_generator(blocks, output_signature=spec)
    ds = ds.map(tf.autograph.experimental.do_not_convert(cut)).flat_map(tf.data.Dataset.from_tensor_slices)
    return ds, lambda k: make_state(plan, data, *plan.advance(*plan.advance(epoch, place, 0), k))
