"""Face to voice: a face photo and a sentence in, expressive speech out.

One call detects the faces of a photo and their emotions (:class:`FaceEmotionPipeline`),
picks the dominant face (the largest, or the one asked for), turns its emotion probabilities
into a :class:`facevox.SpeechStyle` (blended with :func:`facevox.blend_styles`, or the argmax
emotion's style, or an emotion given by the caller) and speaks the text in that style
(:class:`TextToSpeechPipeline`, then :func:`facevox.styles.apply_style`)::

    from facevox.pipelines.face_to_voice import FaceToVoicePipeline
    result = FaceToVoicePipeline()("photo.jpg", "Nice to meet you.")
    print(result.emotion, result.duration_s)          # e.g. "happy" 1.7

Without a photo, :meth:`FaceToVoicePipeline.speak` styles speech by an emotion label
(``facevox speak TEXT --emotion happy``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import torch
from torch import Tensor

from facevox.audio import mel_spectrogram
from facevox.errors import NoFaceError
from facevox.pipelines.emotion import largest_face
from facevox.pipelines.timings import follow_style
from facevox.styles import SpeechStyle, apply_style, get_speech_style, mel_rate, resolve_style, stretch_mel

__all__ = [
    "FaceToVoicePipeline",
    "FaceToVoiceResult",
    "NoFaceError",
    "RateDomain",
    "StyleRenderer",
]

class RateDomain(str, Enum):
    """Where the speaking rate (and the duration side of the pitch shift) of a style is applied."""

    # stretch the mel over time before vocoding (the vocoder makes fresh phase), then shift the
    # pitch by resampling: no phase vocoder
    MEL = "mel"
    WAVEFORM = "waveform"  # phase-vocoder time stretch + resample of the vocoded waveform


class StyleRenderer(str, Enum):
    """Who renders a style's rate, pitch and energy."""

    AUTO = "auto"  # the acoustic model when it has prosody controls, else DSP on the waveform
    MODEL = "model"  # the acoustic model's variance adaptor (ProsodyControl); an error if it has none
    DSP = "dsp"  # signal processing after the model (facevox.styles.apply_style), for any model


