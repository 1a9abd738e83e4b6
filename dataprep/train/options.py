"""The settings of a fit and of a search, as small documented dataclasses (and the choices they take).

A fit is described by three objects, each passed down whole: the model's options (one class per kind:
:class:`WideDeepOptions`, :class:`CNNOptions`, :class:`RNNOptions`), the :class:`TrainOptions` that decide how
it is fitted (recorded in ``metrics.json``) and the :class:`RunOptions` that decide what the run shows and
writes besides the model (not recorded: they do not change it). A search adds :class:`SearchOptions`.
The CLI takes its choices and defaults from here, so this module imports no TensorFlow.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

KINDS = ("wide-deep", "cnn", "rnn")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "nadam")
LOSSES = ("mse", "redef_mse", "huber", "mae")  # regression losses; classifiers use cross-entropy
VARIANTS = ("concat", "two-input", "multi-output")
DENSE_ACTIVATIONS = ("relu", "selu", "elu", "tanh")
CNN_ACTIVATIONS = ("relu", "selu")
CELLS = ("gru", "lstm")
SEARCHES = ("grid", "random", "genetic", "tpe")
LOOPS = ("keras", "tape")
DENSES = ("keras", "custom")  # the tower's layer: keras.layers.Dense or the tutorial's (train/layers.py)


class _Options:
    """Shared by the option dataclasses: ``to_dict`` (lists for tuples, as JSON holds them)."""

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}  # type: ignore


@dataclass(frozen=True)
class WideDeepOptions(_Options):
    """A wide&deep regressor or classifier (see :mod:`.wide_deep` for the variants). Three hidden layers of 100,
    100 and 50 units with ReLU are the tutorial's model, which fits the housing data well. ``task`` None: a
    string label with a vocabulary, or an int64 label with few distinct values, is classified, any other number
    regressed (:func:`dataprep.model_inputs.label_task`). ``include``/``exclude`` choose inputs beyond the
    schema's groups (:func:`dataprep.model_inputs.plan_inputs`); ``class_weights`` weighs each class by the
    inverse of its training frequency. ``dense="custom"`` builds the deep tower from the tutorial code's
    hand-written Dense layer (:class:`dataprep.train.layers.TutorialDense`), same outputs as Keras'."""

    BATCH_SIZE: ClassVar[int] = 32  # the tutorial's: small tables (hundreds of rows) still get many steps an epoch
    LEARNING_RATE: ClassVar[float] = 1e-3
    activation: str = "relu"  # of the hidden layers, one of DENSE_ACTIVATIONS
    variant: str = "two-input"  # one of VARIANTS
    hidden: tuple[int, ...] = (100, 100, 50)  # units of the deep tower's hidden layers
    task: str | None = None  # one of TASKS, None: from the label
    include: tuple[str, ...] = ()  # features in no group that join the inputs
    exclude: tuple[str, ...] = ()  # features left out of the inputs
    class_weights: bool = False  # classification: weigh rare classes up
    dense: str = "keras"  # the deep tower's layer, one of DENSES


@dataclass(frozen=True)
class CNNOptions(_Options):
    """A CNN classifier (see :mod:`.cnn`): conv blocks whose filters double per block. The dropout rates
    (after the conv stack, before the softmax head) are the seed's."""

    BATCH_SIZE: ClassVar[int] = 32
    LEARNING_RATE: ClassVar[float] = 5e-4  # batch-normalised conv stacks diverge more easily at 1e-3
    activation: str = "relu"  # after batch normalisation, one of CNN_ACTIVATIONS
    separable: bool = False  # SeparableConv2D instead of Conv2D
    dropout: tuple[float, float] = (0.25, 0.5)
    filters: int = 32  # of the first block
    blocks: int | None = None  # None: as many as leave at least 2x2 pixels, at most 3
    dense: int = 128  # units of the dense layer before the head
    augment: bool = False  # random one-pixel shifts and small rotations while fitting


@dataclass(frozen=True)
class RNNOptions(_Options):
    """A GRU/LSTM over a sequence feature (see :mod:`.rnn`): two layers of 64 units learn the sample
    sequences; a little dropout on the layers' inputs keeps them from memorising short sets."""

    BATCH_SIZE: ClassVar[int] = 32
    LEARNING_RATE: ClassVar[float] = 1e-3
    cell: str = "gru"  # one of CELLS
    units: int = 64  # per layer
    layers: int = 2
    dropout: float = 0.2  # on each recurrent layer's inputs
    window: int | None = None  # next step: train on overlapping windows of this many steps (None: whole)


ModelOptions = WideDeepOptions | CNNOptions | RNNOptions
MODEL_OPTIONS: dict[str, type[ModelOptions]] = {"wide-deep": WideDeepOptions, "cnn": CNNOptions, "rnn": RNNOptions}


