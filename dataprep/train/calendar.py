"""Calendar inputs of a date feature (``parse``: int64 seconds since 1970-01-01 UTC) for the trainers.

Seconds alone give a model the trend; what repeats (the season, the weekly cycle, the hour) is hidden in
them. :func:`calendar_block` derives the year (standardised with the training split's statistics) and the
month, day of month, day of week and, for times, hour of day as points on a circle (sin, cos), so that
December sits next to January and Sunday next to Monday. Dates are split into year, month and day with
integer arithmetic on days (Howard Hinnant's ``civil_from_days``), exact for any int64 day count.
"""
from __future__ import annotations

import math

import keras
import numpy as np

from ..dates import date_format
from ..schema import Feature

SECONDS_PER_DAY = 86400
SECONDS_PER_YEAR = 31556952  # the mean Gregorian year


def civil_date(seconds):
    """(year, month 1-12, day 1-31, day of week 0-6 from Monday, second of the day) of int64 seconds."""
    ops = keras.ops
    seconds = ops.cast(seconds, "int64")
    days = ops.floor_divide(seconds, SECONDS_PER_DAY)
    z = days + 719468  # days since 0000-03-01
    era = ops.floor_divide(z, 146097)
    doe = z - era * 146097  # day of the 400-year era
    yoe = ops.floor_divide(doe - ops.floor_divide(doe, 1460) + ops.floor_divide(doe, 36524)
                           - ops.floor_divide(doe, 146096), 365)
    doy = doe - (365 * yoe + ops.floor_divide(yoe, 4) - ops.floor_divide(yoe, 100))  # from March 1st
    mp = ops.floor_divide(5 * doy + 2, 153)
    day = doy - ops.floor_divide(153 * mp + 2, 5) + 1
    month = ops.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + ops.cast(month <= 2, "int64")
    weekday = ops.mod(days + 3, 7)  # 1970-01-01 was a Thursday
    return year, month, day, weekday, seconds - days * SECONDS_PER_DAY


def calendar_features(seconds, mean_year: float, std_year: float, with_time: bool):
    """float32 [batch, k]: the standardised year, then (sin, cos) of month, day of month, day of week and,
    ``with_time``, of the time of day."""
    ops = keras.ops
    year, month, day, weekday, second = civil_date(ops.reshape(seconds, (-1,)))
    parts = [(ops.cast(year, "float32") - mean_year) / std_year]
    cycles = [(month - 1, 12), (day - 1, 31), (weekday, 7)] + ([(second, SECONDS_PER_DAY)] if with_time else [])
    for value, period in cycles:
        angle = ops.cast(value, "float32") * (2 * math.pi / period)
        parts += [ops.sin(angle), ops.cos(angle)]
    return ops.stack(parts, axis=1)


@keras.saving.register_keras_serializable(package="dataprep")
class Calendar(keras.layers.Layer):
    """int64 seconds to :func:`calendar_features`, saved with the model (its settings are its config)."""

    def __init__(self, mean_year: float = 0.0, std_year: float = 1.0, with_time: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.mean_year, self.std_year, self.with_time = mean_year, std_year, with_time

    def call(self, seconds):
        return calendar_features(seconds, self.mean_year, self.std_year, self.with_time)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean_year": self.mean_year, "std_year": self.std_year,
                "with_time": self.with_time}


def calendar_block(f: Feature, x, mean: np.ndarray, var: np.ndarray, side: str):
    """A date feature's calendar inputs, the year standardised with the training split's moments of its seconds."""
    mean_s, var_s = float(np.reshape(mean, -1)[0]), float(np.reshape(var, -1)[0])
    return Calendar(1970 + mean_s / SECONDS_PER_YEAR, max(math.sqrt(var_s) / SECONDS_PER_YEAR, 1e-6),
                    "%H" in date_format(f.parse or ""), name=f"{side}_{f.name}_calendar")(x)
