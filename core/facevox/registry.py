"""The model registry: ``create_model``, ``list_models``, ``model_info`` (timm-style).

Models, face detectors and text processors are collected from the plugins' ``register_*``
hooks the first time they are needed, and cached until the set of plugins changes
(:func:`facevox.plugins.on_change`). A name registered by two plugins is resolved in favour of
the built-in one, with a warning naming both distributions (``FACEVOX_ALLOW_OVERRIDE=1`` lets
the third party's win). Plugin code run later (a factory, a weights loader) that fails raises a
:class:`PluginFactoryError` naming the plugin.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import os
import threading
import warnings
from collections.abc import Callable
from typing import Any

from torch import nn

from facevox import plugins
from facevox.card import ModelSpec, Task, config_to_dict, task_value
from facevox.roles import (
    AcousticModel,
    ExpressionClassifier,
    FaceAutoencoder,
    FaceDetector,
    TextProcessor,
    Vocoder,
)

__all__ = [
    "DuplicateModelError",
    "FacevoxError",
    "PluginFactoryError",
    "TaskInfo",
    "UnknownModelError",
    "UntrainedModelWarning",
    "create_face_detector",
    "create_model",
    "create_text_processor",
    "DEFAULT_FACE_DETECTOR_ENV",
    "default_face_detector",
    "default_model",
    "default_model_env",
    "get_model_spec",
    "list_face_detectors",
    "list_models",
    "list_tasks",
    "list_text_processors",
    "model_info",
    "parse_task",
    "task_info",
    "model_provider",
]

#: Environment variable naming the face detector used when none is named.
DEFAULT_FACE_DETECTOR_ENV = "FACEVOX_DEFAULT_FACE_DETECTOR"


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


class PluginFactoryError(FacevoxError, RuntimeError):
    """A registered factory (model, face detector, text processor) failed to build, or built the
    wrong thing; the message names the plugin (and its distribution) that registered it, and the
    original exception is chained as ``__cause__``.

    Attributes:
        kind: ``"model"``, ``"face detector"`` or ``"text processor"``.
        name: the registered name.
        plugin: the name of the plugin that registered it.
    """

    def __init__(self, message: str, *, kind: str, name: str, plugin: str) -> None:
        super().__init__(message)
        self.kind, self.name, self.plugin = kind, name, plugin


@dataclasses.dataclass
class _Entry:
    value: Any
    plugin: str


class _Collection:
    """Name -> entry collected from one hook; resolves clashes, suggests close matches.

    Two plugins registering one name: when either comes from an installed distribution, a
    :class:`facevox.plugins.PluginWarning` names both and one is kept (the built-in, unless
    ``FACEVOX_ALLOW_OVERRIDE=1``; otherwise the first loaded). Between two plugins registered in
    code (no distribution) it is a :class:`DuplicateModelError`.
    """

    def __init__(self, hook: str, kind: str, unpack: Callable[..., tuple[str, Any]],
                 reject: Callable[[Any], str | None] | None = None) -> None:
        self.hook, self.kind, self._unpack, self._reject = hook, kind, unpack, reject
        self._entries: dict[str, _Entry] | None = None
        self._lock = threading.RLock()

    def entries(self) -> dict[str, _Entry]:
        cached = self._entries
        if cached is not None:
            return cached
        with self._lock:
            while self._entries is None:
                start = plugins.generation()
                entries = self._collect()
                if plugins.generation() == start:  # no plugin dropped or added meanwhile
                    self._entries = entries
            return self._entries

    def _collect(self) -> dict[str, _Entry]:
        entries: dict[str, _Entry] = {}
        for plugin, args in plugins.collect_hook(self.hook):  # arguments checked by the plugin manager
            name, value = self._unpack(*args)
            reason = self._reject(value) if self._reject is not None else None
            if reason:
                warnings.warn(f"facevox: {self.kind} {name!r} from plugin {_label(plugin)} is skipped: {reason}",
                              plugins.PluginWarning, stacklevel=5)
                continue
            if name in entries and self._keeps_first(name, entries[name].plugin, plugin):
                continue
            entries[name] = _Entry(value, plugin)
        return entries

    def _keeps_first(self, name: str, first: str, second: str) -> bool:
        a, b = _info(first), _info(second)
        if not (a and a.distribution) and not (b and b.distribution):
            raise DuplicateModelError(
                f"{self.kind} {name!r} is registered twice: by plugin {_label(first)} and by plugin "
                f"{_label(second)}; uninstall one, or restrict plugins with FACEVOX_LOAD_PLUGINS"
            )
        a_builtin, b_builtin = bool(a and a.builtin), bool(b and b.builtin)
        override = plugins.ALLOW_OVERRIDE_ENV
        if a_builtin != b_builtin:
            other = _dist_name(b if a_builtin else a, second if a_builtin else first)
            if plugins.allow_override():
                keep_first = b_builtin
                outcome = f"using {other}'s, which replaces the built-in ({override}=1)"
            else:
                keep_first = a_builtin
                outcome = f"keeping the built-in one (set {override}=1 to use {other}'s)"
        else:
            keep_first = True
            outcome = (f"keeping the first, from {_dist_name(a, first)}; uninstall one, or choose with "
                       f"{plugins.LOAD_PLUGINS_ENV}")
        warnings.warn(
            f"facevox: {self.kind} {name!r} is registered by plugin {_label(first)} and by plugin "
            f"{_label(second)}: {outcome}",
            plugins.PluginWarning,
            stacklevel=5,
        )
        return keep_first

    def get(self, name: str) -> _Entry:
        if not isinstance(name, str):
            raise UnknownModelError(
                f"{self.kind} names are strings such as 'family.variant', got {type(name).__name__} {name!r:.80}"
            )
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

    def build(self, name: str, call: Callable[[], Any], what: str = "failed to build") -> Any:
        """Run plugin code for entry ``name`` (its factory, its weights loader).

        Raises:
            PluginFactoryError: the call raised anything but a :class:`FacevoxError` or
                ``KeyboardInterrupt``; it names the plugin and chains the original.
        """
        try:
            return call()
        except (KeyboardInterrupt, FacevoxError):
            raise
        except BaseException as exc:  # noqa: BLE001 - plugin code: SystemExit included
            plugin = self.get(name).plugin
            raise PluginFactoryError(
                f"{self.kind} {name!r} from plugin {_label(plugin)} {what}: {plugins._describe(exc)}",
                kind=self.kind, name=name, plugin=plugin,
            ) from exc

    def wrong_type(self, name: str, built: Any, expected: str) -> PluginFactoryError:
        plugin = self.get(name).plugin
        return PluginFactoryError(
            f"{self.kind} {name!r} from plugin {_label(plugin)}: its factory returned "
            f"{type(built).__name__}, not a {expected}",
            kind=self.kind, name=name, plugin=plugin,
        )

    def clear(self) -> None:
        self._entries = None  # no lock: may run while another thread rebuilds (see entries())


def _info(plugin: str) -> plugins.PluginInfo | None:
    try:
        return plugins.plugin_info(plugin)
    except KeyError:
        return None


def _is_builtin(plugin: str) -> bool:
    info = _info(plugin)
    return bool(info and info.builtin)


def _label(plugin: str) -> str:
    info = _info(plugin)
    return info.label if info else repr(plugin)


def _dist_name(info: plugins.PluginInfo | None, plugin: str) -> str:
    return (info.distribution if info and info.distribution else None) or f"plugin {plugin!r}"


def _unpack_spec(spec: ModelSpec) -> tuple[str, ModelSpec]:
    return spec.name, spec


@dataclasses.dataclass(frozen=True)
class _Factory:
    call: Callable[[], Any]
    default: bool = False


def _unpack_factory(name: str, factory: Callable[[], Any], default: bool = False) -> tuple[str, _Factory]:
    return name, _Factory(factory, default)


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """A task: what its models do and the role interface they implement.

    Attributes:
        name: the task's name, e.g. ``"vocoder"`` or a plugin's ``"speaker-embedding"``.
        role: the abstract class every model of the task subclasses (a
            :class:`facevox.FacevoxModel`); :mod:`facevox.testing` checks it.
        summary: one sentence.
        plugin: the plugin that registered it; ``""`` for the built-in :class:`Task` members.
    """

    name: str
    role: type[nn.Module]
    summary: str = ""
    plugin: str = ""


_BUILTIN_TASKS: dict[Task, TaskInfo] = {
    Task.FACE_AUTOENCODER: TaskInfo(Task.FACE_AUTOENCODER.value, FaceAutoencoder, "Encode faces to a latent and decode them."),
    Task.EXPRESSION_CLASSIFICATION: TaskInfo(Task.EXPRESSION_CLASSIFICATION.value, ExpressionClassifier,
                                             "Face crops to expression logits."),
    Task.ACOUSTIC_MODEL: TaskInfo(Task.ACOUSTIC_MODEL.value, AcousticModel, "Text tokens to mel spectrograms."),
    Task.VOCODER: TaskInfo(Task.VOCODER.value, Vocoder, "Mel spectrograms to waveforms."),
}


def _unpack_task(name: str, role: type[nn.Module], summary: str = "") -> tuple[str, tuple[type[nn.Module], str]]:
    return name, (role, summary)


def _unknown_task(spec: ModelSpec) -> str | None:
    if isinstance(spec.task, Task) or spec.task in _tasks.entries():
        return None
    return f"its task {spec.task!r} is not registered by any plugin (known tasks: {', '.join(list_tasks())})"


_tasks = _Collection("register_tasks", "task", _unpack_task)
_models = _Collection("register_models", "model", _unpack_spec, reject=_unknown_task)
_detectors = _Collection("register_face_detectors", "face detector", _unpack_factory)
_text_processors = _Collection("register_text_processors", "text processor", _unpack_factory)
for _c in (_tasks, _models, _detectors, _text_processors):
    plugins.on_change(_c.clear)


# ---------------------------------------------------------------------------- tasks


def list_tasks() -> list[str]:
    """Names of every task: the built-in :class:`facevox.Task` values and the plugins' ones, sorted."""
    return sorted({*(t.value for t in Task), *_tasks.entries()})


