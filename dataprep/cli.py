"""The ``dataprep`` command line: a thin click layer over the library.

Each command parses its options and calls one library function. Errors become exit codes in one place, the
``_Boundary`` group that ``main`` is: a ``DataprepError`` prints its one-line message and exits with its own
``exit_code``, and the failures a user can cause without dataprep noticing first (an OS error on a path, a missing
optional package, TensorFlow's own errors, Ctrl-C, running out of memory) are turned into one line the same way;
``--debug`` prints the traceback instead of the line (with the same exit code).

The exit codes (``EXIT_CODES``, also shown by ``dataprep --help``) are the same for the same mistake in every
command: 2 when the command cannot run as given (a bad option or value, a path that does not exist, is a file
where a folder is needed or the reverse, or cannot be read or written, an invalid schema file, a missing extra),
1 when the data or the run failed (a value that does not fit the schema, a file that is damaged or not of the
kind the command reads, problems found by ``validate``, a full disk, no memory left), 130 when interrupted.
Input paths are checked where click parses them, so a typo gets the same message in every command.
"""
from __future__ import annotations

import errno
import gc
import glob
import importlib.abc
import importlib.machinery
import json
import os
import re
import sys
import traceback
from pathlib import Path

import click

from .badrows import POLICIES
from .compressions import COMPRESSIONS
from .errors import DataprepError
from .formats import FORMATS
from .model_inputs import TASKS
from .options import RUNNERS, BadRowPolicy, RunOptions, ShardLayout, SplitPlan
from .report import size_text as _size
from .schema import IMAGE_FORMATS, ImageOptions
from .shards import AUTO_SHARD_BYTES
from .storage import is_remote
from .train.options import (
    CELLS,
    CNN_ACTIVATIONS,
    DENSE_ACTIVATIONS,
    DENSES,
    KINDS,
    LOOPS,
    LOSSES,
    MODEL_OPTIONS,
    OPTIMIZERS,
    SEARCHES,
    VARIANTS,
    CNNOptions,
    ModelOptions,
    RNNOptions,
    SearchOptions,
    TrainOptions,
    WideDeepOptions,
    defaults,
)
from .train.options import RunOptions as FitRunOptions
from .version import __version__

EXIT_CODES = """\b
Exit codes, the same for the same mistake in every command:
  0    done (validate: every record valid)
  1    the data or the run failed: a value that does not fit the schema, a file that is damaged or not of the
       kind the command reads, problems found by validate, a full disk, no memory left
  2    the command cannot run as given: a bad option or value, a path that does not exist, is a file where a
       folder is needed (or the reverse) or cannot be read or written, an invalid schema file, a missing extra
       (pip install 'dataprep[tf]')
  130  interrupted (Ctrl-C); convert says how to continue with --resume"""

# The library's defaults, which the options below show and pass on
_TRAIN, _WIDE_DEEP, _CNN, _RNN, _SEARCH = (defaults(cls) for cls in (TrainOptions, WideDeepOptions, CNNOptions,
                                                                   RNNOptions, SearchOptions))
# The optional packages a command may need, and the extra that installs each (setup.cfg's extras_require).
_EXTRAS = {"tensorflow": "tf", "keras": "tf", "pandas": "tf", "matplotlib": "tf", "optuna": "tune",
           "sklearn": "tune", "apache_beam": "beam"}
# OS errors that mean "this path cannot be used as given" (exit 2); any other OS error is a failed run (exit 1).
_PATH_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS,
                errno.ENAMETOOLONG, errno.ELOOP}


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual but runs its import with file descriptor 2 pointed at /dev/null: its C++
    libraries log at load time through absl (``absl::InitializeLog``, oneDNN) before any log level is read.
    Only the import is silenced; errors raised later, ours or TensorFlow's, reach stderr."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def exec_module(module):
                saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
                try:
                    os.dup2(devnull, 2)
                    run(module)
                finally:
                    os.dup2(saved, 2)
                    os.close(saved)
                    os.close(devnull)
            spec.loader.exec_module = exec_module
        return spec


