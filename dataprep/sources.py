"""Every input kind as one stream of column batches with bounded memory.

Paths (CSV, optionally compressed; Parquet; ``.npz``; TFRecord files of ``tf.train.Example``), lists and
globs of them, folders of such files, image folders (one subfolder per class), pandas DataFrames, pyarrow
Tables and dicts of numpy arrays all come out as :class:`~dataprep.batch.Batch` objects: Arrow or numpy
columns plus the file and row they came from, so later errors can name them.
"""
from __future__ import annotations

import csv
import glob
import io
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .batch import Batch
from .csvscan import BOM, BadRecord, scan_csv
from .errors import DataError, DataprepError, SourceError, UsageError
from .images import image_folder_batches, is_image_folder
from .outputs import is_ours

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".tsv", ".tsv.gz")
TFRECORD_SUFFIXES = (".tfrecord", ".tfrecord.gz", ".tfrecord.zz", ".tfrecords", ".tfr")
PARQUET_SUFFIXES = (".parquet", ".pq")
NPZ_SUFFIXES = (".npz",)
DEFAULT_BATCH_ROWS = 65536
CSV_BLOCK_BYTES = 4 << 20  # Arrow's parse block; grown for longer rows
MAX_CSV_RECORD_BYTES = 64 << 20  # a CSV row (its fields together) may be up to this long
TFRECORD_BATCH_BYTES = 64 << 20  # records held per TFRecord source batch (see _tfrecord_batches)


@dataclass(frozen=True)
class RowGrouping:
    """How input rows become records: one per row (default), one per file (``per_file``), or one per
    sequence of a long table (``sequence_id``, ordered by ``sequence_order``; ``context_columns`` keep the
    sequence's one value)."""

    per_file: bool = False
    sequence_id: str | None = None
    sequence_order: str | None = None
    context_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.per_file and self.sequence_id:
            raise UsageError("give --sequence-per-file or --sequence-id, not both")
        if self.sequence_order and not self.sequence_id:
            raise UsageError("--sequence-order needs --sequence-id")

    @property
    def columns(self) -> list[str]:
        """The input columns the grouping itself reads."""
        return [c for c in (self.sequence_id, self.sequence_order) if c]


