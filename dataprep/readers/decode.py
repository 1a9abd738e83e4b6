"""Batch decoders built from a manifest: a vector of serialized records -> a dict of feature tensors.

TFRecord batches go through one vectorised ``tf.io.parse_example`` (``parse_sequence_example`` for
SequenceExamples, whose feature lists come back as ragged tensors); CSV batches through one ``decode_csv``
with the schema's column layout and record defaults (:meth:`~dataprep.schema.Schema.csv_parse_spec`). Both
give the same tensors: fixed shapes dense, variable and ragged shapes as ``tf.RaggedTensor``, sparse features as
``tf.SparseTensor`` ``[batch, size]`` (TFRecords only), pixel arrays as
``uint8 [h, w, c]`` (or float32 in [0, 1]), float64 features as ``tf.float64`` (TFRecords hold their bit
patterns as int64: ``tf.bitcast`` gives them back exactly).
"""
from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from ..manifest import Manifest
from ..schema import Feature

IMAGE_MODES = ("uint8", "float")


def batch_decoder(manifest: Manifest, images: str = "uint8") -> Callable[[tf.Tensor], dict]:
    """A function from a 1-D string tensor of records (or CSV lines) to a dict name -> tensor."""
    parse, finish = batch_parser(manifest), batch_finisher(manifest, images)
    return lambda records: finish(parse(records))


def batch_finisher(manifest: Manifest, images: str = "uint8") -> Callable[[dict], dict]:
    """The last step of decoding: pixel arrays stored as raw bytes become ``uint8 [h, w, c]`` (or floats).

    Kept apart from parsing so that whole shards can be parsed once and their pixels unpacked per batch."""
    schema = manifest.schema
    raw = not manifest.shard_format.lines  # Example records hold pixel arrays as raw bytes
    return lambda parsed: {f.name: _sparse(f, parsed, raw) if f.sparse else _finish(f, parsed[f.name], images, raw)
                           for f in schema.features}


def batch_parser(manifest: Manifest) -> Callable[[tf.Tensor], dict]:
    """Records (or CSV lines) to a dict of tensors, with pixel arrays still raw bytes in TFRecords."""
    schema = manifest.schema
    examples = not manifest.shard_format.lines
    if examples and schema.feature_lists:
        context, sequence = schema.sequence_parse_spec()

        def parse_sequences(records: tf.Tensor) -> dict:
            ctx, steps, lengths = tf.io.parse_sequence_example(records, context_features=context,
                                                              sequence_features=sequence)
            ragged = {k: tf.RaggedTensor.from_tensor(v, lengths=lengths[k]) for k, v in steps.items()}
            return {**ctx, **ragged}
        return parse_sequences
    if examples:
        spec = schema.parse_spec()
        return lambda records: tf.io.parse_example(records, spec)

    defaults, positions = schema.csv_parse_spec()

    def decode_csv(lines: tf.Tensor) -> dict:
        fields = tf.io.decode_csv(lines, record_defaults=defaults)
        out = {}
        for f in schema.features:
            cols = [fields[i] for i in positions[f.name]]
            value = cols[0] if f.shape == () else tf.reshape(tf.stack(cols, axis=1), [-1, *f.shape])
            out[f.name] = value if f.type_info.csv == f.type_info.tf else tf.cast(value, f.type_info.tf)
        return out
    return decode_csv


def _decode_images(f: Feature, encoded: tf.Tensor) -> tf.Tensor:
    """Encoded images (PNG, JPEG, ...) to uint8 [batch, h, w, c], resized to the schema's shape if needed."""
    height, width, channels = f.shape

    def one(data):
        # JPEG with the accurate integer DCT, as Pillow and libjpeg decode it by default
        pixels = tf.cond(tf.io.is_jpeg(data),
                         lambda: tf.io.decode_jpeg(data, channels=channels, dct_method="INTEGER_ACCURATE"),
                         lambda: tf.io.decode_image(data, channels=channels, expand_animations=False))
        same = tf.reduce_all(tf.equal(tf.shape(pixels)[:2], [height, width]))
        return tf.cond(same, lambda: pixels, lambda: tf.cast(tf.clip_by_value(tf.round(tf.image.resize(
            pixels, [height, width])), 0, 255), tf.uint8))

    return tf.map_fn(one, encoded, fn_output_signature=tf.TensorSpec([height, width, channels], tf.uint8))


def _sparse(f: Feature, parsed: dict, raw: bool) -> tf.SparseTensor:
    """A sparse feature's parsed values and indices (ragged, the indices sorted by the encoder) as the
    ``tf.SparseTensor`` [batch, size] that ``tf.io.SparseFeature`` parses; records whose indices and values
    differ in number stop the iteration with an InvalidArgumentError."""
    values, index = parsed[f.name], parsed[f.index_key]
    same = tf.debugging.assert_equal(values.row_splits, index.row_splits, message=f"sparse feature {f.name!r}: "
                                     "a record's indices and values differ in number")
    with tf.control_dependencies([same]):
        flat = tf.identity(values.flat_values)
    if f.encoding == "float64_bits" and raw:
        flat = tf.bitcast(flat, tf.float64)
    entries = tf.stack([values.value_rowids(), index.flat_values], axis=1)
    return tf.SparseTensor(entries, flat, tf.stack([values.nrows(), tf.constant(f.shape[0], tf.int64)]))


def _finish(f: Feature, value, images: str, raw: bool):
    if f.encoding == "float64_bits" and raw:  # the inverse of encode.example._list_payload
        return tf.ragged.map_flat_values(tf.bitcast, value, tf.float64) if isinstance(value, tf.RaggedTensor) \
            else tf.bitcast(value, tf.float64)
    if f.encoding == "encoded_image":
        value = _decode_images(f, value)
        return tf.cast(value, tf.float32) / 255.0 if images == "float" else value
    if f.encoding == "raw_uint8":
        if raw:
            value = tf.reshape(tf.io.decode_raw(value, tf.uint8), [-1, *f.shape])
        if images == "float":
            value = tf.cast(value, tf.float32) / 255.0
    return value
