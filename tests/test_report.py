"""``dataprep report``: one self-contained HTML page (no script, nothing fetched), with its sections, the breached
feature marked, the quarantined rows, thumbnails of image features, and the size limit on the housing data."""
from __future__ import annotations

import base64
import csv
import io
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import dataprep
from dataprep.cli import main
from tests.conftest import DIGITS, DIGITS_SCHEMA, PENGUINS, PENGUINS_SCHEMA, SCHEMAS, needs_shared, shared

HOUSING = shared("california_housing.csv")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SECTIONS = {"summary", "drift", "features", "bad-rows", "samples"}


class Page(HTMLParser):
    """Every tag with its attributes, the text of the drift table's marked rows, and the text of the page."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.breached: list[str] = []  # the row headers (feature names) of rows marked breached
        self.text: list[str] = []
        self._in_breached = self._in_th = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tr":
            self._in_breached = a.get("class") == "breached"
        self._in_th = tag == "th" and self._in_breached

    def handle_endtag(self, tag):
        if tag == "th":
            self._in_th = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_th and data.strip():
            self.breached.append(data.strip())

    def self_contained(self) -> None:
        """No script, no stylesheet link, no frame, nothing loaded from elsewhere."""
        names = {t for t, _ in self.tags}
        assert not names & {"script", "link", "iframe", "object", "embed"}, names
        for tag, a in self.tags:
            for key in ("src", "href", "xlink:href", "action", "data"):
                value = a.get(key)
                assert value is None or value.startswith("data:image/png;base64,") or value.startswith("#"), \
                    (tag, key, value[:80])
            assert not any(k.startswith("on") for k in a), (tag, a)  # no event handlers


def penguins_shifted(path: Path) -> Path:
    """The penguins CSV with bill_length_mm scaled by 1.5."""
    with open(PENGUINS, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        if r["bill_length_mm"] != "NA":
            r["bill_length_mm"] = f"{float(r['bill_length_mm']) * 1.5:.1f}"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_report_against_a_baseline_marks_the_breached_feature(tmp_path):
    base, cur = tmp_path / "base", tmp_path / "cur"
    dataprep.convert(PENGUINS, PENGUINS_SCHEMA, base, on_error="skip", stats=True, progress=False)
    q = tmp_path / "bad.csv"
    dataprep.convert(penguins_shifted(tmp_path / "p.csv"), PENGUINS_SCHEMA, cur, on_error="quarantine",
                     quarantine=q, progress=False)
    out = tmp_path / "r.html"
    r = CliRunner().invoke(main, ["report", str(cur), "--against", str(base), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "1 feature(s) breached" in r.stderr
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    page.self_contained()
    assert SECTIONS <= {a.get("id") for _, a in page.tags}
    assert page.breached == ["bill_length_mm"]
    assert sum(1 for t, a in page.tags if t == "td" and a.get("class") == "breach") >= 1
    words = " ".join(page.text)
    with open(q, newline="") as fh:
        bad = list(csv.DictReader(fh))
    assert len(bad) == 2 and all(b["message"][:120] in words for b in bad)  # the two rows without a label (cut)
    assert "Rows set aside" in words and f"{len(bad)} rows were set aside into {q}" in words
    assert len(text.encode()) < 300_000
    got = dataprep.report(cur, base)
    assert got.written is None and got.to_dict()["drift"] == dataprep.validate_against(cur, base).to_dict()
    assert r.exit_code == 0 and CliRunner().invoke(main, ["report", str(cur), "-o", str(PENGUINS)]).exit_code == 2
    again = CliRunner().invoke(main, ["report", str(cur), "-o", str(out)])
    words = " ".join(Page(out.read_text()).text)  # its own page may be replaced; one split: nothing to compare
    assert again.exit_code == 0 and "Skew" not in words and "nothing to compare" in words


def test_report_shows_image_features_as_thumbnails(tmp_path):
    out = tmp_path / "d"
    dataprep.convert(DIGITS, DIGITS_SCHEMA, out, split="train=0.8,test=0.2", progress=False)
    page = Page(dataprep.report(out, output=tmp_path / "r.html", samples=3).to_html())
    page.self_contained()
    images = [a["src"] for t, a in page.tags if t == "img"]
    assert len(images) == 3
    first = dataprep.read_record(out, "train", 0)["image"]
    with Image.open(io.BytesIO(base64.b64decode(images[0].split(",", 1)[1]))) as img:
        pixels = np.asarray(img)
    stretched = first[..., 0].astype(int) * 255 // first.max()  # digits are 0..16: shown as 0..255
    assert pixels.shape == (64, 64) and (pixels[::8, ::8] == stretched).all()  # each pixel as 8x8
    assert {a.get("id") for _, a in page.tags} >= SECTIONS


@needs_shared(HOUSING.name)
def test_the_housing_report_stays_under_2_mb(tmp_path):
    out = tmp_path / "h"
    dataprep.convert(HOUSING, SCHEMAS / "california_housing.yaml", out, split="train=0.8,valid=0.1,test=0.1",
                     stats=True, progress=False)
    page = tmp_path / "r.html"
    r = CliRunner().invoke(main, ["report", str(out), "-o", str(page)])
    assert r.exit_code == 0, r.output
    assert page.stat().st_size < 2 << 20
    parsed = Page(page.read_text(encoding="utf-8"))
    parsed.self_contained()
    assert parsed.breached == [] and sum(1 for t, _ in parsed.tags if t == "svg") >= 30


@pytest.mark.parametrize("bad", ["x", "x:js=1"])
def test_a_bad_threshold_is_a_usage_error(tmp_path, bad):
    dataprep.convert(PENGUINS, PENGUINS_SCHEMA, tmp_path / "o", on_error="skip", progress=False)
    r = CliRunner().invoke(main, ["report", str(tmp_path / "o"), "-o", str(tmp_path / "r.html"),
                                  "--threshold", bad])
    assert r.exit_code == 2 and "--threshold" in r.output and not (tmp_path / "r.html").exists()


def test_encoded_images_are_shown_as_thumbnails(tmp_path):
    """PNG-encoded image features: each record's image decoded, scaled to 64 pixels a side (nearest)."""
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    encoded = np.empty(6, dtype=object)
    for i, p in enumerate(pictures):
        buf = io.BytesIO()
        Image.fromarray(p).save(buf, "PNG")
        encoded[i] = buf.getvalue()
    schema = {"features": [{"name": "img", "dtype": "image", "shape": [16, 16, 3]},
                           {"name": "y", "dtype": "int64", "shape": []}]}
    dataprep.convert({"img": encoded, "y": np.arange(6)}, schema, tmp_path / "o", progress=False)
    got = dataprep.report(tmp_path / "o", samples=2)
    page = Page(got.to_html())
    page.self_contained()
    shown = [a["src"] for t, a in page.tags if t == "img"]
    ids = [int(r["y"]) for r in got.samples]
    for src, i in zip(shown, ids, strict=True):
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as img:
            assert (np.asarray(img)[::4, ::4] == pictures[i]).all()


