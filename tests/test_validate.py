"""validate finds flipped bytes, truncation, missing shards and unparseable records, naming file and offset;
inspect describes folders and bare files."""
from __future__ import annotations

import json

import numpy as np
import tensorflow as tf
from click.testing import CliRunner

import dataprep
from dataprep.cli import main
from dataprep.readers.validate import validate

SCHEMA = {"features": [{"name": "id", "dtype": "int64", "shape": []},
                       {"name": "v", "dtype": "float32", "shape": [3]},
                       {"name": "img", "dtype": "uint8", "shape": [2, 2, 1]},
                       {"name": "label", "dtype": "int64", "shape": [], "role": "label"}]}


def make(tmp_path, name="o", **kw):
    n = 200
    rng = np.random.default_rng(0)
    d = {"id": np.arange(n), "v": rng.standard_normal((n, 3)).astype(np.float32),
         "img": rng.integers(0, 255, (n, 2, 2, 1), dtype=np.uint8), "label": np.arange(n) % 10}
    dataprep.convert(d, SCHEMA, tmp_path / name, num_shards=2, split="train=0.5,test=0.5", **kw)
    return tmp_path / name


def _record_offsets(path) -> list[int]:
    """Record offsets walked by hand from the framing (u64 length, u32 crc, data, u32 crc)."""
    blob, at, out = path.read_bytes(), 0, []
    while at < len(blob):
        out.append(at)
        at += 16 + int.from_bytes(blob[at:at + 8], "little")
    return out


def problems(folder):
    report = validate(folder)
    return report, [(f.path, p) for f in report.files for p in f.problems] + [(None, p) for p in report.problems]


def test_clean_folders_validate(tmp_path):
    for kw in ({}, {"compression": "gzip"}, {"compression": "zlib"}, {"format": "csv"}):
        report, found = problems(make(tmp_path, str(len(list(tmp_path.iterdir()))), **kw))
        assert report.ok and not found and sum(f.records for f in report.files) == 200


def test_flipped_byte_is_found_with_offset(tmp_path):
    folder = make(tmp_path)
    shard = folder / "train-00001-of-00002.tfrecord"
    offsets = _record_offsets(shard)
    blob = bytearray(shard.read_bytes())
    blob[offsets[3] + 20] ^= 0x40
    shard.write_bytes(bytes(blob))
    report, found = problems(folder)
    assert not report.ok
    messages = [p for f, p in found if f == shard.name]
    assert any(f"record 3 at offset {offsets[3]}: data CRC mismatch" in m for m in messages), messages
    assert any("SHA-256 differs" in m for m in messages)


def test_truncated_and_missing_shards(tmp_path):
    folder = make(tmp_path, compression="gzip")
    shard = folder / "test-00000-of-00002.tfrecord.gz"
    shard.write_bytes(shard.read_bytes()[:-40])
    (folder / "train-00000-of-00002.tfrecord.gz").unlink()
    report, found = problems(folder)
    assert ("train-00000-of-00002.tfrecord.gz", "missing shard") in found
    truncated = [p for f, p in found if f == shard.name]
    assert any("truncated" in p for p in truncated) and any("the manifest says 50" in p for p in truncated)


def test_truncated_plain_shard_names_the_record(tmp_path):
    folder = make(tmp_path)
    shard = folder / "test-00000-of-00002.tfrecord"
    blob = shard.read_bytes()
    shard.write_bytes(blob[:-10])
    _, found = problems(folder)
    assert any(f == shard.name and "record 49 at offset" in p and "truncated" in p for f, p in found), found


def test_records_that_do_not_match_the_schema(tmp_path):
    folder = make(tmp_path)
    m = json.loads((folder / "manifest.json").read_text())
    m["schema"]["features"][1]["shape"] = [4]  # the shards hold 3 values per record
    (folder / "manifest.json").write_text(json.dumps(m))
    _, found = problems(folder)
    assert any("record 0 at offset 0: does not parse against the schema" in p for _, p in found), found


