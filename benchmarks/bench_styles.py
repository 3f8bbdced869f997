"""Emotion styles benchmark: pitch, duration and intelligibility of the same sentences per emotion.

For every registered speech style (the 7 FER2013 emotions), speaks the same sentences through
:class:`facevox.pipelines.face_to_voice.FaceToVoicePipeline` and prints, per emotion:

* median F0 in Hz over the loud frames (subharmonic summation, 50-400 Hz: see ``_f0_track``) and its change in
  semitones against neutral; the F0 range: the 10th-90th percentile span of each sentence's
  voiced F0, in semitones, averaged over the sentences;
* total duration in seconds and its ratio to neutral;
* RMS level of the active speech (pauses left out), change in dB against neutral;
* with ``--asr``: Whisper tiny.en word error rate against the transcripts, and its difference
  to neutral in points (target: within 3 points; needs the ``bench`` extra, see ``asr.py``).

Two sources of neutral speech:

* ``--tts`` (default): the TTS pipeline synthesizes the sentences (``--acoustic``, ``--vocoder``);
  sentences come from ``--sentences FILE`` (one per line) or a built-in set;
* ``--data DIR``: copy synthesis of real recordings in LJSpeech layout (``metadata.csv`` +
  ``wavs/*.wav`` or ``audio/*.ogg``): wav -> log-mel -> (style) -> vocoder. This isolates the
  style DSP from the acoustic model's quality.

``--rate-domain mel waveform`` compares applying the speaking rate on the mel before the
vocoder with a phase-vocoder stretch of the waveform. ``--renderer model dsp`` compares the
acoustic model's own prosody controls (FastSpeech 2's variance adaptor,
:class:`facevox.ProsodyControl`) with the DSP path; ``--checkpoint DIR`` measures a
``facevox.save_pretrained`` folder (e.g. a training run's ``best/``) in place of the registered
acoustic model.

Usage::

    python benchmarks/bench_styles.py --data ../shared/data/ljspeech-sample --limit 8 --asr
    python benchmarks/bench_styles.py --tts --asr --rate-domain mel waveform --json styles.json
    python benchmarks/bench_styles.py --tts --asr --renderer model dsp --set lj040-050 --limit 40
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import facevox
import numpy as np
import torch
from facevox.audio import load_audio, mel_spectrogram, save_wav
from facevox.pipelines.face_to_voice import FaceToVoicePipeline
from facevox.styles import list_speech_styles

#: Sentences not in the TTS training transcripts (LJSpeech chapters 1-39 are), with numbers.
DEFAULT_SENTENCES = (
    "The weather was bright and the streets were full of people.",
    "Please call me back before nine o'clock tomorrow morning.",
    "She found twelve old coins hidden under the kitchen floor.",
    "We will meet at the station and take the train together.",
    "Dr. Smith paid forty two dollars for the book.",
    "I can hardly believe that the match is already over.",
    "The children laughed as the little dog chased its tail.",
    "Turn left at the bridge and keep walking for ten minutes.",
)


@dataclass
class _Speech:
    """What ``FaceToVoicePipeline`` reads from a speech pipeline's result."""

    waveform: torch.Tensor
    sample_rate: int
    mel: torch.Tensor
    alignments: Any = None


class CopySynthesis:
    """A stand-in speech pipeline that "speaks" a sentence by vocoding its real recording."""

    def __init__(self, clips: dict[str, Path], vocoder: str) -> None:
        self.clips = clips
        self.vocoder_name = vocoder
        self.vocoder = facevox.create_model(vocoder).eval()
        self.sample_rate = int(self.vocoder.sample_rate)

    def __call__(self, text: str, vocode: bool = True) -> _Speech:
        wave, _ = load_audio(self.clips[text], sample_rate=self.sample_rate)
        mel = mel_spectrogram(wave)
        if not vocode:  # the pipeline vocodes the mel itself (a rate change on the mel)
            return _Speech(torch.zeros(0), self.sample_rate, mel)
        with torch.inference_mode():
            out, lengths = self.vocoder(mel.unsqueeze(0), torch.tensor([mel.shape[-1]]))
        return _Speech(out[0, : int(lengths[0])].float(), self.sample_rate, mel)


