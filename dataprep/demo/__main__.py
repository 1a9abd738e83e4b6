"""``python -m dataprep.demo [FOLDER] [--run]``: the same as ``dataprep demo``."""
import sys

from ..cli import main

main(["demo", *sys.argv[1:]], prog_name="python -m dataprep.demo")
