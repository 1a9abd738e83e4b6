"""Never destroy or clobber what is not ours: --overwrite, --quarantine, outputs inside input folders, two runs
into one --out, --resume on a changed input, Ctrl-C."""
from __future__ import annotations

import csv
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import dataprep
from dataprep.cli import main
from dataprep.errors import Interrupted, UsageError
from tests.conftest import PENGUINS, PENGUINS_SCHEMA

SCHEMA = {"features": [{"name": "id", "dtype": "int64", "shape": []},
                       {"name": "s", "dtype": "string", "shape": []}]}


def table(tmp_path: Path, n: int = 10, bad: int = 0, name: str = "in.csv") -> Path:
    """A CSV of ``n`` rows whose last ``bad`` ids are not integers."""
    path = tmp_path / name
    path.write_text("id,s\n" + "".join(f"{'x' if i >= n - bad else i},t{i}\n" for i in range(n)))
    return path


def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    if not path.exists():
        dataprep.Schema.from_dict(SCHEMA).save(path)
    return path


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(*args: str):
    return CliRunner().invoke(main, ["convert", *map(str, args)])


def one_line_error(result, code: int, *fragments: str) -> str:
    message = result.output.strip()
    assert result.exit_code == code, result.output
    assert message.startswith("Error: ") and "\n" not in message and "Traceback" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- --overwrite replaces only a dataprep output that holds no input ------------------------------------------
def test_overwrite_refuses_a_folder_with_the_input_and_keeps_it(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    src = table(folder)
    before = src.read_bytes()
    r = cli(src, "--schema", schema_file(tmp_path), "--out", folder, "--overwrite")
    one_line_error(r, 2, "holds an input", "in.csv")
    assert src.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["d", "s.yaml"]


def test_overwrite_refuses_a_folder_that_is_not_a_dataprep_output(tmp_path):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.tex").write_text("years of work")
    r = cli(table(tmp_path), "--schema", schema_file(tmp_path), "--out", folder, "--overwrite")
    one_line_error(r, 2, "holds files that are not a dataprep output")
    assert (folder / "chapter1.tex").read_text() == "years of work"
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "s.yaml", "thesis"]  # no work folder was made


def test_overwrite_refuses_our_output_with_foreign_files_added(tmp_path):
    out = tmp_path / "o"
    dataprep.convert(table(tmp_path), SCHEMA, out, stats=True)
    (out / "notes.txt").write_text("mine")
    (out / "index" / "extra.bin").write_bytes(b"mine too")
    before = files(out)
    with pytest.raises(UsageError, match=r"also files that are not part of it \(index/extra.bin, notes.txt\)"):
        dataprep.convert(table(tmp_path), SCHEMA, out, overwrite=True)
    assert files(out) == before


def test_overwrite_refuses_a_folder_whose_manifest_is_not_ours(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"name": "some other tool"}))
    with pytest.raises(UsageError, match="not a dataprep output"):
        dataprep.convert(table(tmp_path), SCHEMA, out, overwrite=True)
    assert (out / "manifest.json").exists()


def test_overwrite_replaces_our_own_output_with_stats(tmp_path):
    out = tmp_path / "o"
    dataprep.convert(table(tmp_path, 10), SCHEMA, out, stats=True)
    dataprep.convert(table(tmp_path, 20), SCHEMA, out, stats=True, overwrite=True)
    assert json.loads((out / "manifest.json").read_text())["rows"]["written"] == 20
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "o"]


