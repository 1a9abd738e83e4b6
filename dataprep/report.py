"""``dataprep report DIR [--against BASELINE] -o report.html``: one self-contained HTML page about a converted
folder that a person opens in any browser, prints, or mails: the manifest's counts, each split's and feature's
statistics with a chart, the drift (against a baseline) or skew (between splits) table with breaches marked,
the first rows of the quarantine file, and a few records (images as thumbnails).

Everything is inline: CSS in a ``<style>``, charts as SVG, thumbnails as PNG ``data:`` URIs; no script, font or
link to fetch. The figures come from :func:`dataprep.drift.load_stats` and :mod:`dataprep.drift`, so the page
shows what ``dataprep stats`` and ``dataprep validate --against`` compute.
"""
from __future__ import annotations

import base64
import csv
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .drift import SHORT, DriftReport, load_stats, parse_thresholds, skew, validate_against
from .histogram import Histogram, bin_bounds
from .version import __version__

GENERATOR = "dataprep"  # the page's <meta name="generator">, by which a later run knows it may replace it
SAMPLES = 5  # records shown
BAD_ROWS = 10  # quarantine rows shown
_CELL = 120  # characters of one shown value
_THUMB = 64  # thumbnail side in pixels
_DISPLAY_BINS = 30


@dataclass
class QualityReport:
    """What the page shows, as data: ``to_dict`` for a notebook or an orchestrator, ``to_html`` for people;
    ``written``: where :func:`report` wrote the page (None: nowhere)."""

    path: str
    summary: dict
    stats: dict
    drift: DriftReport | None  # against the baseline, else the skew between splits (None: one split)
    against: str | None = None
    bad_rows: list[dict] = field(default_factory=list)
    bad_rows_note: str = ""
    samples: list[dict] = field(default_factory=list)  # records: feature -> value as text, or an image's PNG
    written: Path | None = None

    def to_dict(self) -> dict:
        return {"path": self.path, "against": self.against, "summary": self.summary, "stats": self.stats,
                "drift": self.drift.to_dict() if self.drift else None, "bad_rows": self.bad_rows,
                "samples": [{k: v if isinstance(v, str) else "<image>" for k, v in r.items()}
                            for r in self.samples]}

    def to_html(self) -> str:
        title = f"Data quality: {self.path}"
        parts = [f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 f"<meta name=\"generator\" content=\"{GENERATOR} {__version__}\">\n<title>{_e(title)}</title>\n"
                 f"<style>{_CSS}</style>\n</head>\n<body>\n<header><h1>{_e(title)}</h1>\n"
                 f"<p>Written by dataprep {__version__}"
                 + (f"; compared with <code>{_e(self.against)}</code>" if self.against else "") + ".</p></header>",
                 self._summary_html(), self._drift_html(), self._features_html(), self._bad_rows_html(),
                 self._samples_html(), "</body>\n</html>\n"]
        return "\n".join(parts)

    # --- sections -------------------------------------------------------------------------------------------
    def _summary_html(self) -> str:
        s = self.summary
        rows = s["rows"]
        reasons = "".join(f"<li>{_e(r)}: {n:,}</li>" for r, n in rows.get("set_aside_by_reason", {}).items())
        splits = "".join(f"<tr><th scope=\"row\">{_e(n)}</th><td>{v['num_records']:,}</td><td>{len(v['files'])}</td>"
                         f"<td>{size_text(v['num_bytes'])}</td></tr>" for n, v in s["splits"].items())
        return (f"<section id=\"summary\"><h2>Summary</h2>\n<dl class=\"counts\">"
                f"<dt>Rows read</dt><dd>{rows['read']:,}</dd><dt>Rows written</dt><dd>{rows['written']:,}</dd>"
                f"<dt>Rows set aside</dt><dd>{rows['set_aside']:,}</dd>"
                f"<dt>Shards</dt><dd>{s['shards']}</dd><dt>Bytes</dt><dd>{size_text(s['bytes'])}</dd>"
                f"<dt>Format</dt><dd>{_e(s['format'])}, compression {_e(s['compression'])}</dd></dl>\n"
                + (f"<p>Set aside by reason:</p><ul>{reasons}</ul>" if reasons else "")
                + f"<table><thead><tr><th>split</th><th>records</th><th>shards</th><th>bytes</th></tr></thead>"
                f"<tbody>{splits}</tbody></table></section>")

    def _drift_html(self) -> str:
        if self.drift is None:
            return ("<section id=\"drift\"><h2>Drift and skew</h2><p>One split and no baseline: nothing to compare."
                    "</p></section>")
        d = self.drift
        heading = f"Drift against {d.baseline}" if self.against else f"Skew between splits (against {d.baseline})"
        verdict = ("<p class=\"ok\">No threshold breached.</p>" if d.ok else
                   f"<p class=\"bad\">{sum(bool(f.breaches) for f in d.features)} feature(s) breached a threshold "
                   "(marked).</p>")
        present = {n for f in d.features for n in f.checks}
        names = [n for n in SHORT if n in present]
        head = "".join(f"<th>{_e(n)}</th>" for n in names)
        body = []
        for f in d.features:
            cells = []
            for n in names:
                c = f.checks.get(n)
                if c is None:
                    cells.append("<td>-</td>")
                else:
                    mark = " class=\"breach\"" if c.breached else ""
                    value = "-" if c.value is None else f"{c.value:.4f}"
                    cells.append(f"<td{mark}>{value}<small> / {c.limit:.3g}</small></td>")
            split = f.split if f.split == f.baseline_split else f"{f.split} vs {f.baseline_split}"
            problems = "".join(f"<br><small>{_e(p)}</small>" for p in f.problems)
            row_class = " class=\"breached\"" if f.breaches else ""
            body.append(f"<tr{row_class}><td>{_e(split)}</td><th scope=\"row\">{_e(f.feature)}{problems}</th>"
                        + "".join(cells) + f"<td>{_drift_chart(f.to_dict())}</td></tr>")
        notes = "".join(f"<li>{_e(n)}</li>" for n in d.notes)
        return (f"<section id=\"drift\"><h2>{_e(heading)}</h2>{verdict}\n<p class=\"legend\">Each cell: figure / "
                "limit (its threshold, or more where the data are few enough for sampling noise to reach it). "
                "Jensen-Shannon divergences in bits (0 equal, 1 disjoint) on the baseline's bins; "
                "chart: <span class=\"key base\">baseline</span> <span class=\"key cur\">this data</span>.</p>"
                f"<div class=\"wide\"><table class=\"drift\"><thead><tr><th>split</th><th>feature</th>{head}"
                f"<th>distribution</th></tr></thead><tbody>{''.join(body)}</tbody></table></div>"
                + (f"<ul>{notes}</ul>" if notes else "")
                + "</section>")

    def _features_html(self) -> str:
        out = ["<section id=\"features\"><h2>Features</h2>"]
        for split, feats in self.stats["splits"].items():
            out.append(f"<h3>Split {_e(split)}</h3><div class=\"cards\">")
            for name, st in feats.items():
                out.append(f"<figure><figcaption>{_e(name)} <small>{_e(st['kind'])}</small></figcaption>"
                           f"{_stats_table(st)}{_feature_chart(st)}</figure>")
            out.append("</div>")
        out.append("</section>")
        return "\n".join(out)

    def _bad_rows_html(self) -> str:
        if not self.bad_rows:
            return f"<section id=\"bad-rows\"><h2>Bad rows</h2><p>{_e(self.bad_rows_note)}</p></section>"
        cols = list(self.bad_rows[0])
        head = "".join(f"<th>{_e(c)}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{_e(r.get(c, ''))}</td>" for c in cols) + "</tr>" for r in self.bad_rows)
        return (f"<section id=\"bad-rows\"><h2>Bad rows</h2><p>{_e(self.bad_rows_note)}</p>"
                f"<div class=\"wide\"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
                "</section>")

    def _samples_html(self) -> str:
        if not self.samples:
            return "<section id=\"samples\"><h2>Sample records</h2><p>No records.</p></section>"
        cols = list(self.samples[0])
        head = "".join(f"<th>{_e(c)}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{_cell(r[c], c)}</td>" for c in cols) + "</tr>" for r in self.samples)
        split = next(iter(self.summary["splits"]))
        return (f"<section id=\"samples\"><h2>Sample records</h2><p>The first {len(self.samples)} records of split "
                f"{_e(split)}.</p><div class=\"wide\"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
                "</table></div></section>")


