"""``python -m benchmarks.report [results.json] [--before old.json] [--peers peers.json] [--readme]``: the
benchmark tables, in markdown, printed from results files and never typed by hand. ``--readme`` (``make
bench-readme``) rewrites the performance tables of ``docs/performance.md`` between the ``bench:start`` /
``bench:end`` markers from ``benchmarks/results/latest.json``, ``scaling.json`` and ``peers.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
README = RESULTS.parent.parent / "docs" / "performance.md"  # the page the tables live on
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
GROUPS = {  # group: (first column, what the warm column is)
    "write": ("path", "same conversion again in that process"),
    "read": ("reader", "a later epoch of the same dataset"),
    "text": ("with one string column", "same again in that process"),
}


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


def provenance(results: dict, file: str) -> str:
    """One sentence: where, when and under what load the figures of ``results`` were measured."""
    m, load, s = results.get("machine", {}), results.get("load", {}), results.get("settings", {})
    before, after = load.get("before"), load.get("after")
    seen = (f"load average {before[0]} before and {after[0]} after (1 min; 5 min {before[1]} / {after[1]})"
            if before and after else "load average not recorded")
    runs = f"every figure the median of {s['repeat']} fresh process(es)" if s.get("repeat") else ""
    return (f"From `{file}`: commit `{results.get('commit', 'unknown')}`, {results.get('date', 'date unknown')}, "
            f"{m.get('cpu', 'unknown CPU')} ({m.get('cores', '?')} cores, {m.get('ram_gib', '?')} GiB RAM), "
            f"{seen}{'; ' + runs if runs else ''}.")


def ratio(cases: dict, name: str, kind: str) -> float | None:
    """``name``'s rows/s over its baseline's, both of the same run (a warm figure over the baseline's warm
    one where it has one, else over its fresh-process one)."""
    case = cases[name]
    base = cases.get(case.get("baseline") or "")
    value = case.get(f"{kind}_rows_per_s")
    if not base or value is None:
        return None
    return value / (base.get(f"{kind}_rows_per_s") or base["cold_rows_per_s"])


def group_table(results: dict, group: str, before: dict | None = None) -> str:
    """The markdown table of one group of cases, with the ``before`` run's fresh-process figures beside."""
    cases = results["cases"]
    names = [n for n, c in cases.items() if c["group"] == group]
    first, warm = GROUPS[group]
    head = [first, "rows/s, fresh process", "vs", f"rows/s, warm ({warm})", "vs", "peak RSS MiB", "start-up s"]
    old = (before or {}).get("cases", {})
    if before:
        head += ["before, fresh", "change"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for n in names:
        c = cases[n]
        row = [c["label"], _rate(c.get("cold_rows_per_s")), _ratio(ratio(cases, n, "cold")),
               _rate(c.get("warm_rows_per_s")), _ratio(ratio(cases, n, "warm")), f"{c['peak_rss_mib']:,.0f}",
               f"{c['startup_s']:.1f}"]
        if before:
            was = old.get(n, {}).get("cold_rows_per_s")
            row += [_rate(was), _ratio(c["cold_rows_per_s"] / was) if was else "new"]
        lines.append("| " + " | ".join(row) + " |")
    pairs: dict[str, list[str]] = {}
    for n in names:
        if cases[n].get("baseline") in cases:
            pairs.setdefault(cases[cases[n]["baseline"]]["label"], []).append(cases[n]["label"])
    if pairs:
        lines += ["", "Ratios (same run): " + "; ".join(
            f"{', '.join(rows)} against {base}" for base, rows in pairs.items()) + "."]
    return "\n".join(lines)


def render_bench(results: dict, before: dict | None = None, file: str = "benchmarks/results/latest.json") -> str:
    """All the tables and notes of a ``python -m benchmarks`` results file."""
    cases = results["cases"]
    parts = [provenance(results, file)]
    if before:
        parts.append(provenance(before, "the before file").replace("From", "Before: from", 1))
    for group in GROUPS:
        if any(c["group"] == group for c in cases.values()):
            parts.append(group_table(results, group, before))
    if "shuffle_quality" in cases:
        q = cases["shuffle_quality"]
        parts.append(f"Shuffle quality of `make_dataset` on that table ({q['rows']:,} rows, 10 shards): the "
                     f"correlation between a record's position in the files and in the shuffled epoch is "
                     f"{q['position_correlation']}, and the records of one shard spread over "
                     f"{q['batches_holding_shard_0']} of the {q['batches']} batches.")
    if "convert_big_csv" in cases:
        m = cases["convert_big_csv"]
        parts.append(f"Memory: a {m['rows']:,}-row CSV converts to TFRecord at {_rate(m['cold_rows_per_s'])} rows/s "
                     f"with a peak RSS of {m['peak_rss_mib']:,.0f} MiB (median of {m['runs']} fresh processes)"
                     + (f"; on disk, its work folder and output peaked at {m['disk_peak_mib']:,.0f} MiB, "
                        f"{m['disk_peak_mib'] / m['input_mib']:.1f}x the CSV's {m['input_mib']:,.0f} MiB "
                        "(the spool of encoded records, then the shards written from it)"
                        if m.get("disk_peak_mib") else "") + ".")
    parts += [f"Note: {n}." for n in results.get("notes", [])]
    return "\n\n".join(parts)


def render_scaling(results: dict, file: str = "benchmarks/results/scaling.json") -> str:
    """The ``python -m benchmarks.scaling`` table: local workers and the Beam DirectRunner."""
    rates = results["rows_per_s"]
    runs = [("local_1_worker", "1 worker"), ("local_2_workers", "2 workers"), ("beam_direct", "Beam in process"),
            ("beam_direct_2_processes", "Beam, 2 processes")]
    runs = [r for r in runs if any(k.endswith(r[0]) for k in rates)]
    head = ["conversion (rows/s)", *(title for _, title in runs[:2]), "speed-up", *(t for _, t in runs[2:])]
    lines = [provenance(results, file), "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for kind, kind_label in (("parquet", "Parquet"), ("csv", "CSV")):
        for comp in ("none", "gzip"):
            key = f"{kind}_{comp}_"
            if key + "local_1_worker" not in rates:
                continue
            cells = [_rate(rates.get(key + r)) for r, _ in runs]
            two = rates.get(key + "local_2_workers")
            speedup = f"{two / rates[key + 'local_1_worker']:.2f}x" if two else ""
            lines.append(f"| {kind_label} -> TFRecord{' GZIP' if comp == 'gzip' else ''} | "
                         + " | ".join([*cells[:2], speedup, *cells[2:]]) + " |")
    return "\n".join(lines)


def render_peers(results: dict, file: str = "benchmarks/results/peers.json") -> str:
    """The ``make bench-peers`` tables: each peer's rows/s against the tutorial write (writes) or the
    best-practice tf.data read (reads) of the same run, with its peak RSS and start-up."""
    cases = results["cases"]
    parts = [provenance(results, file)]
    for group, first in (("write", "writer"), ("read", "reader")):
        names = [n for n, c in cases.items() if c["group"] == group]
        head = [first, "rows", "rows/s", "vs", "peak RSS MiB", "start-up s"]
        lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for n in names:
            c = cases[n]
            lines.append(f"| {c['label']} | {c['rows']:,} | {_rate(c['cold_rows_per_s'])} | "
                         f"{_ratio(ratio(cases, n, 'cold'))} | {c['peak_rss_mib']:,.0f} | {c['startup_s']:.1f} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def render_random_access(results: dict, file: str = "benchmarks/results/random_access.json") -> str:
    """The ``python -m benchmarks.random_access`` tables: random access, both shuffles, Grain's sources."""
    rows = results["rows"]
    lines = [provenance(results, file), "", f"Random access over {rows:,} records of the 9-float table (10 shards, "
             "page cache; best of 3 after a warm-up):", "",
             "| shards | take, batches of 1,024 | take, batches of 32,768 | single `reader[i]` "
             "| a new reader's first take |",
             "| --- | --- | --- | --- | --- |"]
    for comp in ("none", "gzip"):
        r = results[comp]
        lines.append(f"| {'uncompressed (memory-mapped)' if comp == 'none' else 'GZIP (inflated once, kept)'} | "
                     f"{_rate(r['take_1024_per_s'])}/s | {_rate(r['take_32768_per_s'])}/s | "
                     f"{_rate(r['single_per_s'])}/s | {r['first_take_1024_s']:.2f} s |")
    lines += ["", "| one epoch, batches of 256 | records/s | position correlation | batches holding shard 0 |",
              "| --- | --- | --- | --- |"]
    names = {"make_dataset_False": "`make_dataset`, file order", "make_dataset_True": "`make_dataset`, per-shard",
             "make_dataset_global": "`make_dataset`, global", "iter_batches_None": "`iter_batches`, file order",
             "iter_batches_global": "`iter_batches`, global"}
    for key, label in names.items():
        q = results["shuffles"].get(key)
        if q:
            lines.append(f"| {label} | {_rate(q['per_s'])} | {q['position_correlation']} | "
                         f"{q['batches_with_shard0']:.0%} |")
    g = results["grain"]
    lines += ["", "| Grain `MapDataset.source(...).shuffle(seed).batch(256)` over | records/s "
              "| batched read of 32,768 |",
              "| --- | --- | --- |",
              f"| `SplitReader` (decoded records) | {_rate(g['grain_splitreader_per_s'])} | "
              f"{_rate(g['batched_splitreader_per_s'])}/s (`take`) |",
              f"| ArrayRecord, the same records (bytes, not parsed) | {_rate(g['grain_array_record_per_s'])} | "
              f"{_rate(g['batched_array_record_per_s'])}/s (`__getitems__`) |"]
    return "\n".join(lines)


def readme_section(folder: Path = RESULTS) -> str:
    """The generated part of docs/performance.md, from the results files in ``folder``."""
    parts = ["<!-- generated by `make bench-readme` from benchmarks/results/*.json: do not edit by hand -->"]
    for name, title, render, make in (("latest", "`make bench`", render_bench, "make bench"),
                                      ("scaling", "`make bench-scaling`", render_scaling, "make bench-scaling"),
                                      ("random_access", "`python -m benchmarks.random_access`",
                                       render_random_access, "make bench"),
                                      ("peers", "`make bench-peers`", render_peers, "make bench-peers")):
        path = folder / f"{name}.json"
        parts.append(f"#### {title}")
        if not path.is_file():
            parts.append(f"No results committed yet: run `{make}`, then `make bench-readme`.")
            continue
        results = json.loads(path.read_text())
        if results.get("settings", {}).get("quick"):
            raise SystemExit(f"{path} holds a --quick run: the performance page shows full runs only")
        parts.append(render(results, file=f"benchmarks/results/{name}.json"))
    return "\n\n".join(parts)


def rewrite_readme(text: str, section: str) -> str:
    """``text`` with everything between the markers replaced by ``section``; ValueError without markers."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"the page needs one {START} line before one {END} line around its benchmark tables")
    head, rest = text.split(START)
    return f"{head}{START}\n{section}\n{END}{rest.split(END, 1)[1]}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="?", type=Path, default=RESULTS / "latest.json", help="a benchmarks results file")
    p.add_argument("--before", type=Path, help="an older results file: its fresh-process figures beside the new")
    p.add_argument("--peers", type=Path, help="a make bench-peers results file to print too")
    p.add_argument("--scaling", type=Path, help="a make bench-scaling results file to print too")
    p.add_argument("--readme", nargs="?", const=README, type=Path,
                   help="rewrite the tables between the bench markers of this file (default: docs/performance.md)")
    args = p.parse_args(argv)
    if args.readme:
        try:
            args.readme.write_text(rewrite_readme(args.readme.read_text(), readme_section(args.results.parent)))
        except ValueError as e:
            raise SystemExit(f"{args.readme}: {e}") from None
        print(f"rewrote the benchmark tables of {args.readme}")
        return 0
    before = json.loads(args.before.read_text()) if args.before else None
    print(render_bench(json.loads(args.results.read_text()), before, file=str(args.results)))
    for path, render in ((args.scaling, render_scaling), (args.peers, render_peers)):
        if path:
            print("\n" + render(json.loads(path.read_text()), file=str(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
