"""A tiny LJSpeech-layout corpus for the TTS trainer tests: sine-tone "speech", optional teacher durations."""

from __future__ import annotations

from pathlib import Path

import torch
from facevox.audio import save_wav

__all__ = ["write_corpus"]


def write_corpus(root: Path, texts: list[str], seconds: list[float], alignments: list[str] | None = None) -> Path:
    """Write ``root/metadata.csv`` and ``root/wavs/u<i>.wav`` (a 0.3-amplitude tone of 200 + 50 i Hz
    lasting ``seconds[i]``), and ``root/alignments/u<i>.tsv`` from ``alignments[i]`` when given."""
    (root / "wavs").mkdir(parents=True)
    if alignments is not None:
        (root / "alignments").mkdir()
    rows = []
    for i, (text, length) in enumerate(zip(texts, seconds, strict=True)):
        t = torch.arange(int(22050 * length)) / 22050
        save_wav(root / "wavs" / f"u{i}.wav", 0.3 * torch.sin(2 * torch.pi * (200 + 50 * i) * t), 22050)
        rows.append(f"u{i}|{text}|{text}")
        if alignments is not None:
            (root / "alignments" / f"u{i}.tsv").write_text(alignments[i], encoding="utf-8")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root
