"""Byte identity: the bundled samples, the every-dtype table and an image folder, converted with fixed seeds, write
exactly the shards, indexes and manifest contents they wrote when these digests were recorded (before the issue-15
redesign). A changed digest is a change in behaviour: an encoder, a format or a shard plan that writes other bytes,
rows that moved between shards, or a manifest that tells readers something else.

Compressed shards are hashed decompressed: another zlib or isal build writes other compressed bytes for the same
records. Regenerate the table only for a deliberate format change, and say so in the commit:
``python -m tests.test_golden`` prints it.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import struct
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dataprep
from tests.conftest import DIGITS, DIGITS_SCHEMA, PENGUINS, PENGUINS_SCHEMA
from tests.tables import CSV_FEATURES, SCHEMA, make_data

SPLIT = "train=0.8,valid=0.1,test=0.1"
PENGUINS_RUN = dict(split=SPLIT, on_error="skip", seed=42)
DIGITS_RUN = dict(split=SPLIT, num_shards=2, seed=42)
TABLE_RUN = dict(split="train=0.6,valid=0.2,test=0.2", num_shards=3, seed=5)
FLOAT64 = [{"name": "d_scalar", "dtype": "float64", "shape": []}, {"name": "d_vec", "dtype": "float64", "shape": [2]},
           {"name": "d_var", "dtype": "float64", "shape": [None]}]
TABLE_SCHEMA = {"features": SCHEMA["features"] + FLOAT64}  # every dtype but image, in every shape
CSV_SCHEMA = {"features": [f for f in TABLE_SCHEMA["features"] if f["name"] in CSV_FEATURES or f["name"] in
                           ("d_scalar", "d_vec")]}


def _table(_: Path) -> dict:
    data = make_data()
    wide = data["f_scalar"].astype(np.float64) * (1 + 2.0**-40)  # float64 values that float32 cannot hold
    data.update(d_scalar=wide, d_vec=np.stack([wide, -wide / 3], axis=1),
                d_var=np.array([wide[i:i + i % 4] for i in range(len(wide))] + [None], dtype=object)[:-1])
    return data


def _csv_table(folder: Path) -> dict:
    return {k: v for k, v in _table(folder).items() if k in {f["name"] for f in CSV_SCHEMA["features"]}}


def _png(pixels: np.ndarray) -> bytes:
    """An RGB PNG written by hand with stored (level 0) deflate blocks: the same bytes under any zlib."""
    height, width, _ = pixels.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + row.tobytes() for row in pixels)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 0)) + chunk(b"IEND", b""))


def _image_folder(folder: Path) -> Path:
    """Two classes of five 5x4 RGB images (the dtype ``image``: encoded files stored as they are)."""
    rng = np.random.default_rng(3)
    for cls in ("cat", "dog"):
        (folder / "imgs" / cls).mkdir(parents=True)
        for i in range(5):
            (folder / "imgs" / cls / f"{i}.png").write_bytes(_png(rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)))
    return folder / "imgs"


def _inferred(source: Path) -> dataprep.Schema:
    return dataprep.infer_schema(source)


# name -> (source made in a scratch folder, schema (or how to get it from the source), convert() options)
CASES: dict[str, tuple[Callable[[Path], Any], Any, dict]] = {
    "penguins_tfrecord": (lambda _: PENGUINS, PENGUINS_SCHEMA, PENGUINS_RUN),
    "penguins_tfrecord_gzip": (lambda _: PENGUINS, PENGUINS_SCHEMA, {**PENGUINS_RUN, "compression": "gzip"}),
    "penguins_csv": (lambda _: PENGUINS, PENGUINS_SCHEMA, {**PENGUINS_RUN, "format": "csv", "num_shards": 2}),
    "penguins_csv_gzip": (lambda _: PENGUINS, PENGUINS_SCHEMA,
                          {**PENGUINS_RUN, "format": "csv", "compression": "gzip"}),
    "digits_tfrecord": (lambda _: DIGITS, DIGITS_SCHEMA, DIGITS_RUN),
    "digits_tfrecord_gzip": (lambda _: DIGITS, DIGITS_SCHEMA, {**DIGITS_RUN, "compression": "gzip"}),
    "digits_csv": (lambda _: DIGITS, DIGITS_SCHEMA, {**DIGITS_RUN, "format": "csv"}),
    "table_tfrecord": (_table, TABLE_SCHEMA, TABLE_RUN),
    "table_tfrecord_gzip": (_table, TABLE_SCHEMA, {**TABLE_RUN, "compression": "gzip"}),
    "table_tfrecord_zlib": (_table, TABLE_SCHEMA, {**TABLE_RUN, "compression": "zlib"}),
    "table_csv": (_csv_table, CSV_SCHEMA, {**TABLE_RUN, "format": "csv"}),
    "images_tfrecord": (_image_folder, _inferred, dict(split="train=0.8,test=0.2", seed=4)),
}

_DECOMPRESS = {".gz": gzip.decompress, ".zz": zlib.decompress}


def digests(name: str, folder: Path) -> dict[str, str]:
    """Convert case ``name`` into ``folder``: SHA-256 of every file written (compressed ones decompressed), of the
    manifest's shard list (paths and record counts) and of the rest of the manifest a reader relies on."""
    make_source, schema, options = CASES[name]
    (folder / "in").mkdir(parents=True)
    source = make_source(folder / "in")
    dataprep.convert(source, schema(source) if callable(schema) else schema, folder / "out", **options)
    folder = folder / "out"
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json"):
        data = _DECOMPRESS.get(path.suffix, lambda b: b)(path.read_bytes())
        out[f"{name}/{path.relative_to(folder).as_posix()}"] = hashlib.sha256(data).hexdigest()
    manifest = json.loads((folder / "manifest.json").read_text())
    layout = {s: [(f["path"], f["num_records"]) for f in v["files"]] for s, v in manifest["splits"].items()}
    # what a reader relies on: format, record layout, schema, CSV columns, row counts; not the version that wrote
    # it, the source paths or the record of the options
    contract = {k: v for k, v in manifest.items() if k not in ("created_by", "options", "sources", "splits")}
    for key, value in (("splits", layout), ("contract", contract)):
        out[f"{name}/manifest:{key}"] = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_shards_are_byte_identical_to_the_recorded_ones(tmp_path, name):
    expected = {k: v for k, v in GOLDEN.items() if k.startswith(f"{name}/")}
    assert expected, f"no recorded digests for {name}: python -m tests.test_golden"
    assert digests(name, tmp_path) == expected