def iter_batches(source: Any, columns: Sequence[str] | None = None, batch_size: int = DEFAULT_BATCH_ROWS,
                 on_malformed: Callable[[str, str], bool] | None = None, grouping: RowGrouping = RowGrouping()
                 ) -> Iterator[Batch]:
    """Yield column batches of ``columns`` (all when None) from any supported source.

    Text inputs (CSV) give their fields as raw bytes (binary columns): the schema-driven conversion decodes
    and parses them, so a bad value (even invalid UTF-8) is reported with its line. Typed inputs keep their
    types. A malformed CSV row (the wrong number of fields, or a line of a record whose quoted field never
    closes) is passed to ``on_malformed(file, text, line, row, why)``, which returns True to skip it (it has
    counted it); without it, or when it returns False, the row is an error.
    ``grouping`` turns rows into records: with ``per_file`` every file is one record whose columns hold the
    file's rows as lists (a folder of per-sequence CSV files, say); with ``sequence_id`` (a long table) the
    rows sharing an id are one record (see :mod:`dataprep.sequences`).
    """
    if grouping.sequence_id is not None:
        from .sequences import group_sequences

        wanted = list(dict.fromkeys([*(columns or []), *grouping.columns])) if columns else None
        steps = iter_batches(source, wanted, batch_size, on_malformed)
        yield from group_sequences(steps, grouping.sequence_id, grouping.sequence_order,
                                   [grouping.sequence_id, *grouping.context_columns], batch_size)
    elif grouping.per_file:
        yield from _sequence_batches(expand_paths(source), columns, batch_size, on_malformed)
    elif isinstance(source, (str, os.PathLike)) and is_image_folder(Path(source)):
        yield from image_folder_batches(Path(source), columns, batch_size)
    elif is_path_source(source):
        for path in expand_paths(source):
            yield from _file_batches(path, columns, batch_size, on_malformed)
    elif isinstance(source, dict):
        yield from _numpy_batches(source, columns, "<arrays>", batch_size)
    elif isinstance(source, pa.Table):
        yield from _table_batches(source, columns, "<Table>", batch_size)
    elif isinstance(source, pa.RecordBatch):
        yield from _table_batches(pa.Table.from_batches([source]), columns, "<RecordBatch>", batch_size)
    elif _is_dataframe(source):
        try:
            table = pa.Table.from_pandas(source, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as e:
            raise SourceError(f"<DataFrame>: cannot convert to Arrow: {e}") from None
        yield from _table_batches(table, columns, "<DataFrame>", batch_size)
    else:
        raise SourceError(f"unsupported source {type(source).__name__}: give a path, a list or glob of paths, "
                          "a pandas DataFrame, a pyarrow Table or a dict of numpy arrays")


def input_files(source: Any) -> list[Path]:
    """Every file a path source reads: its data files, or the images of an image folder."""
    if isinstance(source, (str, os.PathLike)) and is_image_folder(Path(source)):
        from .images import image_files

        return [p for p, _ in image_files(Path(source))]
    return expand_paths(source)


def expand_paths(source: Any) -> list[Path]:
    """Files named by a path, a glob, a folder (its data files) or a list of those, in a stable order.

    A folder or glob skips dataprep's own outputs under it (output and work folders, quarantine CSVs: see
    :func:`dataprep.outputs.is_ours`): an output kept inside its input folder would otherwise be read back as
    input by the next run, which would then convert its own earlier shards too. A path named exactly is
    always read."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    paths: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if any(ch in text for ch in "*?["):
            found = sorted(glob.glob(text, recursive=True))
            if not found:
                raise SourceError(f"no files match {text}")
            root, seen = Path(_literal_prefix(text)), {}
            paths += [Path(p) for p in found if not _under_ours(Path(p), root, seen)]
        elif os.path.isdir(text):
            seen = {}
            found = sorted(p for p in Path(text).rglob("*") if p.is_file() and _kind(p) is not None
                           and not _under_ours(p, Path(text), seen))
            if not found:
                raise SourceError(f"{text}: folder holds no CSV, Parquet, .npz or TFRecord files")
            paths += found
        elif not os.path.exists(text):
            raise SourceError(f"input not found: {text}")
        else:
            paths.append(Path(text))
    for p in paths:
        if _kind(p) is None:
            raise SourceError(f"{p}: unknown input type; expected one of "
                              f"{', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES + NPZ_SUFFIXES + TFRECORD_SUFFIXES)}")
    return paths


def _literal_prefix(pattern: str) -> str:
    """The folder a glob pattern starts from: its path up to the first part with a wildcard."""
    parts = Path(pattern).parts
    literal = list(itertools.takewhile(lambda part: not any(ch in part for ch in "*?["), parts))
    return str(Path(*literal)) if literal else "."


def _under_ours(path: Path, root: Path, seen: dict[Path, bool]) -> bool:
    """Whether ``path`` is one of dataprep's outputs, or lies in one, below ``root`` (``seen``: folders
    already looked at)."""
    if is_ours(path):
        return True
    for folder in itertools.takewhile(lambda p: p != root and p != p.parent, path.parents):
        if folder not in seen:
            seen[folder] = is_ours(folder)
        if seen[folder]:
            return True
    return False


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    for kind, suffixes in (("csv", CSV_SUFFIXES), ("parquet", PARQUET_SUFFIXES), ("npz", NPZ_SUFFIXES),
                           ("tfrecord", TFRECORD_SUFFIXES)):
        if name.endswith(suffixes):
            return kind
    return None


def is_path_source(source: Any) -> bool:
    """A path, or a non-empty list of paths (rather than data held in memory)."""
    return isinstance(source, (str, os.PathLike)) or _is_path_list(source)


def _is_path_list(source: Any) -> bool:
    return isinstance(source, (list, tuple)) and bool(source) and \
        all(isinstance(s, (str, os.PathLike)) for s in source)


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns") and hasattr(obj, "to_numpy")


def _check_columns(origin: str, have: Sequence[str], want: Sequence[str] | None) -> list[str]:
    if want is None:
        return list(have)
    missing = [c for c in want if c not in have]
    if missing:
        shown = ", ".join(list(have)[:20]) + (" ..." if len(have) > 20 else "")
        raise SourceError(f"{origin}: column(s) {', '.join(map(repr, missing))} not found; it has: {shown}")
    return list(want)


# --- files ----------------------------------------------------------------------------------------------------
def _file_batches(path: Path, columns, batch_size: int, on_malformed) -> Iterator[Batch]:
    kind = _kind(path)
    try:
        if kind == "csv":
            yield from _csv_batches(path, columns, on_malformed)
        elif kind == "parquet":
            yield from _parquet_batches(path, columns, batch_size)
        elif kind == "tfrecord":
            yield from _tfrecord_batches(path, columns, batch_size)
        else:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            yield from _numpy_batches(arrays, columns, str(path), batch_size)
    except PermissionError as e:
        raise SourceError(f"{path}: cannot read: {e.strerror}") from None
    except (pa.ArrowInvalid, OSError, ValueError) as e:
        if isinstance(e, DataprepError):
            raise
        raise SourceError(f"{path}: cannot read {kind}: {_first_line(e)}") from None


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file (decompressing by extension), parsed with CSV quoting rules; a UTF-8
    byte order mark is not part of the first name."""
    with pa.input_stream(str(path), compression="detect") as stream:
        head = stream.read(1 << 20)
    head = head[len(BOM):] if head.startswith(BOM) else head
    if not head.strip():
        raise SourceError(f"{path}: empty file")
    text = head.decode("utf-8", errors="replace")
    row = next(csv.reader(io.StringIO(text), delimiter="\t" if ".tsv" in path.name else ","), None)
    if not row:
        raise SourceError(f"{path}: no header row")
    return row


