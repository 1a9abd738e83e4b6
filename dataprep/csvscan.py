"""A quote-aware count of a CSV file's records, independent of the parser that reads them.

The scan follows the parser's rules (a quote opens a field only at its start, ``""`` inside a quoted field is
a quote, line breaks inside quotes belong to the field, CR LF is one line break, empty lines hold no record)
with numpy over blocks of bytes: its state changes only at runs of quotes, so it costs a fraction of the
parse. It gives the number of records the parser must return, the records too long for the parser's block,
and the records whose quoted field never closes or spans more than :data:`MAX_FIELD_LINES` lines: such a
record would swallow the rest of the file into one value, so it is cut out of what the parser sees and each
of its lines is a malformed row. ``detail=True`` also gives each record's first line and number of fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

MAX_FIELD_LINES = 10_000  # line breaks inside one quoted field; more is a quote that never closed
SCAN_BLOCK_BYTES = 16 << 20
BOM = b"\xef\xbb\xbf"
_QUOTE, _LF, _CR = 34, 10, 13
_EMPTY = np.zeros(0, np.int64)


@dataclass(frozen=True)
class BadRecord:
    """A record cut out of the parse: bytes ``[start, end)`` of the decompressed file, from line ``line``."""

    start: int
    end: int | None  # None: to the end of the file
    line: int
    why: str


@dataclass
class CsvScan:
    """What one pass over a CSV file found; ``records`` (header included) are those outside bad ones."""

    records: int = 0
    long: list[tuple[int, int]] = field(default_factory=list)  # (bytes, line) of records of ``big`` bytes or more
    bad: list[BadRecord] = field(default_factory=list)
    lines: np.ndarray | None = None  # detail: first line of each record outside bad ones
    fields: np.ndarray | None = None  # detail: its number of fields
    starts: np.ndarray | None = None  # detail: its first byte's offset in the decompressed file


def scan_csv(path: Path, delimiter: str, big: int, detail: bool = False) -> CsvScan:
    """Scan ``path`` (decompressed by extension) once; records of ``big`` bytes or more are listed."""
    scanner = _Scanner(ord(delimiter), big, detail)
    carry = b""
    with pa.input_stream(str(path), compression="detect") as stream:
        carry = stream.read(len(BOM))
        if carry == BOM:
            carry, scanner.pos, scanner.last_end = b"", len(BOM), len(BOM) - 1
        while True:
            block = stream.read(SCAN_BLOCK_BYTES)
            if not block:
                break
            data = carry + block if carry else block
            keep = len(data.rstrip(b'"\r'))  # a quote run or CR at the end is finished with the next block
            if keep == 0 and len(data) < 1 << 20:
                carry = data
                continue
            keep = keep or len(data)
            scanner.feed(data[:keep] if keep < len(data) else data)
            carry = data[keep:]
    if carry:
        scanner.feed(carry)
    return scanner.finish()


class _Scanner:
    def __init__(self, delim: int, big: int, detail: bool):
        self.delim, self.big, self.detail = delim, big, detail
        self.pos = 0  # file offset of the next block's first byte
        self.line = 1  # its line number
        self.quoted = False  # inside a quoted field there
        self.field_start = True  # it starts a field
        self.last_end = -1  # offset of the last line break that ends a record (or an empty line)
        self.last_end_line = 0  # its line
        self.fields = 0  # delimiters seen since last_end
        self.has_cr = False  # the current block holds a CR
        self.open: tuple[int, int, int, int] | None = None  # quoted field still open: offset, line, record start, line
        self.waiting: tuple[int, int, str] | None = None  # a bad record (start, line, why) waiting for its end
        self.scan = CsvScan()
        self.bad_closed: list[int] = []  # record ends of bad records (their records were counted)
        self._lines: list[np.ndarray] = []
        self._fields: list[np.ndarray] = []
        self._starts: list[np.ndarray] = []

    def feed(self, raw: bytes) -> None:
        buf = np.frombuffer(raw, np.uint8)
        n, pos0 = len(buf), self.pos
        self.has_cr = b"\r" in raw
        if self.has_cr:
            is_lf = buf == _LF
            brk = np.flatnonzero(is_lf | (buf == _CR))
            crlf = (buf[brk] == _CR) & (brk + 1 < n) & is_lf[np.minimum(brk + 1, n - 1)]
            brk = brk[~crlf]  # CR LF is one line break, at the LF
        else:
            brk = np.flatnonzero(buf == _LF)
        delims = np.flatnonzero(buf == self.delim) if self.detail else _EMPTY
        quotes = np.flatnonzero(buf == _QUOTE) if b'"' in raw else _EMPTY
        s0 = int(self.quoted)
        if len(quotes):
            cut = np.flatnonzero(np.diff(quotes) != 1) + 1
            starts = quotes[np.r_[0, cut]]
            lengths = np.diff(np.r_[0, cut, len(quotes)])
            prev = buf[np.maximum(starts - 1, 0)]
            at_start = (prev == self.delim) | (prev == _LF) | (prev == _CR)
            at_start[starts == 0] = self.field_start
            # an odd run at a field's start toggles quoting, elsewhere it ends it; an even run changes nothing
            odd = (lengths & 1) == 1
            toggle, reset = odd & at_start, odd & ~at_start
            count = np.cumsum(toggle)
            last_reset = np.maximum.accumulate(np.where(reset, np.arange(len(starts)), -1))
            since = count - np.where(last_reset >= 0, count[np.maximum(last_reset, 0)], 0)
            after = (np.where(last_reset >= 0, 0, s0) + since) & 1
            before = np.r_[s0, after[:-1]]

            def quoted_at(p: np.ndarray) -> np.ndarray:
                i = np.searchsorted(starts, p, side="right") - 1
                return np.where(i >= 0, after[np.maximum(i, 0)], s0).astype(bool)

            ends = brk[~quoted_at(brk)]
            delims = delims[~quoted_at(delims)] if len(delims) else delims
            self.quoted = bool(after[-1])
            opens, closes = starts[(before == 0) & (after == 1)], starts[(before == 1) & (after == 0)]
        else:
            ends = _EMPTY if self.quoted else brk
            delims = _EMPTY if self.quoted else delims
            opens = closes = _EMPTY
        end_lines = self.line + (np.arange(len(brk)) if ends is brk else np.searchsorted(brk, ends))
        if self.waiting is not None and len(ends):
            self._close_bad(int(ends[0]) + pos0 + 1)
        if len(opens) or len(closes) or self.open is not None:
            self._quoted_fields(opens + pos0, closes + pos0, self.line + np.searchsorted(brk, opens),
                                self.line + np.searchsorted(brk, closes), ends + pos0, end_lines)
        self._records(buf, ends, end_lines, pos0, delims)
        self.field_start = raw[-1] in (self.delim, _LF, _CR) if n else self.field_start
        self.line += len(brk)
        self.pos += n

    def _quoted_fields(self, opens, closes, open_lines, close_lines, ends, end_lines) -> None:
        """Pair each quoted field's opening and closing quote; one spanning too many lines is a bad record."""
        def record_start(at: int) -> tuple[int, int]:
            i = int(np.searchsorted(ends, at))
            return (int(ends[i - 1]) + 1, int(end_lines[i - 1]) + 1) if i else (self.last_end + 1,
                                                                                 self.last_end_line + 1)

        carried_open = self.open  # a quoted field still open from the block before
        carried = carried_open is not None
        lines_open = np.r_[[carried_open[1]] if carried_open is not None else [], open_lines].astype(np.int64)
        paired = min(len(lines_open), len(closes))
        over = np.flatnonzero(close_lines[:paired] - lines_open[:paired] > MAX_FIELD_LINES)
        for k in over.tolist():
            if carried_open is not None and k == 0:
                start, line = carried_open[2], carried_open[3]
            else:
                start, line = record_start(int(opens[k - carried]))
            self._bad(start, line, f"a quoted field spans more than {MAX_FIELD_LINES:,} lines "
                                   "(a quote that never closes?)", int(closes[k]), ends)
        if len(lines_open) > paired:  # the last quoted field is still open
            if carried and paired == 0:
                return
            o = int(opens[-1])
            self.open = (o, int(open_lines[-1]), *record_start(o))
        else:
            self.open = None

    def _bad(self, start: int, line: int, why: str, close: int, ends: np.ndarray) -> None:
        if self.waiting is not None and self.waiting[0] == start:
            return
        self.waiting = (start, line, why)
        after = ends[ends > close]
        if len(after):
            self._close_bad(int(after[0]) + 1)

    def _close_bad(self, end: int) -> None:
        assert self.waiting is not None, "only a waiting bad record is closed"
        start, line, why = self.waiting
        self.scan.bad.append(BadRecord(start, end, line, why))
        self.bad_closed.append(end - 1)
        self.waiting = None

    def _records(self, buf, ends, end_lines, pos0, delims) -> None:
        """Count the non-empty records ending in this block; list the long ones; keep detail."""
        glob = ends + pos0
        prev = np.r_[self.last_end, glob[:-1]]
        size = glob - prev - 1  # bytes of the record, its line break left out
        real = size > 0
        if self.has_cr:  # a CR alone before its LF is an empty line
            cr = np.zeros(len(ends), bool)
            inside = ends > 0
            cr[inside] = (buf[ends[inside] - 1] == _CR) & (buf[ends[inside]] == _LF)
            real &= (size > 1) | ~cr
        self.scan.records += int(real.sum())
        starts_line = np.r_[self.last_end_line, end_lines[:-1]] + 1
        for i in np.flatnonzero(real & (size + 1 >= self.big)).tolist():
            self.scan.long.append((int(size[i]) + 1, int(starts_line[i])))
        if self.detail:
            seg = np.bincount(np.searchsorted(ends, delims), minlength=len(ends) + 1) if len(delims) else \
                np.zeros(len(ends) + 1, np.int64)
            seg[0] += self.fields
            self._lines.append(starts_line[real])
            self._fields.append((seg[:-1] + 1)[real].astype(np.int32))
            self._starts.append((prev + 1)[real])
            self.fields = int(seg[-1]) if len(ends) else int(seg[0])
        if len(ends):
            self.last_end, self.last_end_line = int(glob[-1]), int(end_lines[-1])

    def finish(self) -> CsvScan:
        scan = self.scan
        tail = self.pos - self.last_end - 1  # a last record without a line break
        if self.open is not None:
            self.waiting = self.waiting or (self.open[2], self.open[3], "a quoted field never closes (it runs "
                                                                          "to the end of the file)")
        if self.waiting is not None:
            start, line, why = self.waiting
            scan.bad.append(BadRecord(start, None, line, why))
        elif tail > 0:
            scan.records += 1
            if tail + 1 >= self.big:
                scan.long.append((tail + 1, self.last_end_line + 1))
            if self.detail:
                self._lines.append(np.array([self.last_end_line + 1]))
                self._fields.append(np.array([self.fields + 1]))
                self._starts.append(np.array([self.last_end + 1]))
        scan.records -= len(self.bad_closed)
        bad_lines = {b.line for b in scan.bad}
        scan.long = [(size, line) for size, line in scan.long if line not in bad_lines]
        if self.detail:
            lines, fields = np.concatenate(self._lines or [_EMPTY]), np.concatenate(self._fields or [_EMPTY])
            keep = ~np.isin(lines, list(bad_lines))
            scan.lines, scan.fields = lines[keep].astype(np.int64), fields[keep].astype(np.int64)
            scan.starts = np.concatenate(self._starts or [_EMPTY])[keep].astype(np.int64)
        return scan
