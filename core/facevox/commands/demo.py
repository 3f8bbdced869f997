"""``facevox demo``: serve the Gradio web demo (``demo/facevox_demo``) on this machine."""

from __future__ import annotations

import click

__all__ = ["command"]


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
    try:
        from facevox_demo import DemoBackend, launch
    except ImportError as exc:  # pragma: no cover - a broken install
        raise click.ClickException(f"the demo package facevox_demo cannot be imported ({exc}); reinstall facevox") from exc
    backend = DemoBackend()
    if warm_up:
        click.echo("facevox demo: loading models...", err=True)
        backend.warm_up()
    launch(host=host, port=port, share=share, backend=backend)