class _CsvLines:
    """Where the rows of a CSV file start: a parsed row's line (quoted fields may span lines) and the line
    and row (among all the file's records) of each malformed one, in file order.

    Only bad rows need it: the first call scans the file once, records and their field counts."""

    def __init__(self, path: Path, delimiter: str, fields: int):
        self.path, self.delimiter, self.width = path, delimiter, fields
        self._good: np.ndarray | None = None

    def _scan(self) -> None:
        scan = scan_csv(self.path, self.delimiter, CSV_BLOCK_BYTES, detail=True)
        lines, fields = scan.lines[1:], scan.fields[1:]  # the header is no row
        ok = fields == self.width
        self._good, self._good_rows, self._bad = lines[ok], np.flatnonzero(ok) + 1, np.flatnonzero(~ok)
        self._lines = lines
        self._end = int(lines[-1]) + 1 if len(lines) else 2

    def __call__(self, row: int) -> int:
        if self._good is None:
            self._scan()
        return int(self._good[row]) if row < len(self._good) else self._end

    def row(self, row: int) -> int:
        """The 1-based row among all the file's records (malformed ones too) of parsed row ``row``."""
        if self._good is None:
            self._scan()
        return int(self._good_rows[row]) if row < len(self._good_rows) else len(self._lines) + 1

    def malformed(self, k: int) -> tuple[int | str, int | str]:
        """Line and 1-based row of the ``k``-th malformed record."""
        if self._good is None:
            self._scan()
        if k >= len(self._bad):
            return "?", "?"
        i = int(self._bad[k])
        return int(self._lines[i]), i + 1

    def row_at(self, line: int) -> int:
        """The 1-based row of the first record starting at or after ``line``."""
        if self._good is None:
            self._scan()
        return int(np.searchsorted(self._lines, line)) + 1


