"""Shared by the plugin-loading tests: a plugin manager fed by fake entry points, and its warnings."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from facevox import plugins


@contextmanager
def fake_entry_points(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                      entry_points: Callable[..., list[Any]]) -> Iterator[None]:
    """Build plugin managers from ``entry_points`` (in place of ``importlib.metadata``'s), with
    ``tmp_path`` importable and the plugin environment switches unset; undone on exit."""
    monkeypatch.setattr(plugins.metadata, "entry_points", entry_points)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(plugins.LOAD_PLUGINS_ENV, raising=False)
    monkeypatch.delenv(plugins.ALLOW_OVERRIDE_ENV, raising=False)
    plugins.reset_plugin_manager()
    try:
        yield
    finally:
        monkeypatch.undo()
        for name in [m for m in sys.modules if m.startswith("fvx_")]:
            del sys.modules[name]
        plugins.reset_plugin_manager()


def recorded(call: Callable[[], Any]) -> tuple[Any, list[str]]:
    """``call()`` and the messages of the :class:`facevox.plugins.PluginWarning` s it emitted."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in record if issubclass(w.category, plugins.PluginWarning)]
