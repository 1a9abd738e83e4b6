"""Conversion settings, one small frozen dataclass per concern, passed down whole.

Each class checks its own values and documents why its defaults are what they are. Fields that can change
the records written are *recorded*: :meth:`ConvertOptions.recorded` gathers them (``asdict`` of every
concern) into the manifest's ``options`` and the resume fingerprint, so a new option cannot be left out of
either; a field that only changes how the run goes (threads, progress, overwrite) says so in its metadata.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .compressions import Compression, get_compression
from .errors import UsageError
from .formats import ShardFormat, get_format
from .schema import Schema
from .sources import DEFAULT_BATCH_ROWS, RowGrouping
from .splits import SplitKey, parse_split, parse_split_names

RUNNERS = ("local", "beam")


def _run_only(default: Any = None) -> Any:
    """A field that does not change the records written: left out of the manifest and the fingerprint."""
    return field(default=default, metadata={"recorded": False})


@dataclass(frozen=True)
class ShardLayout:
    """How records are laid out in files. TFRecord, uncompressed, is what every TensorFlow reader takes and
    reads fastest; with neither ``num_shards`` nor ``rows_per_shard`` each split gets as many shards as keep
    each under 128 MiB of records, big enough for sequential reads and enough of them to interleave."""

    format: str = "tfrecord"
    compression: str = "none"
    num_shards: int | None = None
    rows_per_shard: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "compression", (self.compression or "none").lower())
        get_format(self.format)  # raises when unknown
        get_compression(self.compression)
        if self.num_shards is not None and self.rows_per_shard is not None:
            raise UsageError("give --num-shards or --rows-per-shard, not both")
        _positive(num_shards=self.num_shards, rows_per_shard=self.rows_per_shard)

    @property
    def shard_format(self) -> ShardFormat:
        return get_format(self.format)

    @property
    def shard_compression(self) -> Compression:
        return get_compression(self.compression)

    @property
    def suffix(self) -> str:
        return self.shard_format.suffix + self.shard_compression.suffix

    def check(self, schema: Schema) -> None:
        """Raise when the format cannot carry ``schema`` with this compression."""
        self.shard_format.check(schema, self.shard_compression)


@dataclass(frozen=True)
class SplitPlan:
    """Which record goes to which split, in which order. By default everything is ``train`` and shuffled with
    seed 0: a fixed seed makes every run byte-identical, and shuffling within a split means a reader that
    takes the first records still sees a fair sample. ``split`` gives the ratios, or with ``split_column``
    the split names (default train, valid, test); it is recorded parsed."""

    split: str | dict | None = field(default=None, metadata={"recorded_as": "parsed_split"})
    split_by: str | None = None
    split_column: str | None = None
    seed: int = 0
    shuffle: bool = True

    def __post_init__(self) -> None:
        if self.split_by and self.split_column:
            raise UsageError("give --split-by or --split-column, not both")
        self.parsed_split()  # raises when ``split`` does not parse

    @property
    def ratios(self) -> dict[str, float]:
        """Split name -> ratio (equal shares for split names read from a column)."""
        if self.split_column:
            names = self.split if self.split is None or isinstance(self.split, str) else ",".join(self.split)
            return parse_split_names(names)
        return parse_split(self.split)

    def parsed_split(self) -> dict[str, float] | list[str]:
        """``split`` as recorded: the ratios, or the split names."""
        return list(self.ratios) if self.split_column else self.ratios

    @property
    def key(self) -> SplitKey | None:
        """The column that decides each row's split, if any."""
        if self.split_by:
            return SplitKey(self.split_by, False)
        return SplitKey(self.split_column, True) if self.split_column else None


@dataclass(frozen=True)
class BadRowPolicy:
    """What a bad row does. ``fail`` by default: a conversion that silently drops rows is worse than one that
    stops and names the row; ``skip``/``quarantine`` set rows aside, bounded by ``max_errors`` and
    ``max_error_rate`` (no bound by default). The quarantine CSV goes beside the output unless named."""

    on_error: str = "fail"
    max_errors: int | None = None
    max_error_rate: float | None = None
    quarantine: str | Path | None = _run_only()

    def quarantine_path(self, out: Path) -> Path | None:
        """Where the set-aside rows are written (only with ``on_error="quarantine"``)."""
        if self.on_error != "quarantine":
            return None
        return Path(self.quarantine) if self.quarantine else out.parent / f"{out.name}.quarantine.csv"


