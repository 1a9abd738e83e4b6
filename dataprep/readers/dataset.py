"""``make_dataset``: a shuffling, batching, parsing ``tf.data`` pipeline over a converted folder.

Everything it needs (format, compression, parse spec, labels, groups) comes from the manifest. tf.data pays
a cost per element, so the pipeline never holds single records: files yield windows of serialized records,
windows from several files are merged and permuted as a whole (a record-level shuffle over
``shuffle_window`` records), re-cut into batches, and each batch is parsed by one vectorised op.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from ..errors import UsageError
from ..manifest import load_manifest
from .decode import COMPRESSION_TYPES, IMAGE_MODES, batch_decoder
from .inputs import assembler


def make_dataset(path: str | Path, split: str = "train", batch_size: int = 256, shuffle: bool = True,
                 seed: int | None = None, num_epochs: int | None = None, inputs: str = "dict",
                 features: Sequence[str] | None = None, deterministic: bool = False, num_shards: int = 1,
                 shard_index: int = 0, input_context: tf.distribute.InputContext | None = None,
                 cache: bool = False, drop_remainder: bool = False, images: str = "uint8",
                 shuffle_window: int = 16384, cycle_length: int = 4) -> tf.data.Dataset:
    """Batches of ``(x, y)`` (or ``(x, y, weight)``, or ``x`` with no label) from split ``split`` of ``path``.

    ``x`` is a dict name -> tensor (``inputs="dict"``), a tuple in schema order (``"tuple"``), or
    ``{"wide": float32 [b, k1], "deep": float32 [b, k2]}`` (``"wide_deep"``, numeric features concatenated,
    categoricals one-hot). ``y`` is the label tensor, or a dict when the schema has several labels.
    Element spec: fixed shapes give dense ``[batch, *shape]`` tensors of the schema dtype (strings as
    ``tf.string``); ``[None, ...]`` shapes give ``tf.RaggedTensor``; ``uint8`` pixel arrays give
    ``uint8 [batch, h, w, c]``, or float32 in [0, 1] with ``images="float"``.

    ``num_epochs=None`` repeats forever. With ``shuffle``, file order is reshuffled every epoch and records are
    permuted within windows of ``shuffle_window`` records drawn from ``cycle_length`` files at once; the same
    ``seed`` gives the same order. ``num_shards``/``shard_index`` (or ``input_context``) give each worker a
    disjoint part: whole files when there are at least as many files as workers, else every n-th record.
    """
    manifest = load_manifest(path)
    if images not in IMAGE_MODES:
        raise UsageError(f"images must be one of {', '.join(IMAGE_MODES)}, got {images!r}")
    if batch_size < 1 or shuffle_window < 1:
        raise UsageError("batch_size and shuffle_window must be positive")
    if input_context is not None:
        num_shards, shard_index = input_context.num_input_pipelines, input_context.input_pipeline_id
    if not 0 <= shard_index < num_shards:
        raise UsageError(f"shard_index {shard_index} is not in [0, {num_shards})")
    files = [str(p) for p in manifest.files(split)]
    record_shard = num_shards > 1 and len(files) < num_shards
    if num_shards > 1 and not record_shard:
        files = files[shard_index::num_shards]
    if seed is None and shuffle:
        seed = int(np.random.default_rng().integers(2**31))

    cycle = max(1, min(cycle_length, len(files)))
    window = max(batch_size, -(-shuffle_window // cycle)) if shuffle else max(batch_size, 4096)
    comp = COMPRESSION_TYPES[manifest.compression]
    text = manifest.format == "csv"

    def read(file):
        ds = tf.data.TextLineDataset(file, compression_type=comp).skip(1) if text else \
            tf.data.TFRecordDataset(file, compression_type=comp)
        if record_shard:
            ds = ds.shard(num_shards, shard_index)
        return ds.batch(window)

    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle and not cache:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(read, cycle_length=cycle, block_length=1)
    if cache:
        ds = ds.cache()
        if shuffle:
            ds = ds.shuffle(1024, seed=seed, reshuffle_each_iteration=True)
    if shuffle:
        keys = tf.data.Dataset.random(seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds.rebatch(window * cycle), keys).map(_permute)
    # the epoch ends with its own (possibly short) batch: no record crosses an epoch boundary
    ds = ds.rebatch(batch_size, drop_remainder=drop_remainder).repeat(num_epochs)
    decode = batch_decoder(manifest, images)
    assemble = assembler(manifest.schema, inputs, features)
    ds = ds.map(lambda records: assemble(decode(records)), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=deterministic)
    return ds.prefetch(tf.data.AUTOTUNE)


def _permute(records: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
    """A random permutation of one window of records, drawn from a seeded per-window key."""
    noise = tf.random.stateless_uniform(tf.shape(records), seed=tf.stack([key, tf.constant(0, tf.int64)]))
    return tf.gather(records, tf.argsort(noise))
