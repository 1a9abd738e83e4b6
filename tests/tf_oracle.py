"""Plain-TensorFlow readers built from manifest.json alone: the oracle the tests compare against.

Nothing here imports dataprep: if these functions read back what went in, any TensorFlow user can.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

_TF = {"float": tf.float32, "int64": tf.int64, "bytes": tf.string}
_COMPRESSION = {"none": "", "gzip": "GZIP", "zlib": "ZLIB"}


def manifest(folder) -> dict:
    return json.loads((Path(folder) / "manifest.json").read_text())


def parse_spec(m: dict) -> dict:
    spec = {}
    for key, st in m["features"].items():
        dtype = _TF[st["stored_dtype"]]
        if st["kind"] == "fixed":
            shape = [] if st["encoding"] == "raw_uint8" else st["shape"]
            spec[key] = tf.io.FixedLenFeature(shape, dtype)
        elif st["kind"] == "sparse":
            spec[key] = tf.io.SparseFeature(st["index_key"], key, dtype, st["shape"][0])
        else:
            parts = [tf.io.RaggedFeature.UniformRowLength(d) for d in st["shape"][1:]]
            spec[key] = tf.io.RaggedFeature(dtype, partitions=parts, row_splits_dtype=tf.int64)
    return spec


def read_tfrecord_split(folder, split: str) -> dict:
    """Every record of a split as name -> numpy array (fixed) or list of arrays (ragged) or of (indices, values)
    pairs (sparse: its tf.SparseTensor rows), in file order."""
    m = manifest(folder)
    files = [str(Path(folder) / f["path"]) for f in m["splits"][split]["files"]]
    ds = tf.data.TFRecordDataset(files, compression_type=_COMPRESSION[m["compression"]]).batch(4096)
    spec = parse_spec(m)
    out: dict[str, list] = {k: [] for k in spec}
    for raw in ds:
        parsed = tf.io.parse_example(raw, spec)
        for k, v in parsed.items():
            st = m["features"][k]
            if isinstance(v, tf.SparseTensor):
                rows, cols, vals = v.indices[:, 0].numpy(), v.indices[:, 1].numpy(), v.values.numpy()
                out[k] += [(cols[rows == r], vals[rows == r]) for r in range(int(v.dense_shape[0]))]
            elif isinstance(v, tf.RaggedTensor):
                out[k] += [np.asarray(r) for r in v.to_list()] if v.dtype != tf.string else \
                    [np.asarray(r, dtype=object) for r in v.to_list()]
            elif st["encoding"] == "raw_uint8":
                arr = tf.io.decode_raw(v, tf.uint8).numpy().reshape([-1] + st["shape"])
                out[k].append(arr)
            else:
                out[k].append(v.numpy())
    result = {}
    for k, parts in out.items():
        if m["features"][k]["kind"] == "fixed":
            result[k] = np.concatenate(parts) if parts else np.zeros(0)
        else:
            result[k] = parts
    return result


def read_csv_split(folder, split: str) -> dict:
    """A CSV split through tf.data.TextLineDataset + tf.io.decode_csv, columns regrouped per feature."""
    m = manifest(folder)
    cols = m["csv"]["columns"]
    kind = {"float32": tf.float32, "int64": tf.int64, "uint8": tf.int32, "string": tf.string}
    defaults = [tf.constant([], dtype=kind[c["dtype"]]) if c["record_default"] is None
                else tf.constant([c["record_default"]], dtype=kind[c["dtype"]]) for c in cols]
    files = [str(Path(folder) / f["path"]) for f in m["splits"][split]["files"]]
    comp = _COMPRESSION[m["compression"]]
    ds = tf.data.Dataset.from_tensor_slices(files).flat_map(
        lambda f: tf.data.TextLineDataset(f, compression_type=comp).skip(1)).batch(4096)
    fields: list[list] = [[] for _ in cols]
    for lines in ds:
        for i, t in enumerate(tf.io.decode_csv(lines, record_defaults=defaults)):
            fields[i].append(t.numpy())
    by_feature: dict[str, list] = {}
    for c, parts in zip(cols, fields):
        by_feature.setdefault(c["feature"], []).append(np.concatenate(parts) if parts else np.zeros(0))
    return {k: np.stack(v, axis=1) if len(v) > 1 else v[0] for k, v in by_feature.items()}
