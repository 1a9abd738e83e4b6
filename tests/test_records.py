"""The TF-free reader: exact len() from the manifest, random access through the index, numpy batches equal to
what TensorFlow parses, for every dtype and compression."""
from __future__ import annotations

import numpy as np
import pytest

import dataprep
from dataprep.encode.columnar import decode_block
from dataprep.records import SplitReader, iter_batches, read_record
from tests.batches import FIXED, merged
from tests.tables import SCHEMA, assert_equal, make_data
from tests.tf_oracle import read_tfrecord_split


@pytest.mark.parametrize("schema", [SCHEMA, FIXED], ids=["all_dtypes", "fixed_layout"])
@pytest.mark.parametrize("compression", ["none", "gzip", "zlib"])
def test_batches_equal_the_input(tmp_path, schema, compression):
    data = make_data(120)
    dataprep.convert(data, schema, tmp_path / "o", compression=compression, num_shards=3, shuffle=False)
    reader = SplitReader(tmp_path / "o", "train")
    assert len(reader) == 120
    got = merged(reader.iter_batches(batch_size=50))
    assert_equal(got, data, [f["name"] for f in schema["features"]])
    tf_read = read_tfrecord_split(tmp_path / "o", "train")  # random access agrees with a full scan
    for i in (0, 7, 59, 119):
        rec = reader[i]
        assert np.array_equal(rec["f_scalar"], tf_read["f_scalar"][i]) and np.array_equal(rec["y"], data["y"][i])
    assert read_record(tmp_path / "o", "train", 119)["y"] == data["y"][119]
    raws = [reader.raw(i) for i in range(10)]  # dataprep's layout: decoded in lockstep, not per record
    assert decode_block(reader.schema.features, raws) is not None
    with pytest.raises(IndexError):
        reader[120]


def test_csv_shards(tmp_path):
    data = make_data(60)
    schema = {"features": [f for f in SCHEMA["features"] if f["name"] in ("id", "f_scalar", "s_scalar", "i_mat")]}
    dataprep.convert(data, schema, tmp_path / "o", format="csv", compression="gzip", num_shards=2, shuffle=False)
    got = merged(iter_batches(tmp_path / "o", "train", 25))
    assert got["id"].tolist() == list(range(60)) and np.array_equal(got["i_mat"], data["i_mat"])
    assert np.array_equal(got["f_scalar"], data["f_scalar"])
    assert [s.decode() for s in got["s_scalar"]] == list(data["s_scalar"])
    assert SplitReader(tmp_path / "o", "train")[5]["id"] == 5


def test_reading_needs_no_tensorflow(tmp_path):
    import subprocess
    import sys

    dataprep.convert(make_data(30), SCHEMA, tmp_path / "o", compression="gzip", shuffle=False)
    script = ("import sys, dataprep.records as r; b = list(r.iter_batches(sys.argv[1], 'train', 10)); "
              "print(len(b), r.read_record(sys.argv[1], 'train', 3)['id'], "
              "any(m.startswith('tensorflow') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "o")], capture_output=True, text=True)
    assert out.stdout.split() == ["3", "3", "False"], out.stderr
