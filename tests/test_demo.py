"""The demo ships in the package: ``dataprep demo`` copies its sample data and schemas into a folder (never over
a file that is not an identical copy), its commands are ``make demo``'s and run there as written, and the wheel
carries the data and the LICENSE."""
from __future__ import annotations

import importlib.util
import shlex
import shutil
import subprocess
import sys
import zipfile

import pytest
from click.testing import CliRunner

from dataprep import UsageError
from dataprep.cli import main
from dataprep.demo import COMMANDS, FILES, SCRIPT, write_demo
from tests.conftest import ROOT


def test_the_demo_folder_holds_the_repository_s_sample_data(tmp_path):
    folder = write_demo(tmp_path / "d")
    assert sorted(folder.written) == sorted([*FILES, SCRIPT]) and folder.kept == ()
    for name in FILES:
        assert (tmp_path / "d" / name).read_bytes() == (ROOT / name).read_bytes(), name
    again = write_demo(tmp_path / "d")  # a second run keeps its identical copies
    assert again.written == () and sorted(again.kept) == sorted([*FILES, SCRIPT])


def test_the_demo_never_replaces_a_file_that_is_not_its_copy(tmp_path):
    (tmp_path / "d" / "schemas").mkdir(parents=True)
    mine = tmp_path / "d" / "schemas" / "digits.yaml"
    mine.write_text("my own schema\n")
    (tmp_path / "d" / "notes.txt").write_text("other files may be there")
    with pytest.raises(UsageError, match="digits.yaml: exists and is not the demo's copy; nothing was written"):
        write_demo(tmp_path / "d")
    assert mine.read_text() == "my own schema\n" and sorted(p.name for p in (tmp_path / "d").rglob("*")) == [
        "digits.yaml", "notes.txt", "schemas"]
    (tmp_path / "f").write_text("a file")
    r = CliRunner().invoke(main, ["demo", str(tmp_path / "f")])
    assert r.exit_code == 2 and (tmp_path / "f").read_text() == "a file"


def test_make_demo_runs_the_demo_s_commands():
    recipe = (ROOT / "Makefile").read_text().split("\ndemo: install\n", 1)[1].split("\n\n", 1)[0]
    lines = [shlex.split(line.strip()) for line in recipe.replace("\\\n", " ").splitlines()]
    assert [tuple(words[1:]) for words in lines] == list(COMMANDS)
    assert all(words[0] == "$(BIN)/dataprep" for words in lines)


def test_the_demo_s_conversions_run_as_written_in_its_folder(tmp_path, monkeypatch):
    """`dataprep demo` (default folder ./dataprep-demo), then its conversion and validation commands run
    there as shown (the fits are the trainers' tests' business)."""
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["demo"])
    assert r.exit_code == 0, r.output
    shown = r.stdout.splitlines()
    assert shown[0] == "Run the demo: sh dataprep-demo/demo.sh, or these commands in dataprep-demo:"
    assert (tmp_path / "dataprep-demo" / SCRIPT).read_text().splitlines()[-len(COMMANDS):] == shown[1:]
    monkeypatch.chdir(tmp_path / "dataprep-demo")
    for line in shown[1:4]:
        words = shlex.split(line)
        assert words[0] == "dataprep" and words[1] in ("convert", "validate")
        r = CliRunner().invoke(main, [*words[1:], "--quiet"] if words[1] == "convert" else words[1:])
        assert r.exit_code == 0, (line, r.output)
    assert "all records valid" in r.output


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None, reason="building a wheel needs setuptools")
def test_the_wheel_carries_the_license_and_the_demo(tmp_path):
    """Built from a copy of the package's sources (a build writes build/ and *.egg-info beside them)."""
    source = tmp_path / "src"
    shutil.copytree(ROOT / "dataprep", source / "dataprep", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "wheel")], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "wheel").glob("dataprep-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        license_file = next(n for n in names if ".dist-info/" in n and n.endswith("/LICENSE"))  # licenses/ or not
        assert z.read(license_file) == (ROOT / "LICENSE").read_bytes()
        for name in FILES:
            assert z.read(f"dataprep/demo/{name}") == (ROOT / name).read_bytes(), name
    assert (ROOT / "LICENSE").read_text().split("\n")[1].strip() == "Apache License"
