"""Screenshots of the demo in use, for the docs: ``python tools/demo_screenshots.py --out docs/images``.

Starts the demo on a free local port (or uses ``--url``), drives headless Chromium with
Playwright's sync API, runs each tab on the shipped example photo and saves one PNG per tab.
Not part of the runtime package: needs ``pip install -e ".[docs]"`` (Playwright) and a
Chromium binary; Debian's package (``apt-get install -y chromium``) is used as is, so
``playwright install`` (a browser download) is not needed. Chromium may resolve only
``127.0.0.1``: the page never reaches the internet.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported for real in main(), with a one-line error when missing
    from playwright.sync_api import Page

#: (file name, tab, buttons to press in turn, whether to pick the example photo first)
SHOTS = (
    ("demo_face_to_voice.png", "Face → voice", ("Speak like this face",), True),
    ("demo_emotion.png", "Face emotion", ("Recognise emotions",), True),
    ("demo_studio.png", "Expression studio", ("Morph", "Sample"), True),
    ("demo_speech.png", "Speech", ("Speak",), False),
)
WIDTH, HEIGHT = 1280, 1000

# Gradio's status tracker renders these only while an event is queued or running.
_BUSY = "document.querySelectorAll('.eta-bar, .progress-text, .meta-text-center').length > 0"
_VISIBLE_IMAGES = "[...document.querySelectorAll('img')].filter(el => el.offsetParent !== null)"
# Resolves to "done" once nothing is pending, more images are visible than `before` and all of
# them have loaded (and every audio player has its audio), or to the text of an error toast.
_FINISHED = """before => {
  const error = document.querySelector('.toast-body.error');
  if (error) return 'error: ' + error.innerText.replace(/\\s+/g, ' ').trim();
  if (BUSY) return false;
  const images = IMAGES;
  if (images.length <= before || !images.every(img => img.complete && img.naturalWidth > 0)) return false;
  const audio = [...document.querySelectorAll('audio')].filter(a => a.src);
  if (!audio.every(a => a.readyState >= 1)) return false;
  return 'done';
}""".replace("BUSY", _BUSY).replace("IMAGES", _VISIBLE_IMAGES)


def _visible_images(page: Page) -> int:
    return int(page.evaluate(f"{_VISIBLE_IMAGES}.length"))


def _settle(page: Page) -> None:
    """Let the last layout change (waveform drawing, image fade-in) reach the screen."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:  # Gradio may hold a stream open; a quiet network is a hint, not a requirement
        page.wait_for_load_state("networkidle", timeout=5000)
    except PlaywrightTimeout:
        pass
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def capture(page: Page, url: str, out: Path, timeout_s: float = 300.0, colors: int = 256) -> list[Path]:
    """Run every tab of :data:`SHOTS` once in ``page`` and save the PNGs under ``out``."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, tab, buttons, example in SHOTS:
        page.goto(url, wait_until="domcontentloaded")
        tab_button = page.get_by_role("tab", name=tab, exact=True)
        tab_button.click()
        page.wait_for_function(
            "name => [...document.querySelectorAll('button[role=tab]')]"
            ".some(b => b.textContent.trim() === name && b.getAttribute('aria-selected') === 'true')",
            arg=tab,
        )
        if example:
            before = _visible_images(page)
            page.locator("button.gallery-item").locator("visible=true").first.click()
            # the photo shows in the input component once Gradio has fetched it
            page.wait_for_function(
                f"before => {_VISIBLE_IMAGES}.filter(img => img.complete && img.naturalWidth > 0).length > before",
                arg=before,
            )
        for button in buttons:
            before = _visible_images(page)
            page.get_by_role("button", name=button, exact=True).locator("visible=true").click()
            result = page.wait_for_function(_FINISHED, arg=before, timeout=timeout_s * 1000, polling=250)
            status = result.json_value()
            if status != "done":
                raise RuntimeError(f"{tab} / {button}: the demo answered with {status}")
        _settle(page)
        page.evaluate("window.scrollTo(0, 0)")
        image = Image.open(io.BytesIO(page.screenshot(full_page=True, animations="disabled"))).convert("RGB")
        if colors:  # palette PNGs are a third of the size and look the same for UI screenshots
            image = image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        image.save(out / name, optimize=True)
        saved.append(out / name)
        print(f"saved {out / name} ({image.width}x{image.height})", file=sys.stderr)
    return saved


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_demo(log: Any, timeout_s: float = 300.0) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``python -m facevox_demo`` on a free port and return it with its URL once it answers."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "-m", "facevox_demo", "--host", "127.0.0.1", "--port", str(port), "--no-warm-up"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the demo exited with status {proc.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return proc, url
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            _stop_demo(proc)
            raise RuntimeError(f"the demo did not answer on {url} within {timeout_s:.0f} s")
        time.sleep(0.5)


def _stop_demo(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"), help="folder for the PNGs (default: docs/images)")
    parser.add_argument("--url", help="a running demo; default: start one on a free local port")
    parser.add_argument("--executable-path", help="the Chromium binary (default: chromium on PATH, then /usr/bin/chromium)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each button's outputs (default: 300)")
    args = parser.parse_args(argv)

    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        print('error: Playwright is not installed; run: pip install -e ".[docs]"', file=sys.stderr)
        return 1
    chromium = args.executable_path or shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        print(f"error: no Chromium at {chromium}; run: apt-get install -y chromium, or pass --executable-path",
              file=sys.stderr)
        return 1

    demo = None
    log_path = Path(tempfile.mkstemp(prefix="facevox-demo-", suffix=".log")[1])
    started = time.monotonic()
    try:
        with log_path.open("wb") as log:
            url = args.url
            if url is None:
                demo, url = _start_demo(log)
                print(f"demo serving {url} (log: {log_path})", file=sys.stderr)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=chromium, headless=True,
                    args=["--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"],
                )
                try:
                    page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1)
                    capture(page, url, args.out, timeout_s=args.timeout)
                finally:
                    browser.close()
    except (RuntimeError, PlaywrightError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        if demo is not None:
            print(f"last lines of the demo's log ({log_path}):\n{_tail(log_path)}", file=sys.stderr)
        return 1
    finally:
        if demo is not None:
            _stop_demo(demo)
    print(f"done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    log_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
