"""Hook specifications: the whole plugin contract of facevox.

Every hook is named ``register_<things>`` and receives a ``register`` callback; the host owns
the collections and plugins never touch a global (the style of simonw/llm and datasette).
Hook bodies are docstrings only. ``docs/plugins.md`` documents each hook under its exact
signature, and a test checks it does.

Each call of ``register`` is checked against its hook (``facevox.plugins`` holds the rules): a
call with arguments the hook does not take (``register("garbage")`` in ``register_models``), or
a hook that raises, drops the whole plugin, with everything it registered from every hook, and
one warning naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "facevox"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_tasks(register: Callable[..., None]) -> None:
    """Register new tasks: ``register(name, role, summary="")`` with a task name (lower-case
    words joined by ``-``, not a built-in :class:`facevox.Task`) and the role class (a
    :class:`facevox.FacevoxModel` subclass) its models implement; models then give ``name`` as
    their ``ModelSpec.task``."""


@hookspec
def register_models(register: Callable[[Any], None]) -> None:
    """Register models: call ``register(spec)`` with a :class:`facevox.ModelSpec` per model."""


@hookspec
def register_face_detectors(register: Callable[..., None]) -> None:
    """Register face detectors: ``register(name, factory, default=False)``; ``factory()``
    returns a :class:`facevox.FaceDetector`; ``default=True`` offers it as the detector used when
    none is named (:func:`facevox.default_face_detector`)."""


@hookspec
def register_text_processors(register: Callable[..., None]) -> None:
    """Register text processors: ``register(name, factory, default=False)``; ``factory()``
    returns a :class:`facevox.TextProcessor` (``default`` is accepted for symmetry; an acoustic
    model's card names the text processor it needs)."""


@hookspec
def register_speech_styles(register: Callable[[Any], None]) -> None:
    """Register speech styles: ``register(style)`` with a :class:`facevox.SpeechStyle`; a later
    registration of the same emotion replaces an earlier one."""


@hookspec
def register_commands(register: Callable[[Any], None]) -> None:
    """Register top-level CLI commands: ``register(command)`` with a :class:`click.Command`
    (``facevox <command.name> ...``)."""


@hookspec
def register_trainers(register: Callable[[Any], None]) -> None:
    """Register training commands: ``register(command)`` with a :class:`click.Command`,
    run as ``facevox train <command.name> ...``."""