def _quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up and info lines (absl, CPU features, oneDNN) off the terminal; a level the
    user set wins (a quiet level, 2 or 3, also silences the load-time lines it does not govern). TensorFlow reads
    it when first imported, which only a command body does."""
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() or "3"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = level
    if level in {"2", "3"} and "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietImport())


_quiet_tensorflow()


class _Boundary(click.Group):
    """The one place where errors become a line on stderr and an exit code (see the module docstring)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (Exception, KeyboardInterrupt) as e:
            failure = _failure(e)
            if failure is None:
                raise  # click's own usage errors and exits, and bugs: click or Python reports them
            code, message = failure
            if ctx.params.get("debug"):
                traceback.print_exception(e, file=sys.stderr)
            else:
                click.echo(f"Error: {message}", err=True)
            ctx.exit(code)
        finally:
            # Without a pause between the last Arrow work and interpreter shutdown, Arrow's threads sometimes
            # abort the process after a successful run ("terminate called without an active exception",
            # apache/arrow#39862); a collection here settles them (0 of 12 runs crash, 4 of 12 without it)
            gc.collect()


def _failure(e: BaseException) -> tuple[int, str] | None:
    """(exit code, one-line message) for a failure a user can cause; None for click's exceptions and bugs."""
    if isinstance(e, DataprepError):
        return e.exit_code, str(e)
    if isinstance(e, KeyboardInterrupt):
        return 130, "interrupted"
    if isinstance(e, MemoryError):
        return 1, "out of memory"
    if isinstance(e, ModuleNotFoundError) and (module := (e.name or "").split(".")[0]) in _EXTRAS:
        return 2, f"this command needs {module}, which is not installed: pip install 'dataprep[{_EXTRAS[module]}]'"
    if isinstance(e, OSError) and e.errno != errno.EPIPE:  # a closed pipe (| head) is click's to handle
        return (2 if e.errno in _PATH_ERRNOS else 1), _os_message(e)
    if isinstance(e, UnicodeDecodeError):
        return 1, f"not UTF-8 text: {e.reason} (byte {e.object[e.start:e.start + 1]!r} at offset {e.start})"
    tf = sys.modules.get("tensorflow")  # an error from TensorFlow implies TensorFlow is imported
    if tf is not None and isinstance(e, tf.errors.OpError):
        not_usable = isinstance(e, (tf.errors.NotFoundError, tf.errors.PermissionDeniedError))
        return (2 if not_usable else 1), _tf_message(e)
    return None


def _os_message(e: OSError) -> str:
    """``file: reason`` as the shell says it (``cat: x: No such file or directory``)."""
    reason = e.strerror or _first_line(str(e)) or type(e).__name__
    if e.filename is None:
        return reason
    where = os.fsdecode(e.filename) + (f" -> {os.fsdecode(e.filename2)}" if e.filename2 is not None else "")
    return f"{where}: {reason}"


def _tf_message(e: Exception) -> str:
    """TensorFlow's message without the graph function's name and the op's name around it."""
    text = _first_line(getattr(e, "message", None) or str(e))
    text = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", text)
    return re.sub(r"\s*\[Op:[^\]]*\].*$", "", text) or type(e).__name__


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


class _Location(click.ParamType):
    """An existing local path (checked by click, as ``click.Path(exists=True, ...)``) or a storage URL (``s3://``,
    ``gs://``: checked when read)."""

    name = "path"

    def __init__(self, **path_checks):
        self.path = click.Path(exists=True, **path_checks)

    def convert(self, value, param, ctx):
        text = os.fspath(value)
        return text if is_remote(text) else self.path.convert(text, param, ctx)


class _Input(click.ParamType):
    """An input file, folder or glob: a name that matches nothing is a usage mistake, reported by click in the
    words it uses for every other path argument."""

    name = "path"

    def convert(self, value, param, ctx):
        text = os.fspath(value)
        if is_remote(text):
            return text
        if any(ch in text for ch in "*?["):
            if not glob.glob(text, recursive=True):
                self.fail(f"no files match {text!r}.", param, ctx)
            return text
        return click.Path(exists=True).convert(text, param, ctx)


class _NewFile(click.ParamType):
    """A file to write: its folder must exist, so a typo fails before the work rather than after it."""

    name = "file"

    def convert(self, value, param, ctx):
        if is_remote(os.fspath(value)):
            return os.fspath(value)  # an object: checked when the run starts
        path = click.Path(dir_okay=False).convert(value, param, ctx)
        folder = os.path.dirname(os.fspath(path)) or "."
        if not os.path.isdir(folder):
            self.fail(f"folder {folder!r} does not exist.", param, ctx)
        return path


