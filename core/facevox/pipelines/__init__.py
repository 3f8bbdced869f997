"""Ready-made pipelines: public entry points that chain models, detectors and I/O.

* :class:`FaceEmotionPipeline` / :func:`recognize_emotions`: photo -> faces -> emotions.
* ``facevox.pipelines.face_to_voice``: photo + text -> speech in the face's emotion.

Pipelines are imported lazily, so ``import facevox.pipelines`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facevox.pipelines.emotion import FaceEmotion, FaceEmotionPipeline, ImageEmotions, recognize_emotions

__all__ = ["FaceEmotion", "FaceEmotionPipeline", "ImageEmotions", "recognize_emotions"]

_LAZY = {name: "facevox.pipelines.emotion" for name in __all__}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'facevox.pipelines' has no attribute {name!r}")
