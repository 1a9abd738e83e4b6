"""The CLI is the one error boundary: every failure a user can cause is one line on stderr with the exit code of
its kind (the rule in ``dataprep --help``), in every command; ``--debug`` shows the traceback instead."""
from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dataprep
from dataprep.cli import main
from dataprep.errors import DataprepError
from tests.conftest import PENGUINS, PENGUINS_SCHEMA, run_cli

TF_START_UP = re.compile(r"absl::InitializeLog|cpu_feature_guard|oneDNN|TensorFlow binary|^[IWE]\d{4} ", re.M)


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    """A small converted folder (the library converts without TensorFlow)."""
    out = tmp_path_factory.mktemp("cli") / "penguins"
    dataprep.convert(PENGUINS, PENGUINS_SCHEMA, out, on_error="skip", split="train=0.8,valid=0.1,test=0.1")
    return out


def assert_one_line(r, code: int, *fragments: str) -> str:
    """``r`` (a CliRunner result) failed with ``code``: one ``Error:`` line on stderr, no traceback."""
    assert isinstance(r.exception, SystemExit), repr(r.exception)  # an escaped exception is stored instead
    assert r.exit_code == code, r.output
    lines = r.stderr.splitlines()
    assert lines and lines[-1].startswith("Error: ") and "Traceback" not in r.output, r.output
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]
    return lines[-1]


# --- 1. one boundary for every kind of failure -------------------------------------------------------------------
class _Interrupted(DataprepError):
    exit_code = 130  # like the library's own Interrupted: the boundary takes the code from the error


def _op_error():
    import tensorflow as tf

    return tf.errors.DataLossError(None, None, "{{function_node __wrapped__IteratorGetNext_output_types_1_device_"
                                   "/job:localhost/replica:0/task:0/device:CPU:0}} corrupted record at 0 (Is this "
                                   "even a TFRecord file?) [Op:IteratorGetNext] name: ")


FAILURES = {  # what the library lets escape -> exit code and the one line
    "read-only": (lambda: OSError(errno.EROFS, "Read-only file system", "/ro/.out.partial"), 2,
                  "Error: /ro/.out.partial: Read-only file system"),
    "permission": (lambda: PermissionError(errno.EACCES, "Permission denied", "/data/out"), 2,
                   "Error: /data/out: Permission denied"),
    "not-found": (lambda: FileNotFoundError(errno.ENOENT, "No such file or directory", "missing/x.yaml"), 2,
                  "Error: missing/x.yaml: No such file or directory"),
    "is-a-directory": (lambda: IsADirectoryError(errno.EISDIR, "Is a directory", "plot.png"), 2,
                       "Error: plot.png: Is a directory"),
    "disk-full": (lambda: OSError(errno.ENOSPC, "No space left on device", "out/train-00000.tfrecord"), 1,
                  "Error: out/train-00000.tfrecord: No space left on device"),
    "memory": (MemoryError, 1, "Error: out of memory"),
    "ctrl-c": (KeyboardInterrupt, 130, "Error: interrupted"),
    "own-exit-code": (lambda: _Interrupted("stopped; rerun with --resume"), 130,
                      "Error: stopped; rerun with --resume"),
    "missing-extra": (lambda: ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib"), 2,
                      "Error: this command needs matplotlib, which is not installed: pip install 'dataprep[tf]'"),
    "not-utf8": (lambda: UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), 1,
                 "Error: not UTF-8 text: invalid start byte (byte b'\\xff' at offset 0)"),
    "tf-op-error": (_op_error, 1, "Error: corrupted record at 0 (Is this even a TFRecord file?)"),
}


@pytest.mark.parametrize("make, code, line", FAILURES.values(), ids=list(FAILURES))
@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_failures_become_one_line_or_a_traceback_with_debug(runner, monkeypatch, make, code, line, debug):
    def fail(*args, **kwargs):
        raise make()

    monkeypatch.setattr("dataprep.feature_stats.source_stats", fail)
    r = runner.invoke(main, ["--debug"] * debug + ["stats", str(PENGUINS)])
    assert isinstance(r.exception, SystemExit) and r.exit_code == code, (r.exception, r.output)
    if debug:
        assert r.stderr.startswith("Traceback (most recent call last):\n") and "\nError: " not in r.stderr
        assert "in fail\n" in r.stderr
    else:
        assert r.stderr == line + "\n"