@dataclass(frozen=True)
class ImageOverrides:
    """Re-encode (``image_format`` jpeg/png at ``image_quality``) and/or resize (``image_size``: height, width)
    every image feature. None by default: encoded images are stored as they are, byte for byte. The schema
    records the result, so these are not recorded again."""

    image_format: str | None = _run_only()
    image_quality: int | None = _run_only()
    image_size: tuple[int, int] | None = _run_only()

    def apply(self, schema: Schema) -> Schema:
        return schema.with_image_options(self.image_format, self.image_quality, self.image_size)


@dataclass(frozen=True)
class RunOptions:
    """How the run goes. Local by default (Beam is for inputs larger than one machine); ``workers`` threads
    (default: one per core) check, encode and write shards; ``batch_size`` rows per column batch bound memory
    (65536 keeps whole-column work efficient at a few MB per column)."""

    runner: str = "local"
    beam_options: str | None = _run_only()
    workers: int | None = _run_only()
    batch_size: int = DEFAULT_BATCH_ROWS
    progress: bool = _run_only(False)
    resume: bool = _run_only(False)
    overwrite: bool = _run_only(False)
    stats: bool = _run_only(False)
    allow_paths_outside: bool = False

    def __post_init__(self) -> None:
        _positive(batch_size=self.batch_size)
        if self.runner not in RUNNERS:
            raise UsageError(f"unknown runner {self.runner!r}; expected one of {', '.join(RUNNERS)}")
        if self.runner == "beam" and self.resume:
            raise UsageError("--resume works with the local runner; a Beam runner retries failed work itself")


# convert()'s keywords that differ from the field they set
_KEYWORD_FIELDS = {"sequence_per_file": "per_file"}


@dataclass(frozen=True)
class ConvertOptions:
    """Every setting of one conversion, by concern."""

    layout: ShardLayout = field(default_factory=ShardLayout)
    splits: SplitPlan = field(default_factory=SplitPlan)
    bad_rows: BadRowPolicy = field(default_factory=BadRowPolicy)
    grouping: RowGrouping = field(default_factory=RowGrouping)
    images: ImageOverrides = field(default_factory=ImageOverrides)
    run: RunOptions = field(default_factory=RunOptions)

    @classmethod
    def build(cls, given: dict[str, Any]) -> ConvertOptions:
        """From :func:`convert`'s keywords: whole concerns (``layout=ShardLayout(...)``, ...) and single
        settings (``num_shards=8``), which override the concern that holds them."""
        defaults = cls()
        concerns = {f.name: given.pop(f.name, None) or getattr(defaults, f.name) for f in fields(cls)}
        owner = {f.name: (name, f.name) for name, obj in concerns.items() for f in fields(obj)
                 if f.name != "context_columns"}  # derived from the schema, not a setting
        owner |= {kw: owner.pop(name) for kw, name in _KEYWORD_FIELDS.items()}
        changes: dict[str, dict] = {}
        for key, value in given.items():
            if key not in owner:
                raise TypeError(f"convert() got an unexpected keyword argument {key!r}")
            changes.setdefault(owner[key][0], {})[owner[key][1]] = value
        return cls(**{name: replace(obj, **changes.get(name, {})) for name, obj in concerns.items()})

    def for_schema(self, schema: Schema) -> ConvertOptions:
        """Checked against ``schema``, with the columns that keep a sequence's one value filled in."""
        self.layout.check(schema)
        context = tuple(c for f in schema.features if f.is_fixed for c in f.sources)
        return replace(self, grouping=replace(self.grouping, context_columns=context))

    def recorded(self) -> dict[str, Any]:
        """The settings that decide the records written: the manifest's ``options``, and with the schema and
        version the resume fingerprint's settings (in their JSON form, tuples as lists, so that a fingerprint
        read back from the work folder compares equal)."""
        out: dict[str, Any] = {}
        for concern in (getattr(self, f.name) for f in fields(self)):
            values = asdict(concern)
            out |= {f.name: getattr(concern, f.metadata["recorded_as"])() if "recorded_as" in f.metadata
                    else values[f.name] for f in fields(concern) if f.metadata.get("recorded", True)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def _positive(**values: Any) -> None:
    for name, value in values.items():
        if value is not None and (not isinstance(value, int) or value < 1):
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
