"""``validate``: check every record of a converted folder (or bare TFRecord files) and report the first
problem per file with its record index and offset.

For a dataprep folder: each shard the manifest lists must exist, match its size and SHA-256, hold sound
framing (both CRCs of every record), parse against the schema, and hold the record count the manifest says.
Bare TFRecord files get the checks that need no manifest: framing, CRCs, and that records are Examples.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..checksum import sha256_file
from ..compressions import guess_compression
from ..errors import OutputError
from ..manifest import MANIFEST, STATS, Manifest, load_manifest, local_path
from ..storage import is_remote
from ..tfrecord import FramingError, Record, ScanResult, iter_records
from .decode import batch_decoder
from .integrity import refuse_non_tfrecord

_PARSE_BATCH = 4096


@dataclass
class FileReport:
    path: str
    split: str | None
    records: int = 0
    problems: list[str] = field(default_factory=list)
    features: dict | None = None  # bare files: key -> "kind[min..max values]"

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ValidationReport:
    path: str
    files: list[FileReport]
    problems: list[str] = field(default_factory=list)  # not tied to one file (missing manifest entries...)

    @property
    def ok(self) -> bool:
        return not self.problems and all(f.ok for f in self.files)

    def to_dict(self) -> dict:
        return {"path": self.path, "ok": self.ok, "problems": self.problems,
                "files": [{**asdict(f), "ok": f.ok} for f in self.files]}


def validate(path: str | Path) -> ValidationReport:
    """Check a converted folder against its manifest, or bare TFRecord files (a file or a folder of them)."""
    given, path = str(path), local_path(path)
    if path.is_dir() and (path / MANIFEST).is_file():
        report = _validate_folder(load_manifest(path))
        if is_remote(given):
            report.path = given  # a URL's local copy is named by the URL
        return report
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and (".tfrecord" in p.name or p.suffix == ".tfr"))
        if not files:
            raise OutputError(f"{path}: no {MANIFEST} and no .tfrecord files")
    elif path.is_file():
        files = [path]
    else:
        raise OutputError(f"not found: {path}")
    return ValidationReport(str(path), [_validate_bare(f, named=path.is_file()) for f in files])


def _validate_folder(manifest: Manifest) -> ValidationReport:
    report = ValidationReport(str(manifest.folder), [])
    listed = set()
    decode = batch_decoder(manifest)
    for split in manifest.splits:
        for entry in manifest.split(split)["files"]:
            listed.add(entry["path"])
            report.files.append(_validate_shard(manifest, split, entry, decode))
    for split in manifest.splits:
        _check_split(manifest, split, [f for f in report.files if f.split == split], report)
    extra = sorted(p.name for p in manifest.folder.iterdir() if p.is_file() and p.name not in listed
                   and p.name not in (MANIFEST, STATS))
    report.problems += [f"{name}: file is not listed in the manifest" for name in extra]
    return report


def _check_split(manifest: Manifest, split: str, files: list[FileReport], report: ValidationReport) -> None:
    """The split's own counts against what its files hold (``load_manifest`` has checked they add up)."""
    entry = manifest.split(split)
    found = sum(f.records for f in files)
    size = sum((manifest.folder / f.path).stat().st_size for f in files if (manifest.folder / f.path).is_file())
    if found != entry["num_records"]:
        report.problems.append(f"split {split}: its files hold {found} sound records, the manifest says "
                               f"{entry['num_records']}")
    if size != entry["num_bytes"]:
        report.problems.append(f"split {split}: its files hold {size} bytes, the manifest says "
                               f"{entry['num_bytes']}")


def _validate_shard(manifest: Manifest, split: str, entry: dict, decode) -> FileReport:
    path = manifest.folder / entry["path"]
    rep = FileReport(entry["path"], split)
    if not path.is_file():
        rep.problems.append("missing shard")
        return rep
    size = path.stat().st_size
    if size != entry["num_bytes"]:
        rep.problems.append(f"size {size} bytes, the manifest says {entry['num_bytes']}")
    if sha256_file(path) != entry["sha256"]:
        rep.problems.append("SHA-256 differs from the manifest")
    if not manifest.shard_format.lines:
        scan = ScanResult()
        bad = None
        for start, batch in _record_batches(path, manifest.compression, scan):
            bad = bad or _first_unparseable([r.data for r in batch], decode, start)
        if scan.error:
            rep.problems.append(scan.error)
        rep.records = scan.num_records
        _check_index(manifest.folder / entry["index"], scan, rep)
        if bad is not None:
            rep.problems.append(f"record {bad[0]} at offset {scan.offsets[bad[0]]}: does not parse against the "
                                f"schema: {bad[1]}")
    else:
        rep.records = _check_csv(path, manifest, decode, rep)
    if rep.records != entry["num_records"]:
        what = "sound records before the problem" if rep.problems else "records"
        rep.problems.append(f"{rep.records} {what}, the manifest says {entry['num_records']}")
    return rep


