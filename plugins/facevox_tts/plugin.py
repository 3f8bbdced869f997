"""Hook implementations of the TTS plugin: the Tacotron acoustic model, the ``en.chars`` text
processor and the ``facevox train tts`` command."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Any

from facevox import ModelCard, ModelSpec, Preprocessing, Task, hookimpl
from facevox.audio import MelSettings

from facevox_tts.tacotron import Tacotron, TacotronConfig
from facevox_tts.text import SYMBOLS, EnglishCharacters

__all__ = ["DEFAULT_ACOUSTIC_MODEL", "register_models", "register_text_processors", "register_trainers"]

#: Registered name of the default acoustic model.
DEFAULT_ACOUSTIC_MODEL = "tts.tacotron_joe"

_MEL = MelSettings()
_WEIGHTS = files(__package__) / "weights" / "tacotron_joe.safetensors"

_CARD = ModelCard(
    summary="Tacotron 2-style character-input acoustic model (3.54 M parameters, r = 4) for one "
    "synthetic US-English male voice; pair it with the hifigan.universal vocoder. Aligns and stops on "
    "every benchmark sentence; recognisable but not yet clear (Whisper tiny.en WER 0.46 with HiFi-GAN, "
    "0.43 with Griffin-Lim; the teacher voice scores about 0.05).",
    licence="MIT",
    source="Shen et al. 2018 (Tacotron 2); location-sensitive attention (Chorowski et al. 2015); "
    "attention supervised with teacher durations and an annealed alignment prior (Badlani et al. 2021)",
    preprocessing=Preprocessing(sample_rate=_MEL.sample_rate, mel=_MEL.to_dict(), text_processor="en.chars"),
    training_data="joe-tts: 4,000 LJSpeech transcripts (public domain, chapters LJ001-LJ039) read by "
    "Piper's en_US-joe-medium voice (MIT, trained on CC0 data), 5.9 h, 22,050 Hz; 3,952 for training "
    "(about 45 epochs seen), 48 held out; the teacher's per-phoneme durations give the attention targets.",
    recipe="facevox train tts (docs/tts.md): 7,500 steps of Adam (batches of <= 32 x 9,000 frames for "
    "100 steps, then <= 24 x 6,000), clip 1; learning rate 1e-3, then 5e-4 from step 4,300, 2.5e-4 from "
    "5,800 and 1.25e-4 from 6,700 (--lr-decay, each drop when the validation loss flattened); L1 mel "
    "before/after postnet + stop BCE + attention cross-entropy to the teacher path (weight 1); teacher path "
    "x prior annealed to 0 by step 600; utterances <= 350 frames until step 600, <= 550 until 1,500. "
    "About 4 h 25 min wall on a 2-core CPU, no GPU: steps 0-2,000 on 1 thread shared with other trainings "
    "(2.9-5 s per step), 2,000-7,500 alone on 2 threads (1.4 s per step). Shipped as float16.",
    metrics={
        "params_millions": 3.54,
        "train_steps": 7500,
        "val_mel_l1_postnet": 0.535,
        "val_attention_diagonal": 0.987,
        "val_attention_focus": 0.690,
        "benchmark_sentences": 40,
        "wer_hifigan_universal": 0.464,
        "wer_griffinlim_default": 0.426,
        "alignment_failures_cap": 0,
        "alignment_skips": 0,
        "rtf_acoustic": 0.023,
        "rtf_hifigan_universal": 0.732,
        "rtf_griffinlim_default": 0.055,
    },
    notes="Measured with benchmarks/bench_tts.py (40 sentences not in the training transcripts, numbers and "
    "abbreviations included; Whisper tiny.en via faster-whisper, Whisper normaliser; RTF = CPU seconds per "
    "second of audio, 1 thread, batch 1, idle 2-core CPU). HiFi-GAN WER over training: 1.12 (step 1,000), "
    "1.05 (1,250), 0.46 (7,500); Griffin-Lim 1.01 (1,250), 0.76 (2,700), 0.61 (4,300), 0.43 (7,500); plot "
    "in docs/images/tts_training.png. Rhythm, pauses, numbers and most function words come through; "
    "content words are often misheard. The WER target (<= 0.10) needs more steps. Voice provenance: "
    "Piper en_US-joe-medium (MIT).",
)


@hookimpl
def register_models(register: Callable[[Any], None]) -> None:
    """Register ``tts.tacotron_joe``."""
    register(
        ModelSpec(
            name=DEFAULT_ACOUSTIC_MODEL,
            task=Task.ACOUSTIC_MODEL,
            factory=Tacotron,
            config=TacotronConfig(n_symbols=len(SYMBOLS)),
            card=_CARD,
            weights=_WEIGHTS if _WEIGHTS.is_file() else None,
        )
    )


@hookimpl
def register_text_processors(register: Callable[[str, Callable[[], Any]], None]) -> None:
    """Register ``en.chars`` (English normalisation + lower-case characters)."""
    register("en.chars", EnglishCharacters)


@hookimpl
def register_trainers(register: Callable[[Any], None]) -> None:
    """Register ``facevox train tts``."""
    from facevox_tts.train import train_command

    register(train_command)