class _ImageSize(click.ParamType):
    """``HxW`` -> (height, width)."""

    name = "HxW"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        height, x, width = str(value).lower().partition("x")
        if x and height.isdigit() and width.isdigit() and int(height) > 0 and int(width) > 0:
            return int(height), int(width)
        self.fail(f"{value!r} is not a size HxW such as 64x64", param, ctx)


@click.group(cls=_Boundary, epilog=EXIT_CODES,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="dataprep")
@click.option("--debug", is_flag=True, help="Show the full traceback instead of a one-line error.")
def main(debug: bool) -> None:
    """Convert tables and arrays into sharded TFRecord/CSV files and read them back fast."""


@main.command()
@click.argument("source", nargs=-1, required=True, type=_Input())
@click.option("--schema", "schema_path", required=True, type=_Location(dir_okay=False),
              help="Schema file (YAML or JSON) naming every feature.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder for shards and manifest.")
@click.option("--format", type=click.Choice(list(FORMATS)), default=ShardLayout.format, show_default=True,
              help="Shard format.")
@click.option("--compression", type=click.Choice(list(COMPRESSIONS), case_sensitive=False),
              default=ShardLayout.compression, show_default=True,
              help="Compression of each shard (" + "; ".join(f"{f.title}: {', '.join(f.compressions)}"
                                                             for f in FORMATS.values()) + ").")
@click.option("--num-shards", type=click.IntRange(min=1), default=None,
              help=f"Shards per split (default: as many as keep each under {AUTO_SHARD_BYTES >> 20} MiB).")
@click.option("--rows-per-shard", type=click.IntRange(min=1), default=None,
              help="Records per shard instead of a shard count.")
@click.option("--split", default=None, metavar="NAME=RATIO,...",
              help="Split ratios, e.g. train=0.8,valid=0.1,test=0.1 (default: everything in 'train').")
@click.option("--split-by", default=None, metavar="COLUMN",
              help="Assign splits by a stable hash of this column instead of at random.")
@click.option("--split-column", default=None, metavar="COLUMN",
              help="A column naming each row's split (its values among the --split names, default "
                   "train,valid,test).")
@click.option("--seed", type=int, default=SplitPlan.seed, show_default=True, help="Seed for the split and shuffle.")
@click.option("--shuffle/--no-shuffle", default=SplitPlan.shuffle, show_default=True,
              help="Shuffle records within each split (seeded).")
@click.option("--on-error", type=click.Choice(POLICIES), default=BadRowPolicy.on_error, show_default=True,
              help="Bad rows: stop at the first (naming file, line, column); set them aside and count them; or "
                   "also write them with file, line and reason to the quarantine CSV.")
@click.option("--quarantine", type=_NewFile(), default=None,
              help="Quarantine CSV for --on-error quarantine (default: OUT.quarantine.csv beside the output); "
                   "never an input, a file inside OUT, or an existing file dataprep did not write.")
@click.option("--max-errors", type=click.IntRange(min=0), default=None,
              help="Fail when more than this many rows are bad (with skip or quarantine).")
@click.option("--max-error-rate", type=click.FloatRange(0, 1), default=None,
              help="Fail when more than this fraction of the rows read is bad, e.g. 0.01.")
@click.option("--sequence-per-file", is_flag=True,
              help="Each input file is one record whose features hold the file's rows as sequences.")
@click.option("--sequence-id", default=None, metavar="COLUMN",
              help="A long table: the rows sharing this column's value (adjacent rows) are one record.")
@click.option("--sequence-order", default=None, metavar="COLUMN",
              help="With --sequence-id: sort each sequence's rows by this number column (time, step).")
@click.option("--image-format", type=click.Choice(IMAGE_FORMATS), default=None,
              help="Re-encode every image feature (default: keep each file's bytes as they are).")
@click.option("--quality", "image_quality", type=click.IntRange(1, 100), default=None,
              help=f"JPEG quality for --image-format jpeg (default {ImageOptions.quality}).")
@click.option("--image-size", type=_ImageSize(), default=None, metavar="HxW",
              help="Resize every image feature to HxW (e.g. 64x64); the schema's shape follows.")
@click.option("--allow-paths-outside", is_flag=True,
              help="Let an image-path column name files outside the table's folder (absolute paths, '..', "
                   "symlinks out); by default such rows are bad rows (path_outside).")