def test_the_cases_cover_every_dtype():
    """The schema's dtypes at recording time; a dtype added later needs a case here (and its digests)."""
    covered = {f["dtype"] for f in TABLE_SCHEMA["features"]} | {"image"}  # image: the images_tfrecord case
    assert covered == {"float32", "float64", "int64", "string", "bytes", "uint8", "image"}


def _table_text() -> str:
    with tempfile.TemporaryDirectory() as d:
        lines = [f"{k} {v}" for name in sorted(CASES) for k, v in digests(name, Path(d) / name).items()]
    return "\n".join(lines)


# Recorded at 2f057eb (before the issue-15 redesign) with: python -m tests.test_golden
GOLDEN = dict(line.split() for line in """
digits_csv/index/test-00000-of-00002.idx 35be6b34a26617e351468f6ec94c488c98dfa51d56a7b0c95bf110782f9a155f
digits_csv/index/test-00001-of-00002.idx c25179f354898971a6575e1505bbc9ef319ecef439bfd3b43eb925d8b9e5c65e
digits_csv/index/train-00000-of-00002.idx daba27f20e4b7a9a17f887213c4df962634f8b7da0b41c9a2003d1685df8c15f
digits_csv/index/train-00001-of-00002.idx bc033985eb08febca21b0cd443e4160aaa9ecf61349a1506f08afa3dfd84f1ef
digits_csv/index/valid-00000-of-00002.idx 79ea40068f20291c315fd2f660f663452c5917098d27f078d0ce4c2d776e6db2
digits_csv/index/valid-00001-of-00002.idx 1e0db9c87c4c4a7356a9399bf69c0b0561db74c13dad55bb9eec215250fff2a9
digits_csv/test-00000-of-00002.csv a1a5113b6c5e7acdb5ea8f0f17c3cd5f610ffdeae50b310a020d6f1317a8aa88
digits_csv/test-00001-of-00002.csv d4e7035e04e641d77f7f660027820e2f0fee9b0b6cbf8844de4b4441b00d4fb0
digits_csv/train-00000-of-00002.csv f2c38062fd5bfd11a640b6d49a41c9c36df516e4b6835b2ecdef599a209ebaee
digits_csv/train-00001-of-00002.csv a397718ae6a6be2d5bc9e27af4f5ea6a5c9675c006029a469bde35e47088c98c
digits_csv/valid-00000-of-00002.csv a556662426ff182de6b16600d9efd8506410191477ebc91591c00acf9a441f72
digits_csv/valid-00001-of-00002.csv 6ae3961d220f111c65e7a0099b8c4e90f8fb38f9aea90c632125bb0ea8b61bff
digits_csv/manifest:splits 67762c730ea4d11c89269a5199eac56ada0451e4398476eae59bbae72249d533
digits_csv/manifest:contract 8ab3572fff1e8609c25fa60ab052d8a73cb1e9fd0c47dadae2491e16540276d4
digits_tfrecord/index/test-00000-of-00002.idx 917c315eeaee8ca2b5cd89ce95340e8b01be97556b745e66eb6d95b6918e404c
digits_tfrecord/index/test-00001-of-00002.idx 917c315eeaee8ca2b5cd89ce95340e8b01be97556b745e66eb6d95b6918e404c
digits_tfrecord/index/train-00000-of-00002.idx 469fb84cf6074762b41c4bccdf3ee92366d1d2ea01e609c096574195fcc6b491
digits_tfrecord/index/train-00001-of-00002.idx d3a9ab86e3f6ce33d922ca8bba9abb9bb51af2fcfa09521826e782b3afa0a38d
digits_tfrecord/index/valid-00000-of-00002.idx 917c315eeaee8ca2b5cd89ce95340e8b01be97556b745e66eb6d95b6918e404c
digits_tfrecord/index/valid-00001-of-00002.idx 917c315eeaee8ca2b5cd89ce95340e8b01be97556b745e66eb6d95b6918e404c
digits_tfrecord/test-00000-of-00002.tfrecord 6c3303e37c2a29cde18b38d6bd6fadc936f76c385874650b85715129b6623d64
digits_tfrecord/test-00001-of-00002.tfrecord 5955b324b99f9db8b3eb5fd6ed053c36c9ce2cd13a9ef5af41b99f358f8662fd
digits_tfrecord/train-00000-of-00002.tfrecord bb1fe27bc609679532ced1ac78676b970b99adc03c9b65b308b89c9bccc1fb73
digits_tfrecord/train-00001-of-00002.tfrecord f5404bfa63aced7778f12acdaa2ad31bad383968e375fcf64bee14795befb26b
digits_tfrecord/valid-00000-of-00002.tfrecord 5f40d5c181b664f97bd25c7474b5e28e0512a4b17189554c297b245bf6d0593e
digits_tfrecord/valid-00001-of-00002.tfrecord b7e8694b53a70447afb188898f72165a551a9a156b735cd6fd59435cacf77cf6
digits_tfrecord/manifest:splits 128ad43cc80ffef3e929c4cc796b9f2610619390fb7aa7f712cd19ebb33defc2
digits_tfrecord/manifest:contract b6ec55fcdc0483129f976b260d0b42559ee6f531605ca8c88ee7056ff95baf39
digits_tfrecord_gzip/index/test-00000-of-00002.idx 917c315eeaee8ca2b5cd89ce95340e8b01be97556b745e66eb6d95b6918e404c
digits_tfrecord_gzip/index/test-00001-of-00002.idx 917c315eeaee8ca2b5cd89ce95340e8b01be97556b745e66eb6d95b6918e404c
digits_tfrecord_gzip/index/train-00000-of-00002.idx 469fb84cf6074762b41c4bccdf3ee92366d1d2ea01e609c096574195fcc6b491
digits_tfrecord_gzip/index/train-00001-of-00002.idx d3a9ab86e3f6ce33d922ca8bba9abb9bb51af2fcfa09521826e782b3afa0a38d
digits_tfrecord_gzip/index/valid-00000-of-00002.idx 917c315eeaee8ca2b5cd89ce95340e8b01be97556b745e66eb6d95b6918e404c
digits_tfrecord_gzip/index/valid-00001-of-00002.idx 917c315eeaee8ca2b5cd89ce95340e8b01be97556b745e66eb6d95b6918e404c
digits_tfrecord_gzip/test-00000-of-00002.tfrecord.gz 6c3303e37c2a29cde18b38d6bd6fadc936f76c385874650b85715129b6623d64
digits_tfrecord_gzip/test-00001-of-00002.tfrecord.gz 5955b324b99f9db8b3eb5fd6ed053c36c9ce2cd13a9ef5af41b99f358f8662fd
digits_tfrecord_gzip/train-00000-of-00002.tfrecord.gz bb1fe27bc609679532ced1ac78676b970b99adc03c9b65b308b89c9bccc1fb73
digits_tfrecord_gzip/train-00001-of-00002.tfrecord.gz f5404bfa63aced7778f12acdaa2ad31bad383968e375fcf64bee14795befb26b
digits_tfrecord_gzip/valid-00000-of-00002.tfrecord.gz 5f40d5c181b664f97bd25c7474b5e28e0512a4b17189554c297b245bf6d0593e
digits_tfrecord_gzip/valid-00001-of-00002.tfrecord.gz b7e8694b53a70447afb188898f72165a551a9a156b735cd6fd59435cacf77cf6
digits_tfrecord_gzip/manifest:splits a11c341edc0f577b2b0cd0166dcf57f9a2a85235578684a80fa896fcbc137f76
digits_tfrecord_gzip/manifest:contract 37d307ec8cde59840e33c095ebeb1d794d2270fcc096e572371a954e1106da98
images_tfrecord/index/test-00000-of-00001.idx aa73942f8924f69a801d76ef01fdc24860013b4ef28bc41249985075d3e127f0
images_tfrecord/index/train-00000-of-00001.idx a5e178ecf90625cac99326c7f47ddeddb1e3919b36998288289128847c956f25
images_tfrecord/test-00000-of-00001.tfrecord 9ff8e7c1be42110deb38e8dc4c1a55a835b4020c20b9505b81f520dd07d095b9
images_tfrecord/train-00000-of-00001.tfrecord 8641079b7e5e92df7793bd9608519f5fc1c4fbd1da24cc9a967cc8aac35fbd06
images_tfrecord/manifest:splits e81b1cfb0a62c39001eb67056a4fdf5c8a35a93d51136dac6b4a3a3e992050da
images_tfrecord/manifest:contract 0d3bab4bf934a0d291c320a44519005211b197a12a7f18576b2ffa3cc1581928
penguins_csv/index/test-00000-of-00002.idx 5c2d1c28a3bdacb1064683b12240988e5f58db905c5bc5e7bb7ae3e3f1efc317
penguins_csv/index/test-00001-of-00002.idx 30aa7c3603e14bad953550445e836b2becb1ae9944fc2a073f5f06eaf2a697f4
penguins_csv/index/train-00000-of-00002.idx 3bc84ba77ce4e4f2c2cebc15f20e80cfc8c634167555c658173029ce861563de
penguins_csv/index/train-00001-of-00002.idx 732240d98aef871db12b1b23fca7d12c2dc8c5a7f5b3fbd9da75492185e3e6f8
penguins_csv/index/valid-00000-of-00002.idx a1ec3f7b67bffe4d5274157611f2e23f31679d4ac474d2ff67c5ce9eb780aa82
penguins_csv/index/valid-00001-of-00002.idx fcf26549ddbf9da0a1de464a05f4c74f8c50fd63fc201305b6e5834f21f9835a
penguins_csv/test-00000-of-00002.csv c61733190289b2ebef7810928303ce055687d75a728d1e2b1541229f6e12a106
penguins_csv/test-00001-of-00002.csv 7d5a8bbea2c38131c34fef3a15383e2e8dc3dc54658c108e38bd1dbcbb350662
penguins_csv/train-00000-of-00002.csv f87da5dee8fd5ee0f9b179dc88a1e0eb23e3cf048a335dd65e12af29a33294ec
penguins_csv/train-00001-of-00002.csv 8d1ab84784ab7de56c726b4a7e7142e2908987534dd0e0708ed9711d7bae8e3b
penguins_csv/valid-00000-of-00002.csv a681ce875770a9531c4b2686e00b0f0dd6b0a46dceed742237f4e9c030df2b0a
penguins_csv/valid-00001-of-00002.csv 5f726aa7e42787c24934bf12796cecccf727ba0768aca00d18d8ddca0133e56c
penguins_csv/manifest:splits 5f31adc975b58f65dfb0ea1f5f2c550e5cf3c73e643a773cf152ac7273fed84c
penguins_csv/manifest:contract df9252a920a99f6195737d2c49017b2d3dfe051cd0e351b68fe0c290ce7e7edc
penguins_csv_gzip/index/test-00000-of-00001.idx be419c63aa841156b5cea4d726804704d3a8ce67b07718f8d4dacad61f5afcfe
penguins_csv_gzip/index/train-00000-of-00001.idx fd00803b9175731f19de6f08608770fdd7d7cd5c48010467d8c17f51d81121c7
penguins_csv_gzip/index/valid-00000-of-00001.idx b03fd260b87535ee587b6da27a256aecbada1c66757dca44af076da8e80276f0
penguins_csv_gzip/test-00000-of-00001.csv.gz a6038cb120a86e9596abad9615dfef23573a42aafbc4841b9266f3a933a6739c
penguins_csv_gzip/train-00000-of-00001.csv.gz 9e7bd9a853eb70371433d836fe5aed14f4b9f3a45c3a349f46d7e58735cacb24
penguins_csv_gzip/valid-00000-of-00001.csv.gz 4439f20df7050c66a524c7c8fe39695fbd8b508dcb6f43925367cc24d92191f6
penguins_csv_gzip/manifest:splits 3ef9ed097986ca55a7d058c9a942435baf04e58ecaa704f84deb6c30f129b1c0
penguins_csv_gzip/manifest:contract 07b6877c755f8994178999ace5df48f4ea836d849032a191eaa5f6b7c1171faf
penguins_tfrecord/index/test-00000-of-00001.idx ba265ead7710bd2e0ff2b4bb49f5372542eeffde0d4ab072e4ddd49918f893df
penguins_tfrecord/index/train-00000-of-00001.idx 692dee56a7aca7da40b037d21a6e94ac8e8dde0a1f9ba857320a23099b5de224
penguins_tfrecord/index/valid-00000-of-00001.idx f05c5e7a7ceb106326491cefb4260962d6af583e3ad1347fc7378519c05d0d22
penguins_tfrecord/test-00000-of-00001.tfrecord 4bcb06d49f2096a21e0a36a49b09f08ce5b8a7d4f3e2b87cdf0aa211245ca63c
penguins_tfrecord/train-00000-of-00001.tfrecord b10a4bac70414a2fde90f008c1b795dc84e227e02ddc1759951db2e78c840a06
penguins_tfrecord/valid-00000-of-00001.tfrecord 442b705d9362b58f185b633f327db67cec831ad90ef1c651d1a3d6086ef1accf
penguins_tfrecord/manifest:splits 521d30c31c0b56bd20de844768978a2f2d4268f73ebeeccecb7c423fa998d61e
penguins_tfrecord/manifest:contract 3bf52f63072b9c0d5cfec14f4315faddd1df3694fdb4ed6541c72c6549f1a9f9
penguins_tfrecord_gzip/index/test-00000-of-00001.idx ba265ead7710bd2e0ff2b4bb49f5372542eeffde0d4ab072e4ddd49918f893df
penguins_tfrecord_gzip/index/train-00000-of-00001.idx 692dee56a7aca7da40b037d21a6e94ac8e8dde0a1f9ba857320a23099b5de224
penguins_tfrecord_gzip/index/valid-00000-of-00001.idx f05c5e7a7ceb106326491cefb4260962d6af583e3ad1347fc7378519c05d0d22
penguins_tfrecord_gzip/test-00000-of-00001.tfrecord.gz 4bcb06d49f2096a21e0a36a49b09f08ce5b8a7d4f3e2b87cdf0aa211245ca63c
penguins_tfrecord_gzip/train-00000-of-00001.tfrecord.gz b10a4bac70414a2fde90f008c1b795dc84e227e02ddc1759951db2e78c840a06
penguins_tfrecord_gzip/valid-00000-of-00001.tfrecord.gz 442b705d9362b58f185b633f327db67cec831ad90ef1c651d1a3d6086ef1accf
penguins_tfrecord_gzip/manifest:splits bf57cb894980a155f2f5399cc66650344a54f3d95f040665388ae82b9c6b87a1
penguins_tfrecord_gzip/manifest:contract 35c058180356d1b83837f92c9676b547a4c245fcaba16adbe9eacfab8634935e
table_csv/index/test-00000-of-00003.idx cec02ea54ae34b7f290f0e5b8936e5acc8d3f333756c690c47a2e4e700efbd30
table_csv/index/test-00001-of-00003.idx 3de654b3b88b8dc074215d8aeeac7dab3ecb0a45689f553aec9ff98ed8fb5d8d
table_csv/index/test-00002-of-00003.idx 8d272f75b2195916b5c3d9f66cd2cf6e65b064117985a1109acbd59b9dc817c6
table_csv/index/train-00000-of-00003.idx d9d753178e33a986d2f88fa0df2315bf278b6242677e238e9c9f1ff0e24dc8f7
table_csv/index/train-00001-of-00003.idx 4bf56ffc4918f51708f0c785cbb5fd336b562a8a7f88f1cadbfb6d9d60bcc95e
table_csv/index/train-00002-of-00003.idx 4ca4c18803f359c27ad3853d8b4f7b7fdd1326f339966c8dd0a76925d385ffce
table_csv/index/valid-00000-of-00003.idx 82133820c14fae0b41707b691bca5223fbc4f3033fe62a65f497d170877493fc
table_csv/index/valid-00001-of-00003.idx 06ff1abc3a5bc8de244f916534d3501b157d77fc45e1e18a9ebef02dd237f4d6
table_csv/index/valid-00002-of-00003.idx 6185f6b2fc3c9e2a100eec586925d05e43c2efdfe94151322374708bc30b6f49
table_csv/test-00000-of-00003.csv 587df35da05f6f341490f0f3b84aabb207261c5d05437c27d2ef5545a2095ea0
table_csv/test-00001-of-00003.csv e22054425d6e519fd36c444f44dd7eb0e50b51f0c38f9ab635c20cfc8f0f9796
table_csv/test-00002-of-00003.csv 6a7c041805d174b1a2e3c7a48c864477f5e5a1b30280571afb5abc25b4adca37
table_csv/train-00000-of-00003.csv 25ac7eef92ed93e82013ddd437e2ca571808c40248e59620b7729bfc196e1546
table_csv/train-00001-of-00003.csv 6c65cbfd5b0caf24a5ecd864b6151b534d8bfce6ad12782c9c6b6beab0e17577
table_csv/train-00002-of-00003.csv 037c96d1e54bb9b051470e924656f9c84acbffceb0c2efee6457c516b3db2973
table_csv/valid-00000-of-00003.csv f7c5ec96e520a4c958988cb058faec0be4f7469943ee08e6687314f5fe0744b2
table_csv/valid-00001-of-00003.csv a2e4425cf4d2ac0ddaf46fd6e191570830926fa8f07e126a1d651bdf693d26f9
table_csv/valid-00002-of-00003.csv 328130f04d9f08d45e2a402aceb8551032d5b1469f1b428e987b8a36f218d0a4
table_csv/manifest:splits 17e3793466d6d4cd8e508a6579b8035574824c0d4e9c2acfd00e3dc36e39ed84
table_csv/manifest:contract f434ef1f61ed4216bcb085378ccf2cdf5daf44736bff857b49034956eedb4ae8
table_tfrecord/index/test-00000-of-00003.idx 90f1992460a5bad80aae799dbe85f38aee5f1b83523ac43af4ca485ebe582a3e
table_tfrecord/index/test-00001-of-00003.idx e15311b2f86c0c7f5aafbef193e82c1158f238286f02a107919701a8def538a9
table_tfrecord/index/test-00002-of-00003.idx 0d4d80b86e23d84b9c1ebb71f7a9c8093d8f0a544300adac09b80bf8ec226291
table_tfrecord/index/train-00000-of-00003.idx ed04fbcdc826604e0cd2c517d65683423b85a8f56399e3e8acfe07828f8fb96c
table_tfrecord/index/train-00001-of-00003.idx 592c008b7bcfe8ca88a28fbc7fed4baa5aa5a8b13e931fbf0d61d766db406362
table_tfrecord/index/train-00002-of-00003.idx 065069ce20492ec78ad100ffe10f3e2a3382f60c3371bae8f774badcc1c5c379
table_tfrecord/index/valid-00000-of-00003.idx fa534c725cc466fa00124807e6c5f6c6d78002dba5b4be8d8895ae9d0c5517c6
table_tfrecord/index/valid-00001-of-00003.idx 4cc44f673e39c2bd03b96cc19441a6a928fe1a76e049cc1da2c39c66f3c8ce92
table_tfrecord/index/valid-00002-of-00003.idx 06c8f43c95c9fd8fbe4a7f86a0be8c147ad9dea9397b11d0af87e54afd70b52c
table_tfrecord/test-00000-of-00003.tfrecord 1e3dcd482eb18aa84def2490a224d53ea557858811630eaa450f847f9b89d0a5
table_tfrecord/test-00001-of-00003.tfrecord 63f41afec5b64b23403f167c6e06a0fb26232365bb6da3e13e41c14985f3a27d
table_tfrecord/test-00002-of-00003.tfrecord dab44fcb3e263410ac99ade47af5f2fa15db606beb41b39d5063fc75c208abce
table_tfrecord/train-00000-of-00003.tfrecord b2f34ef112c6cddaf4127c04cd79d9fc23a416bf36c82f98b71845cfb26feead
table_tfrecord/train-00001-of-00003.tfrecord e94e639f6dcf3046ac643f324c01f86fc6f99c6822395118cc590c36f1eb40bb
table_tfrecord/train-00002-of-00003.tfrecord f9c1bf7e96326790294b416c0da7260e1061e4d48546495dcb9c83c4ce23f3fd
table_tfrecord/valid-00000-of-00003.tfrecord d2d67603edc467ff07abe7e0567ef1d6e8aa9d05648185874dfeed5731cf0ed1
table_tfrecord/valid-00001-of-00003.tfrecord 2e28bca0d761b5f6be96838894a40722c95f299d6653b751adc7aac409856ebe
table_tfrecord/valid-00002-of-00003.tfrecord 2952332c198e7b55e551f8b0a511d8223dbeacfa220bbb9374e0353e555ecee7
table_tfrecord/manifest:splits a2a06d41e799aad0496c8ba0f22ffeddc47c074390e125ce57933b7cef9f54ce
table_tfrecord/manifest:contract 965ee80f2637d9622ecca9d96744d6288f782b2a62c9305ffe4b822f4be81800
table_tfrecord_gzip/index/test-00000-of-00003.idx 90f1992460a5bad80aae799dbe85f38aee5f1b83523ac43af4ca485ebe582a3e
table_tfrecord_gzip/index/test-00001-of-00003.idx e15311b2f86c0c7f5aafbef193e82c1158f238286f02a107919701a8def538a9
table_tfrecord_gzip/index/test-00002-of-00003.idx 0d4d80b86e23d84b9c1ebb71f7a9c8093d8f0a544300adac09b80bf8ec226291
table_tfrecord_gzip/index/train-00000-of-00003.idx ed04fbcdc826604e0cd2c517d65683423b85a8f56399e3e8acfe07828f8fb96c
table_tfrecord_gzip/index/train-00001-of-00003.idx 592c008b7bcfe8ca88a28fbc7fed4baa5aa5a8b13e931fbf0d61d766db406362
table_tfrecord_gzip/index/train-00002-of-00003.idx 065069ce20492ec78ad100ffe10f3e2a3382f60c3371bae8f774badcc1c5c379
table_tfrecord_gzip/index/valid-00000-of-00003.idx fa534c725cc466fa00124807e6c5f6c6d78002dba5b4be8d8895ae9d0c5517c6
table_tfrecord_gzip/index/valid-00001-of-00003.idx 4cc44f673e39c2bd03b96cc19441a6a928fe1a76e049cc1da2c39c66f3c8ce92
table_tfrecord_gzip/index/valid-00002-of-00003.idx 06c8f43c95c9fd8fbe4a7f86a0be8c147ad9dea9397b11d0af87e54afd70b52c
table_tfrecord_gzip/test-00000-of-00003.tfrecord.gz 1e3dcd482eb18aa84def2490a224d53ea557858811630eaa450f847f9b89d0a5
table_tfrecord_gzip/test-00001-of-00003.tfrecord.gz 63f41afec5b64b23403f167c6e06a0fb26232365bb6da3e13e41c14985f3a27d
table_tfrecord_gzip/test-00002-of-00003.tfrecord.gz dab44fcb3e263410ac99ade47af5f2fa15db606beb41b39d5063fc75c208abce
table_tfrecord_gzip/train-00000-of-00003.tfrecord.gz b2f34ef112c6cddaf4127c04cd79d9fc23a416bf36c82f98b71845cfb26feead
table_tfrecord_gzip/train-00001-of-00003.tfrecord.gz e94e639f6dcf3046ac643f324c01f86fc6f99c6822395118cc590c36f1eb40bb
table_tfrecord_gzip/train-00002-of-00003.tfrecord.gz f9c1bf7e96326790294b416c0da7260e1061e4d48546495dcb9c83c4ce23f3fd
table_tfrecord_gzip/valid-00000-of-00003.tfrecord.gz d2d67603edc467ff07abe7e0567ef1d6e8aa9d05648185874dfeed5731cf0ed1
table_tfrecord_gzip/valid-00001-of-00003.tfrecord.gz 2e28bca0d761b5f6be96838894a40722c95f299d6653b751adc7aac409856ebe
table_tfrecord_gzip/valid-00002-of-00003.tfrecord.gz 2952332c198e7b55e551f8b0a511d8223dbeacfa220bbb9374e0353e555ecee7
table_tfrecord_gzip/manifest:splits 6f20b4ddd98746c332234df427bd10688196fe388f7e5454e358d9c396412088
table_tfrecord_gzip/manifest:contract 790bd6e0ee875432f5b9b9d53f387c1491a8d66c2c37fda48de1b4a113fd418a
table_tfrecord_zlib/index/test-00000-of-00003.idx 90f1992460a5bad80aae799dbe85f38aee5f1b83523ac43af4ca485ebe582a3e
table_tfrecord_zlib/index/test-00001-of-00003.idx e15311b2f86c0c7f5aafbef193e82c1158f238286f02a107919701a8def538a9
table_tfrecord_zlib/index/test-00002-of-00003.idx 0d4d80b86e23d84b9c1ebb71f7a9c8093d8f0a544300adac09b80bf8ec226291
table_tfrecord_zlib/index/train-00000-of-00003.idx ed04fbcdc826604e0cd2c517d65683423b85a8f56399e3e8acfe07828f8fb96c
table_tfrecord_zlib/index/train-00001-of-00003.idx 592c008b7bcfe8ca88a28fbc7fed4baa5aa5a8b13e931fbf0d61d766db406362
table_tfrecord_zlib/index/train-00002-of-00003.idx 065069ce20492ec78ad100ffe10f3e2a3382f60c3371bae8f774badcc1c5c379
table_tfrecord_zlib/index/valid-00000-of-00003.idx fa534c725cc466fa00124807e6c5f6c6d78002dba5b4be8d8895ae9d0c5517c6
table_tfrecord_zlib/index/valid-00001-of-00003.idx 4cc44f673e39c2bd03b96cc19441a6a928fe1a76e049cc1da2c39c66f3c8ce92
table_tfrecord_zlib/index/valid-00002-of-00003.idx 06c8f43c95c9fd8fbe4a7f86a0be8c147ad9dea9397b11d0af87e54afd70b52c
table_tfrecord_zlib/test-00000-of-00003.tfrecord.zz 1e3dcd482eb18aa84def2490a224d53ea557858811630eaa450f847f9b89d0a5
table_tfrecord_zlib/test-00001-of-00003.tfrecord.zz 63f41afec5b64b23403f167c6e06a0fb26232365bb6da3e13e41c14985f3a27d
table_tfrecord_zlib/test-00002-of-00003.tfrecord.zz dab44fcb3e263410ac99ade47af5f2fa15db606beb41b39d5063fc75c208abce
table_tfrecord_zlib/train-00000-of-00003.tfrecord.zz b2f34ef112c6cddaf4127c04cd79d9fc23a416bf36c82f98b71845cfb26feead
table_tfrecord_zlib/train-00001-of-00003.tfrecord.zz e94e639f6dcf3046ac643f324c01f86fc6f99c6822395118cc590c36f1eb40bb
table_tfrecord_zlib/train-00002-of-00003.tfrecord.zz f9c1bf7e96326790294b416c0da7260e1061e4d48546495dcb9c83c4ce23f3fd
table_tfrecord_zlib/valid-00000-of-00003.tfrecord.zz d2d67603edc467ff07abe7e0567ef1d6e8aa9d05648185874dfeed5731cf0ed1
table_tfrecord_zlib/valid-00001-of-00003.tfrecord.zz 2e28bca0d761b5f6be96838894a40722c95f299d6653b751adc7aac409856ebe
table_tfrecord_zlib/valid-00002-of-00003.tfrecord.zz 2952332c198e7b55e551f8b0a511d8223dbeacfa220bbb9374e0353e555ecee7
table_tfrecord_zlib/manifest:splits a1c27b8f567368aa5eb295d2620edeca6156069aae296d4b631bd1a5d03d8fbd
table_tfrecord_zlib/manifest:contract 926c8aef810b20fed69c2b388d772de8986496c65bc7f5279a77a257a83a7716
""".strip().splitlines())

if __name__ == "__main__":
    sys.stdout.write(_table_text() + "\n")
