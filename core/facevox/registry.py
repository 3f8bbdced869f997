"""The model registry: ``create_model``, ``list_models``, ``model_info`` (timm-style).

Models, face detectors and text processors are collected from the plugins' ``register_*``
hooks the first time they are needed, and cached until the set of plugins changes.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import threading
from collections.abc import Callable
from typing import Any

from torch import nn

from facevox import plugins
from facevox.card import ModelSpec, Task, config_to_dict
from facevox.roles import FaceDetector, TextProcessor

__all__ = [
    "DuplicateModelError",
    "FacevoxError",
    "UnknownModelError",
    "UntrainedModelWarning",
    "create_face_detector",
    "create_model",
    "create_text_processor",
    "get_model_spec",
    "list_face_detectors",
    "list_models",
    "list_text_processors",
    "model_info",
    "model_provider",
]

DEFAULT_FACE_DETECTOR = "opencv.haar"


class FacevoxError(Exception):
    """Base of facevox's user-facing errors (the CLI prints them without a traceback)."""


class UnknownModelError(FacevoxError, KeyError):
    """No model (or detector, text processor) of that name is registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class DuplicateModelError(FacevoxError, ValueError):
    """Two plugins registered the same name."""


class UntrainedModelWarning(UserWarning):
    """A pipeline was built on a registered model that ships no weights: its output is meaningless."""


@dataclasses.dataclass
class _Entry:
    value: Any
    plugin: str


class _Collection:
    """Name -> entry collected from one hook; raises on duplicates, suggests close matches."""

    def __init__(self, hook: str, kind: str, unpack: Callable[..., tuple[str, Any]]) -> None:
        self.hook, self.kind, self._unpack = hook, kind, unpack
        self._entries: dict[str, _Entry] | None = None
        self._lock = threading.RLock()

    def entries(self) -> dict[str, _Entry]:
        with self._lock:
            if self._entries is None:
                entries: dict[str, _Entry] = {}
                for plugin, args in plugins.collect_hook(self.hook):
                    name, value = self._unpack(*args)
                    if name in entries:
                        raise DuplicateModelError(
                            f"{self.kind} {name!r} is registered twice: by plugin "
                            f"{_label(entries[name].plugin)} and by plugin {_label(plugin)}; "
                            "uninstall one, or restrict plugins with FACEVOX_LOAD_PLUGINS"
                        )
                    entries[name] = _Entry(value, plugin)
                self._entries = entries
            return self._entries

    def get(self, name: str) -> _Entry:
        entries = self.entries()
        try:
            return entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(entries), n=5, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            available = ", ".join(sorted(entries)) or "none"
            raise UnknownModelError(
                f"unknown {self.kind} {name!r}{hint} (registered: {available})"
            ) from None

    def clear(self) -> None:
        with self._lock:
            self._entries = None


def _label(plugin: str) -> str:
    try:
        return plugins.plugin_info(plugin).label
    except KeyError:
        return repr(plugin)


def _unpack_spec(spec: Any) -> tuple[str, Any]:
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"register_models: register() takes a facevox.ModelSpec, got {type(spec).__name__}")
    return spec.name, spec


def _unpack_factory(name: Any, factory: Any) -> tuple[str, Any]:
    if not isinstance(name, str) or not callable(factory):
        raise TypeError("register(name, factory) takes a str and a zero-argument callable")
    return name, factory


_models = _Collection("register_models", "model", _unpack_spec)
_detectors = _Collection("register_face_detectors", "face detector", _unpack_factory)
_text_processors = _Collection("register_text_processors", "text processor", _unpack_factory)
for _c in (_models, _detectors, _text_processors):
    plugins._on_change(_c.clear)


# ---------------------------------------------------------------------------- models


def list_models(pattern: str | None = None, task: str | Task | None = None) -> list[str]:
    """Sorted names of the registered models.

    Args:
        pattern: shell-style wildcard on the name, e.g. ``"expression.*"``.
        task: keep only models of this :class:`facevox.Task` (value or member).

    Raises:
        ValueError: ``task`` is not a known task (the accepted values are listed).
    """
    wanted = Task.parse(task) if task is not None else None
    names = []
    for name, entry in _models.entries().items():
        if pattern and not fnmatch.fnmatchcase(name, pattern):
            continue
        if wanted is not None and entry.value.task is not wanted:
            continue
        names.append(name)
    return sorted(names)


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`facevox.ModelSpec` registered under ``name``.

    Raises:
        UnknownModelError: no such model (close matches are suggested).
    """
    spec: ModelSpec = _models.get(name).value
    return spec


