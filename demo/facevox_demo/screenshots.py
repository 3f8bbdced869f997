"""Screenshots of the demo in use, for the docs: ``python -m facevox_demo.screenshots --out docs/images``.

Starts the demo on a free local port (or uses ``--url``), drives headless Chromium through the
DevTools protocol over a pipe (``--remote-debugging-pipe``: no extra dependency), runs each
tab on the shipped example photo and saves one PNG per tab. Chromium is Debian's package
(``apt-get install -y chromium``) and may resolve only ``127.0.0.1``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["Browser", "main"]

#: (file name, tab, buttons to press in turn, whether to pick the example photo first)
SHOTS = (
    ("demo_face_to_voice.png", "Face → voice", ("Speak like this face",), True),
    ("demo_emotion.png", "Face emotion", ("Recognise emotions",), True),
    ("demo_studio.png", "Expression studio", ("Morph", "Sample"), True),
    ("demo_speech.png", "Speech", ("Speak",), False),
)


class Browser:
    """Headless Chromium driven through the DevTools protocol on file descriptors 3 and 4."""

    def __init__(self, chromium: str, width: int = 1280, height: int = 1000) -> None:
        self._to_chrome_r, self._to_chrome_w = os.pipe()
        self._from_chrome_r, self._from_chrome_w = os.pipe()
        self._profile = tempfile.mkdtemp(prefix="facevox-chromium-")
        to_r, from_w = self._to_chrome_r, self._from_chrome_w

        def _fds() -> None:  # chromium reads commands on fd 3 and writes replies on fd 4
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        self.proc = subprocess.Popen(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--remote-debugging-pipe", f"--user-data-dir={self._profile}", f"--window-size={width},{height}",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "about:blank",
            ],
            preexec_fn=_fds, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_r)
        os.close(from_w)
        self._next_id = 0
        self._buffer = b""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable", session=True)
        self.send("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def send(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        """Call a DevTools method and return its result (events in between are skipped)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome_w, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_chrome_r, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium closed the DevTools pipe during {method}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))

    def js(self, expression: str) -> Any:
        """Evaluate JavaScript in the page (promises awaited) and return its JSON value."""
        result = self.send("Runtime.evaluate", session=True, expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60.0) -> None:
        """Poll a JavaScript condition until it is true."""
        deadline = time.monotonic() + timeout
        while not self.js(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for: {expression}")
            time.sleep(0.5)

    def screenshot(self, path: Path, colors: int = 256) -> None:
        """Save the whole page (not only the viewport) as a PNG, palette-reduced to ``colors``."""
        import io

        from PIL import Image

        height = int(self.js("Math.ceil(document.documentElement.scrollHeight)"))
        data = self.send("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1})["data"]
        image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
        if colors:
            image = image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        image.save(path, optimize=True)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for fd in (self._to_chrome_w, self._from_chrome_r):
            os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)


_VISIBLE = "(el => el && el.offsetParent !== null)"
_CLICK_TAB = "[...document.querySelectorAll('button[role=tab]')].find(b => b.textContent.trim() === {0!r}).click()"
_CLICK_BUTTON = (
    "[...document.querySelectorAll('button')].filter(" + _VISIBLE + ")"
    ".find(b => b.textContent.trim() === {0!r}).click()"
)
_CLICK_EXAMPLE = "[...document.querySelectorAll('button.gallery-item')].filter(" + _VISIBLE + ")[0].click()"
_BUSY = "document.querySelectorAll('.eta-bar, .progress-text, .meta-text-center').length > 0"
_VISIBLE_IMAGES = "[...document.querySelectorAll('img')].filter(" + _VISIBLE + ").length"


def capture(url: str, out: Path, chromium: str) -> list[Path]:
    """Run every tab once in the browser and save :data:`SHOTS` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    browser = Browser(chromium)
    saved = []
    try:
        for name, tab, buttons, example in SHOTS:
            browser.send("Page.navigate", session=True, url=url)
            browser.wait_for("document.querySelectorAll('button[role=tab]').length >= 4")
            browser.js(_CLICK_TAB.format(tab))
            time.sleep(1.0)
            if example:
                browser.js(_CLICK_EXAMPLE)
                time.sleep(1.5)
            for button in buttons:
                before = int(browser.js(_VISIBLE_IMAGES))
                browser.js(_CLICK_BUTTON.format(button))
                time.sleep(2.0)
                browser.wait_for(f"!({_BUSY}) && {_VISIBLE_IMAGES} > {before}", timeout=300)
                time.sleep(1.5)
            browser.js("window.scrollTo(0, 0)")
            browser.screenshot(out / name)
            saved.append(out / name)
            print(f"saved {out / name}", file=sys.stderr)
    finally:
        browser.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"), help="folder for the PNGs")
    parser.add_argument("--url", help="a running demo; default: start one on a free local port")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("chromium is not installed (apt-get install -y chromium)", file=sys.stderr)
        return 1
    demo = None
    url = args.url
    if url is None:
        from facevox_demo import DemoBackend, launch

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        backend = DemoBackend()
        backend.warm_up()
        demo = launch(port=port, backend=backend, block=False, quiet=True)
        url = demo.local_url
    try:
        capture(url, args.out, chromium)
    finally:
        if demo is not None:
            demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