def test_out_that_is_or_holds_an_input_is_refused(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    table(folder)
    for out in (folder, tmp_path):
        with pytest.raises(UsageError, match="holds an input"):
            dataprep.convert(folder, SCHEMA, out)
        with pytest.raises(UsageError, match="holds an input"):
            dataprep.convert(folder / "in.csv", SCHEMA, out, overwrite=True)


def test_out_dot_is_refused_before_any_work(tmp_path, monkeypatch):
    work = tmp_path / "w"
    work.mkdir()
    src = table(tmp_path)
    monkeypatch.chdir(work)
    one_line_error(cli(src, "--schema", schema_file(tmp_path), "--out", "."), 2, "current folder")
    one_line_error(cli(src, "--schema", schema_file(tmp_path), "--out", "..", "--overwrite"), 2, "current folder")
    assert os.listdir(work) == [] and sorted(os.listdir(tmp_path)) == ["in.csv", "s.yaml", "w"]


def test_out_that_is_a_file_or_under_a_file_is_refused(tmp_path):
    src = table(tmp_path)
    one_line_error(cli(src, "--schema", schema_file(tmp_path), "--out", tmp_path / "s.yaml" / "o"), 2,
                   "s.yaml is not a folder")
    with pytest.raises(UsageError, match="exists and is not a folder"):
        dataprep.convert(src, SCHEMA, tmp_path / "s.yaml")


def test_read_only_output_parent_is_one_line_before_work(tmp_path, monkeypatch):
    # The tests may run as root, for whom no folder is read-only: the permission check itself is what we test.
    monkeypatch.setattr("dataprep.outputs.os.access", lambda path, mode: Path(path) != tmp_path / "ro")
    (tmp_path / "ro").mkdir()
    r = cli(table(tmp_path), "--schema", schema_file(tmp_path), "--out", tmp_path / "ro" / "new" / "o")
    one_line_error(r, 2, "cannot create files in", "ro (permission denied)")
    assert os.listdir(tmp_path / "ro") == []


def test_a_run_that_finds_foreign_files_at_commit_keeps_them(tmp_path, monkeypatch):
    """Files that appear in ``out`` while the run works are not deleted by the final swap."""
    out = tmp_path / "o"
    dataprep.convert(table(tmp_path), SCHEMA, out)
    convert_module = importlib.import_module("dataprep.convert")  # the package's ``convert`` is the function
    real = convert_module.write_manifest

    def meanwhile(folder, data):
        (out / "added-meanwhile.txt").write_text("mine")
        real(folder, data)

    monkeypatch.setattr(convert_module, "write_manifest", meanwhile)
    with pytest.raises(UsageError, match="added-meanwhile.txt"):
        dataprep.convert(table(tmp_path), SCHEMA, out, overwrite=True)
    assert (out / "added-meanwhile.txt").read_text() == "mine" and (out / "manifest.json").exists()
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "o"]


# --- --quarantine never replaces an input or a file we did not write ------------------------------------------
def test_quarantine_onto_the_input_is_refused(tmp_path):
    victim = table(tmp_path, 10, bad=3, name="victim.csv")
    before = victim.read_bytes()
    r = cli(victim, "--schema", schema_file(tmp_path), "--out", tmp_path / "o", "--on-error", "quarantine",
            "--quarantine", victim, "--overwrite")
    one_line_error(r, 2, "--quarantine", "victim.csv is an input")
    assert victim.read_bytes() == before and not (tmp_path / "o").exists()


def test_quarantine_onto_a_foreign_file_is_refused_even_with_overwrite(tmp_path):
    other = tmp_path / "report.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="not a dataprep quarantine file"):
        dataprep.convert(table(tmp_path, bad=2), SCHEMA, tmp_path / "o", on_error="quarantine",
                         quarantine=other, overwrite=True)
    assert other.read_text() == "a,b\n1,2\n" and not (tmp_path / "o").exists()


def test_our_quarantine_is_replaced_only_with_overwrite(tmp_path):
    src, out, q = table(tmp_path, 10, bad=2), tmp_path / "o", tmp_path / "o.quarantine.csv"
    dataprep.convert(src, SCHEMA, out, on_error="quarantine")
    assert len(list(csv.DictReader(q.open()))) == 2
    shutil.rmtree(out)
    with pytest.raises(UsageError, match="o.quarantine.csv exists .*pass --overwrite"):
        dataprep.convert(table(tmp_path, 10, bad=3), SCHEMA, out, on_error="quarantine")
    dataprep.convert(table(tmp_path, 10, bad=3), SCHEMA, out, on_error="quarantine", overwrite=True)
    assert len(list(csv.DictReader(q.open()))) == 3
    assert json.loads((out / "manifest.json").read_text())["rows"]["quarantine"] == str(q)
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "o", "o.quarantine.csv"]  # no staging file left


