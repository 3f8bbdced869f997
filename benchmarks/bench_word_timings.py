"""Word-timing benchmark: facevox's alignment-based word timings against Whisper's.

Synthesizes 10 sentences (written for this benchmark, not from any training transcript), one
pipeline call each, and times their words twice: from the acoustic model's alignment
(:attr:`facevox.pipelines.speech.SpeechResult.words`, or, with ``--emotion``, those carried
through the style by :func:`facevox.pipelines.timings.follow_style`) and with Whisper's word
timestamps on the synthesized audio (faster-whisper, Whisper ``tiny.en``, offline, loaded by
``benchmarks/asr.py``; ``transcribe(..., word_timestamps=True)``, beam 5).

Words are matched after normalising both sides the same way: Whisper's words go through the
text processor's own normaliser (``42`` -> ``forty-two``; a word that becomes several words
shares its time span in proportion to their letters), both are lower-cased and stripped of
punctuation, and the two sequences are aligned with :class:`difflib.SequenceMatcher`; only
identical words in matching blocks count. Reported: the median and mean absolute start and end
error in seconds over the matched words, the mean signed start error (facevox minus Whisper:
negative means facevox's words start earlier), and the fraction of facevox's words matched.
Whisper's timestamps have a 20 ms resolution and its word starts include the silence before a
word, so agreement much below ~50 ms is not measurable this way.

Usage::

    python benchmarks/bench_word_timings.py --threads 1
    python benchmarks/bench_word_timings.py --acoustic tts.tacotron_joe --threads 1
    python benchmarks/bench_word_timings.py --emotion sad --json timings.json

Needs the ``bench`` extra (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shlex
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

SENTENCES: tuple[str, ...] = (
    "The train left the station a few minutes after the storm had passed.",
    "She opened the window and listened to the birds in the garden.",
    "Nobody knew where the old map had been hidden for so many years.",
    "The doctor asked him to come back on Monday for another test.",
    "A small boat drifted slowly toward the rocks near the harbor.",
    "They walked along the river until the lights of the town appeared.",
    "The teacher wrote three simple questions on the board.",
    "He paid $42 for the tickets and kept the receipt in his pocket.",
    "Mr. Brown said that the meeting would start at nine o'clock.",
    "After dinner, the children played outside until it was dark.",
)

_ASR_RATE = 16000
_WORD = re.compile(r"[a-z0-9']+(?:-[a-z0-9']+)*")


def _clean(word: str) -> str:
    """Lower case, punctuation at the edges removed (``"Smith,"`` -> ``"smith"``)."""
    found = _WORD.findall(word.lower())
    return "-".join(found) if found else ""


def whisper_words(model: Any, waveform: torch.Tensor, sample_rate: int, normalize: Any) -> list[tuple[str, float, float]]:
    """``(word, start s, end s)`` of Whisper's transcript of ``waveform``, normalised with ``normalize``.

    A Whisper word that normalises to several words (``$42`` -> ``forty-two dollars``) splits
    its span among them in proportion to their letters.
    """
    import librosa

    audio = librosa.resample(waveform.numpy().astype(np.float32), orig_sr=sample_rate, target_sr=_ASR_RATE)
    segments, _ = model.transcribe(
        audio, language="en", beam_size=5, word_timestamps=True, condition_on_previous_text=False, vad_filter=False
    )
    out: list[tuple[str, float, float]] = []
    for segment in segments:
        for w in segment.words or []:
            parts = [p for p in (_clean(x) for x in normalize(w.word.strip()).split()) if p] if w.word.strip() else []
            total = sum(len(p) for p in parts)
            t = float(w.start)
            for p in parts:
                end = t + (float(w.end) - float(w.start)) * len(p) / total
                out.append((p, t, end))
                t = end
    return out


def match(ours: list[tuple[str, float, float]], theirs: list[tuple[str, float, float]]) -> list[tuple[int, int]]:
    """Index pairs of identical words in the blocks :class:`difflib.SequenceMatcher` matches."""
    matcher = difflib.SequenceMatcher(None, [w for w, _, _ in ours], [w for w, _, _ in theirs], autojunk=False)
    return [(block.a + k, block.b + k) for block in matcher.get_matching_blocks() for k in range(block.size)]


def _synthesize(args: argparse.Namespace, pipeline: Any, voice: Any, text: str) -> tuple[torch.Tensor, int, list[Any]]:
    """Waveform, sample rate and word timings of ``text`` (styled when ``--emotion`` is given)."""
    from facevox.pipelines.timings import follow_style

    if voice is None:
        result = pipeline(text)
        return result.waveform, result.sample_rate, result.words
    styled = voice.speak(text, args.emotion)
    speech = styled.extra["speech"]
    words = follow_style(speech.words, styled.neutral_duration_s, styled.waveform, styled.sample_rate, styled.style)
    return styled.waveform, styled.sample_rate, words


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Synthesize, transcribe, match; return the summary (also printed)."""
    from asr import load_asr_model
    from facevox.pipelines.face_to_voice import FaceToVoicePipeline
    from facevox.pipelines.speech import TextToSpeechPipeline

    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = TextToSpeechPipeline(args.acoustic, vocoder=args.vocoder)
    voice = FaceToVoicePipeline(speech_pipeline=pipeline) if args.emotion else None
    model = load_asr_model(args.threads)
    normalize = pipeline.processor.normalize
    start_err: list[float] = []
    end_err: list[float] = []
    signed: list[float] = []
    n_ours = 0
    rows = []
    began = time.perf_counter()
    for text in SENTENCES[: args.limit]:
        waveform, rate, timed = _synthesize(args, pipeline, voice, text)
        ours = [(_clean(w.word), w.start, w.end) for w in timed]
        theirs = whisper_words(model, waveform, rate, normalize)
        pairs = match(ours, theirs)
        n_ours += len(ours)
        for i, j in pairs:
            start_err.append(abs(ours[i][1] - theirs[j][1]))
            end_err.append(abs(ours[i][2] - theirs[j][2]))
            signed.append(ours[i][1] - theirs[j][1])
        rows.append({"text": text, "words": len(ours), "whisper_words": len(theirs), "matched": len(pairs),
                     "whisper": " ".join(w for w, _, _ in theirs)})
        if args.verbose:
            for i, j in pairs:
                print(f"  {ours[i][0]:>12}  ours {ours[i][1]:6.3f}-{ours[i][2]:6.3f}  whisper {theirs[j][1]:6.3f}-{theirs[j][2]:6.3f}")
    if not start_err:
        raise SystemExit("no word matched Whisper's transcript; is the vocoder making speech?")
    summary = {
        "command": "python " + shlex.join(sys.argv),
        "acoustic": pipeline.acoustic_name,
        "vocoder": pipeline.vocoder_name,
        "emotion": args.emotion,
        "sentences": len(rows),
        "words": n_ours,
        "matched_fraction": round(len(start_err) / n_ours, 3),
        "median_abs_start_error_s": round(statistics.median(start_err), 3),
        "median_abs_end_error_s": round(statistics.median(end_err), 3),
        "mean_abs_start_error_s": round(statistics.fmean(start_err), 3),
        "mean_abs_end_error_s": round(statistics.fmean(end_err), 3),
        "mean_signed_start_error_s": round(statistics.fmean(signed), 3),
        "wall_s": round(time.perf_counter() - began, 1),
        "rows": rows,
    }
    print(f"command: {summary['command']}")
    print(f"acoustic {summary['acoustic']}, vocoder {summary['vocoder']}, emotion {args.emotion or 'none'}, "
          f"{len(rows)} sentences, {n_ours} words")
    print(f"matched fraction        {summary['matched_fraction']:.3f}")
    print(f"median |start error|    {summary['median_abs_start_error_s']:.3f} s "
          f"(mean {summary['mean_abs_start_error_s']:.3f}, signed mean {summary['mean_signed_start_error_s']:+.3f})")
    print(f"median |end error|      {summary['median_abs_end_error_s']:.3f} s (mean {summary['mean_abs_end_error_s']:.3f})")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--acoustic", default="tts.fastspeech_joe", help="acoustic model [%(default)s]")
    parser.add_argument("--vocoder", default=None, help="vocoder [the registry's default]")
    parser.add_argument("--emotion", default=None, help="style the speech (e.g. sad) and time it with follow_style")
    parser.add_argument("--threads", type=int, default=2, help="torch and CTranslate2 threads [%(default)s]")
    parser.add_argument("--limit", type=int, default=len(SENTENCES), help="first N sentences [all 10]")
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every matched word")
    args = parser.parse_args(argv)
    summary = run(args)
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
