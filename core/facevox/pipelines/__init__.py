"""Ready-made pipelines: public entry points that chain models, detectors and I/O.

* :class:`FaceEmotionPipeline` / :func:`recognize_emotions`: photo -> faces -> emotions.
* :class:`TextToSpeechPipeline`: text -> speech (text processor, acoustic model, vocoder).
* :class:`FaceToVoicePipeline`: photo + text -> speech in the face's emotion.
* :class:`FaceSynthesisPipeline`: photo -> face crop -> reconstruction, expression morphs; samples.
* :mod:`facevox.pipelines.timings`: :class:`WordTiming` / :class:`TokenTiming` of synthesized
  speech, from the acoustic model's alignment (``SpeechResult.words``).

Pipelines are imported lazily, so ``import facevox.pipelines`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facevox.pipelines.emotion import FaceEmotion, FaceEmotionPipeline, ImageEmotions, recognize_emotions
    from facevox.pipelines.face_synthesis import FaceSynthesisPipeline
    from facevox.pipelines.face_to_voice import FaceToVoicePipeline, FaceToVoiceResult, NoFaceError
    from facevox.pipelines.speech import SpeechResult, TextToSpeechPipeline
    from facevox.pipelines.timings import TokenTiming, WordTiming

_LAZY = {
    **dict.fromkeys(["FaceEmotion", "FaceEmotionPipeline", "ImageEmotions", "recognize_emotions"], "facevox.pipelines.emotion"),
    **dict.fromkeys(["FaceToVoicePipeline", "FaceToVoiceResult", "NoFaceError"], "facevox.pipelines.face_to_voice"),
    **dict.fromkeys(["SpeechResult", "TextToSpeechPipeline"], "facevox.pipelines.speech"),
    "FaceSynthesisPipeline": "facevox.pipelines.face_synthesis",
    **dict.fromkeys(["TokenTiming", "WordTiming"], "facevox.pipelines.timings"),
}
__all__ = [
    "FaceEmotion",
    "FaceEmotionPipeline",
    "FaceSynthesisPipeline",
    "FaceToVoicePipeline",
    "FaceToVoiceResult",
    "ImageEmotions",
    "NoFaceError",
    "SpeechResult",
    "TextToSpeechPipeline",
    "TokenTiming",
    "WordTiming",
    "recognize_emotions",
]
assert sorted(__all__) == sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'facevox.pipelines' has no attribute {name!r}")