def _csv_batches(path: Path, columns, on_malformed) -> Iterator[Batch]:
    """Rows of a CSV file; the file's records are counted by a scan of their own, so no row can vanish
    into a quoted field that never closes (such a record is cut out; each of its lines is a malformed row)."""
    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    header = csv_header(path)
    dupes = {c for c in header if header.count(c) > 1}
    wanted = _check_columns(str(path), header, columns)
    if dupes & set(wanted):
        raise SourceError(f"{path}: header names column(s) {sorted(dupes & set(wanted))} more than once")
    scan = scan_csv(path, delimiter, CSV_BLOCK_BYTES)
    for size, line in scan.long:
        if size > MAX_CSV_RECORD_BYTES:
            raise SourceError(f"{path}, line {line}: a CSV row of {size:,} bytes is over the limit of "
                              f"{MAX_CSV_RECORD_BYTES >> 20} MiB per row")
    block = max([CSV_BLOCK_BYTES] + [size + CSV_BLOCK_BYTES for size, _ in scan.long])
    line_of = _CsvLines(path, delimiter, len(header))
    if scan.bad and scan.bad[0].line == 1:
        raise SourceError(f"{path}, line 1: malformed CSV header: {scan.bad[0].why}")
    for bad in scan.bad:
        _cut_record(path, bad, on_malformed, line_of)

    failure: list[str] = []
    malformed_seen = [0]

    def malformed(row) -> str:
        line, number = line_of.malformed(malformed_seen[0])
        malformed_seen[0] += 1
        why = f"{row.actual_columns} fields, the header has {row.expected_columns}"
        if on_malformed is not None and on_malformed(str(path), row.text, line, number, why):
            return "skip"
        failure.append(f"{path}, line {line}: malformed CSV row: {why}: {row.text[:80]!r}")
        return "error"

    def read(step):
        try:
            return step()
        except pa.ArrowInvalid as e:
            if failure:
                raise DataError(failure[0]) from None
            raise SourceError(f"{path}: malformed CSV after row {start}: {_first_line(e)}") from None

    start = 0
    source = _Without(path, [(b.start, b.end) for b in scan.bad]) if scan.bad else str(path)
    reader = read(lambda: pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(block_size=block),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                         invalid_row_handler=malformed),
        convert_options=pacsv.ConvertOptions(include_columns=wanted, column_types={c: pa.binary() for c in wanted},
                                             strings_can_be_null=True, quoted_strings_can_be_null=False),
    ))
    try:
        while True:
            try:
                rb = read(reader.read_next_batch)
            except StopIteration:
                break
            cols = {name: rb.column(i) for i, name in enumerate(rb.schema.names)}
            yield Batch(cols, rb.num_rows, str(path), start, line_of, row_of=line_of.row)
            start += rb.num_rows
    finally:
        reader.close()  # release Arrow's reader now, not whenever the generator is collected
    if start + malformed_seen[0] != scan.records - 1:
        raise SourceError(f"{path}: the CSV parser returned {start + malformed_seen[0]:,} rows but a scan of "
                          f"the file finds {scan.records - 1:,}; stopping rather than losing rows")


def _cut_record(path: Path, bad: BadRecord, on_malformed, line_of: _CsvLines) -> None:
    """Each line of a record cut out of the parse is a malformed row (or the error, without a policy)."""
    row, number = line_of.row_at(bad.line), bad.line
    with pa.input_stream(str(path), compression="detect") as stream:
        _skip(stream, bad.start)
        left = -1 if bad.end is None else bad.end - bad.start  # -1: to the end of the file
        rest = b""
        while True:
            chunk = stream.read(1 << 20 if left < 0 else min(left, 1 << 20))
            left -= len(chunk) if left > 0 else 0
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            last = not chunk or left == 0
            for line in lines + ([rest] if last and rest else []):
                shown = line.rstrip(b"\r").decode("utf-8", "replace")
                if shown:
                    if on_malformed is None or not on_malformed(str(path), shown, number, row, bad.why):
                        raise DataError(f"{path}, line {number}: malformed CSV row: {bad.why}: {shown[:80]!r}")
                    row += 1
                number += 1
            if last:
                break


def _skip(stream, n: int) -> None:
    while n > 0:
        got = len(stream.read(min(n, 1 << 20)))
        if not got:
            return
        n -= got


