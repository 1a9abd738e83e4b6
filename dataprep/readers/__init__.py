"""Readers: ``tf.data`` pipelines and numpy/pandas access over converted folders (these import TensorFlow)."""
from .dataset import make_dataset
from .numpy_access import as_dataframe, load_numpy

__all__ = ["as_dataframe", "load_numpy", "make_dataset"]
