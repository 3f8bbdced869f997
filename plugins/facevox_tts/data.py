"""Training data for the TTS plugin: LJSpeech-layout corpora, a mel cache, batching.

Layout read (LJSpeech 1.1, Ito & Johnson 2017): ``DIR/metadata.csv`` with ``id|text|normalized
text`` rows (the last column is used when present) and audio in ``DIR/wavs/<id>.wav`` or
``DIR/audio/<id>.ogg`` (or .flac). An optional ``DIR/alignments/<id>.tsv`` holds the teacher's
per-phoneme durations (see :mod:`facevox_tts.alignment`).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from facevox.audio import AUDIO_EXTENSIONS, MelSettings, load_audio, mel_spectrogram
from facevox.io import atomic_path
from torch import Tensor
from tqdm import tqdm

__all__ = ["Utterance", "build_mel_cache", "length_buckets", "read_corpus"]


@dataclass
class Utterance:
    """One corpus entry.

    Attributes:
        uid: utterance id (file stem).
        text: the transcript (normalised column when the corpus has one).
        audio: path of the audio file.
        alignment: path of the teacher durations (``.tsv``) or ``None``.
    """

    uid: str
    text: str
    audio: Path
    alignment: Path | None = None


def read_corpus(root: str | Path) -> list[Utterance]:
    """Utterances of an LJSpeech-layout folder, in file order.

    Raises:
        FileNotFoundError: no ``metadata.csv``, or an audio file is missing.
        ValueError: a malformed metadata row (the line number is given).
    """
    root = Path(root)
    meta = root / "metadata.csv"
    if not meta.is_file():
        raise FileNotFoundError(f"{meta} not found; expected an LJSpeech layout: metadata.csv + wavs/ or audio/")
    out: list[Utterance] = []
    with open(meta, encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE), start=1):
            if not row:
                continue
            if len(row) < 2:
                raise ValueError(f"{meta}:{n}: expected 'id|text[|normalized text]', got {'|'.join(row)!r}")
            uid, text = row[0], row[-1] if row[-1].strip() else row[1]
            audio = _find_audio(root, uid)
            tsv = root / "alignments" / f"{uid}.tsv"
            out.append(Utterance(uid, text, audio, tsv if tsv.is_file() else None))
    return out


def _find_audio(root: Path, uid: str) -> Path:
    for folder in ("wavs", "audio"):
        for ext in AUDIO_EXTENSIONS:
            p = root / folder / f"{uid}{ext}"
            if p.is_file():
                return p
    raise FileNotFoundError(f"no audio for {uid!r} under {root}/wavs or {root}/audio ({', '.join(AUDIO_EXTENSIONS)})")


def build_mel_cache(
    utterances: list[Utterance], cache: str | Path, settings: MelSettings = MelSettings(), progress: bool = True
) -> dict[str, int]:
    """Compute each utterance's mel once into ``cache/<uid>.npy`` (float16 ``(n_mels, T)``).

    Existing files are kept, so an interrupted build resumes.

    Returns:
        ``uid -> T`` frame counts.
    """
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    frames: dict[str, int] = {}
    for u in tqdm(utterances, desc="mel cache", disable=not progress, mininterval=5):
        path = cache / f"{u.uid}.npy"
        if path.is_file():
            frames[u.uid] = int(np.load(path, mmap_mode="r").shape[1])
            continue
        wav, _ = load_audio(u.audio, settings.sample_rate)
        mel = mel_spectrogram(wav, settings).numpy().astype(np.float16)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, mel)
        frames[u.uid] = int(mel.shape[1])
    return frames


def load_mel(cache: str | Path, uid: str) -> Tensor:
    """Cached mel ``(n_mels, T)`` float32."""
    return torch.from_numpy(np.load(Path(cache) / f"{uid}.npy").astype(np.float32))


def length_buckets(
    lengths: list[int], batch_frames: int, max_batch: int, rng: random.Random, max_len: int | None = None
) -> Iterator[list[int]]:
    """Batches of indices with similar lengths (one shuffled pass over the data).

    Indices are sorted by length, cut into batches holding at most ``batch_frames`` padded
    frames and ``max_batch`` items, and the batches are shuffled.

    Args:
        lengths: frames per item.
        batch_frames: budget of ``B * T_max`` per batch.
        max_batch: largest ``B``.
        rng: shuffling source.
        max_len: items longer than this are skipped (curriculum).
    """
    order = sorted((i for i, n in enumerate(lengths) if max_len is None or n <= max_len), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (len(current) + 1) * lengths[i] > batch_frames or len(current) >= max_batch:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    yield from batches


def _main() -> None:  # pragma: no cover - background cache builder
    import sys

    utts = read_corpus(sys.argv[1])
    build_mel_cache(utts, sys.argv[2])


if __name__ == "__main__":  # pragma: no cover
    _main()
