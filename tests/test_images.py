"""Image folders: encoded bytes kept byte-exact, decoded by the readers to PIL's pixels, corrupt images
named, and the CNN trains from an image-folder conversion."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import dataprep
from dataprep import DataError
from dataprep.images import decode_pixels
from dataprep.records import SplitReader
from dataprep.train import fit


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for c, cls in enumerate(["cat", "dog"]):
        (root / cls).mkdir(parents=True)
        for i in range(12):
            pixels = rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)
            pixels[:, :, c] = 255  # a class signal
            fmt = "PNG" if i % 2 else "JPEG"
            Image.fromarray(pixels).save(root / cls / f"{i}.{fmt.lower()}", format=fmt)
    return root


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


def test_cnn_trains_from_an_image_folder(folder, tmp_path):
    dataprep.convert(folder, dataprep.infer_schema(folder), tmp_path / "o", split="train=0.6,valid=0.2,test=0.2")
    result = fit("cnn", tmp_path / "o", tmp_path / "run", epochs=2, filters=4, verbose=False)
    assert result.model.get_layer("main").output.shape[-1] == 2
    assert 0 <= json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["accuracy"] <= 1
