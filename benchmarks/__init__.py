"""Benchmarks: dataprep against the tutorial-style baselines, measured in the same process."""