def report(path: str | Path, against: str | Path | None = None, output: str | Path | None = None,
           thresholds: list[str] | dict | None = None, samples: int = SAMPLES) -> QualityReport:
    """The quality report of the converted folder ``path``, compared with ``against`` (a folder or a
    ``stats.json``) when given, else its splits with the first; written as HTML to ``output`` when given
    (which must not be an input, nor a file dataprep did not write: checked before the work)."""
    from .manifest import load_manifest
    from .outputs import check_file_target

    if output is not None:
        check_file_target(output, [Path(path)] + ([Path(against)] if against else []), "html", "-o")
    if isinstance(thresholds, list):
        thresholds = parse_thresholds(thresholds)  # a mistyped one fails before the work
    manifest = load_manifest(path)
    stats = load_stats(path)
    drift = validate_against(stats, against, thresholds) if against is not None else \
        skew(stats, thresholds) if len(stats["splits"]) > 1 else None
    splits = {name: manifest.split(name) for name in manifest.splits}
    summary = {"rows": manifest.data["rows"], "splits": splits, "format": manifest.format,
               "compression": manifest.compression,
               "shards": sum(len(s["files"]) for s in splits.values()),
               "bytes": sum(s["num_bytes"] for s in splits.values())}
    rows, note = _bad_rows(manifest.data["rows"], Path(path))
    out = QualityReport(str(path), summary, stats, drift, str(against) if against else None, rows, note,
                        _samples(manifest, samples))
    if output is not None:
        Path(output).write_text(out.to_html(), encoding="utf-8")
        out.written = Path(output)
    return out


