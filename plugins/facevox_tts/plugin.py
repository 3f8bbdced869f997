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
    summary="Tacotron 2-style character-input acoustic model (3.5 M parameters, r = 4) for one "
    "synthetic US-English male voice; pair it with the hifigan.universal vocoder.",
    licence="MIT",
    source="Shen et al. 2018 (Tacotron 2); location-sensitive attention (Chorowski et al. 2015); "
    "attention supervised with teacher durations and an annealed alignment prior (Badlani et al. 2021)",
    preprocessing=Preprocessing(sample_rate=_MEL.sample_rate, mel=_MEL.to_dict(), text_processor="en.chars"),
    training_data="joe-tts: 4,000 LJSpeech transcripts (public domain, chapters LJ001-LJ039) read by "
    "Piper's en_US-joe-medium voice (MIT, trained on CC0 data), 5.9 h, 22,050 Hz; 48 utterances held out.",
    recipe="Not trained yet: the shipped weights will be recorded here.",
    metrics={},
    notes="Untrained until weights ship.",
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
