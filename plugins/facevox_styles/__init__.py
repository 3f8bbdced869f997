"""facevox styles: the built-in prosody of the 7 FER2013 emotions.

Registers one :class:`facevox.SpeechStyle` per emotion through the ``register_speech_styles``
hook, exactly as a third-party plugin would; a plugin loaded later can replace any of them.
The table lives in :data:`facevox_styles.plugin.DEFAULT_STYLES`.
"""

from __future__ import annotations

from facevox_styles.plugin import DEFAULT_STYLES

__all__ = ["DEFAULT_STYLES"]