def test_quarantine_inside_out_is_refused_up_front(tmp_path):
    out = tmp_path / "o"
    dataprep.convert(table(tmp_path), SCHEMA, out)
    before = files(out)
    with pytest.raises(UsageError, match="lies inside the output folder"):
        dataprep.convert(table(tmp_path, bad=2), SCHEMA, out, on_error="quarantine",
                         quarantine=out / "bad.csv", overwrite=True)
    with pytest.raises(UsageError, match="lies inside the output folder"):
        dataprep.convert(table(tmp_path, bad=2), SCHEMA, tmp_path / "new", on_error="quarantine",
                         quarantine=tmp_path / "new")
    assert files(out) == before and sorted(os.listdir(tmp_path)) == ["in.csv", "o"]


def test_manifest_never_names_a_missing_quarantine(tmp_path):
    """A rerun that quarantines nothing removes the earlier run's file (ours) and names none."""
    out, q = tmp_path / "o", tmp_path / "o.quarantine.csv"
    dataprep.convert(table(tmp_path, 10, bad=2), SCHEMA, out, on_error="quarantine")
    assert q.exists()
    dataprep.convert(table(tmp_path, 10), SCHEMA, out, on_error="quarantine", overwrite=True)
    assert "quarantine" not in json.loads((out / "manifest.json").read_text())["rows"] and not q.exists()
    dataprep.convert(table(tmp_path, 10, bad=2), SCHEMA, tmp_path / "skipped", on_error="skip",
                     quarantine=tmp_path / "q.csv")  # a quarantine file given without the quarantine policy
    assert "quarantine" not in json.loads((tmp_path / "skipped" / "manifest.json").read_text())["rows"]
    assert not (tmp_path / "q.csv").exists()


def test_a_failed_run_leaves_the_earlier_quarantine_as_it_was(tmp_path):
    out, q = tmp_path / "o", tmp_path / "o.quarantine.csv"
    dataprep.convert(table(tmp_path, 10, bad=2), SCHEMA, out, on_error="quarantine")
    before = q.read_bytes()
    with pytest.raises(dataprep.DataError, match="exceed --max-errors 3"):
        dataprep.convert(table(tmp_path, 10, bad=5), SCHEMA, out, on_error="quarantine", max_errors=3,
                         overwrite=True)
    assert q.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["in.csv", "o", "o.quarantine.csv"]


# --- an output inside an input folder is never read back as input ---------------------------------------------
@pytest.mark.parametrize("as_glob", [False, True])
def test_reruns_into_the_input_folder_read_the_same_rows(tmp_path, as_glob):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(PENGUINS, folder / "penguins.csv")
    source = str(folder / "**" / "*.csv") if as_glob else folder
    counts = []
    for _ in range(3):
        s = dataprep.convert(source, PENGUINS_SCHEMA, folder / "out", on_error="quarantine", overwrite=True,
                             format="csv")
        counts.append((s.rows_read, s.rows_written, s.rows_set_aside))
    assert counts == [(344, 342, 2)] * 3
    assert sorted(os.listdir(folder)) == ["out", "out.quarantine.csv", "penguins.csv"]