def test_a_bug_is_not_hidden(runner, monkeypatch):
    """An exception no user can cause (a bug) keeps its traceback: the boundary does not swallow it."""
    def fail(*args, **kwargs):
        raise ValueError("bug")

    monkeypatch.setattr("dataprep.feature_stats.source_stats", fail)
    r = runner.invoke(main, ["stats", str(PENGUINS)])
    assert isinstance(r.exception, ValueError) and "Error:" not in r.output


# --- 2. the tracebacks the issue lists ---------------------------------------------------------------------------
def test_schema_infer_into_a_missing_folder(runner, tmp_path):
    r = runner.invoke(main, ["schema", "infer", str(PENGUINS), "-o", str(tmp_path / "missing_dir/x.yaml")])
    assert_one_line(r, 2, "'-o' / '--output'", f"folder '{tmp_path / 'missing_dir'}' does not exist")
    assert not (tmp_path / "missing_dir").exists()


@pytest.mark.parametrize("option", ["--plot", "-o"])
def test_stats_outputs_into_a_missing_folder_fail_before_the_work(runner, tmp_path, option):
    r = runner.invoke(main, ["stats", str(PENGUINS), option, str(tmp_path / "nope/s.png")])
    assert_one_line(r, 2, f"folder '{tmp_path / 'nope'}' does not exist")


def test_inspect_a_damaged_bare_tfrecord_is_one_line(runner, tmp_path):
    """TensorFlow's DataLossError becomes one line without its graph-function and op names."""
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(PENGUINS.read_bytes()[:100])
    r = runner.invoke(main, ["inspect", str(bad)])
    line = assert_one_line(r, 1)
    assert "function_node" not in line and "[Op:" not in line


@pytest.mark.parametrize("command", ["inspect", "validate"])
def test_a_csv_is_not_a_converted_folder_or_a_tfrecord_file(runner, tmp_path, command):
    """Depends on the library side (framing/readers branch): the file is named, the kind of path said."""
    data = tmp_path / "data.csv"
    data.write_bytes(PENGUINS.read_bytes())
    r = runner.invoke(main, [command, str(data)])
    assert r.exit_code == 1 and "length CRC mismatch" not in r.output, r.output
    assert "not a converted folder or a TFRecord file" in r.output and "data.csv" in r.output, r.output
    assert "Traceback" not in r.output and not isinstance(r.exception, Exception)


def test_inspect_a_damaged_bare_tfrecord_names_the_file(runner, tmp_path):
    """Depends on the library side (framing/readers branch): the file is named in the one line."""
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(b"\x05" + bytes(40))
    assert_one_line(runner.invoke(main, ["inspect", str(bad)]), 1, str(bad))


