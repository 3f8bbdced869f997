"""The demo's facevox plugin: registers ``facevox demo`` through ``register_commands``.

Registered in facevox's ``pyproject.toml`` under the ``facevox`` entry-point group, like any
third-party plugin; the core does not import the demo. Gradio is imported only when the command
runs, so ``facevox --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from facevox import hookimpl

__all__ = ["command", "register_commands"]


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind; 0.0.0.0 serves the network.")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--share", is_flag=True, help="Also make a public Gradio share link (needs the internet).")
@click.option("--warm-up/--no-warm-up", default=True, show_default=True, help="Load all models before serving.")
def command(host: str, port: int, share: bool, warm_up: bool) -> None:
    """Serve the web demo: face emotion, expression studio, speech, face to voice.

    \b
    Examples:
      facevox demo                      # http://127.0.0.1:7860
      facevox demo --port 8080
    """
    from facevox_demo.app import launch
    from facevox_demo.handlers import DemoBackend

    backend = DemoBackend()
    if warm_up:
        click.echo("facevox demo: loading models...", err=True)
        backend.warm_up()
    launch(host=host, port=port, share=share, backend=backend)


@hookimpl
def register_commands(register: Callable[[Any], None]) -> None:
    """Register ``facevox demo``."""
    register(command)
