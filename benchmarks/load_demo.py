"""Load test of the Gradio demo: many concurrent /emotion and /speak calls against one server.

Starts ``python -m facevox_demo`` on a free local port (its own process, models warmed up),
then, through ``gradio_client`` from this process:

1. **load**: ``--emotion`` /emotion calls (real photos: the demo's astronaut, NASA, public
   domain; matplotlib's Grace Hopper, US Navy, public domain) and ``--speak`` /speak calls
   (sentences of the US Declaration of Independence, public domain), all submitted at once;
   every call must return a labelled face or audio of plausible length;
2. **bad requests**: a photo without a face, a file that is not an image, empty text, text over
   the demo's limit, an unknown style; each must come back as a ``gr.Error`` message
   (``gradio_client``'s ``AppError``) naming the problem;
3. the server's log must hold no Python traceback.

Reports (stdout, and ``--json``): per endpoint the count, failures, p50/p95/max latency in
seconds (from submission, so queueing is included) and throughput; the server's peak resident
memory (``VmHWM`` of ``/proc/<pid>/status``, Linux) and its resident memory before the load.

Target (issue 18): 0 failures of 50 /emotion + 20 /speak; bad requests answered with messages
and no traceback in the log.

Usage::

    python benchmarks/load_demo.py [--emotion 50] [--speak 20] [--json load.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

SENTENCES = (  # US Declaration of Independence, 1776 (public domain)
    "We hold these truths to be self-evident, that all men are created equal.",
    "Prudence, indeed, will dictate that governments long established should not be changed "
    "for light and transient causes.",
    "He has refused his assent to laws, the most wholesome and necessary for the public good.",
    "In every stage of these oppressions we have petitioned for redress in the most humble terms.",
    "And for the support of this declaration, we mutually pledge to each other our lives, "
    "our fortunes and our sacred honor.",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status_kib(pid: int, field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of a process in KiB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _photos(folder: Path) -> list[str]:
    import matplotlib.cbook
    from facevox_demo import EXAMPLES_DIR

    hopper = folder / "grace_hopper.jpg"
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:  # type: ignore[no-untyped-call]
        hopper.write_bytes(f.read())
    return [str(EXAMPLES_DIR / "astronaut.jpg"), str(hopper)]


def _start_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "facevox_demo", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    url = f"http://127.0.0.1:{port}/"
    t0 = time.time()
    while time.time() - t0 < 600:
        if proc.poll() is not None:
            raise SystemExit(f"the demo server exited with {proc.returncode}; log:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).read(1)  # noqa: S310 - a local URL
            return proc
        except OSError:
            time.sleep(1.0)
    proc.kill()
    raise SystemExit("the demo server did not answer within 10 minutes")


def _timed(job: Any, submitted: float, check: Any) -> dict[str, Any]:
    try:
        result = job.result()
        check(result)
        return {"ok": True, "seconds": time.perf_counter() - submitted}
    except Exception as exc:  # noqa: BLE001 - a failure is what this counts
        return {"ok": False, "seconds": time.perf_counter() - submitted, "error": f"{type(exc).__name__}: {exc}"}


def _check_emotion(result: Any) -> None:
    annotated, label, table = result
    if not label or not label.get("label"):
        raise AssertionError(f"no emotion label in {label!r}")
    if np.asarray(Image.open(annotated)).ndim != 3:
        raise AssertionError("the annotated photo is not an RGB image")


def _check_speak(result: Any) -> None:
    import soundfile

    audio, _mel, _align, info = result
    data, rate = soundfile.read(audio, dtype="float32")
    seconds = len(data) / rate
    if not 1.0 <= seconds <= 30.0 or float(np.abs(data).max()) < 0.01:
        raise AssertionError(f"implausible audio: {seconds:.2f} s, peak {float(np.abs(data).max()):.4f}")


def _summary(rows: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    times = sorted(r["seconds"] for r in rows)
    q = statistics.quantiles(times, n=20) if len(times) > 1 else times * 19
    return {"calls": len(rows), "failures": sum(not r["ok"] for r in rows),
            "p50_s": round(statistics.median(times), 2), "p95_s": round(q[18], 2), "max_s": round(times[-1], 2),
            "per_s": round(len(rows) / wall, 2), "errors": sorted({r["error"] for r in rows if not r["ok"]})[:5]}


def _bad_requests(client: Any, folder: Path, vocoder: str) -> list[dict[str, Any]]:
    from gradio_client import handle_file

    blank = folder / "no_face.png"
    Image.fromarray(np.full((240, 320, 3), 200, np.uint8)).save(blank)
    not_image = folder / "notes.png"
    not_image.write_bytes(b"this is not an image at all\n" * 20)
    cases = [
        ("/emotion", (handle_file(str(blank)),), "no face"),
        ("/emotion", (handle_file(str(not_image)),), "not an image"),
        ("/speak", ("   ", vocoder, "neutral"), "type a sentence"),
        ("/speak", ("word " * 200, vocoder, "neutral"), "at most"),
        ("/speak", ("Hello there.", vocoder, "gleeful"), "unknown style"),
    ]
    out = []
    for api, args, expected in cases:
        try:
            client.predict(*args, api_name=api)
            out.append({"api": api, "expected": expected, "ok": False, "message": "no error raised"})
        except Exception as exc:  # noqa: BLE001 - gradio_client raises AppError
            message = str(exc)
            out.append({"api": api, "expected": expected, "type": type(exc).__name__, "message": message[:200],
                        "ok": type(exc).__name__ == "AppError" and expected.lower() in message.lower()})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emotion", type=int, default=50, help="concurrent /emotion calls")
    parser.add_argument("--speak", type=int, default=20, help="concurrent /speak calls")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()

    from facevox_demo import DemoBackend
    from gradio_client import Client, handle_file

    vocoder = DemoBackend().vocoders()[0]
    folder = Path(tempfile.mkdtemp(prefix="facevox-load-"))
    log = folder / "server.log"
    port = _free_port()
    t0 = time.time()
    proc = _start_server(port, log)
    report: dict[str, Any] = {"server_start_s": round(time.time() - t0, 1), "vocoder": vocoder}
    try:
        report["server_rss_mib_idle"] = round(_status_kib(proc.pid, "VmRSS") / 1024, 1)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        photos = _photos(folder)
        jobs: list[tuple[str, Any, float]] = []
        t_load = time.perf_counter()
        for i in range(max(args.emotion, args.speak)):
            if i < args.emotion:
                jobs.append(("emotion", client.submit(handle_file(photos[i % len(photos)]), api_name="/emotion"),
                             time.perf_counter()))
            if i < args.speak:
                jobs.append(("speak", client.submit(SENTENCES[i % len(SENTENCES)], vocoder, "neutral",
                                                    api_name="/speak"), time.perf_counter()))
        checks = {"emotion": _check_emotion, "speak": _check_speak}
        with ThreadPoolExecutor(len(jobs)) as pool:
            rows = list(pool.map(lambda j: {"api": j[0], **_timed(j[1], j[2], checks[j[0]])}, jobs))
        wall = time.perf_counter() - t_load
        report["load_wall_s"] = round(wall, 1)
        for api in ("emotion", "speak"):
            picked = [r for r in rows if r["api"] == api]
            if picked:
                report[api] = _summary(picked, wall)
        report["bad_requests"] = _bad_requests(client, folder, vocoder)
        report["server_peak_rss_mib"] = round(_status_kib(proc.pid, "VmHWM") / 1024, 1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text(errors="replace")
    report["tracebacks_in_log"] = text.count("Traceback (most recent call last)")
    report["ok"] = (all(report.get(a, {}).get("failures", 0) == 0 for a in ("emotion", "speak"))
                    and all(b["ok"] for b in report["bad_requests"]) and report["tracebacks_in_log"] == 0)
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if report["tracebacks_in_log"]:
        print(text[-4000:], file=sys.stderr)
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
