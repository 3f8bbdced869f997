"""Plot a text-to-speech training run: validation mel L1, attention sharpness and WER by step.

Reads the ``metrics.jsonl`` that ``facevox train tts`` or ``facevox train tts-fastspeech``
writes into its ``--out`` folder (JSON lines with a ``step``: training losses, and ``val_*``
keys per evaluation) and, optionally, ``bench_tts.py --json`` results taken at given steps,
and draws one PNG with up to three panels:

1. validation L1 of the natural-log mel (Tacotron: before / after the postnet; teacher-forced);
2. Tacotron: attention "focus" (mean largest weight per decoder step, 1 = one token at a
   time) and "diagonal" (share of decoder steps within 2 tokens of the teacher path),
   held-out set; FastSpeech: the validation duration loss (MSE of ``log(1 + frames)``);
3. word error rate of Whisper tiny.en per vocoder (from the benchmark JSON files).

Usage::

    python benchmarks/plot_tts_training.py RUN/metrics.jsonl \\
        --wer 1250=bench_1250.json --wer 4000=bench_4000.json -o docs/images/tts_training.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["main", "read_validation", "read_wer"]


def read_validation(metrics: Path) -> dict[str, list[tuple[int, float]]]:
    """``{key: [(step, value), ...]}`` for the ``val_*`` lines of a ``metrics.jsonl``.

    A resumed run repeats steps; the last record of a step wins.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file has no validation records.
    """
    by_step: dict[int, dict[str, float]] = {}
    for line in metrics.read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        if "val_mel" in rec or "val_postnet" in rec:
            by_step[int(rec["step"])] = rec
    if not by_step:
        raise ValueError(f"{metrics} has no validation records (lines with val_mel or val_postnet)")
    keys = sorted({k for rec in by_step.values() for k in rec if k.startswith("val_")})
    return {k: [(s, float(by_step[s][k])) for s in sorted(by_step) if k in by_step[s]] for k in keys}


def read_wer(pairs: list[str]) -> dict[str, list[tuple[int, float]]]:
    """``{vocoder: [(step, wer), ...]}`` from ``STEP=bench.json`` arguments.

    Raises:
        ValueError: an argument is not ``STEP=PATH``.
    """
    out: dict[str, list[tuple[int, float]]] = {}
    for pair in pairs:
        step, sep, path = pair.partition("=")
        if not sep or not step.isdigit():
            raise ValueError(f"--wer takes STEP=bench.json, got {pair!r}")
        result = json.loads(Path(path).read_text())
        for vocoder, scores in result["vocoders"].items():
            if scores.get("wer") is not None:
                out.setdefault(vocoder, []).append((int(step), float(scores["wer"])))
    return {k: sorted(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("metrics", type=Path, help="metrics.jsonl of a training run")
    ap.add_argument("--wer", action="append", default=[], metavar="STEP=JSON", help="bench_tts.py result")
    ap.add_argument("-o", "--out", type=Path, required=True, help="output .png")
    args = ap.parse_args(argv)
    val = read_validation(args.metrics)
    wer = read_wer(args.wer)
    panels = 3 if wer else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.4))
    mel_label = "before postnet" if "val_postnet" in val else "mel"  # FastSpeech has no postnet
    for key, label in (("val_mel", mel_label), ("val_postnet", "after postnet")):
        if key in val:
            axes[0].plot(*zip(*val[key], strict=True), marker=".", label=label)
    axes[0].set(title="validation mel L1 (log-mel)", xlabel="step")
    axes[0].legend()
    if "val_focus" in val or "val_diagonal" in val:  # Tacotron
        for key, label in (("val_focus", "focus"), ("val_diagonal", "diagonal")):
            if key in val:
                axes[1].plot(*zip(*val[key], strict=True), marker=".", label=label)
        axes[1].set(title="attention (held-out, teacher-forced)", xlabel="step", ylim=(0, 1.02))
        axes[1].legend()
    elif "val_duration" in val:  # FastSpeech
        axes[1].plot(*zip(*val["val_duration"], strict=True), marker=".")
        axes[1].set(title="validation duration loss (log frames, MSE)", xlabel="step", ylim=(0, None))
    if wer:
        for vocoder, points in wer.items():
            axes[2].plot(*zip(*points, strict=True), marker="o", label=vocoder)
        axes[2].set(title="WER, Whisper tiny.en", xlabel="step", ylim=(0, None))
        axes[2].legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
