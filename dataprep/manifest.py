"""``manifest.json``: what a converted folder holds, enough to read it with no dataprep code.

It records the format and compression, the resolved schema, how each feature is stored in the records,
and for each split its shard files with record counts, sizes and SHA-256 checksums. See the README's
"Output format" section for a plain-TensorFlow reader built from it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import OutputError
from .schema import Schema

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
# Record index entries point at a record's framing: (bytes before its data, bytes of framing in all).
# TFRecord: u64 length + u32 CRC before the data, u32 CRC after; CSV: the line, then its newline.
RECORD_SPAN = {"tfrecord": (12, 16), "csv": (0, 1)}


@dataclass(frozen=True)
class Manifest:
    """A loaded manifest and the folder it describes."""

    folder: Path
    data: dict

    @property
    def schema(self) -> Schema:
        return Schema.from_dict(self.data["schema"], origin=str(self.folder / MANIFEST))

    @property
    def format(self) -> str:
        return self.data["format"]

    @property
    def compression(self) -> str:
        return self.data["compression"]

    @property
    def splits(self) -> list[str]:
        return list(self.data["splits"])

    def split(self, name: str) -> dict:
        try:
            return self.data["splits"][name]
        except KeyError:
            raise OutputError(f"{self.folder}: no split {name!r}; it has {', '.join(self.splits)}") from None

    def files(self, split: str) -> list[Path]:
        return [self.folder / f["path"] for f in self.split(split)["files"]]

    def num_records(self, split: str) -> int:
        return int(self.split(split)["num_records"])


def build_manifest(*, schema: Schema, fmt: str, compression: str, splits: dict[str, list[dict]],
                   rows: dict[str, int], options: dict[str, Any], sources: list[str], version: str) -> dict:
    data: dict[str, Any] = {
        "dataprep_manifest": FORMAT_VERSION,
        "created_by": f"dataprep {version}",
        "format": fmt,
        "compression": compression,
        "record": ("tf.train.SequenceExample" if schema.record == "sequence_example" else "tf.train.Example")
        if fmt == "tfrecord" else "csv",
        "schema": schema.to_dict(),
    }
    if fmt == "tfrecord":
        data["features"] = schema.storage()
    else:
        data["csv"] = {
            "header": True,
            "delimiter": ",",
            # every field is written, so only text can be empty: an empty field is the empty string
            "columns": [{"name": name, "feature": f.name, "element": i, "dtype": f.dtype,
                         "record_default": "" if f.encoding == "utf8" else None}
                        for name, f, i in schema.csv_columns()],
        }
    data["splits"] = {
        name: {"num_records": sum(f["num_records"] for f in files),
               "num_bytes": sum(f["num_bytes"] for f in files), "files": files}
        for name, files in splits.items()
    }
    data["rows"] = rows
    data["options"] = options
    data["sources"] = sources
    return data


def write_manifest(folder: Path, data: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_manifest(folder: str | Path) -> Manifest:
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise OutputError(f"{folder}: no {MANIFEST}; is this a dataprep output folder?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise OutputError(f"{path}: unreadable manifest: {e}") from None
    if data.get("dataprep_manifest") != FORMAT_VERSION:
        raise OutputError(f"{path}: unsupported manifest version {data.get('dataprep_manifest')!r}")
    return Manifest(folder, data)