def _check_index(path: Path, scan, rep: FileReport) -> None:
    """The record index must hold every record's offset, then the end of the stream."""
    if not path.is_file():
        rep.problems.append(f"record index {path.name} is missing")
        return
    index = np.fromfile(path, "<i8")
    ends = scan.offsets[1:] + ([scan.offsets[-1] + scan.lengths[-1] + 16] if scan.offsets else [])
    if scan.error is None and (len(index) != scan.num_records + 1 or index[:-1].tolist() != scan.offsets
                               or (scan.offsets and int(index[-1]) != ends[-1])):
        rep.problems.append(f"record index {path.name} does not match the records in the file")


def _record_batches(path: Path, compression: str, scan: ScanResult):
    """``(index of the first, records)`` in batches, streamed (memory bounded by a batch, whatever the file
    inflates to); every record's offset and length go into ``scan``, and the framing problem that ends the
    walk into ``scan.error``."""
    batch: list[Record] = []
    try:
        for rec in iter_records(path, compression):
            scan.offsets.append(rec.offset)
            scan.lengths.append(len(rec.data))
            batch.append(rec)
            if len(batch) == _PARSE_BATCH:
                yield batch[0].number, batch
                batch = []
    except FramingError as e:
        scan.error = e.problem
    if batch:
        yield batch[0].number, batch


def _first_unparseable(records: list[bytes], decode, first: int = 0) -> tuple[int, str] | None:
    """Index (counted from ``first``) and message of the first record the decoder rejects, parsing whole
    batches first."""
    for start in range(0, len(records), _PARSE_BATCH):
        batch = records[start:start + _PARSE_BATCH]
        try:
            decode(tf.constant(batch))
            continue
        except (tf.errors.InvalidArgumentError, ValueError):
            pass
        for i, rec in enumerate(batch):
            try:
                decode(tf.constant([rec]))
            except (tf.errors.InvalidArgumentError, ValueError) as e:
                return first + start + i, _tf_message(e)
    return None


def _check_csv(path: Path, manifest: Manifest, decode, rep: FileReport) -> int:
    """Header equal to the manifest's columns, then every line decodes; returns the sound record count."""
    comp = manifest.shard_compression.tf_type
    expected = ",".join(c["name"] for c in manifest.data["csv"]["columns"])
    try:
        lines = [line for batch in tf.data.TextLineDataset(str(path), compression_type=comp).batch(65536)
                 for line in batch.numpy().tolist()]
    except tf.errors.OpError as e:
        rep.problems.append(f"unreadable: {_tf_message(e)}")
        return 0
    if not lines or lines[0].decode("utf-8", "replace") != expected:
        rep.problems.append("line 1: header differs from the manifest's columns")
        return 0
    bad = _first_unparseable(lines[1:], decode)
    if bad is not None:
        rep.problems.append(f"line {bad[0] + 2}: does not parse against the schema: {bad[1]}")
        return bad[0]
    return len(lines) - 1


def _validate_bare(path: Path, named: bool = False) -> FileReport:
    """Framing, CRCs and Example-ness of a bare file, in one walk; a file given by name that holds no record
    and is not named as a TFRecord file is "not a TFRecord file", not a CRC mismatch."""
    rep = FileReport(path.name, None)
    scan = ScanResult()
    counts: dict[str, list] = {}
    not_example = None
    for rec in (r for _, batch in _record_batches(path, guess_compression(path), scan) for r in batch):
        if not_example is not None:
            continue  # the framing walk goes on: the record count and framing problems are reported too
        try:
            ex = tf.train.Example.FromString(rec.data)
        except Exception as e:  # protobuf's DecodeError has no stable import path across versions
            not_example = f"record {rec.number} at offset {rec.offset}: not a tf.train.Example ({e})"
            continue
        for key, feat in ex.features.feature.items():
            kind = feat.WhichOneof("kind") or "empty"
            n = len(getattr(feat, kind).value) if kind != "empty" else 0
            lo, hi, kinds = counts.setdefault(key, [n, n, set()])
            counts[key] = [min(lo, n), max(hi, n), kinds | {kind}]
    if named:
        refuse_non_tfrecord(path, scan)
    rep.records = scan.num_records
    rep.problems += [p for p in (scan.error, not_example) if p]
    rep.features = {k: f"{'/'.join(sorted(v[2]))}[{v[0]}..{v[1]} values]" for k, v in sorted(counts.items())}
    return rep


def _tf_message(e: Exception) -> str:
    text = getattr(e, "message", None) or str(e)
    return text.strip().splitlines()[0][:300]
