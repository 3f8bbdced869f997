"""Speech styles: per-emotion prosody applied to synthesized speech.

A :class:`SpeechStyle` says how an emotion changes a neutral voice: speaking rate, pitch
shift, energy and pause length. Styles are registered through the ``register_speech_styles``
hook; a later registration for the same emotion replaces an earlier one, so plugins can
restyle the built-in voices. :func:`blend_styles` mixes styles by emotion probabilities.

The directions follow the acoustic correlates of vocal emotion summarised by Scherer (2003,
"Vocal communication of emotion", Speech Communication 40): happiness and anger raise rate and
loudness, sadness lowers rate, pitch and loudness, surprise raises pitch.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from facevox import plugins

__all__ = ["SpeechStyle", "blend_styles", "get_speech_style", "list_speech_styles"]


@dataclass(frozen=True)
class SpeechStyle:
    """Prosody of one emotion, relative to neutral speech.

    Attributes:
        emotion: label it applies to, e.g. ``"happy"``.
        rate: speaking-rate factor, ``> 0`` (1.2 = 20 % faster, shorter audio).
        pitch_semitones: pitch shift in semitones, within ``[-12, 12]``.
        energy_db: loudness change in dB, within ``[-20, 20]`` (applied as gain, then
            peak-limited to avoid clipping).
        pause_scale: factor on pauses between sentences, ``>= 0``.
    """

    emotion: str
    rate: float = 1.0
    pitch_semitones: float = 0.0
    energy_db: float = 0.0
    pause_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.emotion:
            raise ValueError("SpeechStyle.emotion must be a non-empty label")
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"SpeechStyle.rate must be a positive number, got {self.rate}")
        if not -12 <= self.pitch_semitones <= 12:
            raise ValueError(f"SpeechStyle.pitch_semitones must be within [-12, 12], got {self.pitch_semitones}")
        if not -20 <= self.energy_db <= 20:
            raise ValueError(f"SpeechStyle.energy_db must be within [-20, 20], got {self.energy_db}")
        if self.pause_scale < 0:
            raise ValueError(f"SpeechStyle.pause_scale must be >= 0, got {self.pause_scale}")


_lock = threading.RLock()
_styles: dict[str, SpeechStyle] | None = None


def _clear() -> None:
    global _styles
    with _lock:
        _styles = None


plugins._on_change(_clear)


def _collect() -> dict[str, SpeechStyle]:
    global _styles
    with _lock:
        if _styles is None:
            styles: dict[str, SpeechStyle] = {}
            for plugin, args in plugins.collect_hook("register_speech_styles"):
                style = args[0]
                if not isinstance(style, SpeechStyle):
                    raise TypeError(f"plugin {plugin!r}: register_speech_styles takes SpeechStyle, got {type(style).__name__}")
                styles[style.emotion] = style  # later plugins replace earlier ones
            _styles = styles
        return _styles


def list_speech_styles() -> list[str]:
    """Emotions that have a registered style, sorted."""
    return sorted(_collect())


def get_speech_style(emotion: str) -> SpeechStyle:
    """The style registered for ``emotion``.

    Raises:
        KeyError: no style for that emotion (the registered ones are listed).
    """
    styles = _collect()
    if emotion not in styles:
        raise KeyError(f"no speech style for emotion {emotion!r}; registered: {', '.join(sorted(styles)) or 'none'}")
    return styles[emotion]


def blend_styles(probabilities: Mapping[str, float], name: str = "blend") -> SpeechStyle:
    """Mix registered styles weighted by emotion probabilities.

    Rates and energies are mixed geometrically in log / dB space, pitch linearly in
    semitones. Emotions without a registered style count as neutral (no change).

    Args:
        probabilities: emotion -> probability (non-negative; normalised here).
        name: the ``emotion`` label of the result.

    Raises:
        ValueError: probabilities are negative or all zero.
    """
    total = sum(probabilities.values())
    if total <= 0 or any(p < 0 for p in probabilities.values()):
        raise ValueError("probabilities must be non-negative with a positive sum")
    styles = _collect()
    log_rate = pitch = energy = pause = 0.0
    for emotion, p in probabilities.items():
        w = p / total
        s = styles.get(emotion, SpeechStyle(emotion))
        log_rate += w * math.log(s.rate)
        pitch += w * s.pitch_semitones
        energy += w * s.energy_db
        pause += w * s.pause_scale
    return SpeechStyle(name, rate=math.exp(log_rate), pitch_semitones=pitch, energy_db=energy, pause_scale=pause)
