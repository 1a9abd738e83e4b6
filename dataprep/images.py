"""Image files and encoded images: read safely, decoded, re-encoded, resized and measured (an image codec).

The image-folder source (:mod:`dataprep.sources.image_folders`) and a table's ``image: {from_paths: true}``
column (:mod:`dataprep.columns`) both read their files here. An image file is read only when it is a regular
file of at most :data:`MAX_IMAGE_FILE_BYTES` inside the folder it belongs to (after following symlinks), and
an image is decoded only when its header's pixel count fits the feature's shape (:func:`max_pixels`): a
device, a FIFO, a link to a secret or a decompression bomb must not hang the conversion, exhaust memory or
end up in the shards."""
from __future__ import annotations

import io
import os
import stat
import threading
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import SourceError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MAX_IMAGE_FILE_BYTES = 64 << 20  # per image file: 10x a 24-megapixel camera JPEG, checked before reading
MAX_IMAGE_PIXELS_FLOOR = 1 << 24  # any image of up to 16.7 megapixels (4096x4096) may be decoded ...
IMAGE_PIXEL_FACTOR = 16  # ... and larger ones up to 16x the feature's height x width


class Rejection(NamedTuple):
    """Why an image file or encoded image is not read or decoded: a bad-row reason and a description."""

    reason: str  # missing_file, path_outside, not_a_file, too_large, decompression_bomb, too_many_pixels
    detail: str


def file_problem(path: Path, root: Path | None) -> Rejection | None:
    """Why ``path`` is not an image file to read (None: it is one): outside ``root`` (a resolved folder; None
    allows any place), missing, not a regular file, or over :data:`MAX_IMAGE_FILE_BYTES`. Only stats it."""
    try:
        if root is not None:
            real = os.path.realpath(path)
            if os.path.commonpath([real, root]) != str(root):
                return Rejection("path_outside", f"{os.fspath(path)!r} leads outside {root} (to {real})")
        st = os.stat(path)
    except (OSError, ValueError) as e:  # ValueError: a NUL in the name
        return Rejection("missing_file", f"cannot read {os.fspath(path)!r}: {getattr(e, 'strerror', None) or e}")
    return _stat_problem(path, st)


def _stat_problem(path: Path, st: os.stat_result) -> Rejection | None:
    if not stat.S_ISREG(st.st_mode):
        return Rejection("not_a_file", f"{os.fspath(path)!r} is not a regular file")
    if st.st_size > MAX_IMAGE_FILE_BYTES:
        return Rejection("too_large", f"{os.fspath(path)!r} is {st.st_size:,} bytes, over the "
                                      f"{MAX_IMAGE_FILE_BYTES >> 20} MiB limit per image file")
    return None


def read_image_file(path: Path, root: Path | None) -> bytes | Rejection:
    """The bytes of an image file, or why it is not read (see :func:`file_problem`). The file is checked
    before it is opened and again once open (it may have been swapped), opened without blocking (a FIFO), and
    never read past :data:`MAX_IMAGE_FILE_BYTES` + 1 bytes (it may grow)."""
    problem = file_problem(path, root)
    if problem is not None:
        return problem
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        return Rejection("missing_file", f"cannot read {os.fspath(path)!r}: {e.strerror}")
    with os.fdopen(fd, "rb") as fh:
        problem = _stat_problem(path, os.fstat(fd))
        data = fh.read(MAX_IMAGE_FILE_BYTES + 1) if problem is None else b""
    if problem is None and len(data) > MAX_IMAGE_FILE_BYTES:
        problem = Rejection("too_large", f"{os.fspath(path)!r} is over the {MAX_IMAGE_FILE_BYTES >> 20} MiB "
                                         "limit per image file")
    return data if problem is None else problem


def max_pixels(shape: tuple) -> int:
    """The most pixels (height x width) an image for a feature of ``shape`` [h, w, c] may have to be decoded:
    :data:`IMAGE_PIXEL_FACTOR` times the shape's, and never fewer than :data:`MAX_IMAGE_PIXELS_FLOOR`."""
    return max(MAX_IMAGE_PIXELS_FLOOR, IMAGE_PIXEL_FACTOR * shape[0] * shape[1])


_BOMB_CHECK = threading.Lock()  # warnings.catch_warnings changes process-wide state


def _open(data: bytes, shape: tuple):
    """The image opened (its header read, nothing decoded), a :class:`Rejection` when Pillow calls it a
    decompression bomb or it has more than :func:`max_pixels` pixels for ``shape``, or None when it does not
    open."""
    from PIL import Image

    try:
        with _BOMB_CHECK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        return Rejection("decompression_bomb", f"a decompression bomb: {e}")
    except Exception:  # Pillow raises many kinds for damaged files (OSError, SyntaxError, ValueError, ...)
        return None
    width, height = img.size
    limit = max_pixels(shape)
    if width * height > limit:
        img.close()
        return Rejection("too_many_pixels", f"the image is {width}x{height} pixels, over the {limit:,} allowed "
                                            f"for shape {'x'.join(map(str, shape))}")
    return img


_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def prepare(data: bytes, options, shape: tuple) -> bytes | Rejection | None:
    """The bytes to store for an image feature: the file's own bytes, or re-encoded (``options.format``,
    JPEG ``options.quality``) and resized to ``shape`` (``options.resize``). A Rejection: not decoded (see
    :func:`_open`); None: it does not decode."""
    img = _open(data, shape)
    if img is None or isinstance(img, Rejection):
        return img
    try:
        with img:
            if not options.transforms:
                img.load()
                return data
            fmt = options.format if options.format != "keep" else (img.format or "PNG").lower()
            img = _fitted(img, shape, options.resize)
            out = io.BytesIO()
            img.save(out, format=fmt.upper(), **({"quality": options.quality} if fmt == "jpeg" else {}))
        return out.getvalue()
    except Exception:  # as above
        return None


def pixels(data: bytes, shape: tuple, resize: bool) -> np.ndarray | Rejection | None:
    """Decoded ``uint8 [h, w, c]`` pixels in the shape's channels (resized to it when asked). A Rejection:
    not decoded (see :func:`_open`); None: the bytes do not decode."""
    img = _open(data, shape)
    if img is None or isinstance(img, Rejection):
        return img
    try:
        with img:
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


def image_shape(data: bytes, name: str = "an image") -> tuple[int, int, int]:
    """[height, width, channels] of an encoded image (channels: 1 grey, 3 colour, 4 with alpha); a header
    that does not parse, or that Pillow calls a decompression bomb, is a SourceError naming ``name``."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            channels = {"L": 1, "1": 1, "P": 3, "RGB": 3, "RGBA": 4, "LA": 2}.get(img.mode, 3)
            return img.height, img.width, channels
    except Image.DecompressionBombError as e:
        raise SourceError(f"{name}: a decompression bomb: {e}") from None
    except Exception as e:  # Pillow raises many kinds for damaged files (OSError, SyntaxError, ValueError, ...)
        raise SourceError(f"{name}: cannot read the image's size: {e}") from None


def decode_pixels(data: bytes) -> np.ndarray:
    """Pixels as Pillow decodes them, [h, w, c] uint8 (for tests and inspection)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        arr = np.asarray(img)
    return arr[..., None] if arr.ndim == 2 else arr