def parse_task(task: str | Task) -> Task | str:
    """A task by name: the :class:`facevox.Task` member for a built-in one, the ``str`` for a
    plugin's.

    Raises:
        ValueError: no such task (the known ones are listed).
    """
    if isinstance(task, Task):
        return task
    if isinstance(task, str):
        if task in {t.value for t in Task}:
            return Task(task)
        if task in _tasks.entries():
            return task
    raise ValueError(f"unknown task {task!r:.80}; accepted: {', '.join(list_tasks())}")


def task_info(task: str | Task) -> TaskInfo:
    """The :class:`TaskInfo` of a task (built-in or registered by a plugin).

    Raises:
        ValueError: no such task (the known ones are listed).
    """
    parsed = parse_task(task)
    if isinstance(parsed, Task):
        return _BUILTIN_TASKS[parsed]
    entry = _tasks.get(parsed)
    role, summary = entry.value
    return TaskInfo(parsed, role, summary, entry.plugin)


# ---------------------------------------------------------------------------- models


def list_models(pattern: str | None = None, task: str | Task | None = None) -> list[str]:
    """Sorted names of the registered models.

    Args:
        pattern: shell-style wildcard on the name, e.g. ``"expression.*"``.
        task: keep only models of this :class:`facevox.Task` (value or member).

    Raises:
        ValueError: ``task`` is not a known task (the accepted values are listed).
    """
    wanted = task_value(parse_task(task)) if task is not None else None
    names = []
    for name, entry in _models.entries().items():
        if pattern and not fnmatch.fnmatchcase(name, pattern):
            continue
        if wanted is not None and task_value(entry.value.task) != wanted:
            continue
        names.append(name)
    return sorted(names)


