"""Beam's --setup_file (Dataflow workers install dataprep from it); the metadata is in setup.cfg."""
from setuptools import setup

setup()
