"""Shared fixtures: a plugin manager that holds only what a test registers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from facevox import plugins

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def isolated_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh plugin manager that loads no entry point at all; tests register in-test plugins."""
    monkeypatch.setattr(plugins, "_entry_points", lambda: iter(()))
    plugins.reset_plugin_manager()
    yield
    monkeypatch.undo()
    plugins.reset_plugin_manager()


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one torch thread (and do not spin-wait on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut, ``(512, 512, 3)`` uint8 RGB (public domain); her face is
    ``face_photos.ASTRONAUT_FACE``."""
    from skimage import data

    return data.astronaut()