def _tts_sentences(path: Path | None, set_name: str | None) -> list[str]:
    """The sentences to speak: a ``bench_tts.py`` set, a file, or :data:`DEFAULT_SENTENCES`."""
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_tts

    if set_name:
        return list(bench_tts.load_sentence_set(set_name).texts)
    if path is None:
        return list(DEFAULT_SENTENCES)
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if lines and (lines[0].startswith("#") or "\t" in lines[0]):  # bench_tts.py's format: header, ID<TAB>text
        return list(bench_tts.read_sentence_file(path).texts)
    return lines


def _read_clips(root: Path, limit: int) -> dict[str, Path]:
    clips: dict[str, Path] = {}
    with open(root / "metadata.csv", newline="", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE):
            if len(row) < 2:
                continue
            text = row[2] if len(row) > 2 and row[2] else row[1]
            for path in (root / "wavs" / f"{row[0]}.wav", root / "audio" / f"{row[0]}.ogg"):
                if path.is_file():
                    clips[text] = path
                    break
            if len(clips) >= limit:
                break
    if not clips:
        raise SystemExit(f"no clips found under {root} (expected metadata.csv and wavs/ or audio/)")
    return clips


_SHS_GRID = 50.0 * 2.0 ** (np.arange(0, int(np.log2(400 / 50) * 120) + 1) / 120)  # 0.1-semitone grid, Hz
_SHS_HARMONICS = 8
_SHS_DECAY = 0.84  # Hermes's compression of each higher harmonic's weight


def _f0_track(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """F0 (Hz) of the loud frames of ``waveform`` by subharmonic summation (Hermes 1988).

    For every candidate on a 0.1-semitone grid from 50 to 400 Hz, the sum over harmonics
    ``h = 1..8`` of ``0.84^(h-1)`` times the log-compressed magnitude spectrum (4,096-point STFT,
    hop 256) at ``h * F0``; the best candidate per frame, on frames within 25 dB of the loudest,
    then a 5-frame median filter. Magnitude-only: pYIN marks almost no frame of vocoded speech
    voiced (the vocoders' phase), and the real cepstrum locks onto a periodicity the vocoders add
    at their frame rate (``sample_rate / hop`` = 86.1 Hz), in synthesized speech most of all.
    On copy synthesis of real LJSpeech it reads the DSP styles' shifts within 0.15 semitones; on
    the joe voice, which speaks near that 86.1 Hz, it is not reliable either (a +-3 semitone DSP
    shift read +3.3 / -2.8 on 4 sentences, +4.3 / -1.1 on 5 others)."""
    import librosa
    from scipy.ndimage import median_filter

    y = np.asarray(waveform, dtype=np.float32)
    n_fft = 4096
    if len(y) < n_fft:
        return np.zeros(0)
    mag = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=256))
    level = 20 * np.log10(np.sqrt((mag**2).mean(0)) + 1e-9)
    mag = mag[:, level > level.max() - 25]
    spectrum = np.log1p(1000.0 * mag / (mag.max() + 1e-12))
    score = np.zeros((len(_SHS_GRID), mag.shape[1]))
    for h in range(1, _SHS_HARMONICS + 1):
        bins = np.minimum(np.round(_SHS_GRID * h * n_fft / sample_rate).astype(np.int64), mag.shape[0] - 1)
        score += _SHS_DECAY ** (h - 1) * spectrum[bins]
    track = _SHS_GRID[np.argmax(score, axis=0)]
    return median_filter(track, size=5, mode="nearest") if len(track) else track