def _bad_rows(rows: dict, folder: Path) -> tuple[list[dict], str]:
    """The first rows of the conversion's quarantine file (its values cut to ``_CELL`` characters), read only
    when it is one dataprep wrote. A relative path is the conversion's working folder's; the default name
    is also looked for beside ``folder``."""
    from .outputs import is_quarantine_file

    if not rows.get("set_aside"):
        return [], "No row was set aside."
    file = rows.get("quarantine")
    if not file:
        return [], f"{rows['set_aside']:,} rows were set aside; no quarantine file was kept (--on-error skip)."
    path = Path(file)
    beside = folder.parent / f"{folder.name}.quarantine.csv"
    if not path.is_file() and not path.is_absolute() and path.name == beside.name:
        path = beside
    if not path.is_file() or not is_quarantine_file(path):
        return [], f"{rows['set_aside']:,} rows were set aside into {file}, which is no longer there."
    shown: list[dict] = []
    stop = ""
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.DictReader(fh)
        try:
            for _, r in zip(range(BAD_ROWS), reader):
                shown.append({k: _short(v) for k, v in r.items()})
        except csv.Error as e:  # a value over csv's field limit (128 KiB): the rows before it are shown
            stop = f" (row {len(shown) + 1} cannot be shown: {e})"
    return shown, f"{rows['set_aside']:,} rows were set aside into {path}; the first {len(shown)}{stop}:"


def _samples(manifest: Any, n: int) -> list[dict]:
    """The first ``n`` records of the first split: values as short text, images as PNG thumbnails (bytes)."""
    from .records import SplitReader

    if not manifest.splits or not n:
        return []
    split = manifest.splits[0]
    reader = SplitReader(manifest, split)
    out = []
    for i in range(min(n, manifest.split(split)["num_records"])):
        record = reader[i]
        row: dict[str, Any] = {}
        for f in manifest.schema.features:
            v = record[f.name]
            row[f.name] = _thumbnail(v, f.type_info.encoded_image) if f.is_image else _text(v)
        out.append(row)
    return out


