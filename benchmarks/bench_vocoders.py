"""Vocoder benchmark: speed (real-time factor) and copy-synthesis quality.

For each audio clip of a data set (wav -> log-mel -> vocoder -> wav) and each vocoder:

* RTF: vocoder wall-clock seconds per second of audio, at each ``--threads`` setting (after a
  warm-up run; ``torch.set_num_threads``), lower is faster, < 1 is faster than real time;
  ``cpu_rtf``: process CPU seconds per second of audio (all threads summed), which a busy
  machine inflates much less than wall-clock time (with 1 thread it approximates the RTF of
  an idle core);
* log-mel L1: mean absolute difference (natural log) between the mel of the original clip
  and the mel of the resynthesized one, over frames and bands (0 = identical);
* with ``--asr``: Whisper tiny.en word error rate of the originals and of each vocoder's
  output against the transcripts (needs the ``bench`` extra; see ``benchmarks/asr.py``);
* with ``--dnsmos``: mean DNSMOS P.835 overall / signal / background scores (``benchmarks/mos.py``).

``--ids FILE`` takes the clips named in FILE (one id per line), e.g. the utterances the TTS
trainers hold out (``vocos.joe``'s card says which).

Usage::

    python benchmarks/bench_vocoders.py ../shared/data/ljspeech-sample --limit 8 --asr
    python benchmarks/bench_vocoders.py ../shared/data/joe-tts --limit 8 --threads 1 2 --out /tmp/resynth

A data set is a folder with ``metadata.csv`` (``id|text[|normalized text]``) and ``wavs/*.wav``
or ``audio/*.ogg`` (LJSpeech layout), or just a folder of audio files (no WER then).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

import facevox
import torch
from facevox.audio import AUDIO_EXTENSIONS, MelSettings, load_audio, mel_spectrogram, save_wav

DEFAULT_VOCODERS = ("vocos.joe", "hifigan.universal", "hifigan.ljspeech", "griffinlim.default")


def find_clips(root: Path, limit: int | None) -> list[tuple[Path, str | None]]:
    """``(audio path, transcript or None)`` pairs, sorted by id, at most ``limit``."""
    texts: dict[str, str] = {}
    metadata = root / "metadata.csv"
    if metadata.is_file():
        with metadata.open(encoding="utf-8") as f:
            for row in csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE):
                if len(row) >= 2:
                    texts[row[0]] = row[-1]
    folders = [root / "wavs", root / "audio", root]
    files: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
            if files:
                break
    if not files:
        raise SystemExit(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) under {root}")
    clips = [(p, texts.get(p.stem)) for p in files]
    return clips[:limit] if limit else clips


def time_vocoder(vocoder: torch.nn.Module, mel: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    """Waveform ``(S,)``, wall-clock seconds and process CPU seconds of one run."""
    lengths = torch.tensor([mel.shape[-1]])
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        waves, _ = vocoder(mel.unsqueeze(0), lengths)
    return waves[0], time.perf_counter() - wall, time.process_time() - cpu


def _mean_mos(scores: list[dict[str, float]]) -> dict[str, float]:
    return {f"dnsmos_{k}": statistics.fmean(s[k] for s in scores) for k in ("ovrl", "sig", "bak")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="data set folder (LJSpeech layout) or folder of audio files")
    parser.add_argument("--vocoders", nargs="+", default=list(DEFAULT_VOCODERS), help="registered vocoder names")
    parser.add_argument("--limit", type=int, default=8, help="number of clips (0: all)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to time")
    parser.add_argument("--asr", action="store_true", help="also measure Whisper tiny.en WER (bench extra)")
    parser.add_argument("--dnsmos", action="store_true", help="also measure DNSMOS (bench extra)")
    parser.add_argument("--ids", type=Path, help="only the clips whose ids are listed in this file")
    parser.add_argument("--out", type=Path, help="write resynthesized wavs here (<vocoder>/<id>.wav)")
    parser.add_argument("--json", type=Path, help="write the summary as JSON here")
    args = parser.parse_args(argv)

    settings = MelSettings()
    clips = find_clips(args.data, None)
    if args.ids:
        wanted = args.ids.read_text(encoding="utf-8").split()
        by_id = {path.stem: (path, text) for path, text in clips}
        clips = [by_id[i] for i in wanted if i in by_id]
    clips = clips[: args.limit] if args.limit else clips
    audio = [load_audio(path, settings.sample_rate)[0] for path, _ in clips]
    mels = [mel_spectrogram(wave, settings) for wave in audio]
    seconds = sum(m.shape[-1] * settings.hop_length for m in mels) / settings.sample_rate
    print(f"{len(clips)} clips, {seconds:.1f} s of audio from {args.data}", file=sys.stderr)

    transcribe = wer = None
    if args.asr:
        sys.path.insert(0, str(Path(__file__).parent))
        from asr import transcribe, wer  # type: ignore[no-redef]

    summary: dict[str, dict[str, float]] = {}
    refs = [text or "" for _, text in clips]
    mos = None
    if args.dnsmos:
        sys.path.insert(0, str(Path(__file__).parent))
        from mos import dnsmos as mos
    summary["original"] = {}
    if args.asr and transcribe is not None and wer is not None:
        originals = [transcribe(path) for path, _ in clips]
        summary["original"]["wer"] = wer(refs, originals)
    if mos is not None:
        summary["original"].update(_mean_mos([mos(w, settings.sample_rate) for w in audio]))

    for name in args.vocoders:
        vocoder = facevox.create_model(name).eval()
        row: dict[str, float] = {}
        outputs: list[torch.Tensor] = []
        for threads in args.threads:
            torch.set_num_threads(threads)
            time_vocoder(vocoder, mels[0][:, :64])  # warm-up
            compute = cpu = 0.0
            outputs = []
            for mel in mels:
                wave, spent, spent_cpu = time_vocoder(vocoder, mel)
                compute += spent
                cpu += spent_cpu
                outputs.append(wave)
            row[f"rtf_{threads}t"] = compute / seconds
            row[f"cpu_rtf_{threads}t"] = cpu / seconds
        l1 = [
            (mel_spectrogram(out, settings) - mel).abs().mean().item() for out, mel in zip(outputs, mels, strict=True)
        ]
        row["logmel_l1"] = statistics.fmean(l1)
        paths: list[Path] = []
        if args.out or args.asr:
            folder = (args.out or Path("/tmp/facevox-bench-vocoders")) / name
            folder.mkdir(parents=True, exist_ok=True)
            for (path, _), wave in zip(clips, outputs, strict=True):
                paths.append(save_wav(folder / f"{path.stem}.wav", wave, vocoder.sample_rate))
        if args.asr and transcribe is not None and wer is not None:
            row["wer"] = wer(refs, [transcribe(p) for p in paths])
        if mos is not None:
            row.update(_mean_mos([mos(w, vocoder.sample_rate) for w in outputs]))
        summary[name] = row
        print(name, json.dumps({k: round(v, 4) for k, v in row.items()}))

    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
