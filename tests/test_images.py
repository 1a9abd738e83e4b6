"""Image folders: encoded bytes kept byte-exact, decoded by the readers to PIL's pixels, corrupt images
named, and the CNN trains from an image-folder conversion."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import dataprep
from dataprep import DataError
from dataprep.images import decode_pixels
from dataprep.records import SplitReader
from dataprep.train import fit


def image_folder(root: Path, per_class: int) -> Path:
    """``root/cat`` and ``root/dog``, ``per_class`` 6x6 RGB images each (PNG and JPEG in turn), noise with a class
    signal: the red channel saturated for cats, the green one for dogs."""
    rng = np.random.default_rng(0)
    for c, cls in enumerate(["cat", "dog"]):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)
            pixels[:, :, c] = 255
            fmt = "PNG" if i % 2 else "JPEG"
            Image.fromarray(pixels).save(root / cls / f"{i}.{fmt.lower()}", format=fmt)
    return root


@pytest.fixture
def folder(tmp_path):
    return image_folder(tmp_path / "imgs", per_class=12)


def test_image_folder_round_trip(folder, tmp_path):
    schema = dataprep.infer_schema(folder)
    assert schema["image"].shape == (6, 6, 3) and schema["label"].vocabulary == ("cat", "dog")
    dataprep.convert(folder, schema, tmp_path / "o", shuffle=False)
    reader = SplitReader(tmp_path / "o", "train")
    files = sorted((folder).rglob("*.*"))
    stored = {reader[i]["path"].decode(): reader[i]["image"] for i in range(len(reader))}
    for f in files:  # the encoded bytes are stored as they are: no re-encoding
        assert stored[str(f.relative_to(folder))] == f.read_bytes()
    x, y = next(iter(dataprep.make_dataset(tmp_path / "o", batch_size=24, shuffle=False)))
    for i, path in enumerate(x["path"].numpy()):
        expected = decode_pixels((folder / path.decode()).read_bytes())
        assert np.array_equal(x["image"][i].numpy(), expected), path  # TensorFlow's pixels equal PIL's
    assert sorted(y.numpy().tolist()) == [b"cat"] * 12 + [b"dog"] * 12


def test_corrupt_image_is_named(folder, tmp_path):
    bad = folder / "dog" / "3.png"
    bad.write_bytes(bad.read_bytes()[:40])
    schema = dataprep.infer_schema(folder)
    with pytest.raises(DataError, match=r"imgs/dog/3.png, column 'image': cannot decode the image"):
        dataprep.convert(folder, schema, tmp_path / "o")
    s = dataprep.convert(folder, schema, tmp_path / "o", on_error="skip")
    assert s.set_aside_by_reason == {"undecodable_image": 1} and s.rows_written == 23


def test_cnn_trains_from_an_image_folder(tmp_path):
    """The CNN learns the class signal from encoded images: better than always answering the commoner class."""
    folder = image_folder(tmp_path / "imgs", per_class=40)
    dataprep.convert(folder, dataprep.infer_schema(folder), tmp_path / "o", split="train=0.6,valid=0.2,test=0.2")
    result = fit("cnn", tmp_path / "o", tmp_path / "run", epochs=6, filters=4, verbose=False)
    assert result.model.get_layer("main").output.shape[-1] == 2
    labels = dataprep.load_numpy(tmp_path / "o", "test")["label"]
    majority = np.unique(labels, return_counts=True)[1].max() / len(labels)
    accuracy = json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["accuracy"]
    assert accuracy > majority + 0.1, (accuracy, majority)


def test_csv_column_of_image_paths(folder, tmp_path):
    """A table whose column names image files (relative to the table's folder) beside a label and a number;
    the files' bytes are stored as they are; a missing file is a bad row named with its path."""
    table = folder / "index.csv"
    files = sorted(folder.rglob("*.png")) + sorted(folder.rglob("*.jpeg"))
    lines = ["file,kind,size"] + [f"{p.relative_to(folder)},{p.parent.name},{p.stat().st_size}" for p in files]
    table.write_text("\n".join(lines) + "\nmissing/none.png,cat,1\n")
    schema = {"features": [{"name": "image", "source": "file", "dtype": "image", "shape": [6, 6, 3],
                            "image": {"from_paths": True}},
                           {"name": "size", "dtype": "int64", "shape": []},
                           {"name": "kind", "dtype": "string", "shape": [], "role": "label"}]}
    with pytest.raises(DataError, match=r"index.csv, line 26 \(row 25\), column 'file': cannot read image file "
                                        r"'missing/none.png'"):
        dataprep.convert(table, schema, tmp_path / "o")
    s = dataprep.convert(table, schema, tmp_path / "o", on_error="skip", shuffle=False)
    assert s.set_aside_by_reason == {"missing_file": 1} and s.rows_written == len(files)
    reader = SplitReader(tmp_path / "o", "train")
    for i, p in enumerate(files):
        assert reader[i]["image"] == p.read_bytes() and reader[i]["size"] == p.stat().st_size


def test_reencode_resize_and_raw_pixels(folder, tmp_path):
    from click.testing import CliRunner

    from dataprep.cli import main

    schema = tmp_path / "s.yaml"
    dataprep.infer_schema(folder).save(schema)
    r = CliRunner().invoke(main, ["convert", str(folder), "--schema", str(schema), "--out", str(tmp_path / "j"),
                                  "--image-format", "jpeg", "--quality", "95", "--image-size", "4x5", "-q",
                                  "--no-shuffle"])
    assert r.exit_code == 0, r.output
    m = dataprep.load_manifest(tmp_path / "j")
    assert m.schema["image"].shape == (4, 5, 3) and m.schema["image"].image.format == "jpeg"
    reader = SplitReader(tmp_path / "j", "train")
    stored = [reader[i]["image"] for i in range(len(reader))]
    assert all(b[:3] == b"\xff\xd8\xff" for b in stored)  # JPEG files now
    x, _ = next(iter(dataprep.make_dataset(tmp_path / "j", batch_size=24, shuffle=False)))
    assert x["image"].shape == (24, 4, 5, 3)
    for i in range(24):  # the readers decode the stored JPEGs to PIL's pixels, at the new size
        assert np.array_equal(x["image"][i].numpy(), decode_pixels(stored[i]))
    originals = [Image.open(folder / p.decode()).convert("RGB").resize((5, 4), Image.Resampling.BILINEAR)
                 for p in x["path"].numpy()]
    error = np.mean([np.abs(np.asarray(o, float) - x["image"][i].numpy()).mean() for i, o in enumerate(originals)])
    assert error < 12  # JPEG at quality 95 of 4x5 noise images: close to the resized originals
    # raw pixels: a uint8 feature decodes each file at conversion (no resizing: sizes must match)
    raw = {"features": [{"name": "image", "dtype": "uint8", "shape": [6, 6, 3], "image": {}},
                        {"name": "path", "dtype": "string", "shape": []}]}
    dataprep.convert(folder, raw, tmp_path / "raw", shuffle=False)
    pixels = dataprep.load_numpy(tmp_path / "raw", "train")
    for img, path in zip(pixels["image"], pixels["path"]):
        assert np.array_equal(img, decode_pixels((folder / path.decode()).read_bytes()))
    small = {"features": [{**raw["features"][0], "shape": [3, 3, 3]}, raw["features"][1]]}
    with pytest.raises(DataError, match=r"the image is 6x6x3, feature 'image' holds 3x3x3 \(set image: "):
        dataprep.convert(folder, small, tmp_path / "small")
    small["features"][0]["image"] = {"resize": True}
    dataprep.convert(folder, small, tmp_path / "small")
    assert dataprep.load_numpy(tmp_path / "small", "train")["image"].shape == (24, 3, 3, 3)
