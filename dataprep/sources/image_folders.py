"""Image folders as a source: one subfolder per class (the Keras ``image_dataset_from_directory``
convention). Encoded PNG/JPEG bytes are kept as they are (no re-encoding, so shards stay as compact as the
files); the class names become the label's vocabulary. Every image is read with the checks of
:func:`dataprep.images.read_image_file`, so a device, a FIFO or a link out of the folder is refused."""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa

from ..batch import Batch
from ..errors import SourceError
from ..images import IMAGE_SUFFIXES, Rejection, file_problem, read_image_file


def is_image_folder(path: Path) -> bool:
    return path.is_dir() and any(p.is_dir() and any(_is_image(f) for f in p.iterdir()) for p in path.iterdir())


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def image_files(folder: Path) -> list[tuple[Path, str]]:
    """(image path, class name) for every image, classes and files in sorted order. An image name that is
    not a regular file in the folder (a device, a FIFO, a broken link, a link out of the folder) or is over
    :data:`~dataprep.images.MAX_IMAGE_FILE_BYTES` is refused here, before anything is read."""
    root = Path(os.path.realpath(folder))
    items = []
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        for f in sorted(d.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES or f.is_dir():
                continue
            problem = file_problem(f, root if d.is_symlink() or f.is_symlink() else None)
            if problem is not None:
                raise SourceError(f"{f}: {problem.detail} ({problem.reason}); an image folder's images are "
                                  "regular files inside it")
            items.append((f, d.name))
    if not items:
        raise SourceError(f"{folder}: no images in class subfolders")
    return items


def image_folder_batches(folder: Path, files: Sequence[Path], labels: Sequence[str], columns, batch_size: int
                         ) -> Iterator[Batch]:
    """Columns ``image`` (encoded bytes), ``label`` (class name) and ``path`` (relative path) of the images
    ``files`` (with their class ``labels``, see :func:`image_files`) of ``folder``."""
    items = list(zip(files, labels))
    have = ["image", "label", "path"]
    missing = [c for c in (columns or have) if c not in have]
    if missing:
        raise SourceError(f"{folder}: an image folder has columns image, label and path, not {missing}")
    root = Path(os.path.realpath(folder))
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        names = [str(p.relative_to(folder)) for p, _ in chunk]
        blobs = [read_image_file(p, root) for p, _ in chunk]
        for (p, _), blob in zip(chunk, blobs):
            if isinstance(blob, Rejection):
                raise SourceError(f"{p}: {blob.detail} ({blob.reason})")
        cols = {"image": pa.array(blobs, pa.binary()),
                "label": pa.array([c for _, c in chunk], pa.string()), "path": pa.array(names, pa.string())}
        yield Batch({c: cols[c] for c in (columns or have)}, len(chunk), str(folder), start,
                    row_names=[str(folder / n) for n in names])
