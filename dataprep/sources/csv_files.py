"""CSV files (optionally compressed) as column batches of raw field bytes, every record accounted for.

Arrow's streaming reader parses; a scan of our own (:mod:`dataprep.csvscan`) counts the file's records first,
so a malformed row (the wrong number of fields, a quoted field that never closes) is passed to the bad-row
policy with its line and row instead of vanishing, and a row longer than :data:`MAX_CSV_RECORD_BYTES` is
refused before Arrow tries to hold it.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..batch import Batch
from ..csvscan import BOM, BadRecord, scan_csv
from ..errors import DataError, SourceError
from .tables import first_line, select_columns

CSV_BLOCK_BYTES = 4 << 20  # Arrow's parse block; grown for longer rows
MAX_CSV_RECORD_BYTES = 64 << 20  # a CSV row (its fields together) may be up to this long
# on_malformed(file, text, line, row, why): True when it has counted the row and it is to be skipped
MalformedHandler: TypeAlias = Callable[[str, str, int | str, int | str, str], bool]


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


@dataclass(frozen=True)
class CsvPart:
    """Records ``[first, first + rows)`` of a plain CSV file (record 0 is the header): bytes ``[start, end)``
    (end None: to the end), read after the file's head (``[0, head)``: BOM, header, empty lines); ``malformed``
    of the file's rows before it have the wrong number of fields. ``block`` fits the file's longest record."""

    first: int
    rows: int
    start: int
    end: int | None
    head: int
    malformed: int
    block: int


def csv_parts(path: Path, part_bytes: int) -> list[CsvPart] | None:
    """Cut a plain (uncompressed) CSV file of more than ``part_bytes`` into parts of about that size, each
    starting at a record start found by :func:`~dataprep.csvscan.scan_csv`: the scan follows the parser's
    quoting rules over the whole file from its first byte, so no cut falls inside a quoted field (quoted commas
    and line breaks included). None (read the file whole) when it is small or compressed, or when the scan cut
    out a record as malformed or found one over the row limit (the whole-file read reports those)."""
    size = path.stat().st_size
    if not path.name.lower().endswith((".csv", ".tsv")) or size <= part_bytes:
        return None
    scan = scan_csv(path, _delimiter(path), CSV_BLOCK_BYTES, detail=True)
    assert scan.starts is not None and scan.fields is not None  # a detailed scan has both
    if scan.bad or any(n > MAX_CSV_RECORD_BYTES for n, _ in scan.long) or len(scan.starts) < 3:
        return None
    starts = scan.starts
    cuts = np.unique(np.searchsorted(starts, np.arange(part_bytes, size, part_bytes)))
    firsts = [1, *(int(c) for c in cuts if 1 < c < len(starts))]
    stops = firsts[1:] + [len(starts)]
    malformed = np.r_[0, np.cumsum(scan.fields[1:] != scan.fields[0])]  # [i]: among rows 1 .. i
    block = max([CSV_BLOCK_BYTES] + [n + CSV_BLOCK_BYTES for n, _ in scan.long])
    return [CsvPart(a, b - a, int(starts[a]), int(starts[b]) if b < len(starts) else None, int(starts[1]),
                    int(malformed[a - 1]), block) for a, b in zip(firsts, stops)]


def _delimiter(path: Path) -> str:
    return "\t" if ".tsv" in path.name.lower() else ","


class _CsvLines:
    """Where the rows of a CSV file start: a parsed row's line (quoted fields may span lines) and the line
    and row (among all the file's records) of each malformed one, in file order.

    Only bad rows need it: the first call scans the file once, records and their field counts."""

    def __init__(self, path: Path, delimiter: str, fields: int):
        self.path, self.delimiter, self.width = path, delimiter, fields
        self._scanned = False

    def _scan(self) -> None:
        """Scan the file, once."""
        if self._scanned:
            return
        scan = scan_csv(self.path, self.delimiter, CSV_BLOCK_BYTES, detail=True)
        assert scan.lines is not None and scan.fields is not None  # a detailed scan has both
        lines, fields = scan.lines[1:], scan.fields[1:]  # the header is no row
        ok = fields == self.width
        self._good, self._good_rows, self._bad = lines[ok], np.flatnonzero(ok) + 1, np.flatnonzero(~ok)
        self._lines = lines
        self._end = int(lines[-1]) + 1 if len(lines) else 2
        self._scanned = True

    def __call__(self, row: int) -> int:
        self._scan()
        return int(self._good[row]) if row < len(self._good) else self._end

    def row(self, row: int) -> int:
        """The 1-based row among all the file's records (malformed ones too) of parsed row ``row``."""
        self._scan()
        return int(self._good_rows[row]) if row < len(self._good_rows) else len(self._lines) + 1

    def malformed(self, k: int) -> tuple[int | str, int | str]:
        """Line and 1-based row of the ``k``-th malformed record."""
        self._scan()
        if k >= len(self._bad):
            return "?", "?"
        i = int(self._bad[k])
        return int(self._lines[i]), i + 1

    def row_at(self, line: int) -> int:
        """The 1-based row of the first record starting at or after ``line``."""
        self._scan()
        return int(np.searchsorted(self._lines, line)) + 1


def csv_batches(path: Path, columns: Sequence[str] | None, on_malformed: MalformedHandler | None,
                part: CsvPart | None = None) -> Iterator[Batch]:
    """Rows of a CSV file (or of one ``part`` of it, rows and lines numbered as in the whole file); the file's
    records are counted by a scan of their own, so no row can vanish into a quoted field that never closes (such
    a record is cut out; each of its lines is a malformed row)."""
    delimiter = _delimiter(path)
    header = csv_header(path)
    dupes = {c for c in header if header.count(c) > 1}
    wanted = select_columns(str(path), header, columns)
    if dupes & set(wanted):
        raise SourceError(f"{path}: header names column(s) {sorted(dupes & set(wanted))} more than once")
    line_of = _CsvLines(path, delimiter, len(header))
    if part is None:
        scan = scan_csv(path, delimiter, CSV_BLOCK_BYTES)
        for size, line in scan.long:
            if size > MAX_CSV_RECORD_BYTES:
                raise SourceError(f"{path}, line {line}: a CSV row of {size:,} bytes is over the limit of "
                                  f"{MAX_CSV_RECORD_BYTES >> 20} MiB per row")
        block = max([CSV_BLOCK_BYTES] + [size + CSV_BLOCK_BYTES for size, _ in scan.long])
        if scan.bad and scan.bad[0].line == 1:
            raise SourceError(f"{path}, line 1: malformed CSV header: {scan.bad[0].why}")
        for bad in scan.bad:
            _cut_record(path, bad, on_malformed, line_of)
        cuts: list[tuple[int, int | None]] = [(b.start, b.end) for b in scan.bad]
        rows, first, before = scan.records - 1, 0, 0
    else:  # csv_parts scanned the file: no record is cut out of it
        block, rows, before = part.block, part.rows, part.malformed
        first = part.first - 1 - before  # parsed rows before the part
        cuts = [(part.head, part.start)] + ([(part.end, None)] if part.end is not None else [])

    failure: list[str] = []
    malformed_seen = [before]

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
            raise SourceError(f"{path}: malformed CSV after row {start}: {first_line(e)}") from None

    start = first
    source = _Without(path, cuts) if cuts else str(path)
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
    got = start - first + malformed_seen[0] - before
    if got != rows:
        raise SourceError(f"{path}: the CSV parser returned {got:,} rows but a scan of the file finds {rows:,}"
                          f"{' in that part' if part else ''}; stopping rather than losing rows")


def _cut_record(path: Path, bad: BadRecord, on_malformed: MalformedHandler | None, line_of: _CsvLines) -> None:
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
            if self._stream.seekable():  # a plain file: a part far into it is not read from its start
                self._stream.seek(end)
            else:
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
