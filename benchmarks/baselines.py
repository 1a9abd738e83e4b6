"""The tutorial paths users write by hand today (the seed's code), used as the denominators."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf


def tutorial_write(data: dict[str, np.ndarray], path: Path, gzip: bool = False) -> None:
    """One tf.train.Example per row, written with tf.io.TFRecordWriter."""
    names = list(data)
    options = tf.io.TFRecordOptions(compression_type="GZIP") if gzip else None
    columns = [data[n].reshape(len(data[n]), -1) for n in names]
    with tf.io.TFRecordWriter(str(path), options) as writer:
        for i in range(len(columns[0])):
            feature = {}
            for name, col in zip(names, columns):
                if col.dtype == np.uint8:
                    feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[col[i].tobytes()]))
                elif col.dtype.kind == "f":
                    feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=col[i].tolist()))
                else:
                    feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=col[i].tolist()))
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())


def tutorial_csv_write(csv_path: Path, path: Path) -> None:
    """pandas.read_csv, then the tutorial write path."""
    df = pd.read_csv(csv_path)
    tutorial_write({c: df[c].to_numpy(np.float32) for c in df.columns}, path)


def float_spec(names: list[str]) -> dict:
    return {n: tf.io.FixedLenFeature([], tf.float32) for n in names}


def tutorial_read(files: list[str], names: list[str]):
    """map(parse_single_example) per record, then batch(32): the seed's reader."""
    spec = float_spec(names)
    return tf.data.TFRecordDataset(files).map(lambda r: tf.io.parse_single_example(r, spec)).batch(32)


def best_practice_read(files: list[str], names: list[str], seed: int = 0):
    """The tf.data guide's pipeline: parallel interleave, shuffle(10000), batch, parse_example, prefetch."""
    spec = float_spec(names)
    ds = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.shuffle(10000, seed=seed).batch(1024).map(
        lambda b: tf.io.parse_example(b, spec), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def raw_read(files: list[str]):
    """Bytes only: TFRecordDataset batched, no parsing."""
    return tf.data.TFRecordDataset(files).batch(1024)
