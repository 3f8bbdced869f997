"""facevox text-to-speech plugin: English character front end (``en.chars``), the FastSpeech
(``tts.fastspeech_joe``, the default) and Tacotron (``tts.tacotron_joe``) acoustic models and
their training recipes (``facevox train tts-fastspeech``, ``facevox train tts``).

See ``docs/tts.md``. Hook implementations live in :mod:`facevox_tts.plugin`.
"""