@pytest.mark.skipif(CHROMIUM is None, reason="no headless browser: Debian's chromium package is not installed")
def test_a_real_browser_renders_the_page(tmp_path):
    """Headless Chromium renders the page: its DOM has every section and the screenshot is not blank."""
    out, page, png = tmp_path / "o", tmp_path / "r.html", tmp_path / "r.png"
    dataprep.convert(PENGUINS, PENGUINS_SCHEMA, out, on_error="skip", split="train=0.8,test=0.2", progress=False)
    dataprep.report(out, output=page)
    browser = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600"]
    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert SECTIONS <= {a.get("id") for _, a in Page(dom.stdout).tags}, dom.stderr[-2000:]
    subprocess.run([*browser, f"--screenshot={png}", page.as_uri()], capture_output=True, timeout=120, check=True)
    with Image.open(png) as img:
        grey = np.asarray(img.convert("L"), np.float64)
    assert grey.shape == (1600, 1280) and grey.std() > 20 and (grey < 200).mean() > 0.03


def test_a_default_quarantine_is_found_beside_the_folder_from_elsewhere(tmp_path, monkeypatch):
    """A relative quarantine path (the conversion's working folder) is also looked for beside the folder; CSV
    shards report the same way."""
    monkeypatch.chdir(tmp_path)
    dataprep.convert(PENGUINS, PENGUINS_SCHEMA, "o", on_error="quarantine", format="csv", progress=False)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    got = dataprep.report(tmp_path / "o")
    assert len(got.bad_rows) == 2 and str(tmp_path / "o.quarantine.csv") in got.bad_rows_note
    assert len(got.samples) == 5 and got.samples[0]["species"] in ("Adelie", "Gentoo", "Chinstrap")
