"""``python -m dataprep``: the same command line as the ``dataprep`` script."""
from .cli import main

main(prog_name="dataprep")
