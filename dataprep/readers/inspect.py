"""``inspect``: what a converted folder (or a bare TFRecord file) holds, its first records as a table, and
a PNG grid of its images with their labels.

Records come through the checked readers: a folder's shards through ``iter_numpy_batches`` (checked against
the manifest first), a bare file's records after a walk over its framing that TensorFlow's reader is never
handed (see :func:`.integrity.check_bare`)."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..compressions import guess_compression
from ..errors import OutputError, UsageError
from ..manifest import MANIFEST, load_manifest, local_path
from ..outputs import PNG_METADATA
from ..storage import is_remote
from ..tfrecord import iter_records
from .integrity import check_bare
from .numpy_access import iter_numpy_batches


def describe(path: str | Path) -> dict:
    """Format, compression, splits with their files, record counts and sizes, and the features."""
    given, path = str(path), local_path(path)
    if not (path / MANIFEST).is_file():
        files = _bare_files(path)
        return {"path": str(path), "format": "tfrecord (no manifest)",
                "files": [{"path": f.name, "num_bytes": f.stat().st_size, "compression": guess_compression(f)}
                          for f in files]}
    m = load_manifest(path)
    return {
        "path": given if is_remote(given) else str(path), "format": m.format, "compression": m.compression,
        "splits": {s: {"num_records": m.num_records(s), "num_bytes": m.split(s)["num_bytes"],
                       "files": [f["path"] for f in m.split(s)["files"]]} for s in m.splits},
        "features": {f.name: f"{f.dtype}{' sparse' if f.sparse else ''}{list(f.shape)} {f.role}"
                     + (f" group={f.group}" if f.group else "")
                     for f in m.schema.features},
        "rows": m.data.get("rows", {}),
    }


def head(path: str | Path, split: str | None = None, n: int = 5, as_text: bool = False):
    """The first ``n`` records of ``split`` (default: the first split) as a pandas DataFrame; ``as_text``: floats
    as the shortest text that reads back to the stored value of their dtype (what ``inspect`` prints)."""
    import pandas as pd

    path = local_path(path)
    if not (path / MANIFEST).is_file():
        return pd.DataFrame(_bare_head(_bare_files(path), n, as_text))
    m = load_manifest(path)
    batch = next(iter_numpy_batches(m, split or m.splits[0], max(n, 1)), {})
    return pd.DataFrame({name: [_cell(v, as_text) for v in values[:n]] for name, values in batch.items()})


def _cell(value, as_text: bool):
    """A record's value for :func:`head`; a sparse feature's (indices, values) as ``{index: value}``."""
    if isinstance(value, tuple):
        return dict(zip(value[0].tolist(), _listed(value[1], as_text)))
    return _short(_listed(np.asarray(value), as_text))


def _listed(values: np.ndarray, as_text: bool):
    """``values.tolist()``; with ``as_text`` floats as the shortest text that reads back to the same value of
    their own dtype (a float32 23.3 is ``23.3``: as a Python float it would print as 23.299999237...)."""
    if values.dtype.kind != "f" or not as_text:
        return values.tolist()
    return np.array([str(v) for v in values.reshape(-1)], dtype=object).reshape(values.shape).tolist()


def image_grid(path: str | Path, out: str | Path, split: str | None = None, n: int = 64,
               feature: str | None = None) -> int:
    """Draw the first ``n`` images of ``split`` in a grid, titled with their labels; returns how many."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = load_manifest(path)
    images = [f for f in m.schema.features if f.is_image and len(f.shape) in (2, 3)]
    if feature is not None:
        images = [m.schema[feature]]
    if not images:
        raise UsageError(f"{path}: the schema has no image (uint8 [h, w] or [h, w, c]) feature")
    img = images[0]
    split = split or m.splits[0]
    batch = next(iter_numpy_batches(m, split, n), {})
    if not batch:
        raise OutputError(f"{path}: split {split!r} is empty")
    pixels = np.asarray(batch[img.name])
    labels = [np.asarray(batch[f.name]) for f in m.schema.labels]
    count = len(pixels)
    cols = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < count:
            pic = pixels[i].squeeze(-1) if pixels[i].ndim == 3 and pixels[i].shape[-1] == 1 else pixels[i]
            ax.imshow(pic, cmap="gray" if pic.ndim == 2 else None, interpolation="nearest")
            if labels:
                ax.set_title(str(_short(labels[0][i].tolist())), fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=80, metadata=PNG_METADATA)
    plt.close(fig)
    return count


def _bare_files(path: Path) -> list[Path]:
    if path.is_file():
        check_bare(path)
        return [path]
    files = sorted(p for p in path.glob("*") if p.is_file() and (".tfrecord" in p.name or p.suffix == ".tfr"))
    if not files:
        raise OutputError(f"{path}: no {MANIFEST} and no .tfrecord files")
    return files


def _bare_head(files: list[Path], n: int, as_text: bool) -> list[dict]:
    rows: list[dict] = []
    for f in files:
        for i, raw in enumerate(_first_records(f, n - len(rows))):
            try:
                ex = tf.train.Example.FromString(raw)
            except Exception as e:  # protobuf's DecodeError has no stable import path across versions
                raise OutputError(f"{f}: record {i} is not a tf.train.Example ({e})") from None
            row = {}
            for key, feat in sorted(ex.features.feature.items()):
                kind = feat.WhichOneof("kind")
                values = getattr(feat, kind).value
                row[key] = _short(_listed(np.asarray(values, np.float32), as_text) if kind == "float_list"
                                  else list(values)) if kind else []
            rows.append(row)
        if len(rows) >= n:
            break
    return rows


def _first_records(path: Path, n: int) -> list[bytes]:
    """The first ``n`` records of a bare TFRecord file whose whole framing checks (else one-line error)."""
    scan = check_bare(path)
    if scan.error:
        raise OutputError(f"{path}: {scan.error}")
    return [rec.data for rec in itertools.islice(iter_records(path, guess_compression(path)), n)]


def _short(value):
    """Readable cell: decoded text, singletons unwrapped, long lists cut."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        if len(value) == 1:
            return _short(value[0])
        shown = [_short(v) for v in value[:6]]
        return shown + ["..."] if len(value) > 6 else shown
    return value
