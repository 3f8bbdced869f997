"""facevox's web demo: four Gradio tabs over the public pipelines (``facevox demo``).

Offline by design: Gradio analytics are off, nothing is fetched from the internet, the server
binds ``127.0.0.1`` unless told otherwise and no share link is made unless asked.

The names below are loaded on first use, so that the ``facevox`` entry point
(:mod:`facevox_demo.plugin`) does not import Gradio.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["EXAMPLES_DIR", "DemoBackend", "DemoInputError", "build_demo", "launch"]

_HOME = {"EXAMPLES_DIR": "app", "build_demo": "app", "launch": "app", "DemoBackend": "handlers",
         "DemoInputError": "handlers"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"facevox_demo.{_HOME[name]}"), name)
    raise AttributeError(f"module 'facevox_demo' has no attribute {name!r}")