@dataclass
class FaceToVoiceResult:
    """Detected faces and the speech styled by the dominant one.

    Attributes:
        text: the text that was spoken.
        faces: every detected face (``FaceEmotion``: ``box``, ``emotion``, ``scores``), in the
            emotion pipeline's order (largest first); empty when no photo was given.
        face_index: index in ``faces`` of the face that chose the style; ``None`` when the
            emotion was given by the caller or there was no photo.
        emotion: the emotion whose style was applied (the face's top emotion, or the
            caller's).
        probabilities: ``{emotion: probability}`` the style was made from (the face's 7 scores
            when blending, else ``{emotion: 1.0}``).
        style: the :class:`facevox.SpeechStyle` applied (``style.emotion == emotion``).
        waveform: ``(S,)`` float32 styled speech in ``[-1, 1]``.
        sample_rate: Hz.
        mel: ``(n_mels, T)`` float32 natural-log mel: the acoustic model's for neutral
            speech, else the mel of the styled waveform (``facevox.audio.mel_spectrogram``).
        alignments: attention weights of the synthesis (``(T_dec, L)`` or the speech
            pipeline's format), for plotting; ``None`` if it gives none.
        neutral_duration_s: duration of the unstyled speech, seconds.
        vocoder: name of the vocoder that made the waveform.
        words: :class:`facevox.WordTiming` per spoken word, in seconds of ``waveform`` (the
            styled model's own timings, or the neutral speech's carried through the style's
            re-timing, :func:`facevox.pipelines.timings.follow_style`); empty if the acoustic
            model gives no alignment.
        rendered_by: ``"model"`` (the acoustic model's prosody controls; pauses by DSP),
            ``"dsp"`` (:func:`facevox.styles.apply_style`) or ``"none"`` (neutral style).
    """

    text: str
    faces: list[Any]
    face_index: int | None
    emotion: str
    probabilities: dict[str, float]
    style: SpeechStyle
    waveform: Tensor
    sample_rate: int
    mel: Tensor
    alignments: Any
    neutral_duration_s: float
    vocoder: str
    words: list[Any] = field(default_factory=list)
    rendered_by: str = "none"
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def duration_s(self) -> float:
        """Duration of the styled speech, seconds."""
        return float(self.waveform.shape[-1]) / float(self.sample_rate)

    @property
    def face(self) -> Any | None:
        """The face that chose the style, or ``None``."""
        return None if self.face_index is None else self.faces[self.face_index]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no audio): what ``facevox speak --face PHOTO --json`` prints.

        Keys: ``text``, ``emotion``, ``face_index``, ``faces`` (``[{"box": [x, y, w, h],
        "emotion", "scores"}]``), ``style`` (rate, pitch_semitones, pitch_range, energy_db,
        pause_scale, rendered_by), ``probabilities``, ``sample_rate``, ``duration_s``, ``neutral_duration_s``, ``vocoder``,
        ``words`` (``[{"word", "start", "end"}]``, seconds of the styled waveform).
        """
        style = self.style
        return {
            "text": self.text,
            "emotion": self.emotion,
            "face_index": self.face_index,
            "faces": [_face_to_dict(f) for f in self.faces],
            "style": {
                "emotion": style.emotion,
                "rate": round(style.rate, 4),
                "pitch_semitones": round(style.pitch_semitones, 4),
                "energy_db": round(style.energy_db, 4),
                "pause_scale": round(style.pause_scale, 4),
                "pitch_range": round(style.pitch_range, 4),
                "rendered_by": self.rendered_by,
            },
            "probabilities": {k: round(float(v), 4) for k, v in self.probabilities.items()},
            "sample_rate": self.sample_rate,
            "duration_s": round(self.duration_s, 3),
            "neutral_duration_s": round(self.neutral_duration_s, 3),
            "vocoder": self.vocoder,
            "words": [w.as_dict() for w in self.words],
        }


def _box_list(box: Any) -> list[int]:
    if hasattr(box, "as_list"):
        return [int(v) for v in box.as_list()]
    return [int(v) for v in box]


def _face_to_dict(face: Any) -> dict[str, Any]:
    return {
        "box": _box_list(face.box),
        "emotion": face.emotion,
        "scores": {k: round(float(v), 4) for k, v in face.scores.items()},
    }


class FaceToVoicePipeline:
    """Face photo + text -> detected emotions + speech in the dominant face's style.

    The sub-pipelines are built on first use, so styling by an emotion label
    (:meth:`speak`) never loads the expression model, and a photo-only call
    (:meth:`detect`) never loads the TTS models. Thread-safe for concurrent calls.

    Args:
        acoustic: registered acoustic model name; ``None``: the speech pipeline's default.
        vocoder: registered vocoder name (``facevox models --task vocoder``).
        expression_model: registered expression classifier; ``None``: the default.
        blend: style from all 7 emotion probabilities of the face (``True``) or only from
            its top emotion (``False``).
        rate_domain: where the DSP path applies the speaking rate (:class:`RateDomain`).
        renderer: who renders rate, pitch and energy (:class:`StyleRenderer`; default
            ``"auto"``: the acoustic model when it has prosody controls, as
            ``tts.fastspeech_joe`` does).
        emotion_pipeline: an existing ``FaceEmotionPipeline`` to reuse (overrides
            ``expression_model``).
        speech_pipeline: an existing ``TextToSpeechPipeline`` to reuse (overrides
            ``acoustic`` and ``vocoder``).
    """

    def __init__(
        self,
        *,
        acoustic: str | None = None,
        vocoder: str | None = None,
        expression_model: str | None = None,
        blend: bool = True,
        rate_domain: RateDomain | str = RateDomain.MEL,
        renderer: StyleRenderer | str = StyleRenderer.AUTO,
        emotion_pipeline: Any | None = None,
        speech_pipeline: Any | None = None,
    ) -> None:
        try:
            self.rate_domain = RateDomain(rate_domain)
        except ValueError:
            accepted = ", ".join(d.value for d in RateDomain)
            raise ValueError(f"rate_domain must be one of {accepted}, got {rate_domain!r}") from None
        try:
            self.renderer = StyleRenderer(renderer)
        except ValueError:
            accepted = ", ".join(r.value for r in StyleRenderer)
            raise ValueError(f"renderer must be one of {accepted}, got {renderer!r}") from None
        self.acoustic = acoustic
        self.vocoder = vocoder
        self.expression_model = expression_model
        self.blend = blend
        self._emotion = emotion_pipeline
        self._speech = speech_pipeline
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ sub-pipelines
    @property
    def emotion_pipeline(self) -> Any:
        """The ``FaceEmotionPipeline`` (built on first use)."""
        with self._lock:
            if self._emotion is None:
                from facevox.pipelines.emotion import FaceEmotionPipeline

                self._emotion = FaceEmotionPipeline(model=self.expression_model)
            return self._emotion

    @property
    def speech_pipeline(self) -> Any:
        """The ``TextToSpeechPipeline`` (built on first use)."""
        with self._lock:
            if self._speech is None:
                from facevox.pipelines.speech import TextToSpeechPipeline

                kwargs: dict[str, Any] = {"vocoder": self.vocoder, "acoustic": self.acoustic}
                self._speech = TextToSpeechPipeline(**kwargs)
            return self._speech

    # ------------------------------------------------------------------ steps
    def detect(self, image: Any) -> list[Any]:
        """Faces and emotions of a photo (path, PIL image or ``(H, W, 3)`` uint8 RGB array)."""
        return list(self.emotion_pipeline(image))

    def choose_face(self, faces: Sequence[Any], face: int | str = "largest") -> int:
        """Index of the face that styles the speech.

        Args:
            faces: detected faces.
            face: ``"largest"`` (the biggest box) or an index into ``faces``.

        Raises:
            NoFaceError: ``faces`` is empty, or ``face`` is an index past the faces found.
            ValueError: ``face`` is neither ``"largest"`` nor an int.
        """
        if not faces:
            raise NoFaceError(
                "no face was found in the photo; use a photo with a clear frontal face, "
                "or give the emotion yourself (emotion='happy', or --emotion)"
            )
        if isinstance(face, str):
            if face != "largest":
                raise ValueError(f"face must be 'largest' or a face index, got {face!r}")
            return largest_face(faces)
        if isinstance(face, bool) or not isinstance(face, int):
            raise ValueError(f"face must be 'largest' or a face index, got {face!r}")
        if not -len(faces) <= face < len(faces):
            raise NoFaceError(f"face index {face} out of range: the photo has {len(faces)} face(s), 0..{len(faces) - 1}")
        return face % len(faces)

    def style_for(self, probabilities: Mapping[str, float]) -> tuple[str, dict[str, float], SpeechStyle]:
        """``(emotion, probabilities used, style)`` for a face's emotion probabilities."""
        probs = {k: float(v) for k, v in probabilities.items()}
        top = max(probs, key=lambda k: probs[k])
        if self.blend:
            return top, probs, resolve_style(probs)
        return top, {top: 1.0}, get_speech_style(top)

    def speak(
        self, text: str, style: SpeechStyle | str | Mapping[str, float] | None = None
    ) -> FaceToVoiceResult:
        """Speech of ``text`` in a style (no photo).

        Args:
            text: what to say (non-empty).
            style: a :class:`SpeechStyle`, an emotion label (``"happy"``), ``{emotion:
                probability}`` (blended), or ``None`` for neutral.

        Raises:
            ValueError: empty text.
            KeyError: an emotion with no registered style (the registered ones are listed).
        """
        _check_text(text)
        if style is None:
            resolved, probs = SpeechStyle("neutral"), {"neutral": 1.0}
        elif isinstance(style, Mapping):
            resolved, probs = resolve_style(style), {k: float(v) for k, v in style.items()}
        else:
            resolved = resolve_style(style)
            probs = {resolved.emotion: 1.0}
        return self._synthesize(text, resolved, probs, faces=[], face_index=None)

    def __call__(
        self,
        image: Any,
        text: str,
        *,
        face: int | str = "largest",
        emotion: str | None = None,
    ) -> FaceToVoiceResult:
        """Detect the faces of ``image`` and speak ``text`` in the chosen face's style.

        Args:
            image: a photo: path, PIL image, or ``(H, W, 3)`` uint8 RGB array.
            text: what to say (non-empty).
            face: ``"largest"`` or the index of the face (in detection order) whose emotion
                styles the speech.
            emotion: override: style by this emotion instead of the face's (faces are still
                detected and returned; a photo without a face is then not an error).

        Raises:
            ValueError: empty text, a bad ``face``.
            NoFaceError: no face in the photo and no ``emotion`` override.
            KeyError: ``emotion`` has no registered style.
        """
        _check_text(text)
        if emotion is not None:
            style = get_speech_style(emotion)  # fail fast, before the models run
        faces = self.detect(image)
        if emotion is not None:
            return self._synthesize(text, style, {emotion: 1.0}, faces=faces, face_index=None)
        index = self.choose_face(faces, face)
        top, probs, style = self.style_for(faces[index].scores)
        return self._synthesize(text, style, probs, faces=faces, face_index=index, emotion=top)

    # ------------------------------------------------------------------ synthesis
    def _synthesize(
        self,
        text: str,
        style: SpeechStyle,
        probabilities: dict[str, float],
        *,
        faces: list[Any],
        face_index: int | None,
        emotion: str | None = None,
    ) -> FaceToVoiceResult:
        neutral_style = style == SpeechStyle(style.emotion)
        if not neutral_style and self._in_model():
            return self._synthesize_in_model(text, style, probabilities, faces=faces, face_index=face_index,
                                             emotion=emotion)
        rate = mel_rate(style)
        # A style that changes the speaking rate in the mel domain is vocoded once, from the
        # stretched mel, so the neutral waveform is not synthesised only to be thrown away.
        stretch = not neutral_style and self.rate_domain is RateDomain.MEL and not math.isclose(rate, 1.0)
        speech = self.speech_pipeline(text, vocode=not stretch)
        sample_rate = int(speech.sample_rate)
        mel = _mel_2d(speech.mel)
        if stretch:
            neutral_duration_s = mel.shape[-1] * self.speech_pipeline.vocoder.hop_length / sample_rate
            source = self._vocode(stretch_mel(mel, rate))
        else:
            source = _mono(speech.waveform)
            neutral_duration_s = source.shape[-1] / sample_rate
        if neutral_style:
            waveform = source.clone()
        else:
            waveform = apply_style(source, sample_rate, style, mel_stretched=self.rate_domain is RateDomain.MEL)
        neutral_words = list(getattr(speech, "words", []))  # a custom speech pipeline may time nothing
        words = neutral_words if neutral_style or not neutral_words else follow_style(
            neutral_words, neutral_duration_s, waveform, sample_rate, style)
        if not neutral_style and waveform.shape[-1] > 1024:
            mel = mel_spectrogram(waveform)  # what is heard, for plots
        return FaceToVoiceResult(
            text=text,
            faces=faces,
            face_index=face_index,
            emotion=emotion or style.emotion,
            probabilities=probabilities,
            style=style,
            waveform=waveform,
            sample_rate=sample_rate,
            mel=mel,
            alignments=getattr(speech, "alignments", None),
            neutral_duration_s=neutral_duration_s,
            vocoder=str(getattr(self.speech_pipeline, "vocoder_name", self.vocoder)),
            words=words,
            rendered_by="none" if neutral_style else "dsp",
            extra={"speech": speech},
        )

    def _in_model(self) -> bool:
        """Whether styles go through the acoustic model's prosody controls (may load the models).

        Raises:
            ValueError: ``renderer="model"`` with an acoustic model without prosody controls.
        """
        if self.renderer is StyleRenderer.DSP:
            return False
        supported = bool(getattr(self.speech_pipeline, "supports_prosody", False))
        if self.renderer is StyleRenderer.MODEL and not supported:
            name = getattr(self.speech_pipeline, "acoustic_name", "the acoustic model")
            raise ValueError(f"renderer='model' but {name!r} has no prosody controls; use renderer='dsp' or 'auto'")
        return supported

    def _synthesize_in_model(
        self, text: str, style: SpeechStyle, probabilities: dict[str, float], *, faces: list[Any],
        face_index: int | None, emotion: str | None,
    ) -> FaceToVoiceResult:
        """The model renders rate, pitch and energy; only the pause scale is done on the waveform."""
        pipe = self.speech_pipeline
        neutral = pipe(text, vocode=False)  # the acoustic model alone: the neutral length, cheaply
        neutral_duration_s = _mel_2d(neutral.mel).shape[-1] * pipe.vocoder.hop_length / int(neutral.sample_rate)
        speech = pipe(text, prosody=style.prosody())
        sample_rate = int(speech.sample_rate)
        source = _mono(speech.waveform)
        words = list(getattr(speech, "words", []))
        rest = style.pauses_only
        if rest == SpeechStyle(style.emotion) or source.shape[-1] == 0:
            waveform = source.clone()
        else:
            waveform = apply_style(source, sample_rate, rest)
            if words:
                words = follow_style(words, source.shape[-1] / sample_rate, waveform, sample_rate, rest)
        return FaceToVoiceResult(
            text=text,
            faces=faces,
            face_index=face_index,
            emotion=emotion or style.emotion,
            probabilities=probabilities,
            style=style,
            waveform=waveform,
            sample_rate=sample_rate,
            mel=_mel_2d(speech.mel) if waveform.shape[-1] == source.shape[-1] else mel_spectrogram(waveform),
            alignments=getattr(speech, "alignments", None),
            neutral_duration_s=neutral_duration_s,
            vocoder=str(getattr(pipe, "vocoder_name", self.vocoder)),
            words=words,
            rendered_by="model",
            extra={"speech": speech},
        )

    def _vocode(self, mel: Tensor) -> Tensor:
        """Waveform ``(S,)`` of a ``(n_mels, T)`` log-mel with the speech pipeline's vocoder."""
        vocoder = self.speech_pipeline.vocoder
        param = next(vocoder.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        with torch.inference_mode():
            lengths = torch.tensor([mel.shape[-1]], dtype=torch.int64, device=device)
            waves, wave_lengths = vocoder(mel.unsqueeze(0).to(device), lengths)
        return waves[0, : int(wave_lengths[0])].float().cpu()


def _check_text(text: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text is empty: give a sentence to speak")


def _mono(waveform: Any) -> Tensor:
    wave = torch.as_tensor(np.asarray(waveform, dtype=np.float32) if not isinstance(waveform, Tensor) else waveform)
    wave = wave.detach().float().cpu()
    if wave.dim() == 2 and wave.shape[0] == 1:
        wave = wave[0]
    if wave.dim() != 1:
        raise ValueError(f"the speech pipeline returned a waveform of shape {tuple(wave.shape)}; expected (S,)")
    return wave


def _mel_2d(mel: Tensor) -> Tensor:
    mel = mel.detach().float().cpu()
    if mel.dim() == 3 and mel.shape[0] == 1:
        mel = mel[0]
    if mel.dim() != 2:
        raise ValueError(f"the speech pipeline returned a mel of shape {tuple(mel.shape)}; expected (n_mels, T)")
    return mel