@click.option("--overwrite", is_flag=True,
              help="Replace an earlier dataprep output (a folder holding only its manifest and the files it lists) "
                   "and its quarantine CSV; never a folder with other files or an input.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run with the same inputs and options: shards it completed and that "
                   "still verify are kept, the rest written (the result is byte-identical).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Threads that check and encode batches, then write shards (default: number of cores).")
@click.option("--stats", is_flag=True,
              help="Also write stats.json (per split and feature) into the output folder.")
@click.option("--runner", type=click.Choice(RUNNERS), default=RunOptions.runner, show_default=True,
              help="Run in this process, or as an Apache Beam pipeline (needs the beam extra); same output.")
@click.option("--beam-options", default=None, metavar="TEXT",
              help='Beam pipeline options, e.g. "--runner=DirectRunner --direct_num_workers=2".')
@click.option("--batch-size", type=click.IntRange(min=1), default=RunOptions.batch_size, show_default=True,
              help="Rows per column batch; bounds memory while encoding.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary table.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def convert(source, schema_path, out, quiet, as_json, **settings):
    """Convert SOURCE files (CSV, Parquet, .npz; globs and folders too) into shards under --out."""
    from .convert import convert as run_convert

    summary = run_convert(list(source) if len(source) > 1 else source[0], schema_path, out,
                          progress=not quiet and not as_json, **settings)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    elif not quiet:
        rate = summary.rows_read / summary.seconds if summary.seconds else 0.0
        click.echo(f"Converted {summary.rows_read:,} rows into {summary.num_shards} {summary.format} shard(s) "
                   f"({_size(summary.num_bytes)}, {summary.compression}) in {summary.seconds:.2f} s "
                   f"({rate:,.0f} rows/s) -> {summary.out}")
        for name, count in summary.splits.items():
            click.echo(f"  {name:<10} {count:>12,} records")
        if summary.rows_set_aside:
            reasons = ", ".join(f"{k}: {v:,}" for k, v in sorted(summary.set_aside_by_reason.items()))
            click.echo(f"  set aside  {summary.rows_set_aside:>12,} rows ({reasons})")


@main.group()
def schema() -> None:
    """Create and check schema files."""


@schema.command("infer")
@click.argument("source", nargs=-1, required=True, type=_Input())
@click.option("--label", multiple=True, metavar="COLUMN", help="Column(s) to mark as label (repeatable).")
@click.option("--weight", default=None, metavar="COLUMN", help="Column to mark as the example weight.")
@click.option("--max-categories", type=click.IntRange(min=1), default=50, show_default=True,
              help="Strings with at most this many distinct values become categoricals with a vocabulary.")
@click.option("-o", "--output", type=_NewFile(), default=None,
              help="Write the schema here (.yaml or .json); default: print YAML.")
def schema_infer(source, label, weight, max_categories, output):
    """Infer a schema from SOURCE in one streaming pass."""
    from .infer import infer_schema
    from .model_inputs import group_summary
    from .outputs import check_file_target

    src = list(source) if len(source) > 1 else source[0]
    if output:
        check_file_target(output, [Path(s) for s in source], "schema", "-o")
    result = infer_schema(src, label=list(label), weight=weight, max_categories=max_categories,
                          name=Path(source[0]).stem)
    header = (f"# Inferred by `dataprep schema infer` from {', '.join(source)}.\n"
              "# Review dtypes, defaults, roles (feature/label/weight) and groups (wide/deep/both) before use.\n")
    for f in result.features:
        if f.dtype == "float64":  # its description says which value float32 would have changed
            click.echo(f"note: feature {f.name!r}: {f.description}", err=True)
    click.echo(f"note: {group_summary(result)}", err=True)
    if output:
        result.save(output, header=header)
        click.echo(f"Wrote schema with {len(result)} features to {output}", err=True)
    else:
        click.echo(header + result.to_yaml(), nl=False)


@schema.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def schema_check(path):
    """Validate a schema file and list its features."""
    from .schema import load_schema

    s = load_schema(path)
    for f in s.features:
        extra = f" group={f.group}" if f.group else ""
        click.echo(f"{f.name:<24} {f.dtype:<8} {str(list(f.shape)):<12} {f.role}{extra}")
    click.echo(f"{path}: {len(s)} features, valid")


@main.command()
@click.argument("path", type=_Location())
@click.option("--split", default=None, help="Split to show records from (default: the first).")
@click.option("--head", "n_head", type=click.IntRange(min=0), default=5, show_default=True,
              help="How many records to decode and show as a table.")
@click.option("--images", type=_NewFile(), default=None,
              help="Also draw the first images with their labels into this PNG file.")
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON (no table).")
def inspect(path, split, n_head, images, as_json):
    """Show what PATH holds: splits, files, counts, features, and its first records."""
    from .outputs import check_file_target
    from .readers.inspect import describe, head, image_grid

    if images:
        check_file_target(images, [Path(path)], "png", "--images")
    info = describe(path)
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo(f"{info['path']}: {info['format']}" + (f", compression {info['compression']}"
                                                          if "compression" in info else ""))
        for name, s in info.get("splits", {}).items():
            click.echo(f"  {name:<10} {s['num_records']:>12,} records  {len(s['files']):>4} file(s)  "
                       f"{_size(s['num_bytes'])}")
        for f in info.get("files", []):
            click.echo(f"  {f['path']}  {_size(f['num_bytes'])}  {f['compression']}")
        for name, desc in info.get("features", {}).items():
            click.echo(f"  feature {name:<24} {desc}")
        if n_head:
            import pandas as pd

            with pd.option_context("display.max_columns", 30, "display.width", 160):
                click.echo(head(path, split, n_head, as_text=True).to_string())
    if images:
        count = image_grid(path, images, split)
        click.echo(f"Wrote {count} images to {images}", err=True)


_threshold_option = click.option(
    "--threshold", "thresholds", multiple=True, metavar="[FEATURE:]CHECK=VALUE",
    help="A drift threshold for every feature, or one (repeatable), over the schema's drift: key and the "
         "defaults; CHECK: jensen_shannon, l_infinity, length, missing_rate, default_rate, oov_rate, out_of_range, "
         "or noise (how many times a resample's expected figure a figure must also exceed; 0: off).")


@main.command()
@click.argument("path", type=_Location())
@click.option("--against", "baseline", type=click.Path(exists=True), default=None,
              help="Compare PATH's statistics with this baseline (a converted folder or a stats.json) instead: "
                   "schema conformance and drift per split and feature; exit 1 when a threshold is breached.")
@_threshold_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (with --against: every figure).")
def validate(path, baseline, thresholds, as_json):
    """Check every record of PATH (CRCs, schema, counts, checksums); exit 1 on any problem. With --against,
    compare PATH's statistics (its stats.json, else computed from its shards) with a baseline's instead."""
    if baseline:
        from .drift import validate_against

        drift = validate_against(path, baseline, list(thresholds))
        click.echo(json.dumps(drift.to_dict(), indent=2, ensure_ascii=False) if as_json else drift.summary())
        sys.exit(0 if drift.ok else 1)
    if thresholds:
        raise click.BadParameter("applies only with --against", param_hint="--threshold")
    from .readers.validate import validate as run_validate

    report = run_validate(path)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for f in report.files:
            where = f"{f.split}/" if f.split else ""
            status = "ok  " if f.ok else "FAIL"
            click.echo(f"{status} {where}{f.path}: {f.records:,} records" +
                       "".join(f"\n     {p}" for p in f.problems))
            for key, desc in (f.features or {}).items():
                click.echo(f"     feature {key}: {desc}")
        for p in report.problems:
            click.echo(f"FAIL {p}")
        click.echo(f"{report.path}: " + ("all records valid" if report.ok else "problems found"))
    if not report.ok:
        sys.exit(1)


@main.command()
@click.argument("path", type=_Location())
@click.option("--split", "splits", multiple=True, help="Split(s) of a converted folder (default: all).")
@click.option("-o", "--output", type=_NewFile(), default=None,
              help="Where to write stats.json (default: beside the shards for a converted folder).")
@click.option("--plot", type=_NewFile(), default=None,
              help="Draw a histogram per numeric feature and a bar chart per categorical, every split on the "
                   "same axes, into this PNG.")
@_threshold_option
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON instead of a table.")
def stats(path, splits, output, plot, thresholds, as_json):
    """Per-feature statistics of PATH (an input file or a converted folder) in one streaming pass; for a
    converted folder, also written to stats.json beside its shards unless -o says where, and the skew of each
    split against the first (train vs valid vs test)."""
    from .drift import skew
    from .feature_stats import stats as run_stats

    report = run_stats(path, splits, output=output, plot=plot)
    data = report.to_dict()
    skewed = skew(data, list(thresholds)) if report.schema is not None and len(report.splits) > 1 else None
    if as_json:
        click.echo(json.dumps({**data, **({"skew": skewed.to_dict()} if skewed else {})}, indent=2,
                              ensure_ascii=False))
    else:
        click.echo(report.summary() + (f"\nskew against split {next(iter(report.splits))}:\n{skewed.summary()}"
                                       if skewed else ""))
    if report.written:
        click.echo(f"wrote {report.written}", err=True)
    if report.plotted:
        click.echo(f"wrote {report.plotted} (the charts of {', '.join(report.splits)})", err=True)


@main.command()
@click.argument("folder", type=click.Path(file_okay=False), default="dataprep-demo")
@click.option("--run", is_flag=True, help="Also run the demo's commands there (conversions, validation, two fits).")
def demo(folder, run):
    """Copy the demo's sample data (penguins, digits), their schemas and demo.sh into FOLDER (default
    ./dataprep-demo), never over a file that is not an identical copy, and show the commands to run there."""
    from .demo import SCRIPT, command_lines, run_demo, write_demo

    written = write_demo(folder)
    click.echo(f"{folder}: wrote {len(written.written)} file(s)"
               + (f", kept {len(written.kept)} identical one(s)" if written.kept else ""), err=True)
    if not run:
        click.echo(f"Run the demo: sh {Path(folder) / SCRIPT}, or these commands in {folder}:")
        click.echo("\n".join(command_lines()))
    elif code := run_demo(folder, click.echo):
        sys.exit(code)


@main.command("report")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--against", "baseline", type=click.Path(exists=True), default=None,
              help="A baseline (a converted folder or a stats.json) to show the drift against (default: the skew "
                   "between PATH's splits).")
