"""Other stacks read dataprep's shards: the PyTorch-side ``tfrecord`` package (skipped when not installed),
and TensorFlow-written TFRecord files can be validated and converted by dataprep."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

import dataprep
from dataprep.readers.validate import validate
from tests.conftest import ROOT
from tests.tables import SCHEMA

READ_WITH_TFRECORD_PACKAGE = """
import sys, json
import numpy as np
import dataprep
from tfrecord.reader import tfrecord_loader  # its own protobuf classes clash with TensorFlow's in one process

out, compression, schema = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
rng = np.random.default_rng(0)
data = {"id": np.arange(80), "f_vec": rng.standard_normal((80, 3)).astype(np.float32),
        "i_mat": rng.integers(-1000, 1000, (80, 2, 3)), "img": rng.integers(0, 256, (80, 4, 4, 1), dtype=np.uint8),
        "s_scalar": np.array([f"text {i} 咖啡" for i in range(80)], dtype=object)}
f_var = np.empty(80, dtype=object)
f_var[:] = [rng.standard_normal(i % 5).astype(np.float32) for i in range(80)]
data["f_var"] = f_var
dataprep.convert(data, schema, out, compression=compression, shuffle=False)
m = dataprep.load_manifest(out)
kinds = {"float": "float", "int64": "int", "bytes": "byte"}
description = {name: kinds[st["stored_dtype"]] for name, st in m.data["features"].items()}
rows = list(tfrecord_loader(str(m.files("train")[0]), None, description,
                            compression_type=None if compression == "none" else "gzip"))
assert len(rows) == 80, len(rows)
for i, row in enumerate(rows):
    assert row["id"][0] == i and np.array_equal(row["f_vec"], data["f_vec"][i])
    assert np.array_equal(row["i_mat"], data["i_mat"][i].reshape(-1))
    assert bytes(row["img"]) == data["img"][i].tobytes()
    assert np.array_equal(row["f_var"], data["f_var"][i])
    assert bytes(row["s_scalar"]).decode() == data["s_scalar"][i]
print("READ", len(rows), "tensorflow" in sys.modules)
"""


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_tfrecord_package_reads_every_dtype(tmp_path, compression):
    """The PyTorch-side `tfrecord` package reads dataprep shards, in a process without TensorFlow."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("tfrecord") is None:
        pytest.skip("the 'tfrecord' package (PyTorch-side reader) is not installed: pip install tfrecord")
    schema = {"features": [f for f in SCHEMA["features"]
                           if f["name"] in ("id", "f_vec", "i_mat", "img", "s_scalar", "f_var")]}
    out = subprocess.run([sys.executable, "-c", READ_WITH_TFRECORD_PACKAGE, str(tmp_path / "o"), compression,
                          json.dumps(schema)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["READ", "80", "False"]


def test_tensorflow_written_files_are_validated_and_inspected(tmp_path):
    from click.testing import CliRunner

    from dataprep.cli import main

    path = tmp_path / "tf.tfrecord.gz"
    with tf.io.TFRecordWriter(str(path), tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for i in range(25):
            ex = tf.train.Example()
            ex.features.feature["x"].float_list.value.append(i * 0.5)
            ex.features.feature["label"].int64_list.value.append(i % 3)
            writer.write(ex.SerializeToString())
    report = validate(path)
    assert report.ok and report.files[0].records == 25
    r = CliRunner().invoke(main, ["inspect", str(path), "--head", "3"])
    assert r.exit_code == 0 and "label" in r.output and "1.0" in r.output


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_ray_data_reads_shards(tmp_path, compression):
    ray = pytest.importorskip("ray", reason="ray[data] is not installed: pip install 'ray[data]'")
    rng = np.random.default_rng(0)
    data = {"id": np.arange(60), "v": rng.standard_normal((60, 3)).astype(np.float32),
            "s": np.array([f"r{i}" for i in range(60)], dtype=object)}
    schema = {"features": [{"name": "id", "dtype": "int64", "shape": []},
                           {"name": "v", "dtype": "float32", "shape": [3]},
                           {"name": "s", "dtype": "string", "shape": []}]}
    dataprep.convert(data, schema, tmp_path / "o", num_shards=2, compression=compression)
    files = [str(p) for p in dataprep.load_manifest(tmp_path / "o").files("train")]
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        kwargs = {"arrow_open_stream_args": {"compression": "gzip"}} if compression == "gzip" else {}
        rows = ray.data.read_tfrecords(files, **kwargs).take_all()
    finally:
        ray.shutdown()
    rows = sorted(rows, key=lambda r: r["id"])
    assert [r["id"] for r in rows] == list(range(60))
    assert all(np.allclose(r["v"], data["v"][i]) for i, r in enumerate(rows))
    assert [r["s"].decode() if isinstance(r["s"], bytes) else r["s"] for r in rows] == list(data["s"])


def test_tensorflow_written_files_are_resharded(tmp_path):
    """Bare TFRecord files written by TensorFlow are a source: convert re-shards them, missing keys take the
    default, and the values come back exactly."""
    path = tmp_path / "tf.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i in range(40):
            ex = tf.train.Example()
            ex.features.feature["x"].float_list.value.append(i * 0.25)
            ex.features.feature["vec"].int64_list.value.extend([i, -i])
            if i % 5:
                ex.features.feature["name"].bytes_list.value.append(f"n{i}".encode())
            writer.write(ex.SerializeToString())
    schema = {"features": [{"name": "x", "dtype": "float32", "shape": []},
                           {"name": "vec", "dtype": "int64", "shape": [2]},
                           {"name": "name", "dtype": "string", "shape": [], "default": "none"}]}
    dataprep.convert(path, schema, tmp_path / "o", num_shards=4, shuffle=False)
    got = dataprep.load_numpy(tmp_path / "o")
    assert got["x"].tolist() == [i * 0.25 for i in range(40)]
    assert got["vec"].tolist() == [[i, -i] for i in range(40)]
    assert [v.decode() for v in got["name"]] == [f"n{i}" if i % 5 else "none" for i in range(40)]