class _Without(io.RawIOBase):
    """A file (decompressed by extension) read without some byte ranges ``[start, end)`` (end None: to the end)."""

    def __init__(self, path: Path, cuts: list[tuple[int, int | None]]):
        self._stream = pa.input_stream(str(path), compression="detect")
        self._cuts, self._pos = cuts, 0

    def readable(self) -> bool:
        return True

    def readinto(self, out) -> int:
        while self._cuts and self._cuts[0][0] <= self._pos:
            start, end = self._cuts.pop(0)
            if end is None:
                return 0
            _skip(self._stream, end - self._pos)
            self._pos = end
        want = len(out) if not self._cuts else min(len(out), self._cuts[0][0] - self._pos)
        data = self._stream.read(want)
        out[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


def _parquet_batches(path: Path, columns, batch_size: int) -> Iterator[Batch]:
    with pq.ParquetFile(str(path)) as pf:  # closed here, not at interpreter shutdown
        wanted = _check_columns(str(path), pf.schema_arrow.names, columns)
        start = 0
        for rb in pf.iter_batches(batch_size=batch_size, columns=wanted):
            yield Batch({n: rb.column(i) for i, n in enumerate(rb.schema.names)}, rb.num_rows, str(path), start)
            start += rb.num_rows


def _tfrecord_batches(path: Path, columns, batch_size: int) -> Iterator[Batch]:
    """``tf.train.Example`` records (from TensorFlow or anyone else) as list columns, one per key; a key
    missing from a record is a missing value. Framing and CRCs are checked; no TensorFlow is needed.

    The file is streamed: a batch holds at most ``batch_size`` records and about ``TFRECORD_BATCH_BYTES`` of
    them, so memory does not grow with the file (or with what a compressed file inflates to)."""
    from .tfrecord import FramingError, guess_compression, iter_records

    batch: list = []
    held = start = 0
    try:
        for rec in iter_records(path, guess_compression(path)):
            batch.append(rec)
            held += len(rec.data)
            if len(batch) >= batch_size or held >= TFRECORD_BATCH_BYTES:
                yield _example_batch(path, batch, columns, start)
                start += len(batch)
                batch, held = [], 0
    except FramingError as e:
        raise SourceError(str(e)) from None
    if batch:
        yield _example_batch(path, batch, columns, start)


def _example_batch(path: Path, records: list, columns, start: int) -> Batch:
    from .records import WireError, parse_example

    parsed = []
    for rec in records:
        try:
            parsed.append(parse_example(rec.data))
        except WireError as e:
            raise SourceError(f"{path}: record {rec.index} at offset {rec.offset} is not a tf.train.Example: "
                              f"{e}") from None
    list_type = {"float": pa.list_(pa.float32()), "int64": pa.list_(pa.int64()), "bytes": pa.list_(pa.binary())}
    kinds = {k: kind for p in parsed for k, (kind, _) in p.items() if kind != "empty"}
    wanted = _check_columns(str(path), sorted(set(kinds) | {k for p in parsed for k in p}), columns)
    cols = {k: pa.array([p[k][1] if k in p else None for p in parsed], list_type.get(kinds.get(k), pa.list_(
        pa.float32()))) for k in wanted}
    return Batch(cols, len(parsed), str(path), start)


def _sequence_batches(paths: list[Path], columns, batch_size: int, on_malformed) -> Iterator[Batch]:
    """One record per file: each column becomes one list holding all of the file's values, in order."""
    for start in range(0, len(paths), batch_size):
        group = paths[start:start + batch_size]
        lists: dict[str, list] = {}
        for path in group:
            parts = list(_file_batches(path, columns, DEFAULT_BATCH_ROWS, on_malformed))
            names = columns or (list(parts[0].columns) if parts else [])
            for name in names:
                chunks = [b.columns[name] for b in parts]
                values = pa.concat_arrays([c.combine_chunks() if isinstance(c, pa.ChunkedArray) else
                                           (pa.array(c) if isinstance(c, np.ndarray) else c) for c in chunks]) \
                    if chunks else pa.array([], pa.binary())
                lists.setdefault(name, []).append(values)
        cols = {}
        for name, arrays in lists.items():
            offsets = np.zeros(len(arrays) + 1, np.int32)
            np.cumsum([len(a) for a in arrays], out=offsets[1:])
            cols[name] = pa.ListArray.from_arrays(pa.array(offsets), pa.concat_arrays(arrays))
        yield Batch(cols, len(group), os.path.dirname(os.fspath(group[0])) or ".", start,
                    row_names=[str(p) for p in group])


# --- in-memory ----------------------------------------------------------------------------------------------
def _table_batches(table: pa.Table, columns, origin: str, batch_size: int) -> Iterator[Batch]:
    names = [str(c) for c in table.column_names]
    wanted = _check_columns(origin, names, columns)
    table = table.select(wanted)
    start = 0
    for rb in table.to_batches(max_chunksize=batch_size):
        yield Batch({n: rb.column(i) for i, n in enumerate(wanted)}, rb.num_rows, origin, start)
        start += rb.num_rows


def _numpy_batches(arrays: dict, columns, origin: str, batch_size: int) -> Iterator[Batch]:
    names = [str(k) for k in arrays]
    wanted = _check_columns(origin, names, columns)
    arrs = {c: np.asarray(arrays[c]) if not isinstance(arrays[c], np.ndarray) else arrays[c] for c in wanted}
    lengths = {c: (len(a) if a.ndim else None) for c, a in arrs.items()}
    if any(v is None for v in lengths.values()):
        raise SourceError(f"{origin}: array(s) {[c for c, v in lengths.items() if v is None]} are 0-d; "
                          "each array needs one entry per row")
    if len(set(lengths.values())) > 1:
        raise SourceError(f"{origin}: arrays have different numbers of rows: {lengths}")
    n = next(iter(lengths.values()), 0)
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        yield Batch({c: a[start:stop] for c, a in arrs.items()}, stop - start, origin, start)
