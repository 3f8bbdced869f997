"""Hook implementations of the TTS plugin: the Tacotron and FastSpeech acoustic models, the
``en.chars`` and ``en.ipa`` text processors and the ``facevox train tts`` / ``tts-fastspeech`` commands."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Any

from facevox import ModelSpec, Task, hookimpl

from facevox_tts.cards import FASTSPEECH_CARD, FASTSPEECH_IPA_CARD, TACOTRON_CARD
from facevox_tts.fastspeech import FastSpeech, FastSpeechConfig
from facevox_tts.phonemes import IPA_SYMBOLS, EnglishPhonemes
from facevox_tts.tacotron import Tacotron, TacotronConfig
from facevox_tts.text import SYMBOLS, EnglishCharacters

__all__ = ["register_models", "register_text_processors", "register_trainers"]


_WEIGHTS = files(__package__) / "weights" / "tacotron_joe.safetensors"
_FASTSPEECH_WEIGHTS = files(__package__) / "weights" / "fastspeech_joe.safetensors"
_FASTSPEECH_IPA_WEIGHTS = files(__package__) / "weights" / "fastspeech_joe_ipa.safetensors"


@hookimpl
def register_models(register: Callable[[Any], None]) -> None:
    """Register ``tts.fastspeech_joe`` (the default), ``tts.fastspeech_joe_ipa`` (phoneme input,
    needs ``facevox[phonemes]``) and ``tts.tacotron_joe``."""
    register(
        ModelSpec(
            name="tts.fastspeech_joe",
            task=Task.ACOUSTIC_MODEL,
            factory=FastSpeech,
            config=FastSpeechConfig(n_symbols=len(SYMBOLS)),
            card=FASTSPEECH_CARD,
            weights=_FASTSPEECH_WEIGHTS,  # shipped in the package; a missing file is an error
            default=True,
        )
    )
    register(
        ModelSpec(
            name="tts.fastspeech_joe_ipa",
            task=Task.ACOUSTIC_MODEL,
            factory=FastSpeech,
            config=FastSpeechConfig(n_symbols=len(IPA_SYMBOLS)),
            card=FASTSPEECH_IPA_CARD,
            weights=_FASTSPEECH_IPA_WEIGHTS,  # needs facevox[phonemes] to run, not to load
        )
    )
    register(
        ModelSpec(
            name="tts.tacotron_joe",
            task=Task.ACOUSTIC_MODEL,
            factory=Tacotron,
            config=TacotronConfig(n_symbols=len(SYMBOLS)),
            card=TACOTRON_CARD,
            weights=_WEIGHTS,
        )
    )


@hookimpl
def register_text_processors(register: Callable[[str, Callable[[], Any]], None]) -> None:
    """Register ``en.chars`` (English normalisation + lower-case characters) and ``en.ipa``
    (the same normalisation, then espeak-ng IPA phonemes)."""
    register("en.chars", EnglishCharacters)
    register("en.ipa", EnglishPhonemes)


@hookimpl
def register_trainers(register: Callable[[Any], None]) -> None:
    """Register ``facevox train tts`` and ``facevox train tts-fastspeech``."""
    from facevox_tts.train import train_command
    from facevox_tts.train_fastspeech import train_fastspeech_command

    register(train_command)
    register(train_fastspeech_command)
