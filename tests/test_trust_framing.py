"""Hostile and damaged bytes at the lowest layer: multi-member and over-long compressed streams, decompression
bombs, length headers that claim terabytes, and malformed protobuf wire bytes are read whole, refused with an
error naming the file, record and offset, and never take more than bounded memory or time."""
from __future__ import annotations

import gzip
import struct
import time
import zlib

import pytest

import dataprep
from dataprep import SourceError
from dataprep.encode.parse import WireError, parse_example
from dataprep.records import SplitReader
from dataprep.tfrecord import MAX_RECORD_BYTES, FramingError, check_framing, iter_records, scan_file
from tests.framing import example, frame, len_field, masked_crc, records, run_capped

SCHEMA = {"features": [{"name": "x", "dtype": "float32", "shape": []}]}


# --- compressed streams ------------------------------------------------------------------------------------------
def test_multi_member_gzip_is_read_whole(tmp_path):
    from dataprep.readers.validate import validate

    path = tmp_path / "cat.tfrecord.gz"
    path.write_bytes(gzip.compress(records(5)) + gzip.compress(records(7, 5)))  # what `cat a.gz b.gz` writes
    assert [r.number for r in iter_records(path, "gzip")] == list(range(12))
    summary = dataprep.convert(path, SCHEMA, tmp_path / "out", shuffle=False)
    assert summary.rows_read == 12 and summary.rows_written == 12
    report = validate(path)
    assert report.ok and report.files[0].records == 12


@pytest.mark.parametrize("compression", ["gzip", "zlib"])
def test_bytes_after_the_compressed_stream_are_an_error(tmp_path, compression):
    from dataprep.readers.validate import validate

    packed = gzip.compress(records(3)) if compression == "gzip" else zlib.compress(records(3))
    path = tmp_path / ("x.tfrecord.gz" if compression == "gzip" else "x.tfrecord.zz")
    path.write_bytes(packed + b"garbage!!")
    message = f"9 bytes after the end of the {compression} stream at compressed offset {len(packed)}"
    with pytest.raises(FramingError, match=message) as e:
        list(iter_records(path, compression))
    assert str(e.value).startswith(f"{path}: record 3")
    with pytest.raises(SourceError, match=f"{path.name}: .*{message}"):
        dataprep.convert(path, SCHEMA, tmp_path / "out")
    report = validate(path)
    assert not report.ok and message in report.files[0].problems[0]


def test_truncated_second_member_is_an_error(tmp_path):
    path = tmp_path / "x.tfrecord.gz"
    first, second = gzip.compress(records(3)), gzip.compress(records(2, 3))
    path.write_bytes(first + second[:-6])  # the records are whole, the member's trailer is cut
    result, _ = scan_file(path, "gzip")
    assert result.num_records == 5
    assert result.error == (f"record 5, uncompressed offset {len(records(5))}: gzip stream is truncated (the "
                            f"member at compressed offset {len(first)} ends at {path.stat().st_size} before its "
                            "end marker)")


# --- length headers and bombs ------------------------------------------------------------------------------------
def huge_header(length: int = 1 << 40) -> bytes:
    head = struct.pack("<Q", length)
    return head + struct.pack("<I", masked_crc(head)) + b"\0" * 64


def test_length_header_claiming_a_terabyte_is_refused_before_reading(tmp_path):
    plain = tmp_path / "x.tfrecord"
    good = records(2)
    plain.write_bytes(good + huge_header())
    limit = f"over the {MAX_RECORD_BYTES}-byte limit per record"
    with pytest.raises(FramingError, match=f"record 2 at offset {len(good)}: the header claims {1 << 40} bytes, "
                                           f"{limit}") as e:
        check_framing(plain)
    assert (e.value.record, e.value.offset) == (2, len(good))
    with pytest.raises(FramingError, match=f"record 2 at offset {len(good)}: the header claims"):
        list(iter_records(plain))
    plain.write_bytes(good + huge_header(1000))  # under the limit, past the end of the file
    with pytest.raises(FramingError, match=f"record 2 at offset {len(good)}: truncated: the header claims 1000 "
                                           "bytes, the file ends 64 bytes after it"):
        check_framing(plain)
    packed = tmp_path / "x.tfrecord.gz"
    packed.write_bytes(gzip.compress(good + huge_header()))
    with pytest.raises(FramingError, match=f"record 2 at offset {len(good)}: the header claims {1 << 40} bytes, "
                                           f"{limit}"):
        check_framing(packed)
    with pytest.raises(SourceError, match=limit):
        dataprep.convert(packed, SCHEMA, tmp_path / "out")


def test_check_framing_counts_and_checks_length_crcs(tmp_path):
    path = tmp_path / "x.tfrecord"
    blob = bytearray(records(4))
    path.write_bytes(blob)
    assert check_framing(path) == 4
    packed = tmp_path / "x.tfrecord.zz"
    packed.write_bytes(zlib.compress(bytes(blob)))
    assert check_framing(packed) == 4
    second = len(frame(example(x=0.0)))
    blob[second + 3] ^= 1  # record 1's length header
    path.write_bytes(blob)
    with pytest.raises(FramingError, match=f"record 1 at offset {second}: length CRC mismatch"):
        check_framing(path)