def test_work_folders_are_not_read_as_input(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    src = table(folder, 10)
    stale = folder / ".old.partial"  # a killed run's work folder: run.json and a shard
    stale.mkdir()
    (stale / "run.json").write_text("null")
    shutil.copy(src, stale / "train-00000-of-00001.csv")
    assert dataprep.convert(folder, SCHEMA, tmp_path / "o").rows_read == 10


# --- two conversions into one --out ---------------------------------------------------------------------------
# A real conversion process that, after its first shard, holds still until a file appears (or Ctrl-C comes):
# deterministic, however fast the machine.
HELD = """
import sys, time
from pathlib import Path
import dataprep.workdir as w
release, record = Path(sys.argv.pop(1)), w.WorkFolder.record
def held(self, result):
    record(self, result)
    while not release.exists():
        time.sleep(0.01)
w.WorkFolder.record = held
from dataprep.cli import main
main()
"""


def _convert_args(src: Path, schema: Path, out: Path, *extra: str) -> list[str]:
    return ["convert", str(src), "--schema", str(schema), "--out", str(out), "--num-shards", "4", "--workers", "1",
            "--quiet", *extra]


def _start_held(tmp_path: Path, out: Path) -> subprocess.Popen:
    """Start a held conversion of a 1,000-row table and wait until it has written its first shard."""
    args = _convert_args(table(tmp_path, 1000), schema_file(tmp_path), out)
    proc = subprocess.Popen([sys.executable, "-c", HELD, str(tmp_path / "release"), *args], stderr=subprocess.PIPE,
                            text=True)
    journal, end = tmp_path / f".{out.name}.partial" / "journal.jsonl", time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < end and not (journal.exists() and journal.read_text()):
        time.sleep(0.01)
    assert proc.poll() is None, proc.stderr.read()
    return proc


def test_a_second_conversion_into_the_same_out_fails_at_once(tmp_path):
    out = tmp_path / "o"
    first = _start_held(tmp_path, out)
    second = subprocess.run([sys.executable, "-m", "dataprep.cli",
                             *_convert_args(tmp_path / "in.csv", tmp_path / "s.yaml", out, "--overwrite")],
                            capture_output=True, text=True, timeout=120)
    message = second.stderr.strip()
    assert second.returncode == 2 and "\n" not in message, message
    assert f"another conversion into {out} is running (pid {first.pid}, started " in message
    assert first.poll() is None  # it did not wait for the first run to end
    (tmp_path / "release").touch()
    assert first.wait(timeout=120) == 0, first.stderr.read()
    assert json.loads((out / "manifest.json").read_text())["rows"]["written"] == 1000  # undisturbed
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "o", "release", "s.yaml"]