def test_bad_csv_line(tmp_path):
    folder = make(tmp_path, format="csv")
    shard = folder / "train-00000-of-00002.csv"
    lines = shard.read_text().splitlines()
    lines[4] = lines[4].replace(",", ",x", 1)
    shard.write_text("\n".join(lines) + "\n")
    _, found = problems(folder)
    assert any(f == shard.name and p.startswith("line 5: does not parse") for f, p in found), found


def test_index_must_match_the_file(tmp_path):
    folder = make(tmp_path)
    index = folder / "index" / "train-00000-of-00002.idx"
    values = np.fromfile(index, "<i8")
    values[3] += 1
    values.astype("<i8").tofile(index)
    _, found = problems(folder)
    assert ("train-00000-of-00002.tfrecord", "record index train-00000-of-00002.idx does not match the records "
            "in the file") in found


def test_bare_tfrecord_written_by_tensorflow(tmp_path):
    path = tmp_path / "plain.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as w:
        for i in range(7):
            ex = tf.train.Example()
            ex.features.feature["x"].float_list.value.extend([float(i)] * (i % 3))
            ex.features.feature["name"].bytes_list.value.append(b"n%d" % i)
            w.write(ex.SerializeToString())
    report = validate(path)
    assert report.ok and report.files[0].records == 7
    assert report.files[0].features == {"name": "bytes_list[1..1 values]", "x": "float_list[0..2 values]"}
    r = CliRunner().invoke(main, ["inspect", str(path), "--head", "3"])
    assert r.exit_code == 0 and "n2" in r.output


def test_cli_validate_and_inspect(tmp_path):
    folder = make(tmp_path)
    runner = CliRunner()
    r = runner.invoke(main, ["validate", str(folder)])
    assert r.exit_code == 0 and "all records valid" in r.output
    r = runner.invoke(main, ["inspect", str(folder), "--head", "2", "--images", str(tmp_path / "g.png")])
    assert r.exit_code == 0 and "train" in r.output and (tmp_path / "g.png").stat().st_size > 1000
    (folder / "test-00000-of-00002.tfrecord").unlink()
    r = runner.invoke(main, ["validate", str(folder), "--json"])
    assert r.exit_code == 1 and json.loads(r.stdout)["ok"] is False


def test_inspect_prints_floats_as_the_shortest_text_that_reads_back(tmp_path):
    """A float32 23.3 shows as 23.3 (not 23.299999 from its float64 widening), in scalars, fixed-shape and sparse
    cells alike; float64 as Python's repr; each text parses back to the stored value."""
    x = np.array([23.3, 0.1, 1e-7, 123456.7, 3.4028235e38], np.float32)
    schema = {"features": [{"name": "x", "dtype": "float32", "shape": []},
                           {"name": "v", "dtype": "float32", "shape": [2]},
                           {"name": "d", "dtype": "float64", "shape": []}]}
    dataprep.convert({"x": x, "v": np.stack([x, x[::-1]], 1), "d": np.array([0.1, 2.675, 1 / 3, 1e300, -0.0])},
                     schema, tmp_path / "o", shuffle=False)
    r = CliRunner().invoke(main, ["inspect", str(tmp_path / "o"), "--head", "5"])
    assert r.exit_code == 0, r.output
    table = r.output.splitlines()[-6:]
    assert table[0].split() == ["x", "v", "d"]
    cells = [line.split(None, 1)[1].replace("[", "").replace("]", "").replace(",", "").split() for line in table[1:]]
    assert [c[0] for c in cells] == ["23.3", "0.1", "1e-07", "123456.7", "3.4028235e+38"]
    assert [c[1:3] for c in cells][0] == ["23.3", "3.4028235e+38"]
    assert [c[3] for c in cells] == ["0.1", "2.675", "0.3333333333333333", "1e+300", "-0.0"]
    assert all(np.float32(c[0]) == v for c, v in zip(cells, x))
