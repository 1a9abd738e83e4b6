"""The thresholds of the drift checks (:mod:`dataprep.drift`), apart from the checks themselves so that the
schema can validate a feature's ``drift:`` key without importing what reads statistics files."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .errors import SchemaError


@dataclass(frozen=True)
class DriftThresholds:
    """The largest figure each check lets pass. The defaults flag changes a person would call drift while an
    unshifted resample of a few thousand rows stays well below them: two samples of n and m values from one
    distribution have an expected Jensen-Shannon divergence of about (k - 1) / 8 * (1/n + 1/m) / ln 2 bits on
    k bins (0.0007-0.003 measured between housing's 2,064-row valid/test splits and its 16,512-row train
    split, their L-infinity distance 0.007). That reaches the 0.02 default near 200 rows a side, which is what
    ``noise`` is for: below it, the limit grows with the expected noise instead of flagging it."""

    jensen_shannon: float = 0.02  # numbers: JS divergence in bits, of histograms on the baseline's bins
    l_infinity: float = 0.05  # categoricals: largest change of one value's share
    length: float = 0.02  # variable-length features: JS divergence in bits of the length histograms
    missing_rate: float = 0.05  # change of the share of missing values (NaN, absent)
    default_rate: float = 0.05  # change of the share of values equal to the schema default
    oov_rate: float = 0.01  # rise of the share of values outside the vocabulary
    out_of_range: float = 0.01  # numbers: share of values outside the baseline's range
    noise: float = 3.0  # a figure must also exceed this many times a resample's expected figure (0: off)

    @classmethod
    def checks(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def updated(self, values: dict[str, float], where: str) -> DriftThresholds:
        """These thresholds with ``values`` (check name -> number >= 0) replacing theirs."""
        for name, v in values.items():
            if name not in self.checks():
                raise SchemaError(f"{where}: unknown drift check {name!r}; expected one of {', '.join(self.checks())}")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise SchemaError(f"{where}: drift threshold {name} must be a number >= 0, got {v!r}")
        return replace(self, **{k: float(v) for k, v in values.items()})