@click.option("-o", "--output", type=_NewFile(), required=True, help="The HTML file to write.")
@_threshold_option
@click.option("--samples", type=click.IntRange(min=0), default=5, show_default=True, help="Records shown.")
def report_command(path, baseline, output, thresholds, samples):
    """Write one self-contained HTML page about the converted folder PATH: counts, per split and feature the
    statistics and a chart, drift or skew with breaches marked, the first bad rows and sample records."""
    from .report import report

    result = report(path, baseline, output, list(thresholds), samples)
    breached = sum(bool(f.breaches) for f in result.drift.features) if result.drift else 0
    click.echo(f"wrote {result.written} ({_size(result.written.stat().st_size)}; {breached} feature(s) breached)",
               err=True)


class _NumberList(click.ParamType):
    """A comma-separated list of numbers, e.g. 100,100,50 or 0.25,0.5."""

    def __init__(self, kind: type):
        self.kind = kind
        self.name = f"{kind.__name__} list"

    def convert(self, value, param, ctx):
        if isinstance(value, (list, tuple)):
            return list(value)
        try:
            return [self.kind(v) for v in str(value).split(",") if v.strip()]
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of {self.kind.__name__} values", param, ctx)


def _fit_options(kind: str):
    """Options every trainer shares: TrainOptions' fields (their defaults, and the ``kind``'s batch size and
    learning rate) and what the command shows."""
    model = MODEL_OPTIONS[kind]
    options = [
        click.option("--out", required=True, type=click.Path(file_okay=False),
                     help="Folder for model.keras, history.csv, metrics.json and learning_curves.png."),
        click.option("--epochs", type=click.IntRange(min=1), default=_TRAIN["epochs"], show_default=True,
                     help="Most epochs to run (early stopping may end sooner)."),
        click.option("--batch-size", type=click.IntRange(min=1), default=None,
                     help=f"Records per training batch (default: {model.BATCH_SIZE})."),
        click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Initial learning rate, halved when the validation loss stalls (default: "
                          f"{model.LEARNING_RATE:g})."),
        click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=_TRAIN["optimizer"],
                     show_default=True, help="Optimizer."),
        click.option("--patience", type=click.IntRange(min=1), default=_TRAIN["patience"], show_default=True,
                     help="Early stopping: epochs without improvement before stopping (best weights kept)."),
        click.option("--min-delta", type=float, default=_TRAIN["min_delta"], show_default=True,
                     help="Early stopping: smallest change that counts as an improvement."),
        click.option("--seed", type=int, default=_TRAIN["seed"], show_default=True,
                     help="Seed for initialisation and shuffling: two runs give the same metrics."),
        click.option("--loop", type=click.Choice(LOOPS), default=_TRAIN["loop"], show_default=True,
                     help="Keras' fit, or the custom tf.GradientTape training step (same callbacks and outputs)."),
        click.option("--quiet", "-q", is_flag=True, help="No line per epoch."),
        click.option("--json", "as_json", is_flag=True, help="Print metrics.json when done."),
    ]

    def decorate(fn):
        for option in reversed(options):
            fn = option(fn)
        return fn
    return decorate


