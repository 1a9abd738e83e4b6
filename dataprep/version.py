"""The package version, in a module of its own so that any module (and setup.cfg) can read it without
importing the package's public API first."""

__version__ = "0.2.0"