def test_ctrl_c_in_the_cli_exits_130_and_says_how_to_continue(tmp_path):
    out = tmp_path / "o"
    proc = _start_held(tmp_path, out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    message = err.strip()
    assert proc.returncode == 130, err
    assert "\n" not in message and "Traceback" not in message, message
    assert f"the work folder {tmp_path / '.o.partial'} keeps 1 shard(s); rerun the same command with --resume" \
        in message
    done = subprocess.run([sys.executable, "-m", "dataprep.cli",
                           *_convert_args(tmp_path / "in.csv", tmp_path / "s.yaml", out, "--resume")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    dataprep.convert(tmp_path / "in.csv", tmp_path / "s.yaml", tmp_path / "clean", num_shards=4)
    assert files(out) == files(tmp_path / "clean")


# --- --resume refuses a changed input, even with its size and mtime restored ----------------------------------
def _interrupt_after_first_shard(monkeypatch):
    from dataprep import workdir

    real = workdir.WorkFolder.record

    def record(self, result):
        real(self, result)
        raise KeyboardInterrupt

    monkeypatch.setattr(workdir.WorkFolder, "record", record)


def test_ctrl_c_raises_interrupted_with_the_work_folder_and_resume_continues(tmp_path, monkeypatch):
    src, out = table(tmp_path, 200), tmp_path / "o"
    dataprep.convert(src, SCHEMA, tmp_path / "clean", num_shards=4, workers=1)
    with monkeypatch.context() as m:
        _interrupt_after_first_shard(m)
        with pytest.raises(Interrupted) as e:
            dataprep.convert(src, SCHEMA, out, num_shards=4, workers=1)
    assert e.value.exit_code == 130 and "\n" not in str(e.value)
    assert f"the work folder {tmp_path / '.o.partial'} keeps 1 shard(s)" in str(e.value)
    assert "rerun the same command with --resume" in str(e.value)
    assert not out.exists() and (tmp_path / ".o.partial" / "journal.jsonl").read_text().count("\n") == 1
    dataprep.convert(src, SCHEMA, out, num_shards=4, workers=1, resume=True)
    assert files(out) == files(tmp_path / "clean")


def test_resume_refuses_an_input_changed_with_size_and_mtime_restored(tmp_path, monkeypatch):
    src, out = table(tmp_path, 200), tmp_path / "o"
    with monkeypatch.context() as m:
        _interrupt_after_first_shard(m)
        with pytest.raises(Interrupted):
            dataprep.convert(src, SCHEMA, out, num_shards=4, workers=1, shuffle=False)
    stat = src.stat()
    src.write_text(src.read_text().replace(",t", ",u"))  # same size
    os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (src.stat().st_size, src.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    with pytest.raises(UsageError, match=rf"cannot resume {out}: the input {src.resolve()} changed \(its size or "
                                         r"SHA-256 differs\) since the interrupted run; rerun without --resume"):
        dataprep.convert(src, SCHEMA, out, num_shards=4, workers=1, shuffle=False, resume=True)
    assert (tmp_path / ".o.partial" / "run.json").exists()  # the refused resume left the work folder as it was
    dataprep.convert(src, SCHEMA, out, num_shards=4, workers=1, shuffle=False)
    dataprep.convert(src, SCHEMA, tmp_path / "fresh", num_shards=4, workers=1, shuffle=False)
    assert files(out) == files(tmp_path / "fresh")  # no shard of the old input was kept


# --- train --out / tune --out replace only their own earlier results -----------------------------------------
def test_train_and_tune_refuse_to_clobber_files_they_did_not_write(tmp_path):
    pytest.importorskip("tensorflow")
    from dataprep.train import fit, tune

    data, mine = tmp_path / "data", tmp_path / "mine"
    data.mkdir()
    mine.mkdir()
    (mine / "history.csv").write_text("my,own\n")
    (mine / "trials.csv").write_text("my,own\n")
    with pytest.raises(UsageError, match="holds history.csv but is not an earlier `dataprep train` result"):
        fit("wide-deep", data, mine)
    with pytest.raises(UsageError, match="holds trials.csv but is not an earlier `dataprep tune` result"):
        tune("wide-deep", data, mine, ["learning_rate=0.1,0.01"])
    for out in (data, data / "model", tmp_path):
        with pytest.raises(UsageError, match="data folder"):
            fit("wide-deep", data, out)
    assert (mine / "history.csv").read_text() == "my,own\n" and sorted(os.listdir(data)) == []


# --- files the other commands write: never an input, never a file of another kind ---------------------------
def test_command_outputs_never_replace_an_input_or_a_foreign_file(tmp_path):
    from click.testing import CliRunner

    from dataprep.cli import main

    src = tmp_path / "data.csv"
    src.write_text("a,b\n1,x\n2,y\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    runner = CliRunner()
    cases = [(["schema", "infer", str(src), "-o", str(src)], "is an input of this command"),
             (["schema", "infer", str(src), "-o", str(notes)], "is not a schema file dataprep wrote"),
             (["stats", str(src), "-o", str(src)], "is an input of this command"),
             (["stats", str(src), "-o", str(notes)], "is not a stats.json dataprep wrote"),
             (["stats", str(src), "--plot", str(notes)], "is not a PNG picture dataprep wrote")]
    for args, message in cases:
        result = runner.invoke(main, args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    assert src.read_text() == "a,b\n1,x\n2,y\n" and notes.read_text() == "mine\n"
    schema, stats, plot = tmp_path / "s.yaml", tmp_path / "s.json", tmp_path / "p.png"
    for _ in range(2):  # what a command wrote, it may write again
        assert runner.invoke(main, ["schema", "infer", str(src), "-o", str(schema)]).exit_code == 0
        assert runner.invoke(main, ["stats", str(src), "-o", str(stats), "--plot", str(plot)]).exit_code == 0
