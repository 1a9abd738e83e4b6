"""``make_dataset``: a shuffling, batching, parsing ``tf.data`` pipeline over a converted folder.

Everything it needs (format, compression, parse spec, labels, groups) comes from the manifest. tf.data pays
a cost per element, so the pipeline never holds single records:

- shards with a record index (every dataprep shard) are read whole: one file read, one decompression and
  one ``tf.strings.substr`` over the index's offsets cut a shard into its records, which are parsed by one
  op (when every feature has a fixed shape), permuted as a whole (the shuffle window is the shard), then
  cut into blocks that are interleaved across ``cycle_length`` shards;
- larger shards, or shards without an index, stream through ``TFRecordDataset``/``TextLineDataset`` in
  windows of records that are merged across files and permuted (a window of ``shuffle_window`` records).

Otherwise batches of serialized records are parsed by one vectorised op each (``parse_example`` or
``decode_csv``).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..errors import UsageError
from ..manifest import Manifest, load_manifest
from .decode import IMAGE_MODES, batch_decoder, batch_finisher, batch_parser
from .global_order import global_batches
from .inputs import assembler
from .integrity import CORRUPT_POLICIES, ShardCheck

WHOLE_SHARD_MAX_BYTES = 1 << 30  # shards up to this size (uncompressed) are read whole


def make_dataset(path: str | Path, split: str = "train", batch_size: int = 256, shuffle: bool | str = True,
                 seed: int | None = None, num_epochs: int | None = None, inputs: str = "dict",
                 features: Sequence[str] | None = None, deterministic: bool = False, num_shards: int = 1,
                 shard_index: int = 0, input_context: tf.distribute.InputContext | None = None,
                 cache: bool = False, drop_remainder: bool = False, images: str = "uint8",
                 shuffle_window: int = 16384, cycle_length: int = 4, on_corrupt: str = "raise",
                 padded: bool = False, bucket_boundaries: Sequence[int] | None = None, remainder: str | None = None,
                 state: dict | None = None) -> tf.data.Dataset:
    """Batches of ``(x, y)`` (or ``(x, y, weight)``, or ``x`` with no label) from split ``split`` of ``path``.

    ``x`` is a dict name -> tensor (``inputs="dict"``), a tuple in schema order (``"tuple"``), or
    ``{"wide": float32 [b, k1], "deep": float32 [b, k2]}`` (``"wide_deep"``, numeric features concatenated,
    categoricals one-hot). ``y`` is the label tensor, or a dict when the schema has several labels.
    Element spec: fixed shapes give dense ``[batch, *shape]`` tensors of the schema dtype (strings as
    ``tf.string``); ``[None, ...]`` shapes give ``tf.RaggedTensor``; sparse features give ``tf.SparseTensor``
    ``[batch, size]`` (indices sorted, as ``tf.io.SparseFeature`` parses them); ``uint8`` pixel arrays give
    ``uint8 [batch, h, w, c]``, or float32 in [0, 1] with ``images="float"``.

    ``num_epochs=None`` repeats forever; every epoch ends with its own (possibly short) batch. With
    ``shuffle``, file order is reshuffled every epoch and records are permuted within whole shards (or
    windows of ``shuffle_window`` records for streamed shards); the same ``seed`` gives the same order
    (with ``deterministic=True``, which also keeps batch order under parallel parsing; unshuffled reads
    always keep file order).
    ``num_shards``/``shard_index`` (or ``input_context``) give each worker a disjoint part: whole files when
    there are at least as many files as workers, else every n-th record. ``cache`` keeps the split's
    records in memory after the first epoch.

    ``shuffle="global"`` visits the records in a uniformly random order drawn from ``(seed, epoch)``, a new
    one each epoch, with the workers' parts, ``remainder`` ("keep", "drop", "pad"; default "drop" with
    ``drop_remainder`` else "keep") and resumable ``state`` of :meth:`dataprep.records.SplitReader.iter_batches`
    (the same batches): ``dataset.dataprep_state(k)`` is the state after the dataset's first ``k`` batches,
    and ``make_dataset(..., state=that)`` continues from there with no replay. See
    docs/reading.md ("Shuffling and resuming") for what each shuffle costs and how well it mixes.

    Variable-length features (sequences) come as ``tf.RaggedTensor``; ``padded=True`` gives them as dense
    tensors padded with zeros (empty strings) to the longest in the batch, as Keras RNN layers take them.
    ``bucket_boundaries`` (e.g. ``[100, 200, 400]``) batches sequences of similar length together (by the
    first variable-length feature) and pads each batch only to its own longest sequence; it works on single
    records, so it costs more per record than plain batching.

    Every shard is checked here, before the pipeline is built, against the manifest's size and SHA-256
    (hashed in threads; not again for a file unchanged since it was checked in this process) and its record
    index against the manifest's counts (see :mod:`dataprep.readers.integrity`). A damaged one raises an
    ``OutputError`` naming the file, record and offset, or with ``on_corrupt="skip"`` gives the records before
    the damage (logged; ``dataset.dataprep_skipped`` lists the damaged shards). Shards are then read through
    the folder the manifest was read from and checked again as they are read; a shard that changed after
    this check (a folder replaced by ``convert --overwrite`` meanwhile) stops the iteration with an
    ``InvalidArgumentError`` naming the file, never with records of two runs.
    """
    manifest = load_manifest(path)
    if on_corrupt not in CORRUPT_POLICIES:
        raise UsageError(f"on_corrupt must be one of {', '.join(CORRUPT_POLICIES)}, got {on_corrupt!r}")
    if images not in IMAGE_MODES:
        raise UsageError(f"images must be one of {', '.join(IMAGE_MODES)}, got {images!r}")
    if batch_size < 1 or shuffle_window < 1 or cycle_length < 1:
        raise UsageError("batch_size, shuffle_window and cycle_length must be positive")
    if input_context is not None:
        num_shards, shard_index = input_context.num_input_pipelines, input_context.input_pipeline_id
    if not 0 <= shard_index < num_shards:
        raise UsageError(f"shard_index {shard_index} is not in [0, {num_shards})")
    if shuffle not in (True, False, "global"):
        raise UsageError(f"shuffle must be True (within shards), False or 'global', got {shuffle!r}")
    if (state is not None or remainder is not None) and shuffle != "global":
        raise UsageError("state and remainder need shuffle='global'")
    assemble = assembler(manifest.schema, inputs, features)
    state_after = None
    if shuffle == "global":
        if cache or on_corrupt != "raise" or bucket_boundaries:
            raise UsageError("shuffle='global' reads records from memory-mapped shards in batches its state "
                             "counts: cache, on_corrupt='skip' and bucket_boundaries apply to the other shuffles only")
        check = ShardCheck(manifest, manifest.entries(split), on_corrupt)  # every worker reads from every shard
        check.start()
        parse_whole = all(f.is_fixed for f in manifest.schema.features)
        ds, state_after = global_batches(manifest, split, batch_size, seed, num_epochs, num_shards, shard_index,
                                         remainder or ("drop" if drop_remainder else "keep"), state,
                                         batch_parser(manifest) if parse_whole else None)
    else:
        ds, parse_whole, check = _local_shuffle(manifest, split, batch_size, bool(shuffle), seed, num_epochs,
                                                num_shards, shard_index, cache, drop_remainder, shuffle_window,
                                                cycle_length, on_corrupt)
    finish = batch_finisher(manifest, images) if parse_whole else batch_decoder(manifest, images)
    ordered = deterministic or shuffle in (False, "global")  # these orders are the reader's, batch by batch
    if bucket_boundaries:
        ds = _bucketed(ds.map(_plain(finish), num_parallel_calls=tf.data.AUTOTUNE, deterministic=ordered), manifest,
                       list(bucket_boundaries), batch_size, drop_remainder).map(_plain(assemble))
    else:
        ds = ds.map(_plain(lambda batch: assemble(_dense(finish(batch)) if padded else finish(batch))),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=ordered)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    check.finish()
    ds.dataprep_skipped = check.skipped
    if state_after is not None:
        ds.dataprep_state = state_after
    return ds


def _local_shuffle(manifest: Manifest, split: str, batch_size: int, shuffle: bool, seed: int | None,
                   num_epochs: int | None, num_shards: int, shard_index: int, cache: bool, drop_remainder: bool,
                   shuffle_window: int, cycle_length: int, on_corrupt: str
                   ) -> tuple[tf.data.Dataset, bool, ShardCheck]:
    """Batches of records (or of parsed features: the flag) in file order or shuffled within shards (or
    windows), each worker reading its files (or every n-th record), and the check of those shards."""
    entries = manifest.split(split)["files"]
    record_shard = (num_shards, shard_index) if num_shards > 1 and len(entries) < num_shards else None
    if num_shards > 1 and record_shard is None:
        entries = entries[shard_index::num_shards]
    if seed is None and shuffle:
        seed = int(np.random.default_rng().integers(2**31))
    cycle = max(1, min(cycle_length, len(entries)))

    whole = all("index" in e and e.get("uncompressed_bytes", 0) <= WHOLE_SHARD_MAX_BYTES for e in entries)
    # dense features are parsed a whole shard at a time; ragged ones per batch (rebatch needs dense)
    parse_whole = whole and all(f.is_fixed for f in manifest.schema.features)
    check = ShardCheck(manifest, entries, on_corrupt)
    check.start()  # hashing runs in threads while the graph is built; finish() waits before it is returned
    if whole:
        ds = _whole_shards(manifest, entries, shuffle, seed, cache, record_shard, cycle, batch_size, check,
                           batch_parser(manifest) if parse_whole else None)
    else:
        check.finish()  # the streamed graph holds the records before any damage
        ds = _streamed_windows(manifest, entries, shuffle, seed, cache, record_shard, cycle, batch_size,
                               shuffle_window, check)
    return ds.rebatch(batch_size, drop_remainder=drop_remainder).repeat(num_epochs), parse_whole, check


def _plain(fn):
    """``fn`` traced as written: our mapped functions have no Python control flow on tensors, so AutoGraph's
    conversion (source parsing and rewriting at every trace) is pure start-up cost."""
    return tf.autograph.experimental.do_not_convert(fn)


def _dense(features: dict) -> dict:
    """Ragged features as dense tensors padded with zeros (or empty strings)."""
    return {k: v.to_tensor() if isinstance(v, tf.RaggedTensor) else v for k, v in features.items()}


def _bucketed(ds: tf.data.Dataset, manifest: Manifest, boundaries: list[int], batch_size: int,
              drop_remainder: bool) -> tf.data.Dataset:
    """Decoded batches regrouped into batches of similar sequence length, each padded to its longest."""
    lengths = [f.name for f in manifest.schema.features if not f.is_fixed and not f.sparse]
    if not lengths:
        raise UsageError("bucket_boundaries needs a variable-length feature to measure; the schema has none")
    if boundaries != sorted(set(boundaries)) or boundaries[0] < 1:
        raise UsageError(f"bucket_boundaries must be increasing positive lengths, got {boundaries}")
    key = lengths[0]
    return ds.unbatch().map(_dense).bucket_by_sequence_length(
        lambda record: tf.shape(record[key])[0], boundaries, [batch_size] * (len(boundaries) + 1),
        drop_remainder=drop_remainder)


def _asserted(sound: tf.Tensor, message: tf.Tensor, value):
    """``value`` once ``sound`` holds; else an InvalidArgumentError carrying ``message`` (raised in the graph,
    so that no Python exception crosses ``tf.py_function``)."""
    sound.set_shape([])
    with tf.control_dependencies([tf.debugging.Assert(sound, [message])]):
        return tf.nest.map_structure(tf.identity, value)


def _whole_shards(manifest: Manifest, entries: list[dict], shuffle: bool, seed: int | None, cache: bool,
                  record_shard, cycle: int, batch_size: int, check: ShardCheck, parse=None) -> tf.data.Dataset:
    """One epoch of blocks of records (or, with ``parse``, of parsed features), reading each shard whole
    and cutting it into records with its index."""
    def load(i):
        # read, decompressed and checked in Python: the bytes cut are the bytes checked
        sound, message, contents, starts, lengths = tf.py_function(
            check.load, [i], [tf.bool, tf.string, tf.string, tf.int64, tf.int64])
        contents, starts, lengths = _asserted(sound, message, (contents, starts, lengths))
        records = tf.strings.substr(tf.reshape(contents, []), starts, lengths)
        records.set_shape([None])
        if record_shard is not None:
            records = records[record_shard[1]::record_shard[0]]
        return records

    ds = tf.data.Dataset.range(len(entries))
    if shuffle and not cache:
        ds = ds.shuffle(len(entries), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(_plain(load))
    if parse is not None:
        ds = ds.map(_plain(parse))
    if cache:
        ds = ds.cache()
        if shuffle:
            ds = ds.shuffle(len(entries), seed=seed, reshuffle_each_iteration=True)
    if shuffle:
        keys = tf.data.Dataset.random(seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, keys).map(_plain(_permute))
    block = max(1, batch_size // cycle)  # each batch mixes blocks of ``cycle`` shards
    return ds.interleave(_plain(lambda shard: tf.data.Dataset.from_tensors(shard).rebatch(block).map(_plain(_own))),
                         cycle_length=cycle, block_length=1)


def _own(block):
    """The block in buffers of its own: a slice of the shard's tensor shares its buffer, and the batching after
    (``rebatch``) logs "Tensor RefCount not reliable if buf_ points to a SubBuffer" at ERROR level for every
    such slice it merges (thousands of lines an epoch wherever TF_CPP_MIN_LOG_LEVEL is below 3)."""
    return tf.nest.map_structure(lambda t: tf.gather(t, tf.range(tf.shape(t)[0])), block)


def _streamed_windows(manifest: Manifest, entries: list[dict], shuffle: bool, seed: int | None, cache: bool,
                      record_shard, cycle: int, batch_size: int, shuffle_window: int, check: ShardCheck
                      ) -> tf.data.Dataset:
    """One epoch of record windows streamed from the files, merged across ``cycle`` files and permuted."""
    comp = manifest.shard_compression.tf_type
    text = manifest.shard_format.lines
    window = max(batch_size, -(-shuffle_window // cycle)) if shuffle else max(batch_size, 4096)

    files = tf.constant([str(manifest.folder / e["path"]) for e in entries])
    damaged = tf.constant([e["path"] in check.before_damage for e in entries])
    before = [check.before_damage.get(e["path"], []) for e in entries]
    lengths = tf.constant([len(b) for b in before], tf.int64)
    kept = tf.constant([r for b in before for r in b], tf.string, shape=[sum(len(b) for b in before)])

    def read(i):
        sound, message = tf.py_function(check.still_sound, [i], [tf.bool, tf.string])
        file = _asserted(sound, message, files[i])
        stream = tf.data.TextLineDataset(file, compression_type=comp).skip(1) if text else \
            tf.data.TFRecordDataset(file, compression_type=comp)
        # a sound shard streams whole; a damaged one gives only the records before the damage
        start = tf.reduce_sum(lengths[:i])
        ds = stream.take(tf.where(damaged[i], tf.constant(0, tf.int64), -1)).concatenate(
            tf.data.Dataset.from_tensor_slices(kept[start:start + lengths[i]]))
        if record_shard is not None:
            ds = ds.shard(*record_shard)
        return ds.batch(window)

    ds = tf.data.Dataset.range(len(entries))
    if shuffle and not cache:
        ds = ds.shuffle(len(entries), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(_plain(read), cycle_length=cycle, block_length=1)
    if cache:
        ds = ds.cache()
        if shuffle:
            ds = ds.shuffle(1024, seed=seed, reshuffle_each_iteration=True)
    if shuffle:
        keys = tf.data.Dataset.random(seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds.rebatch(window * cycle), keys).map(_plain(_permute))
    return ds


def _permute(window, key: tf.Tensor):
    """A random permutation of a window of records (a string vector or a dict of parsed features), drawn
    from a seeded per-window key."""
    first = tf.nest.flatten(window)[0]
    noise = tf.random.stateless_uniform(tf.shape(first)[:1], seed=tf.stack([key, tf.constant(0, tf.int64)]))
    order = tf.argsort(noise)
    return tf.nest.map_structure(lambda t: tf.gather(t, order), window)