def _thumbnail(value: Any, encoded: bool) -> bytes | str:
    """A PNG of at most ``_THUMB`` pixels a side (small images scaled up, pixel for pixel); pixel arrays of
    dim values (such as digits' 0..16) are stretched to 0..255 so that they can be seen."""
    from PIL import Image

    img: Image.Image
    try:
        if encoded:
            with Image.open(io.BytesIO(bytes(value))) as opened:
                img = opened.convert("RGBA" if "A" in opened.getbands() else "RGB")
        else:
            a = np.asarray(value, np.uint8)
            top = int(a.max()) if a.size else 0
            if 0 < top < 128:
                a = (a.astype(np.uint16) * 255 // top).astype(np.uint8)
            img = Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)
    except Exception as e:  # Pillow raises many kinds for damaged files
        return f"<image: {e}>"
    scale = _THUMB / max(img.size)
    img = img.resize((max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale))),
                     Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        v = v.decode("utf-8", "backslashreplace")
    elif isinstance(v, np.ndarray):
        a = v.reshape(-1)
        shown = ", ".join(x.decode("utf-8", "backslashreplace") if isinstance(x, bytes) else f"{x:.6g}"
                          if isinstance(x, (float, np.floating)) else str(x) for x in a[:8])
        v = f"[{shown}{', ...' if len(a) > 8 else ''}]" + (f" ({len(a)} values)" if len(a) > 8 else "")
    elif isinstance(v, (float, np.floating)):
        v = f"{v:.7g}"
    return _short(v)


def _short(v: Any) -> str:
    text = "" if v is None else str(v)
    return text if len(text) <= _CELL else text[:_CELL] + "..."


# --- pieces ---------------------------------------------------------------------------------------------------
def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _cell(v: str | bytes, name: str) -> str:
    if isinstance(v, bytes):
        return (f"<img src=\"data:image/png;base64,{base64.b64encode(v).decode('ascii')}\" alt=\"{_e(name)}\" "
                f"class=\"thumb\">")
    return _e(v)


def size_text(n: float) -> str:
    """A byte count as people read it (``4.6 MiB``), in the report and the command line's summaries."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def _stats_table(st: dict) -> str:
    keys = ["count", "missing"]
    if st["kind"] == "numeric":
        keys += ["mean", "std", "min", "25%", "50%", "75%", "max"]
    else:
        keys += ["distinct"] + (["oov"] if "oov" in st else [])
    if "defaults" in st:
        keys.append("defaults")
    cells = "".join(f"<tr><th scope=\"row\">{_e(k)}</th><td>{_num(st[k])}</td></tr>" for k in keys if k in st)
    return f"<table class=\"stats\">{cells}</table>"


def _num(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return _e(v)
    return f"{v:,}" if isinstance(v, int) else f"{v:.5g}"


def _feature_chart(st: dict) -> str:
    """A histogram of a numeric feature (equal-width bins over its range), or its commonest values."""
    if st["kind"] == "categorical":
        top = list(st.get("vocabulary", {}).items())[:10]
        return _hbars([(k, [v / max(1, st["count"])]) for k, v in top], ["cur"])
    if not st.get("count") or "histogram" not in st:
        return ""
    h = Histogram.from_dict(st["histogram"])
    lower, upper = bin_bounds(h.keys, h.resolution)
    lo, hi = st["min"], st["max"]
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return f"<p class=\"legend\">all values {_num(lo)}</p>" if lo == hi else ""
    integers = hi - lo < _DISPLAY_BINS and (upper - lower <= 1).all() and (lower == np.floor(lower)).all()
    edges = np.arange(lo, hi + 2) if integers else np.linspace(lo, hi, _DISPLAY_BINS + 1)  # integers: one each
    middle = np.clip((np.clip(lower, lo, hi) + np.clip(upper, lo, hi)) / 2, lo, hi)
    n = len(edges) - 1
    counts = np.bincount(np.clip(np.searchsorted(edges, middle, side="right") - 1, 0, n - 1), h.counts, n)
    return _vbars([counts / counts.sum()], ["cur"], f"{lo:.4g}", f"{hi:.4g}")


def _drift_chart(f: dict) -> str:
    """Baseline and current shares side by side: on the baseline's bins, or of the commonest values."""
    if "histogram" in f:
        h = f["histogram"]
        e = h["edges"]
        return _vbars([h["baseline"], h["current"]], ["base", "cur"], f"{e[0]:.4g}", f"{e[-1]:.4g}", 220, 60)
    if "values" in f:
        return _hbars([(k, v) for k, v in list(f["values"]["top"].items())[:6]], ["base", "cur"], 220)
    return ""


