"""What each demo tab does, as plain functions over facevox's public pipelines (no Gradio here).

:class:`DemoBackend` builds the pipelines lazily, once, and shares them between the tabs and
concurrent requests; the expression classifier batches the face crops of concurrent requests
into one forward pass (each request is still checked, and fails, on its own). Every method takes what the UI gives (RGB arrays, strings, numbers) and
returns what the UI shows (RGB arrays, label dicts, tables, ``(sample_rate, int16 samples)``
audio). Bad input raises :class:`DemoInputError` with a message meant for the user.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import facevox
import numpy as np
import torch
from facevox.pipelines.emotion import largest_face
from facevox.styles import list_speech_styles

from facevox_demo import render

__all__ = ["AUTO", "DemoBackend", "DemoInputError", "EMOTIONS", "MAX_TEXT_CHARS"]

#: The emotions the demo offers: the labels on the default expression model's card (for the
#: built-in models, FER2013's seven, alphabetical).
EMOTIONS: tuple[str, ...] = tuple(
    facevox.get_model_spec(facevox.default_model(facevox.Task.EXPRESSION_CLASSIFICATION)).card.labels
)
#: Choice meaning "take the emotion from the face".
AUTO = "auto (from the face)"
#: Longest text the demo speaks (keeps one request within a few seconds of CPU).
MAX_TEXT_CHARS = 400
#: Largest photo side processed; bigger photos are downscaled first.
MAX_IMAGE_SIDE = 1600
#: Most photos whose face crops share one classifier forward pass (dynamic batching of
#: concurrent requests, :class:`facevox.batching.DynamicBatcher`).
EMOTION_BATCH_SIZE = 16


class DemoInputError(facevox.FacevoxError, ValueError):
    """Input the demo cannot use (no image, no face, empty text...); the message is for the user."""


def _check_image(image: Any) -> np.ndarray:
    if image is None:
        raise DemoInputError("Please upload a photo (or take one with the webcam) first.")
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4) or min(array.shape[:2]) < 16:
        raise DemoInputError(f"That does not look like a photo (array of shape {array.shape}); upload a JPEG or PNG.")
    array = array[..., :3]
    if array.dtype != np.uint8:
        array = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    side = max(array.shape[:2])
    if side > MAX_IMAGE_SIDE:
        from PIL import Image

        scale = MAX_IMAGE_SIDE / side
        size = (round(array.shape[1] * scale), round(array.shape[0] * scale))
        array = np.asarray(Image.fromarray(array).resize(size, Image.BILINEAR))
    return np.ascontiguousarray(array)


def _check_text(text: str | None) -> str:
    if text is None or not text.strip():
        raise DemoInputError("Please type a sentence to speak.")
    if len(text) > MAX_TEXT_CHARS:
        raise DemoInputError(f"The text is {len(text)} characters long; the demo speaks at most {MAX_TEXT_CHARS}.")
    return text.strip()


def _audio(waveform: torch.Tensor, sample_rate: int) -> tuple[int, np.ndarray]:
    samples = np.clip(waveform.detach().float().cpu().numpy(), -1.0, 1.0)
    return int(sample_rate), (samples * 32767.0).astype(np.int16)


def _table(faces: Sequence[Any]) -> list[list[Any]]:
    rows = []
    for i, face in enumerate(faces):
        box = face.box.as_list() if hasattr(face.box, "as_list") else list(face.box)
        rows.append([i, str(box), face.emotion, *(round(float(face.scores.get(e, 0.0)), 3) for e in EMOTIONS)])
    return rows


#: Column headers of the per-face score table.
TABLE_HEADERS = ["face", "box [x, y, w, h]", "emotion", *EMOTIONS]


class DemoBackend:
    """The demo's pipelines, built on first use and shared.

    Args:
        acoustic: acoustic model name for speech (``None``: the TTS pipeline's default).
        expression_model: expression classifier name (``None``: the default).
        face_model: face model of the expression studio (a conditional face autoencoder);
            ``None``: the registry's default face autoencoder.
    """

    def __init__(
        self,
        acoustic: str | None = None,
        expression_model: str | None = None,
        face_model: str | None = None,
    ) -> None:
        self.acoustic = acoustic
        self.expression_model = expression_model
        self.face_model = face_model
        self._lock = threading.RLock()
        self._emotion: Any = None
        self._voices: dict[str, Any] = {}
        self._faces: Any = None

    # ------------------------------------------------------------------ pipelines
    def vocoders(self) -> list[str]:
        """Registered vocoder names, the default first."""
        names = facevox.list_models(task=facevox.Task.VOCODER)
        default = facevox.default_model(facevox.Task.VOCODER)
        return sorted(names, key=lambda n: (n != default, n))

    def styles(self) -> list[str]:
        """Emotions with a registered speech style (``neutral`` first)."""
        names = list_speech_styles() or ["neutral"]
        return sorted(set(names) | {"neutral"}, key=lambda n: (n != "neutral", n))

    def emotion_pipeline(self) -> Any:
        with self._lock:
            if self._emotion is None:
                from facevox.pipelines.emotion import FaceEmotionPipeline

                self._emotion = FaceEmotionPipeline(model=self.expression_model, max_batch_size=EMOTION_BATCH_SIZE)
            return self._emotion

    def voice(self, vocoder: str | None) -> Any:
        """The :class:`FaceToVoicePipeline` for ``vocoder`` (one per vocoder, sharing the face model)."""
        from facevox.pipelines.face_to_voice import FaceToVoicePipeline

        name = vocoder or facevox.default_model(facevox.Task.VOCODER)
        if name not in self.vocoders():
            raise DemoInputError(f"Unknown vocoder {name!r}; choose one of {', '.join(self.vocoders())}.")
        with self._lock:
            if name not in self._voices:
                self._voices[name] = FaceToVoicePipeline(
                    acoustic=self.acoustic, vocoder=name, emotion_pipeline=self.emotion_pipeline()
                )
            return self._voices[name]

    def face_pipeline(self) -> Any:
        """The :class:`facevox.FaceSynthesisPipeline` of the expression studio (built on first use)."""
        with self._lock:
            if self._faces is None:
                from facevox.pipelines.face_synthesis import FaceSynthesisPipeline

                self._faces = FaceSynthesisPipeline(self.face_model)
            return self._faces

    def warm_up(self) -> None:
        """Build every pipeline now (so the first request is not slow)."""
        self.emotion_pipeline()
        self.voice(None).speech_pipeline  # noqa: B018 - builds it
        self.face_pipeline()

    # ------------------------------------------------------------------ tab 1: face emotion
    def emotion(self, image: Any) -> tuple[np.ndarray, dict[str, float], list[list[Any]]]:
        """Photo -> (annotated photo, top scores of the largest face, per-face score table)."""
        array = _check_image(image)
        faces = self.emotion_pipeline()(array)
        if not faces:
            raise DemoInputError(
                "No face found in this photo. Try a well-lit photo with a frontal face that is not too small."
            )
        largest = largest_face(faces)
        scores = {k: float(v) for k, v in faces[largest].scores.items()}
        return render.draw_faces(array, faces, highlight=largest), scores, _table(faces)

    # ------------------------------------------------------------------ tab 2: expression studio
    def morph(self, image: Any, target: str, steps: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Photo -> (input crop + frames from the face to ``target``, the face in every emotion)."""
        array = _check_image(image)
        faces = self.face_pipeline()
        if target not in faces.labels:
            raise DemoInputError(f"Unknown emotion {target!r}; choose one of {', '.join(faces.labels)}.")
        steps = int(steps)
        if not 2 <= steps <= 10:
            raise DemoInputError("Steps must be between 2 and 10.")
        try:
            crop, _ = faces.face(array)
        except facevox.NoFaceError:
            raise DemoInputError("No face found in this photo; the expression studio needs a visible face.") from None
        frames = torch.cat([crop, faces.morph(crop, target, steps=steps)])
        captions = ["input", "reconstruction"] + [f"{100 * i / (steps - 1):.0f}% {target}" for i in range(1, steps)]
        everyone = faces.morph_all(crop)
        return render.face_strip(frames, captions), render.face_strip(everyone, list(faces.labels))

    def sample(self, n: int, emotion: str, seed: int) -> np.ndarray:
        """``n`` new faces from the face model (of one emotion, or any), reproducible by ``seed``."""
        n, seed = int(n), int(seed)
        if not 1 <= n <= 16:
            raise DemoInputError("Number of faces must be between 1 and 16.")
        faces = self.face_pipeline()
        label = emotion if emotion in faces.labels else None
        samples = faces.sample(n, label=label, seed=seed)
        return render.face_strip(samples, [emotion] * n if label else None, size=112)

    # ------------------------------------------------------------------ tab 3: speech
    def speak(
        self, text: str, vocoder: str | None, emotion: str
    ) -> tuple[tuple[int, np.ndarray], np.ndarray, np.ndarray, dict[str, Any]]:
        """Text -> (audio, mel plot, alignment plot, summary) in an emotion's style."""
        text = _check_text(text)
        if emotion not in self.styles():
            raise DemoInputError(f"Unknown style {emotion!r}; choose one of {', '.join(self.styles())}.")
        result = self.voice(vocoder).speak(text, None if emotion == "neutral" else emotion)
        return (
            _audio(result.waveform, result.sample_rate),
            render.mel_image(result.mel, result.sample_rate),
            _alignment_plot(result.alignments),
            result.to_dict(),
        )

    # ------------------------------------------------------------------ tab 4: face -> voice
    def face_to_voice(
        self, image: Any, text: str, vocoder: str | None, emotion: str = AUTO
    ) -> tuple[np.ndarray, dict[str, float], tuple[int, np.ndarray], dict[str, Any]]:
        """Photo + text -> (annotated photo, emotion scores, styled speech, summary)."""
        from facevox.pipelines.face_to_voice import NoFaceError

        array = _check_image(image)
        text = _check_text(text)
        override = None if emotion in (None, "", AUTO) else emotion
        if override is not None and override not in self.styles():
            raise DemoInputError(f"Unknown emotion {override!r}; choose one of {AUTO}, {', '.join(self.styles())}.")
        try:
            result = self.voice(vocoder)(array, text, emotion=override)
        except NoFaceError:
            raise DemoInputError(
                "No face found in this photo. Use a photo with a clear frontal face, or pick an emotion yourself."
            ) from None
        scores = dict(result.face.scores) if result.face is not None else {result.emotion: 1.0}
        annotated = render.draw_faces(array, result.faces, highlight=result.face_index)
        return annotated, {k: float(v) for k, v in scores.items()}, _audio(result.waveform, result.sample_rate), result.to_dict()


def _alignment_plot(alignments: Any) -> np.ndarray:
    if alignments is None:
        return np.full((280, 800, 3), 255, np.uint8)
    if isinstance(alignments, (list, tuple)):  # one alignment per sentence: show the first
        if not alignments:
            return np.full((280, 800, 3), 255, np.uint8)
        title = "Attention alignment" + (f" (sentence 1 of {len(alignments)})" if len(alignments) > 1 else "")
        return render.alignment_image(alignments[0], title=title)
    return render.alignment_image(alignments)