def test_out_dot_is_refused_and_the_input_survives(runner, tmp_path, monkeypatch):
    """Depends on the output checks (outputs branch): refused up front as a usage mistake, nothing touched."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "penguins.csv").write_bytes(PENGUINS.read_bytes())
    r = runner.invoke(main, ["convert", "penguins.csv", "--schema", str(PENGUINS_SCHEMA), "--out", ".",
                             "--overwrite", "--on-error", "skip", "-q"])
    assert_one_line(r, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["penguins.csv"]
    assert (tmp_path / "penguins.csv").read_bytes() == PENGUINS.read_bytes()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_parent(runner, tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        r = runner.invoke(main, ["convert", str(PENGUINS), "--schema", str(PENGUINS_SCHEMA), "--out",
                                 str(parent / "out"), "--on-error", "skip", "-q"])
    finally:
        parent.chmod(0o755)
    assert_one_line(r, 2, str(parent))


BLOCK = "import sys\nfor name in {names!r}:\n    sys.modules[name] = None  # import raises ModuleNotFoundError"


@pytest.mark.parametrize("args, hidden, module", [
    (["validate", "{data}"], ("tensorflow", "keras"), "tensorflow"),
    (["inspect", "{data}"], ("tensorflow", "keras"), "tensorflow"),
    (["train", "wide-deep", "{data}", "--out", "{tmp}/m"], ("tensorflow", "keras"), "keras"),
    (["stats", "{data}", "--plot", "{tmp}/s.png"], ("matplotlib",), "matplotlib"),
], ids=["validate", "inspect", "train", "stats-plot"])
def test_a_missing_extra_names_what_to_install(converted, tmp_path, args, hidden, module):
    r = run_cli(*[a.format(data=converted, tmp=tmp_path) for a in args], prelude=BLOCK.format(names=hidden))
    assert r.returncode == 2, r.stderr
    assert r.stderr == f"Error: this command needs {module}, which is not installed: pip install 'dataprep[tf]'\n"


# --- 3. the same exit code for the same mistake in every command ------------------------------------------------
@pytest.fixture
def place(tmp_path) -> dict:
    """Paths the cases below name: an input CSV and schema, a folder, a damaged folder, a corrupt Parquet file."""
    (tmp_path / "in.csv").write_bytes(PENGUINS.read_bytes())
    (tmp_path / "s.yaml").write_bytes(PENGUINS_SCHEMA.read_bytes())
    (tmp_path / "bad.yaml").write_text("features:\n- {name: a, dtype: float99, shape: []}\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged/manifest.json").write_text("{not json")
    (tmp_path / "corrupt.parquet").write_bytes(bytes(range(256)) * 2)
    return {k: str(tmp_path / v) for k, v in [("csv", "in.csv"), ("schema", "s.yaml"), ("bad", "bad.yaml"),
                                               ("folder", "folder"), ("damaged", "damaged"), ("out", "out"),
                                               ("parquet", "corrupt.parquet"), ("nope", "nope.csv")]}


def _convert(src="{csv}", schema="{schema}", *extra):
    return ["convert", src, "--schema", schema, "--out", "{out}", *extra]


def _tune(data, *extra):
    return ["tune", "wide-deep", data, "--param", "units=5,10", "--out", "{out}", *extra]


MISSING = {  # a path that does not exist: exit 2, click's words
    "convert": _convert("{nope}"), "convert --schema": _convert(schema="{nope}"),
    "schema infer": ["schema", "infer", "{nope}"], "schema check": ["schema", "check", "{nope}"],
    "inspect": ["inspect", "{nope}"], "validate": ["validate", "{nope}"], "stats": ["stats", "{nope}"],
    **{f"train {k}": ["train", k, "{nope}", "--out", "{out}"] for k in ("wide-deep", "cnn", "rnn")},
    "tune": _tune("{nope}"),
}
UNREADABLE = {  # a path that exists but cannot be read: exit 2 (the path made unreadable is named second)
    "convert": (_convert(), "csv"), "convert --schema": (_convert(), "schema"),
    "schema infer": (["schema", "infer", "{csv}"], "csv"), "schema check": (["schema", "check", "{schema}"], "schema"),
    "inspect": (["inspect", "{folder}"], "folder"), "validate": (["validate", "{folder}"], "folder"),
    "stats": (["stats", "{csv}"], "csv"),
    **{f"train {k}": (["train", k, "{folder}", "--out", "{out}"], "folder") for k in ("wide-deep", "cnn", "rnn")},
    "tune": (_tune("{folder}"), "folder"),
}
BAD_VALUE = {  # an option value click refuses: exit 2
    "convert": _convert("{csv}", "{schema}", "--num-shards", "0"),
    "schema infer": ["schema", "infer", "{csv}", "--max-categories", "0"],
    "schema check": ["schema", "check", "{schema}", "--no-such-option"],
    "inspect": ["inspect", "{folder}", "--head", "-1"], "validate": ["validate", "{folder}", "--no-such-option"],
    "stats": ["stats", "{csv}", "--no-such-option"],
    **{f"train {k}": ["train", k, "{folder}", "--out", "{out}", "--epochs", "0"] for k in ("wide-deep", "cnn", "rnn")},
    "tune": _tune("{folder}", "--trials", "0"),
}
BAD_SCHEMA = {"convert": _convert(schema="{bad}"), "schema check": ["schema", "check", "{bad}"]}  # exit 2
DAMAGED = {  # the data cannot be read as it claims to be: exit 1
    "convert": _convert(), "schema infer": ["schema", "infer", "{parquet}"], "stats": ["stats", "{parquet}"],
    "inspect": ["inspect", "{damaged}"], "validate": ["validate", "{damaged}"],
    "stats folder": ["stats", "{damaged}"],
    **{f"train {k}": ["train", k, "{damaged}", "--out", "{out}"] for k in ("wide-deep", "cnn", "rnn")},
    "tune": _tune("{damaged}"),
}
CASES = [(f"{mistake}: {command}", args, code) for mistake, table, code in [
    ("missing", MISSING, 2), ("bad value", BAD_VALUE, 2), ("bad schema", BAD_SCHEMA, 2), ("damaged", DAMAGED, 1)]
    for command, args in table.items()]


@pytest.mark.parametrize("case, args, code", CASES, ids=[c[0] for c in CASES])
def test_the_same_mistake_has_the_same_exit_code_in_every_command(runner, place, case, args, code):
    r = runner.invoke(main, [a.format(**place) for a in args])
    line = assert_one_line(r, code)
    if case.startswith("missing"):
        assert re.search(r"(Path|File|Directory) '.*nope\.csv' does not exist\.$", line), line
    assert not Path(place["out"]).exists()


@pytest.mark.parametrize("args, target", UNREADABLE.values(), ids=list(UNREADABLE))
def test_an_unreadable_path_is_exit_2_in_every_command(runner, place, monkeypatch, args, target):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: os.fspath(p) != place[target] and
                        real_access(p, mode, **kw))  # as root, chmod cannot make a file unreadable
    line = assert_one_line(runner.invoke(main, [a.format(**place) for a in args]), 2)
    assert line.endswith(f"'{place[target]}' is not readable."), line


def test_help_states_the_exit_codes(runner):
    r = runner.invoke(main, ["--help"])
    assert r.exit_code == 0
    for code, meaning in (("0", "done"), ("1", "the data or the run failed"), ("2", "the command cannot run"),
                          ("130", "interrupted")):
        assert re.search(rf"^ +{code} +{meaning}", r.output, re.M), r.output
    assert "a path that does not exist" in r.output and "interrupted" in r.output


def test_workers_help_says_what_the_threads_do(runner):
    """--workers runs pass one's check-and-encode and pass two's shard writes (convert._run_local)."""
    r = runner.invoke(main, ["convert", "--help"])
    assert "Threads that check and encode batches, then write shards" in " ".join(r.output.split())


# --- 4. TensorFlow's start-up lines stay off the terminal -----------------------------------------------------
def test_validate_prints_no_tensorflow_start_up_lines(converted):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = subprocess.run([sys.executable, "-m", "dataprep", "validate", str(converted)], capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0 and "all records valid" in r.stdout, r.stderr
    assert not TF_START_UP.search(r.stderr) and r.stderr == "", r.stderr


@pytest.mark.parametrize("level, used", [(None, "3"), ("", "3"), ("1", "1")], ids=["unset", "empty", "user-set"])
def test_tensorflow_log_level_is_quiet_unless_the_user_set_one(level, used):
    """The CLI sets TF_CPP_MIN_LOG_LEVEL before any command imports TensorFlow; a level the user set wins."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    code = "import os, sys\nimport dataprep.cli\nprint(os.environ['TF_CPP_MIN_LOG_LEVEL'], 'tensorflow' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.stdout == f"{used} False\n", r.stderr


# --- 5. Ctrl-C -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A long conversion (2 million rows) interrupted with SIGINT while it encodes: (exit code, stderr, folder)."""
    folder = tmp_path_factory.mktemp("sigint")
    block = "".join(f"{i},{i * 0.5},{i % 7}\n" for i in range(100_000))
    with open(folder / "big.csv", "w") as fh:
        fh.write("a,b,c\n" + block * 20)
    (folder / "s.yaml").write_text("features:\n- {name: a, dtype: int64, shape: []}\n"
                                   "- {name: b, dtype: float32, shape: []}\n- {name: c, dtype: int64, shape: []}\n")
    spool = folder / ".out.partial/records.spool"
    proc = subprocess.Popen([sys.executable, "-m", "dataprep", "convert", str(folder / "big.csv"), "--schema",
                             str(folder / "s.yaml"), "--out", str(folder / "out"), "-q"], stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while proc.poll() is None and not (spool.exists() and spool.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the conversion ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr, folder


def test_ctrl_c_exits_130_with_one_line(interrupted):
    code, stderr, folder = interrupted
    assert code == 130, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("Error: ") and "Traceback" not in stderr, stderr
    assert (folder / ".out.partial").is_dir() and not (folder / "out").exists()


def test_ctrl_c_during_convert_says_how_to_continue(interrupted):
    """Depends on convert's Interrupted error (its own branch): the line names --resume."""
    code, stderr, _ = interrupted
    assert code == 130 and "--resume" in stderr, stderr