def _fit(kind: str, data: str, model: ModelOptions, options: dict) -> None:
    """Fit with the command's model options and the shared options, then show the result."""
    from .manifest import load_manifest
    from .train.preflight import check

    check(load_manifest(data).schema, model)  # before TensorFlow loads: a schema the model cannot use fails at once
    from .train import fit

    quiet, as_json, out = options.pop("quiet"), options.pop("as_json"), options.pop("out")
    result = fit(kind, data, out, model, TrainOptions(**options), FitRunOptions(verbose=not quiet and not as_json))
    click.echo(json.dumps(result.metrics, indent=2) if as_json else result.summary())


@main.group()
def train() -> None:
    """Fit models on converted folders (wide&deep regression, CNN classification, GRU/LSTM sequences)."""


@train.command("wide-deep")
@click.argument("data", type=_Location(file_okay=False))
@click.option("--variant", type=click.Choice(VARIANTS), default=_WIDE_DEEP["variant"],
              show_default=True, help="One input with the deep output concatenated to it; wide and deep "
              "inputs from the schema's groups; or the latter with an auxiliary output on the deep tower.")
@click.option("--hidden", type=_NumberList(int), default=",".join(map(str, _WIDE_DEEP["hidden"])),
              show_default=True, help="Units of the deep tower's hidden layers.")
