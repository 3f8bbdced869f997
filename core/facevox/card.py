"""Model cards, preprocessing metadata and the registration record of a model.

Architecture arguments (a dataclass *config*) are kept apart from the weights' *card*
(what the weights were trained on, how to feed them, what they measured), in the manner of
timm's ``PretrainedCfg`` and torchvision's ``Weights.meta``.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from torch import nn

__all__ = [
    "TASK_NAME",
    "ModelCard",
    "ModelSpec",
    "Preprocessing",
    "Task",
    "task_value",
    "config_from_dict",
    "config_to_dict",
]

C = TypeVar("C")


#: A task name: lower-case words joined by ``-`` (``"face-autoencoder"``, ``"speaker-embedding"``).
TASK_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


class Task(str, enum.Enum):
    """The built-in tasks: what a registered model does, and the role interface it implements.

    Plugins add tasks through the ``register_tasks`` hook (:func:`facevox.list_tasks`); a
    model of such a task gives its name as a plain ``str`` in ``ModelSpec.task``.
    """

    FACE_AUTOENCODER = "face-autoencoder"  #: :class:`facevox.FaceAutoencoder`
    EXPRESSION_CLASSIFICATION = "expression-classification"  #: :class:`facevox.ExpressionClassifier`
    ACOUSTIC_MODEL = "acoustic-model"  #: :class:`facevox.AcousticModel`
    VOCODER = "vocoder"  #: :class:`facevox.Vocoder`

    @classmethod
    def parse(cls, value: str | Task) -> Task:
        """``Task`` from its value; :class:`ValueError` listing the accepted values otherwise."""
        try:
            return cls(value)
        except ValueError:
            accepted = ", ".join(t.value for t in cls)
            raise ValueError(f"unknown task {value!r}; accepted: {accepted}") from None


def task_value(task: Task | str) -> str:
    """The name of a task: a :class:`Task` member's value, or a plugin task's ``str``."""
    return task.value if isinstance(task, Task) else str(task)


@dataclass(frozen=True)
class Preprocessing:
    """How inputs must be prepared for the weights.

    Attributes:
        input_size: image models: ``(channels, height, width)`` in pixels, e.g. ``(1, 48, 48)``.
        mean, std: per-channel normalisation applied to pixels scaled to ``[0, 1]``.
        sample_rate: audio models: Hz.
        mel: audio models: mel front-end settings (``facevox.audio.MelSettings`` as a dict).
        text_processor: acoustic models: registered name of the text processor to use.
    """

    input_size: tuple[int, int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    sample_rate: int | None = None
    mel: Mapping[str, Any] | None = None
    text_processor: str | None = None


@dataclass(frozen=True)
class ModelCard:
    """What a user needs to know about a model and its default weights.

    Attributes:
        summary: one sentence.
        licence: SPDX identifier of the weights (and code), e.g. ``"MIT"``.
        source: paper(s) or method the architecture follows.
        preprocessing: see :class:`Preprocessing`.
        labels: output class names, in logit order (classifiers, conditional models).
        training_data: data set(s) and splits the weights were trained on.
        recipe: how they were trained (optimiser, epochs, augmentation...).
        metrics: measured numbers, name -> value (e.g. ``"val_accuracy": 0.72``).
        notes: anything else (limitations, provenance).
        sha256: hex SHA-256 of the shipped weights file (``ModelSpec.weights``); checked when
            the file is loaded (a mismatch raises :class:`facevox.CheckpointError`), and
            required by :mod:`facevox.testing` for every model that ships a file. ``""`` for
            models without a shipped file.
    """

    summary: str
    licence: str = "MIT"
    source: str = ""
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    labels: tuple[str, ...] = ()
    training_data: str = ""
    recipe: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    notes: str = ""
    sha256: str = ""

    def __post_init__(self) -> None:
        digest = self.sha256
        if digest and (len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest)):
            raise ValueError(f"ModelCard.sha256 must be 64 lower-case hex digits or '', got {digest!r:.80}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return _jsonable(dataclasses.asdict(self))


@dataclass(frozen=True)
class ModelSpec:
    """The record a plugin passes to ``register`` in its ``register_models`` hook.

    Attributes:
        name: ``family.variant``, lower case, e.g. ``"expression.rmn_small"``.
        task: the role the model implements: a :class:`Task` (its value is accepted too) or
            the name of a task a plugin registers with ``register_tasks`` (the registry drops,
            with a warning, a model whose task nobody registered).
        factory: builds an untrained model from a config instance.
        config: the default config (a dataclass instance); ``create_model(**overrides)``
            replaces its fields.
        card: the model card of the default weights.
        weights: the default weights shipped in the plugin package (a ``.safetensors`` file,
            e.g. ``importlib.resources.files(__package__) / "weights" / "x.safetensors"``), or
            ``None`` when the model ships untrained.
        weights_loader: for default weights that come from elsewhere than a shipped
            safetensors file (e.g. a dependency's wheel): ``loader(model)`` loads them in
            place. Used by ``create_model(pretrained=True)`` when ``weights`` is ``None``.
        default: whether this model offers itself as the default of its task, the one a
            pipeline uses when no model is named (:func:`facevox.default_model` has the rule
            for ties and the ``FACEVOX_DEFAULT_<TASK>`` override).
    """

    name: str
    task: Task | str
    factory: Callable[[Any], nn.Module]
    config: Any
    card: ModelCard
    weights: Traversable | Path | None = None
    weights_loader: Callable[[Any], None] | None = None
    default: bool = False

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.config) or isinstance(self.config, type):
            raise TypeError(f"ModelSpec {self.name!r}: config must be a dataclass instance")
        parts = self.name.split(".")
        if len(parts) < 2 or not all(p and p == p.lower() and " " not in p for p in parts):
            raise ValueError(f"model name {self.name!r} must look like 'family.variant' (lower case)")
        task = self.task
        if isinstance(task, str) and not isinstance(task, Task) and task in {t.value for t in Task}:
            task = Task(task)
        if not isinstance(task, Task) and not (isinstance(task, str) and TASK_NAME.fullmatch(task)):
            accepted = ", ".join(t.value for t in Task)
            raise ValueError(f"ModelSpec {self.name!r}: task {task!r:.80} is neither a facevox.Task ({accepted}) "
                             "nor a task name like 'speaker-embedding' (lower-case words joined by '-')")
        object.__setattr__(self, "task", task)
        if not isinstance(self.default, bool):
            raise TypeError(f"ModelSpec {self.name!r}: default must be True or False, got {self.default!r:.80}")

    @property
    def has_weights(self) -> bool:
        """Whether the model has default weights (a shipped file or a loader).

        A declared ``weights`` file counts even when it is missing: loading it then raises
        :class:`facevox.CheckpointError`, so a package that lost its weights fails loudly instead
        of serving an untrained model under a card that reports trained metrics."""
        return self.weights is not None or self.weights_loader is not None


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a (possibly nested) dataclass config; enums become their values."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance, got {type(config).__name__}")
    return _jsonable(dataclasses.asdict(config))


def config_from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
    """Build dataclass ``cls`` from ``data``; unknown keys raise.

    Nested dataclasses, enums and tuples are rebuilt from their JSON forms.

    Raises:
        TypeError: ``data`` has keys that are not fields of ``cls`` (they are listed with
            the accepted ones), or a value cannot be converted.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise TypeError(
            f"unknown {cls.__name__} field(s) {unknown}; accepted: {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {k: _coerce(hints.get(k, Any), v) for k, v in data.items()}
    return cls(**kwargs)


def _coerce(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(args[0], value) if len(args) == 1 else value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        return config_from_dict(hint, value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if origin is tuple and isinstance(value, (list, tuple)):
        items = typing.get_args(hint)
        if len(items) == 2 and items[1] is Ellipsis:
            return tuple(_coerce(items[0], v) for v in value)
        if items and len(items) == len(value):
            return tuple(_coerce(a, v) for a, v in zip(items, value, strict=True))
        return tuple(value)
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
