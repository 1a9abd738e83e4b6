"""The every-dtype-and-shape table: a schema with a feature for each of float32, int64, string, bytes and uint8 in
each shape (scalar, fixed, variable, ragged), seeded data with the edge values (signed zeros, float32 extremes,
infinities, int64 limits, unicode and awkward CSV text, empty lists), and the comparison of what a reader gives back
with what went in. Shared by the round-trip, reader, interop and golden tests (the golden test adds float64).
"""
from __future__ import annotations

import numpy as np

N = 300
SCHEMA = {"features": [
    {"name": "id", "dtype": "int64", "shape": []},
    {"name": "f_scalar", "dtype": "float32", "shape": []},
    {"name": "i_scalar", "dtype": "int64", "shape": []},
    {"name": "s_scalar", "dtype": "string", "shape": []},
    {"name": "b_scalar", "dtype": "bytes", "shape": []},
    {"name": "f_vec", "dtype": "float32", "shape": [3]},
    {"name": "i_mat", "dtype": "int64", "shape": [2, 3]},
    {"name": "img", "dtype": "uint8", "shape": [4, 4, 1]},
    {"name": "s_fixed", "dtype": "string", "shape": [2]},
    {"name": "f_var", "dtype": "float32", "shape": [None]},
    {"name": "i_var", "dtype": "int64", "shape": [None]},
    {"name": "s_var", "dtype": "string", "shape": [None]},
    {"name": "f_rag", "dtype": "float32", "shape": [None, 2]},
    {"name": "y", "dtype": "float32", "shape": [], "role": "label"},
]}
TEXTS = ["", "plain", "咖啡", "comma, inside", 'quote "q"', "  spaced  ", "tab\there", "emoji 🚀", "NA"]


def make_data(n: int = N, seed: int = 0) -> dict:
    """``n`` rows of every feature of ``SCHEMA``, the edge values first, the same for the same ``seed``."""
    rng = np.random.default_rng(seed)
    floats = rng.standard_normal(n).astype(np.float32)
    floats[:6] = [0.0, -0.0, np.float32(3.4028235e38), np.float32(1e-45), np.inf, -np.inf]
    ints = rng.integers(-(2**62), 2**62, n)
    ints[:4] = [0, -1, np.iinfo(np.int64).min, np.iinfo(np.int64).max]
    lens = rng.integers(0, 5, n)
    return {
        "id": np.arange(n, dtype=np.int64),
        "f_scalar": floats,
        "i_scalar": ints,
        "s_scalar": np.array([TEXTS[i % len(TEXTS)] + str(i % 7) * (i % 2) for i in range(n)], dtype=object),
        "b_scalar": np.array([bytes(rng.integers(0, 256, i % 9, dtype=np.uint8)) for i in range(n)],
                             dtype=object),
        "f_vec": rng.standard_normal((n, 3)).astype(np.float32),
        "i_mat": rng.integers(-1000, 1000, (n, 2, 3)),
        "img": rng.integers(0, 256, (n, 4, 4, 1), dtype=np.uint8),
        "s_fixed": np.array([[TEXTS[i % len(TEXTS)], TEXTS[(i + 3) % len(TEXTS)]] for i in range(n)]),
        "f_var": np.array([rng.standard_normal(k).astype(np.float32) for k in lens] + [None], dtype=object)[:-1],
        "i_var": np.array([list(rng.integers(-5, 2**40, k)) for k in lens[::-1]] + [None], dtype=object)[:-1],
        "s_var": np.array([[TEXTS[(i + j) % len(TEXTS)] for j in range(k)] for i, k in enumerate(lens)]
                          + [None], dtype=object)[:-1],
        "f_rag": np.array([rng.standard_normal((k, 2)).astype(np.float32).tolist() for k in lens] + [None],
                          dtype=object)[:-1],
        "y": rng.standard_normal(n).astype(np.float32),
    }

CSV_FEATURES = ["id", "f_scalar", "i_scalar", "s_scalar", "f_vec", "i_mat", "img", "s_fixed", "y"]


def assert_equal(got: dict, data: dict, names) -> None:
    """What a reader gave back (``got``, rows in ``data``'s order) equals ``data`` for each feature in ``names``:
    text as UTF-8 bytes, variable lengths row by row, floats exactly (the sign of zero too)."""
    for name in names:
        exp, val = data[name], got[name]
        if name in ("s_scalar", "b_scalar"):
            exp = [e.encode() if isinstance(e, str) else e for e in exp]
            assert list(val) == exp, name
        elif name == "s_fixed":
            assert [[x for x in row] for row in val] == [[e.encode() for e in row] for row in exp], name
        elif name in ("f_var", "i_var", "f_rag", "s_var"):
            assert len(val) == len(exp), name
            for v, e in zip(val, exp):
                e = np.asarray([x.encode() for x in e], object) if name == "s_var" else np.asarray(e)
                v = np.asarray(v)
                assert v.shape[0] == e.shape[0], name
                if len(e):
                    assert np.array_equal(v.reshape(e.shape), e), name
        else:
            assert val.dtype == np.asarray(exp).dtype or name == "img", (name, val.dtype)
            assert np.array_equal(val.reshape(np.asarray(exp).shape), exp, equal_nan=True), name
            if val.dtype == np.float32:  # -0.0 and +0.0 must keep their sign bits
                assert np.array_equal(np.signbit(val.reshape(np.asarray(exp).shape)), np.signbit(exp)), name