@click.option("--activation", type=click.Choice(DENSE_ACTIVATIONS), default=_WIDE_DEEP["activation"],
              show_default=True, help="Activation of the hidden layers.")
@click.option("--dense", type=click.Choice(DENSES), default=_WIDE_DEEP["dense"], show_default=True,
              help="The hidden layers: keras.layers.Dense, or the tutorial code's hand-written Dense layer "
                   "(same outputs).")
@click.option("--loss", type=click.Choice(LOSSES), default=_TRAIN["loss"],
              show_default=True, help="Loss; redef_mse is the seed's hand-written mean squared error.")
@click.option("--task", type=click.Choice(TASKS), default=None,
              help="Default: classification for a string label with a vocabulary or an int64 label with few "
                   "distinct values, regression for other numbers.")
@click.option("--class-weights", is_flag=True, help="Classification: weigh each class by the inverse of its "
              "training frequency.")
@click.option("--include", multiple=True, metavar="FEATURE", help="Use a feature the schema's groups leave out "
              "(repeatable).")
@click.option("--exclude", multiple=True, metavar="FEATURE", help="Leave a feature out of the inputs (repeatable).")
@_fit_options("wide-deep")
def train_wide_deep(data, variant, hidden, activation, dense, loss, task, class_weights, include, exclude, **options):
    """Fit a wide&deep regression or classification model on DATA (a converted folder with train/valid/test
    splits). Features a dense model cannot use (free text, ids, images) are left out, with one line saying so."""
    _fit("wide-deep", data, WideDeepOptions(activation=activation, variant=variant, hidden=tuple(hidden), task=task,
                                            include=include, exclude=exclude, class_weights=class_weights,
                                            dense=dense),
         {**options, "loss": loss})


@train.command("cnn")
@click.argument("data", type=_Location(file_okay=False))
@click.option("--separable", is_flag=True, help="SeparableConv2D instead of Conv2D.")
@click.option("--dropout", type=_NumberList(float), default=",".join(map(str, _CNN["dropout"])), show_default=True,
              help="Dropout after the conv stack and before the softmax head.")
@click.option("--filters", type=click.IntRange(min=1), default=_CNN["filters"], show_default=True,
              help="Filters of the first block (doubling per block).")
@click.option("--blocks", type=click.IntRange(min=1), default=None,
              help="Conv blocks (default: as many as leave at least 2x2 pixels, at most 3).")
@click.option("--activation", type=click.Choice(CNN_ACTIVATIONS), default=_CNN["activation"], show_default=True,
              help="Activation after batch normalisation.")