def model_provider(name: str) -> str:
    """Name of the plugin that registered model ``name``."""
    return _models.get(name).plugin


def create_model(name: str, pretrained: bool = True, **overrides: Any) -> nn.Module:
    """Build a registered model, with its default weights when ``pretrained``.

    Args:
        name: registered name, e.g. ``"expression.resmasknet"`` (see :func:`list_models`).
        pretrained: load the default weights shipped with the plugin. A model registered
            without weights is returned untrained (check ``model_info(name)["pretrained"]``).
        **overrides: replace fields of the model's config dataclass.

    Returns:
        the model (an instance of its role, e.g. :class:`facevox.ExpressionClassifier`) in
        eval mode when pretrained, train mode otherwise, on CPU in float32.

    Raises:
        UnknownModelError: no such model.
        TypeError: an override is not a field of the config (accepted fields are listed).
        facevox.CheckpointError: the shipped weights do not fit the (overridden) config.
    """
    spec = get_model_spec(name)
    fields = {f.name for f in dataclasses.fields(spec.config)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"{name}: unknown config field(s) {unknown}; accepted: {sorted(fields)}")
    config = dataclasses.replace(spec.config, **overrides)
    model = spec.factory(config)
    model.facevox_name = name  # type: ignore[assignment]
    if pretrained and spec.has_weights:
        if spec.weights is not None:
            from facevox.checkpoint import load_weights

            load_weights(model, spec.weights)
        elif spec.weights_loader is not None:
            spec.weights_loader(model)
        model.eval()
    return model


def model_info(name: str) -> dict[str, Any]:
    """JSON-ready description of a registered model: its card plus registry facts.

    Keys: ``name``, ``task``, ``plugin``, ``plugin_version``, ``pretrained`` (whether default
    weights ship), ``params`` (parameter count), ``config``, and the card's fields.
    """
    spec = get_model_spec(name)
    plugin = model_provider(name)
    try:
        version = plugins.plugin_info(plugin).version
    except KeyError:
        version = ""
    model = spec.factory(spec.config)
    params = sum(p.numel() for p in model.parameters())
    return {
        "name": spec.name,
        "task": spec.task.value,
        "plugin": plugin,
        "plugin_version": version,
        "pretrained": spec.has_weights,
        "params": params,
        "config": config_to_dict(spec.config),
        **spec.card.to_dict(),
    }


# ---------------------------------------------------------------------------- other kinds


def list_face_detectors() -> list[str]:
    """Sorted names of the registered face detectors."""
    return sorted(_detectors.entries())


def create_face_detector(name: str | None = None) -> FaceDetector:
    """Build a registered face detector (default ``"opencv.haar"``).

    Raises:
        UnknownModelError: no such detector.
    """
    detector = _detectors.get(name or DEFAULT_FACE_DETECTOR).value()
    if not isinstance(detector, FaceDetector):
        raise TypeError(f"face detector {name!r} factory returned {type(detector).__name__}, not a FaceDetector")
    return detector  # type: ignore[no-any-return]


def list_text_processors() -> list[str]:
    """Sorted names of the registered text processors."""
    return sorted(_text_processors.entries())


def create_text_processor(name: str) -> TextProcessor:
    """Build a registered text processor, e.g. the one named by an acoustic model's card.

    Raises:
        UnknownModelError: no such text processor.
    """
    processor = _text_processors.get(name).value()
    if not isinstance(processor, TextProcessor):
        raise TypeError(f"text processor {name!r} factory returned {type(processor).__name__}")
    return processor  # type: ignore[no-any-return]