def test_decompression_bomb_is_streamed_in_bounded_memory(tmp_path):
    """1 GiB of records in a 1 MiB .tfrecord.gz: every reader walks it within the cap."""
    value = b"\0" * (1 << 20)
    record = frame(len_field(1, len_field(1, len_field(1, b"v") + len_field(2, len_field(1, len_field(1, value))))))
    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    path = tmp_path / "bomb.tfrecord.gz"
    with open(path, "wb") as fh:
        for _ in range(1024):
            fh.write(z.compress(record))
        fh.write(z.flush())
    assert path.stat().st_size < 8 << 20
    out = run_capped("""
        path = Path(args[0])
        n = sum(1 for _ in iter_records(path, "gzip"))
        scan, _ = scan_file(path, "gzip")
        rows = sum(b.num_rows for b in sources.iter_batches(path))
        print(n, scan.num_records, scan.error, check_framing(path), rows)
    """, str(path))
    assert out.split() == ["1024", "1024", "None", "1024", "1024"]


def test_one_record_over_the_limit_is_refused(tmp_path):
    path = tmp_path / "big.tfrecord.gz"
    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    length = MAX_RECORD_BYTES + 1
    head = struct.pack("<Q", length)
    with open(path, "wb") as fh:
        fh.write(z.compress(head + struct.pack("<I", masked_crc(head))))
        for _ in range(length >> 20):
            fh.write(z.compress(b"\0" * (1 << 20)))
        fh.write(z.flush())
    with pytest.raises(FramingError, match=f"record 0 at offset 0: the header claims {length} bytes, over the"):
        list(iter_records(path, "gzip"))


# --- protobuf wire bytes -----------------------------------------------------------------------------------------
def test_a_megabyte_varint_is_refused_in_linear_time():
    start = time.perf_counter()
    with pytest.raises(WireError, match="longer than 10 bytes"):
        parse_example(b"\x08" + b"\xff" * (1 << 20) + b"\x01")
    assert time.perf_counter() - start < 0.5


FLOATS5 = len_field(1, len_field(1, len_field(1, b"x") + len_field(2, len_field(2, len_field(1, b"\0" * 5)))))


@pytest.mark.parametrize("raw, message", [
    (b"\x08" + b"\xff" * 10 + b"\x01", "longer than 10 bytes"),  # an 11-byte varint
    (b"\x08\xff\xff", "varint runs past the end"),
    (b"\x0a\x05ab", "field 1 claims 5 bytes, 2 are left"),
    (b"\x0b", "unsupported wire type 3"),
    (b"\x0d\x01", "fixed-width field 1 runs past the end"),
    (FLOATS5, "packed floats of 5 bytes, not a multiple of 4"),
    (len_field(1, len_field(1, len_field(1, b"\xff"))), "feature name is not UTF-8"),
    (len_field(1, len_field(1, len_field(1, b"x") + len_field(2, len_field(3, b"\x0d\0\0\0\0")))),
     "a int64 list holds a value of wire type 5"),
], ids=["11-byte", "truncated", "past-end", "wire-3", "fixed-past-end", "odd-floats", "utf8", "wire-mismatch"])
def test_malformed_wire_bytes_are_wire_errors(raw, message):
    with pytest.raises(WireError, match=message):
        parse_example(raw)


def test_ten_byte_varints_parse_as_protobuf_does():
    minus_one = b"\xff" * 9 + b"\x01"
    raw = len_field(1, len_field(1, len_field(1, b"i") + len_field(2, len_field(3, b"\x08" + minus_one))))
    assert parse_example(raw) == {"i": ("int64", [-1])}
    assert parse_example(example(a=1.5, b=-2.0)) == {"a": ("float", [1.5]), "b": ("float", [-2.0])}


def test_bad_record_in_a_source_is_named_by_index_and_offset(tmp_path):
    path = tmp_path / "x.tfrecord"
    good = records(5)
    path.write_bytes(good + frame(FLOATS5) + records(2))
    with pytest.raises(SourceError, match=f"{path.name}: record 5 at offset {len(good)} is not a "
                                          "tf.train.Example: packed floats of 5 bytes"):
        dataprep.convert(path, SCHEMA, tmp_path / "out", batch_size=2)



NAMELESS = len_field(1, len_field(2, len_field(3, b"\x08\x05")))  # a feature entry with no key field: int64 [5]


def test_a_feature_entry_without_a_key_is_named_as_protobuf_names_it(tmp_path):
    """protobuf reads an absent map key as "" (``tf.train.Example.FromString`` gives ``{"": ...}``); the parser
    gave None, and a TFRecord source mixing it with named features crashed sorting None among the names."""
    raw = len_field(1, NAMELESS)
    assert parse_example(raw) == {"": ("int64", [5])}
    path = tmp_path / "x.tfrecord"
    x = len_field(1, len_field(1, b"x") + len_field(2, len_field(2, len_field(1, struct.pack("<f", 7.0)))))
    path.write_bytes(frame(len_field(1, x + NAMELESS)) + records(2))
    dataprep.convert(path, SCHEMA, tmp_path / "out")
    assert sorted(float(r["x"]) for r in SplitReader(tmp_path / "out", "train")) == [0.0, 1.0, 7.0]