def default_model_env(task: str | Task) -> str:
    """Name of the environment variable that overrides the default model of ``task``:
    ``FACEVOX_DEFAULT_`` and the task's value in upper case, ``-`` as ``_`` (for example
    ``FACEVOX_DEFAULT_VOCODER``, ``FACEVOX_DEFAULT_ACOUSTIC_MODEL``)."""
    return "FACEVOX_DEFAULT_" + task_value(parse_task(task)).upper().replace("-", "_")


def default_model(task: str | Task) -> str:
    """The registered model a pipeline of ``task`` uses when it is given no model name.

    The rule, in order:

    1. the environment variable :func:`default_model_env` names (``FACEVOX_DEFAULT_VOCODER=
       hifigan.universal``), which must be a registered model of that task;
    2. the models registered with ``ModelSpec(default=True)`` for that task: one from a
       third-party plugin wins over a built-in one (so a plugin can ship a new default by
       installing it), and between several of the same kind the first name in sorted order is
       taken, with a :class:`facevox.plugins.PluginWarning` naming all of them.

    Raises:
        ValueError: ``task`` is not a known task (the accepted values are listed).
        UnknownModelError: the environment variable names a model that is not registered, or is
            of another task; or no registered model of the task offers itself as default (the
            models of the task are listed, to pass one by name).
    """
    wanted = task_value(parse_task(task))
    env = default_model_env(wanted)
    chosen = os.environ.get(env, "").strip()
    entries = _models.entries()
    if chosen:
        if chosen not in entries:
            _models.get(chosen)  # raises with close matches
        if task_value(entries[chosen].value.task) != wanted:
            raise UnknownModelError(
                f"{env}={chosen!r} is registered for task {task_value(entries[chosen].value.task)!r}, not "
                f"{wanted!r} (registered {wanted} models: {', '.join(list_models(task=wanted)) or 'none'})"
            )
        return chosen
    offered = [n for n, e in entries.items() if task_value(e.value.task) == wanted and e.value.default]
    return _choose_default(f"{wanted} model", env, offered, entries, list_models(task=wanted))


