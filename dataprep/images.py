"""Image folders as a source: one subfolder per class (the Keras ``image_dataset_from_directory``
convention). Encoded PNG/JPEG bytes are kept as they are (no re-encoding, so shards stay as compact as the
files); each image is checked to decode, and the class names become the label's vocabulary."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa

from .columns import Batch
from .errors import SourceError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def is_image_folder(path: Path) -> bool:
    return path.is_dir() and any(p.is_dir() and any(_is_image(f) for f in p.iterdir()) for p in path.iterdir())


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def image_files(folder: Path) -> list[tuple[Path, str]]:
    """(image path, class name) for every image, classes and files in sorted order."""
    items = [(f, d.name) for d in sorted(p for p in folder.iterdir() if p.is_dir())
             for f in sorted(d.iterdir()) if _is_image(f)]
    if not items:
        raise SourceError(f"{folder}: no images in class subfolders")
    return items


def image_folder_batches(folder: Path, columns, batch_size: int) -> Iterator[Batch]:
    """Columns ``image`` (encoded bytes), ``label`` (class name) and ``path`` (relative path)."""
    items = image_files(folder)
    have = ["image", "label", "path"]
    missing = [c for c in (columns or have) if c not in have]
    if missing:
        raise SourceError(f"{folder}: an image folder has columns image, label and path, not {missing}")
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        names = [str(p.relative_to(folder)) for p, _ in chunk]
        cols = {"image": pa.array([p.read_bytes() for p, _ in chunk], pa.binary()),
                "label": pa.array([c for _, c in chunk], pa.string()), "path": pa.array(names, pa.string())}
        yield Batch({c: cols[c] for c in (columns or have)}, len(chunk), str(folder), start,
                    row_names=[str(folder / n) for n in names])


def decodes(data: bytes) -> bool:
    """Whether the bytes are an image Pillow can fully decode."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
        return True
    except Exception:  # Pillow raises many kinds for damaged files (OSError, SyntaxError, ValueError, ...)
        return False


_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def prepare(data: bytes, options, shape: tuple) -> bytes | None:
    """The bytes to store for an image feature: the file's own bytes, or re-encoded (``options.format``,
    JPEG ``options.quality``) and resized to ``shape`` (``options.resize``). None: it does not decode."""
    from PIL import Image

    if not options.transforms:
        return data if decodes(data) else None
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = options.format if options.format != "keep" else (img.format or "PNG").lower()
            img = _fitted(img, shape, options.resize)
            out = io.BytesIO()
            img.save(out, format=fmt.upper(), **({"quality": options.quality} if fmt == "jpeg" else {}))
        return out.getvalue()
    except Exception:  # Pillow raises many kinds for damaged files (OSError, SyntaxError, ValueError, ...)
        return None


def pixels(data: bytes, shape: tuple, resize: bool) -> np.ndarray | None:
    """Decoded ``uint8 [h, w, c]`` pixels in the shape's channels (resized to it when asked); None: the
    bytes do not decode."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            arr = np.asarray(_fitted(img, shape, resize))
    except Exception:  # as above
        return None
    return arr[..., None] if arr.ndim == 2 else arr


def _fitted(img, shape: tuple, resize: bool):
    """The image in the shape's channels (grey, grey+alpha, RGB, RGBA), resized to its height and width."""
    from PIL import Image

    height, width, channels = shape
    img = img.convert(_MODES[channels]) if img.mode != _MODES[channels] else img
    if resize and img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    return img


def image_shape(data: bytes) -> tuple[int, int, int]:
    """[height, width, channels] of an encoded image (channels: 1 grey, 3 colour, 4 with alpha)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        channels = {"L": 1, "1": 1, "P": 3, "RGB": 3, "RGBA": 4, "LA": 2}.get(img.mode, 3)
        return img.height, img.width, channels


def decode_pixels(data: bytes) -> np.ndarray:
    """Pixels as Pillow decodes them, [h, w, c] uint8 (for tests and inspection)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        arr = np.asarray(img)
    return arr[..., None] if arr.ndim == 2 else arr
