"""Limits shared by more than one layer, so that what the schema allows the framing can read back.

A record the schema lets through (all its features together) must fit what the TFRecord reader accepts for
one record; both check against this one number.
"""
from __future__ import annotations

MAX_RECORD_BYTES = 256 << 20
"""The longest record: the schema's estimate of all its features, and one TFRecord record's data. TFRecord
lengths are 64-bit and TensorFlow allocates what a header claims, so a damaged or hostile header (2^40 bytes)
would exhaust memory or crash the process; no record dataprep writes comes near this."""