@dataclass(frozen=True)
class TrainOptions(_Options):
    """How a model is fitted. Early stopping watches the validation loss (the training loss without a
    ``valid`` split), keeps the best weights, and the learning rate halves when that loss stalls for
    ``patience // 3`` epochs; 100 epochs are a ceiling it rarely reaches. ``batch_size`` and
    ``learning_rate`` default (None) to the model kind's ``BATCH_SIZE`` and ``LEARNING_RATE``."""

    batch_size: int | None = None
    learning_rate: float | None = None
    optimizer: str = "adam"  # one of OPTIMIZERS
    loss: str = "mse"  # regression only, one of LOSSES; redef_mse is the seed's hand-written MSE
    patience: int = 10  # epochs without improvement before stopping
    min_delta: float = 1e-4  # the smallest change that counts as an improvement
    seed: int = 0  # initialisation and shuffling: two runs give the same metrics
    epochs: int = 100  # the most epochs to run
    loop: str = "keras"  # one of LOOPS: Keras' fit, or the GradientTape training step (same callbacks, outputs)

    def for_model(self, model: ModelOptions) -> ResolvedTrainOptions:
        """These options with the model kind's batch size and learning rate where they are not set."""
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        return ResolvedTrainOptions(**{**given, "batch_size": self.batch_size or model.BATCH_SIZE,
                                       "learning_rate": self.learning_rate or model.LEARNING_RATE})


@dataclass(frozen=True)
class ResolvedTrainOptions(TrainOptions):
    """:class:`TrainOptions` as a fit uses them (:meth:`TrainOptions.for_model`): batch size and learning rate set."""

    batch_size: int
    learning_rate: float


@dataclass(frozen=True)
class RunOptions:
    """What a fit shows and writes besides the model. A search turns most of these off for its trials:
    ``test=False`` leaves the test split alone (trials are scored on ``valid``), ``callbacks`` are added to
    Keras' fit (a search's pruning callback)."""

    verbose: bool = True  # a line per epoch
    plot: bool = True  # learning_curves.png
    linear_baseline: bool = True  # the baselines in metrics.json (wide&deep: linear models on the same inputs)
    test: bool = True  # evaluate on the test split
    callbacks: Sequence[Any] = ()


def fit_options(kind: str, model: ModelOptions | None = None, train: TrainOptions | None = None,
                run: RunOptions | None = None, **keywords: Any) -> tuple[ModelOptions, TrainOptions, RunOptions]:
    """The three option objects of a fit of ``kind``: those given, with ``keywords`` (any field of them, or of
    another kind's model options, which this kind ignores) replacing their fields."""
    from ..errors import UsageError

    if kind not in KINDS:
        raise UsageError(f"unknown model kind {kind!r}; expected one of {', '.join(KINDS)}")
    model = model or MODEL_OPTIONS[kind]()
    if not isinstance(model, MODEL_OPTIONS[kind]):
        raise UsageError(f"{type(model).__name__} are not the options of a {kind} model")
    parts: list[Any] = [model, train or TrainOptions(), run or RunOptions()]
    known = {f.name for cls in (*MODEL_OPTIONS.values(), TrainOptions, RunOptions) for f in fields(cls)}
    unknown = sorted(set(keywords) - known)
    if unknown:
        raise TypeError(f"fit() got unexpected keyword argument(s) {', '.join(unknown)}")
    for i, part in enumerate(parts):
        names = {f.name for f in fields(part)}
        given = {k: _field_value(type(part), k, v) for k, v in keywords.items() if k in names}
        parts[i] = replace(part, **given) if given else part
    return parts[0], parts[1], parts[2]


def _field_value(cls: type, name: str, value: Any) -> Any:
    """A keyword's value as the field holds it: sequences as tuples; the RNN's one dropout rate from the
    sequence of rates the fit keyword takes for every kind (its first)."""
    if cls is RNNOptions and name == "dropout" and isinstance(value, (list, tuple)):
        return float(value[0]) if value else 0.0
    return tuple(value) if isinstance(value, list) else value


def defaults(cls: type) -> dict[str, Any]:
    """The documented defaults of an options class, by field name (what the CLI shows)."""
    return {f.name: f.default for f in fields(cls)}


@dataclass(frozen=True)
class SearchOptions(_Options):
    """A hyper-parameter search (see :mod:`.tune`). Each trial is short (50 epochs at most, with early
    stopping) so that many fit in the time of one full fit; ``trials`` defaults to the whole grid for
    ``grid``, else 20."""

    search: str = "random"  # one of SEARCHES
    trials: int | None = None
    population: int = 10  # of the genetic search
    epochs: int = 50  # the most epochs per trial
    patience: int = 10  # early stopping of each trial
    jobs: int = 1  # trials at once, in separate processes
    seed: int = 0  # of the sampler and of every fit
    prune: bool = False  # stop trials whose score falls below the median of earlier trials at that epoch
