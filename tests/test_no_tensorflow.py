"""Conversion never imports TensorFlow: it runs where TensorFlow is unwanted (Spark/Beam workers, PyTorch)."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import sys
from click.testing import CliRunner
import dataprep
from dataprep.cli import main
out = sys.argv[1]
r = CliRunner().invoke(main, ["convert", "{root}/sample_data/penguins.csv", "--schema", "{root}/schemas/penguins.yaml",
                              "--out", out + "/tfr", "--split", "train=0.8,test=0.2", "--on-error", "skip",
                              "--compression", "gzip", "--stats"])
assert r.exit_code == 0, r.output
r = CliRunner().invoke(main, ["stats", out + "/tfr", "--json"])
assert r.exit_code == 0, r.output
r = CliRunner().invoke(main, ["convert", "{root}/sample_data/digits.npz", "--schema", "{root}/schemas/digits.yaml",
                              "--out", out + "/csv", "--format", "csv"])
assert r.exit_code == 0, r.output
r = CliRunner().invoke(main, ["schema", "infer", "{root}/sample_data/penguins.csv", "--label", "body_mass_g"])
assert r.exit_code == 0, r.output
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
print("LOADED", loaded)
"""


def test_convert_stats_and_infer_never_import_tensorflow(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(root=ROOT), str(tmp_path)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "LOADED []" in out.stdout, (out.stdout[-2000:], out.stderr[-2000:])
