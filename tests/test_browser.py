"""A real browser loads the demo: Debian's Chromium, headless, takes a screenshot of the page.

The demo is started the way users start it (``facevox demo``, through ``python -m
facevox_demo``) on a free local port. Chromium is allowed to resolve only ``127.0.0.1``, so the
page must render completely offline. Needs ``chromium`` (``apt-get install -y chromium``): the
test is skipped without it on a developer machine and fails in CI (``CI=true``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow

TABS = ("Face emotion", "Expression studio", "Speech", "Face → voice")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    message = "Chromium is not installed (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message}; CI must install it before the tests")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``facevox demo`` serving on a free port of 127.0.0.1 (models load lazily)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "MPLBACKEND": "Agg"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "facevox_demo", "--host", "127.0.0.1", "--port", str(port), "--no-warm-up"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the demo did not start (exit {proc.poll()}):\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _run_chromium(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--virtual-time-budget=15000",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",  # offline: only this machine
            "--window-size=1280,1100",
            "--enable-logging=stderr",
            "--v=0",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_page_loads_only_local_assets(demo_url: str) -> None:
    with urllib.request.urlopen(demo_url, timeout=10) as response:
        html = response.read().decode()
    assets = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html)
    assert assets, "no script or stylesheet found in the page"
    foreign = [a for a in assets if re.match(r"(https?:)?//", a) and not a.startswith(("http://127.0.0.1", "//127.0.0.1"))]
    assert not foreign, f"the page loads assets from the internet: {foreign}"


def test_chromium_renders_all_four_tabs(demo_url: str, tmp_path: Path) -> None:
    result = _run_chromium(demo_url, tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    for tab in TABS:
        assert tab in dom, f"tab {tab!r} missing from the rendered page"
    assert "Recognise emotions" in dom
    errors = [line for line in result.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    assert not errors, f"JavaScript errors in the page: {errors}"


def test_chromium_screenshot_is_not_blank(demo_url: str, tmp_path: Path) -> None:
    shot = tmp_path / "demo.png"
    result = _run_chromium(demo_url, tmp_path, f"--screenshot={shot}")
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float32)
    assert pixels.shape[:2] == (1100, 1280)
    non_white = (pixels.min(axis=-1) < 200).mean()
    colours = len(np.unique(pixels.reshape(-1, 3).astype(np.uint8), axis=0))
    assert pixels.std() > 10 and non_white > 0.02 and colours > 200, (pixels.std(), non_white, colours)
    # The primary buttons are the theme's orange: the stylesheet and components really rendered.
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    assert ((r > 200) & (g > 80) & (g < 160) & (b < 80)).mean() > 0.002