def _choose_default(kind: str, env: str, offered: list[str], entries: dict[str, _Entry], every: list[str]) -> str:
    """The rule of :func:`default_model` for names ``offered`` as defaults (env var already read)."""
    if not offered:
        raise UnknownModelError(
            f"no registered {kind} offers itself as the default; pass a name "
            f"(registered: {', '.join(every) or 'none'}) or set {env}"
        )
    third_party = sorted(n for n in offered if not _is_builtin(entries[n].plugin))
    candidates = third_party or sorted(offered)
    if len(candidates) > 1:
        who = ", ".join(f"{n!r} (plugin {_label(entries[n].plugin)})" for n in candidates)
        warnings.warn(
            f"facevox: several {kind}s offer themselves as the default: {who}; using {candidates[0]!r} "
            f"(set {env} to choose)",
            plugins.PluginWarning,
            stacklevel=3,
        )
    return candidates[0]


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
        UnknownModelError: no such model, or ``name`` is not a string.
        facevox.validation.ConfigError: an override is not a field of the config (accepted fields
            are listed), has the wrong type or range for its annotation (the field, the value and
            what is accepted are named), or makes a model above
            :data:`facevox.validation.MAX_PARAMETERS`; also ``pretrained`` that is not a bool.
        facevox.CheckpointError: the shipped weights do not fit the (overridden) config.
        PluginFactoryError: the plugin's factory (or weights loader) raised, or the factory did
            not return a ``torch.nn.Module``; the plugin is named.
    """
    spec = get_model_spec(name)
    if not isinstance(pretrained, bool):
        from facevox.validation import ConfigError

        raise ConfigError(f"create_model({name!r}): pretrained must be True or False, got {pretrained!r:.80}")
    if overrides:
        from facevox.validation import check_model_size, check_overrides

        where = f"create_model({name!r})"
        config = check_overrides(type(spec.config), spec.config, overrides, where=where)
        check_model_size(spec.factory, config, where=where)
    else:
        config = spec.config
    model = _build_model(name, spec, config)
    model.facevox_name = name  # type: ignore[assignment]
    if pretrained and spec.has_weights:
        if spec.weights is not None:
            from facevox.checkpoint import load_weights

            load_weights(model, spec.weights, sha256=spec.card.sha256 or None)
        elif spec.weights_loader is not None:
            loader = spec.weights_loader
            _models.build(name, lambda: loader(model), "failed to load its weights")
        model.eval()
    return model


def _build_model(name: str, spec: ModelSpec, config: Any) -> nn.Module:
    model = _models.build(name, lambda: spec.factory(config))
    if not isinstance(model, nn.Module):
        raise _models.wrong_type(name, model, "torch.nn.Module")
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
    model = _build_model(name, spec, spec.config)
    params = sum(p.numel() for p in model.parameters())
    return {
        "name": spec.name,
        "task": task_value(spec.task),
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


def default_face_detector() -> str:
    """The face detector used when none is named: ``FACEVOX_DEFAULT_FACE_DETECTOR`` if set,
    else one registered with ``register(name, factory, default=True)``, by the rule of
    :func:`default_model` (a third-party one wins over a built-in one; ties: the first name
    in sorted order, with a warning).

    Raises:
        UnknownModelError: the environment variable names no registered detector, or none is
            offered as the default.
    """
    entries = _detectors.entries()
    chosen = os.environ.get(DEFAULT_FACE_DETECTOR_ENV, "").strip()
    if chosen:
        _detectors.get(chosen)  # raises with close matches
        return chosen
    offered = [n for n, e in entries.items() if e.value.default]
    return _choose_default("face detector", DEFAULT_FACE_DETECTOR_ENV, offered, entries, sorted(entries))


def create_face_detector(name: str | None = None) -> FaceDetector:
    """Build a registered face detector (``None``: :func:`default_face_detector`).

    Raises:
        UnknownModelError: no such detector.
        PluginFactoryError: its factory raised, or returned something other than a
            :class:`facevox.FaceDetector` (the plugin that registered it is named).
    """
    name = name or default_face_detector()
    detector = _detectors.build(name, _detectors.get(name).value.call)
    if not isinstance(detector, FaceDetector):
        raise _detectors.wrong_type(name, detector, "facevox.FaceDetector")
    return detector


def list_text_processors() -> list[str]:
    """Sorted names of the registered text processors."""
    return sorted(_text_processors.entries())


def create_text_processor(name: str) -> TextProcessor:
    """Build a registered text processor, e.g. the one named by an acoustic model's card.

    Raises:
        UnknownModelError: no such text processor.
        PluginFactoryError: its factory raised, or returned something other than a
            :class:`facevox.TextProcessor` (the plugin that registered it is named).
    """
    processor = _text_processors.build(name, _text_processors.get(name).value.call)
    if not isinstance(processor, TextProcessor):
        raise _text_processors.wrong_type(name, processor, "facevox.TextProcessor")
    return processor