def _vbars(series: list, classes: list[str], left: str = "", right: str = "", width: int = 300,
           height: int = 90) -> str:
    """Vertical bars, one group per bin, one bar per series; labels under the two ends."""
    n, k = len(series[0]), len(series)
    top = max(max(s) for s in series) or 1
    slot = width / n
    bars = []
    for j, s in enumerate(series):
        for i, v in enumerate(s):
            h = (height - 14) * v / top
            bars.append(f"<rect class=\"{classes[j]}\" x=\"{i * slot + j * slot / k:.1f}\" y=\"{height - 14 - h:.1f}\" "
                        f"width=\"{max(slot / k - 0.5, 0.5):.1f}\" height=\"{h:.1f}\"/>")
    return (f"<svg width=\"{width}\" height=\"{height}\" "
            f"viewBox=\"0 0 {width} {height}\" role=\"img\"><title>histogram</title>{''.join(bars)}"
            f"<text x=\"0\" y=\"{height - 2}\">{_e(left)}</text><text x=\"{width}\" y=\"{height - 2}\" "
            f"text-anchor=\"end\">{_e(right)}</text></svg>")


def _hbars(items: list[tuple[str, list[float]]], classes: list[str], width: int = 300) -> str:
    """Horizontal bars, a row per value (its label on the left), one bar per series."""
    if not items:
        return ""
    k, row, label = len(classes), 8 * len(classes) + 4, width * 0.4
    top = max(max(v) for _, v in items) or 1
    parts = []
    for i, (name, values) in enumerate(items):
        y = i * row
        text = name if len(name) <= 18 else name[:17] + "…"
        parts.append(f"<text x=\"{label - 4:.0f}\" y=\"{y + row - 4}\" text-anchor=\"end\">{_e(text)}</text>")
        for j, v in enumerate(values[:k]):
            parts.append(f"<rect class=\"{classes[j]}\" x=\"{label:.0f}\" y=\"{y + 2 + 8 * j}\" "
                         f"width=\"{(width - label) * v / top:.1f}\" height=\"7\"/>")
    height = row * len(items)
    return (f"<svg width=\"{width}\" height=\"{height}\" "
            f"viewBox=\"0 0 {width} {height}\" role=\"img\"><title>value shares</title>{''.join(parts)}</svg>")


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:80rem;padding:0 1rem;color:#1d2330;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{border-bottom:2px solid #d6dae3;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}th,td{padding:.2rem .5rem;text-align:right;
border-bottom:1px solid #e4e7ee;vertical-align:top}th{text-align:left}thead th{background:#f1f3f7}
dl.counts{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem}dt{font-weight:600}dd{margin:0}
table.drift td{white-space:nowrap}td.breach{background:#fbd5d5;color:#8a1010;font-weight:700}
tr.breached th{color:#8a1010}
p.ok{color:#1f6f2a;font-weight:600}p.bad{color:#8a1010;font-weight:600}.legend{font-size:.85rem;color:#555}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:1rem}
figure{margin:0;border:1px solid #e4e7ee;border-radius:6px;padding:.5rem;break-inside:avoid}
figcaption{font-weight:700}figcaption small{font-weight:400;color:#666}table.stats{width:100%}
svg{display:block}svg text{font-size:9px;fill:#444}rect.cur{fill:#3566c8}rect.base{fill:#b9bfcc}
.key{padding:0 .4rem}.key.base{background:#b9bfcc}.key.cur{background:#3566c8;color:#fff}
.wide{overflow-x:auto}img.thumb{image-rendering:pixelated;border:1px solid #ccc}code{font-size:.9em}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr,figure{break-inside:avoid}}
"""
