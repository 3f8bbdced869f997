"""Hook implementation of the styles plugin: the default speech style of each FER2013 emotion.

Directions follow the acoustic correlates of vocal emotion in Scherer (2003, "Vocal
communication of emotion: a review of research paradigms", Speech Communication 40) and
Juslin & Laukka (2003, Psychological Bulletin 129): happiness raises rate, pitch and
loudness; sadness lowers all three and lengthens pauses; anger is loud and fast; fear is
fast and slightly higher; surprise raises pitch; disgust is slow and low. Magnitudes are kept
moderate (rate within +-15 %, pitch within +-3 semitones) so that styled speech stays as
intelligible as neutral speech (measured by ``benchmarks/bench_styles.py``, see docs/demo.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from facevox import SpeechStyle, hookimpl

__all__ = ["DEFAULT_STYLES", "register_speech_styles"]

#: The built-in styles, one per FER2013 emotion (``neutral`` is the identity).
DEFAULT_STYLES: tuple[SpeechStyle, ...] = (
    SpeechStyle("angry", rate=1.10, pitch_semitones=1.0, energy_db=5.0, pause_scale=0.8),
    SpeechStyle("disgust", rate=0.90, pitch_semitones=-1.5, energy_db=0.0, pause_scale=1.2),
    SpeechStyle("fear", rate=1.15, pitch_semitones=1.5, energy_db=-1.0, pause_scale=0.8),
    SpeechStyle("happy", rate=1.12, pitch_semitones=2.0, energy_db=2.0, pause_scale=0.85),
    SpeechStyle("neutral"),
    SpeechStyle("sad", rate=0.85, pitch_semitones=-2.0, energy_db=-5.0, pause_scale=1.4),
    SpeechStyle("surprise", rate=1.05, pitch_semitones=3.0, energy_db=2.0, pause_scale=1.0),
)


@hookimpl
def register_speech_styles(register: Callable[[Any], None]) -> None:
    """Register :data:`DEFAULT_STYLES`."""
    for style in DEFAULT_STYLES:
        register(style)
