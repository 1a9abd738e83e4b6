"""The benchmark report prints the README's tables from results files: ratios within one run, provenance beside
them, and a README rewrite that only touches the text between its markers."""
import json

import pytest

from benchmarks import report

RESULTS = {
    "name": "latest", "commit": "abc1234", "date": "2026-12-02 13:00 UTC",
    "machine": {"cpu": "Test CPU", "cores": 2, "ram_gib": 8.0},
    "settings": {"repeat": 3, "quick": False}, "load": {"before": [0.1, 0.2, 0.3], "after": [1.5, 0.9, 0.4]},
    "cases": {
        "tutorial_write": {"label": "tutorial write", "group": "write", "baseline": None, "rows": 1000,
                           "cold_rows_per_s": 40_000.0, "peak_rss_mib": 300.0, "startup_s": 2.0, "runs": 3},
        "numpy": {"label": "dataprep numpy -> TFRecord", "group": "write", "baseline": "tutorial_write",
                  "rows": 1000, "cold_rows_per_s": 2_000_000.0, "warm_rows_per_s": 3_000_000.0,
                  "peak_rss_mib": 400.0, "startup_s": 1.0, "runs": 3},
        "make_dataset": {"label": "make_dataset", "group": "read", "baseline": None, "rows": 1000,
                         "cold_rows_per_s": 900_000.0, "warm_rows_per_s": 1_800_000.0, "peak_rss_mib": 900.0,
                         "startup_s": 4.0, "runs": 3},
    },
}


def test_ratios_are_against_the_baseline_of_the_same_run():
    assert report.ratio(RESULTS["cases"], "numpy", "cold") == 50.0
    assert report.ratio(RESULTS["cases"], "numpy", "warm") == 75.0  # no warm baseline: its fresh figure
    assert report.ratio(RESULTS["cases"], "make_dataset", "cold") is None


def test_tables_carry_figures_and_provenance():
    text = report.render_bench(RESULTS)
    assert "commit `abc1234`" in text and "Test CPU (2 cores" in text
    assert "load average 0.1 before and 1.5 after" in text
    row = next(line for line in text.splitlines() if line.startswith("| dataprep numpy"))
    assert row.split(" | ")[1:5] == ["2,000,000", "50.0x", "3,000,000", "75.0x"]
    assert "| make_dataset | 900,000 |" in text


def test_before_column_shows_the_change():
    before = json.loads(json.dumps(RESULTS))
    before["cases"]["numpy"]["cold_rows_per_s"] = 1_000_000.0
    row = next(line for line in report.render_bench(RESULTS, before).splitlines() if line.startswith("| dataprep"))
    assert row.rstrip(" |").endswith("1,000,000 | 2.00x")


def test_readme_rewrite_replaces_only_between_markers_and_is_idempotent():
    text = f"intro\n{report.START}\nold table\n{report.END}\nafter\n"
    once = report.rewrite_readme(text, "NEW")
    assert once == f"intro\n{report.START}\nNEW\n{report.END}\nafter\n"
    assert report.rewrite_readme(once, "NEW") == once


@pytest.mark.parametrize("text", ["no markers", f"{report.END}\n{report.START}", f"{report.START}\n{report.START}"])
def test_readme_rewrite_refuses_without_one_pair_of_markers(text):
    with pytest.raises(ValueError, match="needs one"):
        report.rewrite_readme(text, "NEW")


def test_readme_section_refuses_quick_runs_and_names_missing_files(tmp_path):
    section = report.readme_section(tmp_path)
    assert "No results committed yet: run `make bench`" in section
    (tmp_path / "latest.json").write_text(json.dumps({**RESULTS, "settings": {"repeat": 1, "quick": True}}))
    with pytest.raises(SystemExit, match="--quick"):
        report.readme_section(tmp_path)
    (tmp_path / "latest.json").write_text(json.dumps(RESULTS))
    assert "dataprep numpy -> TFRecord" in report.readme_section(tmp_path)


def test_peers_tables_split_writes_and_reads_with_ratios_of_the_same_run():
    peers = json.loads(json.dumps(RESULTS))
    peers["cases"]["ray"] = {"label": "Ray Data read", "group": "read", "baseline": "make_dataset", "rows": 40_000,
                             "cold_rows_per_s": 1_800.0, "peak_rss_mib": 2600.0, "startup_s": 12.0, "runs": 3}
    text = report.render_peers(peers)
    writes, reads = text.split("| reader |")
    assert "| dataprep numpy -> TFRecord | 1,000 | 2,000,000 | 50.0x | 400 | 1.0 |" in writes
    assert "| Ray Data read | 40,000 | 1,800 | 0.00x | 2,600 | 12.0 |" in reads and "Ray" not in writes


def test_random_access_tables_carry_every_figure():
    shuffle = {"per_s": 500_000, "position_correlation": 0.001, "batches_with_shard0": 1.0}
    results = {**{k: RESULTS[k] for k in ("commit", "date", "machine", "load")}, "rows": 1000,
               "none": {"take_1024_per_s": 1_680_000, "take_32768_per_s": 3_730_000, "single_per_s": 101_000,
                        "first_take_1024_s": 0.17},
               "gzip": {"take_1024_per_s": 1_600_000, "take_32768_per_s": 2_830_000, "single_per_s": 65_000,
                        "first_take_1024_s": 0.41},
               "shuffles": {"iter_batches_global": shuffle},
               "grain": {"grain_splitreader_per_s": 11_800, "batched_splitreader_per_s": 3_000_000,
                         "grain_array_record_per_s": 48, "batched_array_record_per_s": 38_900}}
    text = report.render_random_access(results)
    assert "commit `abc1234`" in text
    assert "| uncompressed (memory-mapped) | 1,680,000/s | 3,730,000/s | 101,000/s | 0.17 s |" in text
    assert "| `iter_batches`, global | 500,000 | 0.001 | 100% |" in text
    assert "| ArrayRecord, the same records (bytes, not parsed) | 48 | 38,900/s (`__getitems__`) |" in text