def median_f0(waveform: np.ndarray, sample_rate: int) -> float:
    """Median F0 (Hz) over the loud frames of ``waveform`` (:func:`_f0_track`); NaN if none."""
    values = _f0_track(waveform, sample_rate)
    return float(np.median(values)) if values.size else math.nan


def f0_range_semitones(waveform: np.ndarray, sample_rate: int) -> float:
    """10th-90th percentile span of the F0 of the loud frames of ``waveform``, semitones."""
    values = _f0_track(waveform, sample_rate)
    if values.size < 2:
        return math.nan
    low, high = np.percentile(values, [10, 90])
    return float(12 * np.log2(high / low))


def _rms_db(waveform: np.ndarray) -> float:
    """RMS level in dB of the active speech (silences more than 40 dB down left out)."""
    import librosa

    spans = librosa.effects.split(waveform, top_db=40, frame_length=1024, hop_length=256)
    active = np.concatenate([waveform[a:b] for a, b in spans]) if len(spans) else waveform
    return float(20 * np.log10(np.sqrt(np.mean(active.astype(np.float64) ** 2)) + 1e-9))


def run(
    pipeline: FaceToVoicePipeline,
    sentences: list[str],
    emotions: list[str],
    asr: bool,
    out_dir: Path | None,
) -> dict[str, dict[str, float]]:
    """Per-emotion measures (see the module docstring) for one pipeline setting."""
    if asr:
        sys.path.insert(0, str(Path(__file__).parent))
        from asr import transcribe, wer
    rows: dict[str, dict[str, float]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench_styles_"))
    for emotion in emotions:
        f0s, ranges, durations, levels, hyps = [], [], [], [], []
        seconds = 0.0
        for i, text in enumerate(sentences):
            start = time.perf_counter()
            result = pipeline.speak(text, None if emotion == "neutral" else emotion)
            seconds += time.perf_counter() - start
            wave = result.waveform.numpy()
            durations.append(result.duration_s)
            levels.append(_rms_db(wave))
            f0s.append(median_f0(wave, result.sample_rate))
            ranges.append(f0_range_semitones(wave, result.sample_rate))
            path = (out_dir or tmp) / f"{emotion}_{i:02d}.wav"
            save_wav(path, wave, result.sample_rate)
            if asr:
                hyps.append(transcribe(path))
        row = {
            "median_f0_hz": float(np.nanmedian(f0s)),
            "f0_range_st": float(np.nanmean(ranges)),
            "duration_s": float(sum(durations)),
            "rms_db": float(statistics.fmean(levels)),
            "synthesis_s": seconds,
        }
        if asr:
            row["wer"] = wer(sentences, hyps)
        rows[emotion] = row
        print(f"  {emotion:9s} done ({seconds:.1f} s)", file=sys.stderr)
    neutral = rows.get("neutral")
    if neutral:
        for row in rows.values():
            row["f0_semitones_vs_neutral"] = 12 * math.log2(row["median_f0_hz"] / neutral["median_f0_hz"])
            row["duration_ratio_vs_neutral"] = row["duration_s"] / neutral["duration_s"]
            row["level_db_vs_neutral"] = row["rms_db"] - neutral["rms_db"]
            if asr:
                row["wer_points_vs_neutral"] = 100 * (row["wer"] - neutral["wer"])
    return rows


def _print_table(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n## {title}")
    asr = any("wer" in r for r in rows.values())
    head = ("| emotion | median F0 (Hz) | F0 vs neutral (st) | F0 range (st) | duration (s) | duration ratio |"
            " level (dB) |")
    head += " WER (%) | WER vs neutral (pts) |" if asr else ""
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for emotion, r in rows.items():
        line = (
            f"| {emotion} | {r['median_f0_hz']:.1f} | {r.get('f0_semitones_vs_neutral', 0):+.2f} | "
            f"{r.get('f0_range_st', math.nan):.2f} | "
            f"{r['duration_s']:.2f} | {r.get('duration_ratio_vs_neutral', 1):.3f} | {r.get('level_db_vs_neutral', 0):+.1f} |"
        )
        if asr:
            line += f" {100 * r['wer']:.1f} | {r.get('wer_points_vs_neutral', 0):+.1f} |"
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--tts", action="store_true", help="synthesize with the TTS pipeline (default)")
    source.add_argument("--data", type=Path, help="copy synthesis of real recordings (LJSpeech layout)")
    parser.add_argument("--sentences", type=Path,
                        help="text file, one sentence per line, or a bench_tts.py sentence file (# header, "
                        "ID<TAB>sentence lines) (--tts)")
    parser.add_argument("--set", dest="sentence_set", help="a bench_tts.py sentence set (bench, lj040-050, numeric...)")
    parser.add_argument("--limit", type=int, default=8, help="number of sentences / clips")
    parser.add_argument("--acoustic", help="acoustic model name (--tts); default: the pipeline's")
    parser.add_argument("--vocoder", default="hifigan.universal", help="vocoder name")
    parser.add_argument("--rate-domain", nargs="+", default=["mel"], choices=["mel", "waveform"])
    parser.add_argument("--renderer", nargs="+", default=["auto"], choices=["auto", "model", "dsp"],
                        help="who renders rate, pitch and energy (FaceToVoicePipeline renderer); one table each")
    parser.add_argument("--checkpoint", type=Path,
                        help="a facevox.save_pretrained folder to use as the acoustic model (--tts)")
    parser.add_argument("--emotions", nargs="+", help="only these styles (neutral is always included)")
    parser.add_argument("--asr", action="store_true", help="also measure WER (needs the bench extra)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--out", type=Path, help="keep the styled wavs in this folder")
    parser.add_argument("--json", type=Path, help="write all numbers to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    emotions = list_speech_styles()
    if args.emotions:
        unknown = sorted(set(args.emotions) - set(emotions) - {"neutral"})
        if unknown:
            parser.error(f"no speech style for {unknown}; registered: {', '.join(emotions)}")
        emotions = list(args.emotions)
    if "neutral" not in emotions:
        emotions = ["neutral", *emotions]
    emotions.sort(key=lambda e: (e != "neutral", e))
    if args.data:
        clips = _read_clips(args.data, args.limit)
        sentences = list(clips)
        speech: Any = CopySynthesis(clips, args.vocoder)
        source_name = f"copy synthesis of {len(sentences)} clips of {args.data}"
    else:
        sentences = _tts_sentences(args.sentences, args.sentence_set)[: args.limit]
        speech = None
        source_name = f"TTS of {len(sentences)} sentences"
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    if speech is None and args.checkpoint:
        from facevox.pipelines.speech import TextToSpeechPipeline

        speech = TextToSpeechPipeline(acoustic=args.acoustic, vocoder=args.vocoder)
        speech.acoustic = facevox.load_pretrained(args.checkpoint).eval()
        source_name += f" ({args.checkpoint})"
    results: dict[str, Any] = {"source": source_name, "vocoder": args.vocoder, "domains": {}}
    for renderer in args.renderer:
        for domain in args.rate_domain:
            pipeline = FaceToVoicePipeline(acoustic=args.acoustic, vocoder=args.vocoder, rate_domain=domain,
                                           renderer=renderer, speech_pipeline=speech)
            key = domain if renderer == "auto" and len(args.renderer) == 1 else f"{renderer}/{domain}"
            print(f"{source_name}, vocoder {args.vocoder}, renderer {renderer}, rate on the {domain}", file=sys.stderr)
            out = args.out / key.replace("/", "_") if args.out else None
            if out:
                out.mkdir(exist_ok=True)
            rows = run(pipeline, sentences, emotions, args.asr, out)
            results["domains"][key] = rows
            _print_table(f"{source_name}, {args.vocoder}, renderer {renderer}, rate applied on the {domain}", rows)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