@click.option("--augment", is_flag=True, help="Random shifts of up to one pixel and small rotations while fitting.")
@_fit_options("cnn")
def train_cnn(data, separable, dropout, filters, blocks, activation, augment, **options):
    """Fit a CNN classifier on DATA's image feature and its label (int64 class ids, or strings with a
    vocabulary)."""
    _fit("cnn", data, CNNOptions(activation=activation, separable=separable, dropout=tuple(dropout), filters=filters,
                                 blocks=blocks, augment=augment), options)


@train.command("rnn")
@click.argument("data", type=_Location(file_okay=False))
@click.option("--cell", type=click.Choice(CELLS), default=_RNN["cell"], show_default=True,
              help="Recurrent layer type.")
@click.option("--units", type=click.IntRange(min=1), default=_RNN["units"], show_default=True,
              help="Units per layer.")
@click.option("--layers", type=click.IntRange(min=1), default=_RNN["layers"], show_default=True,
              help="Recurrent layers.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=_RNN["dropout"], show_default=True,
              help="Dropout on each recurrent layer's inputs.")
@click.option("--window", type=click.IntRange(min=2), default=None,
              help="Next step: train on overlapping windows of this many steps (many more updates per epoch "
                   "than whole sequences); evaluation always uses whole sequences.")
@_fit_options("rnn")
def train_rnn(data, cell, units, layers, dropout, window, **options):
    """Fit a GRU/LSTM on DATA's sequence feature: next-step prediction when the schema has no label (int
    steps as classes), else one label per sequence. Reports accuracy next to repeating the previous step."""
    _fit("rnn", data, RNNOptions(cell=cell, units=units, layers=layers, dropout=dropout, window=window), options)


@main.command("tune")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("data", type=_Location(file_okay=False))
@click.option("--search", type=click.Choice(SEARCHES), default=_SEARCH["search"],
              show_default=True, help="Every combination; random draws; NSGA-II evolution; TPE (model-based).")
@click.option("--param", "params", multiple=True, required=True, metavar="NAME=SPEC",
              help="A searched option: NAME=V1,V2,... or NAME=LOW..HIGH[:log] (repeatable), e.g. "
                   "learning_rate=1e-4..1e-1:log, hidden_layers=1,2,3, units=5,25,45, dropout=0..0.5.")
@click.option("--set", "fixed", multiple=True, metavar="NAME=VALUE",
              help="A fixed option for every trial, e.g. variant=concat (repeatable).")
@click.option("--trials", type=click.IntRange(min=1), default=None,
              help="Finished trials wanted (default: the whole grid, else 20); a re-run resumes up to it.")
@click.option("--population", type=click.IntRange(min=2), default=_SEARCH["population"], show_default=True,
              help="Population size of the genetic search.")
@click.option("--epochs", type=click.IntRange(min=1), default=_SEARCH["epochs"], show_default=True,
              help="Most epochs per trial (early stopping on the validation loss).")
@click.option("--patience", type=click.IntRange(min=1), default=_SEARCH["patience"], show_default=True,
              help="Early stopping patience of each trial.")
@click.option("--jobs", type=click.IntRange(min=1), default=_SEARCH["jobs"], show_default=True,
              help="Trials run at once, in separate processes (at most the number of cores).")
@click.option("--prune", is_flag=True,
              help="Stop trials whose validation score after an epoch is worse than the median of earlier trials "
                   "at that epoch.")
@click.option("--seed", type=int, default=_SEARCH["seed"], show_default=True,
              help="Seed of the sampler and of every fit.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Study folder: study.db, trials.csv, best.json, tuning.png, best/ (the refitted best model).")
@click.option("--quiet", "-q", is_flag=True, help="No line per trial.")
def tune(kind, data, search, params, fixed, trials, population, epochs, patience, jobs, prune, seed, out, quiet):
    """Search hyper-parameters of a trainer on DATA, scored on its valid split; the best is refitted and
    evaluated on test. Re-running the same command resumes the study."""
    from .train.tuning import parse_param
    from .train.tuning import tune as run_tune

    fixed_values = {}
    for item in fixed:
        p = parse_param(item)
        if p.choices is None or len(p.choices) != 1:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint="--set")
        fixed_values[p.name] = p.choices[0]
    options = SearchOptions(search=search, trials=trials, population=population, epochs=epochs, patience=patience,
                            jobs=jobs, seed=seed, prune=prune)
    result = run_tune(kind, data, out, list(params), options, fixed=fixed_values, verbose=not quiet)
    click.echo(result.summary())


if __name__ == "__main__":  # pragma: no cover
    main()
