"""facevox text-to-speech plugin: English character front end (``en.chars``), the Tacotron
acoustic model (``tts.tacotron_joe``) and its training recipe (``facevox train tts``).

See ``docs/tts.md``. Hook implementations live in :mod:`facevox_tts.plugin`.
"""
