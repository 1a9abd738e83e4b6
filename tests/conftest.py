"""What the test modules share: the repository's paths (found from this file, never from the working directory),
the optional shared data folder beside the repository with one skip rule, and the common fixtures.

Helpers that build data live in plain modules beside this one (``tables.py``, ``framing.py``, ``tf_oracle.py``),
never in a test module, so no test module imports another.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data"
SCHEMAS = ROOT / "schemas"
PENGUINS = SAMPLE_DATA / "penguins.csv"
PENGUINS_SCHEMA = SCHEMAS / "penguins.yaml"
DIGITS = SAMPLE_DATA / "digits.npz"
DIGITS_SCHEMA = SCHEMAS / "digits.yaml"
SHARED_DATA = ROOT.parent / "shared" / "data"  # large real data sets, present on the maintainers' machines only


def shared(name: str) -> Path:
    """A file of the shared data folder (``../shared/data`` beside the repository); it may be absent."""
    return SHARED_DATA / name


def needs_shared(name: str) -> pytest.MarkDecorator:
    """Skip a test (or, as ``pytestmark``, a module) when the shared data file ``name`` is absent."""
    path = shared(name)
    return pytest.mark.skipif(not path.exists(), reason=f"{path} is absent (the shared data folder ../shared/data "
                                                        "beside the repository is not on this machine)")


def subprocess_env() -> dict[str, str]:
    """The environment for a child interpreter that must import this checkout's ``dataprep``."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def run_cli(*args: str, env: dict[str, str] | None = None, prelude: str = "",
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real entry point in a fresh interpreter in the repository root (``prelude`` runs first, e.g. to hide
    a package): what a user's shell sees, with none of CliRunner's catching of exceptions and exits."""
    code = f"{prelude}\nfrom dataprep.cli import main\nmain(prog_name='dataprep')"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
