"""facevox's web demo: four Gradio tabs over the public pipelines (``facevox demo``).

Offline by design: Gradio analytics are off, nothing is fetched from the internet, the server
binds ``127.0.0.1`` unless told otherwise and no share link is made unless asked.
"""

from __future__ import annotations

from facevox_demo.app import EXAMPLES_DIR, build_demo, launch
from facevox_demo.handlers import DemoBackend, DemoInputError

__all__ = ["EXAMPLES_DIR", "DemoBackend", "DemoInputError", "build_demo", "launch"]
