"""pytest plugin (``pytest11`` entry point ``facevox``): fixtures for plugin authors.

Fixtures:

* ``facevox_conformance`` -- a callable ``(name) -> None`` running
  :func:`facevox.testing.run_conformance` in the test's ``tmp_path``;
* ``facevox_model_names`` -- every registered model name (to assert yours is there).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = ["facevox_conformance", "facevox_model_names"]


@pytest.fixture
def facevox_conformance(tmp_path: Path) -> Callable[[str], None]:
    """Run the full conformance suite on a registered model name."""
    from facevox.testing import run_conformance

    def run(name: str) -> None:
        run_conformance(name, tmp_path)

    return run


@pytest.fixture
def facevox_model_names() -> list[str]:
    """Names of every registered model (built-in and installed plugins)."""
    from facevox import list_models

    return list_models()
