"""FaceToVoicePipeline: face choice, style from emotions, overrides, errors (fast: stand-in pipelines).

The emotion and speech pipelines are replaced by small stand-ins, so these tests check the
composition logic; tests/test_demo.py runs the real models end to end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import facevox
import facevox_styles.plugin
import facevox_vocoders.plugin
import numpy as np
import pytest
import torch
from facevox import FaceBox, plugins
from facevox.audio import mel_spectrogram
from facevox.pipelines.face_to_voice import FaceToVoicePipeline, NoFaceError
from facevox.styles import get_speech_style

SR = 22050
EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


@dataclass
class Face:
    box: FaceBox
    emotion: str
    scores: dict[str, float]


def _face(box: tuple[int, int, int, int], **probs: float) -> Face:
    scores = {e: 0.0 for e in EMOTIONS} | probs
    total = sum(scores.values())
    scores = {k: v / total for k, v in scores.items()}
    return Face(FaceBox(*box), max(scores, key=lambda k: scores[k]), scores)


@dataclass
class FakeEmotion:
    faces: list[Face]
    calls: int = 0

    def __call__(self, image: object) -> list[Face]:
        self.calls += 1
        return list(self.faces)


@dataclass
class Speech:
    waveform: torch.Tensor
    sample_rate: int
    mel: torch.Tensor
    alignments: torch.Tensor = field(default_factory=lambda: torch.eye(4))


class FakeSpeech:
    """Speaks every text as the same 1.2 s voiced tone with a pause; vocodes with Griffin-Lim."""

    vocoder_name = "griffinlim.default"

    def __init__(self) -> None:
        self.vocoder = facevox.create_model("griffinlim.default").eval()
        t = np.arange(int(0.5 * SR)) / SR
        tone = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8)).astype(np.float32)
        wave = np.concatenate([tone, np.zeros(int(0.2 * SR), np.float32), tone]) * 0.2
        self.wave = torch.from_numpy(wave)
        self.vocoded: list[bool] = []

    def __call__(self, text: str, *, vocode: bool = True) -> Speech:
        self.vocoded.append(vocode)
        return Speech(self.wave.clone() if vocode else torch.zeros(0), SR, mel_spectrogram(self.wave))


@pytest.fixture
def styles(isolated_plugins: None) -> None:
    plugins.register_plugin(facevox_styles.plugin, name="styles")
    plugins.register_plugin(facevox_vocoders.plugin, name="vocoders")


def _pipeline(faces: list[Face], **kwargs: object) -> FaceToVoicePipeline:
    return FaceToVoicePipeline(emotion_pipeline=FakeEmotion(faces), speech_pipeline=FakeSpeech(), **kwargs)  # type: ignore[arg-type]


def test_the_largest_face_styles_the_voice(styles: None) -> None:
    small_happy = _face((0, 0, 40, 40), happy=0.9, neutral=0.1)
    big_sad = _face((100, 100, 120, 120), sad=0.8, neutral=0.2)
    result = _pipeline([small_happy, big_sad], blend=False)("photo.jpg", "Hello.")
    assert result.face_index == 1 and result.emotion == "sad"
    assert result.style == get_speech_style("sad")
    assert result.duration_s > result.neutral_duration_s  # sad is slower


def test_a_chosen_face_overrides_the_largest(styles: None) -> None:
    faces = [_face((0, 0, 40, 40), happy=1.0), _face((100, 100, 120, 120), sad=1.0)]
    pipe = _pipeline(faces, blend=False)
    assert pipe("photo.jpg", "Hello.", face=0).emotion == "happy"
    assert pipe("photo.jpg", "Hello.", face=-1).emotion == "sad"
    with pytest.raises(ValueError, match="2 face"):
        pipe("photo.jpg", "Hello.", face=2)
    with pytest.raises(ValueError, match="largest"):
        pipe("photo.jpg", "Hello.", face="biggest")


def test_probabilities_blend_the_styles(styles: None) -> None:
    face = _face((0, 0, 50, 50), happy=0.6, sad=0.4)
    blended = _pipeline([face])("photo.jpg", "Hello.")
    assert blended.emotion == "happy"
    assert get_speech_style("sad").rate < blended.style.rate < get_speech_style("happy").rate
    assert blended.probabilities["sad"] == pytest.approx(0.4)
    top_only = _pipeline([face], blend=False)("photo.jpg", "Hello.")
    assert top_only.style == get_speech_style("happy") and top_only.probabilities == {"happy": 1.0}


def test_emotion_override_works_without_a_face(styles: None) -> None:
    pipe = _pipeline([])
    with pytest.raises(NoFaceError, match="emotion="):
        pipe("photo.jpg", "Hello.")
    result = pipe("photo.jpg", "Hello.", emotion="angry")
    assert result.emotion == "angry" and result.face_index is None and result.faces == []
    assert result.style == get_speech_style("angry")
    with pytest.raises(KeyError, match="bored"):
        pipe("photo.jpg", "Hello.", emotion="bored")


def test_empty_text_fails_before_any_model_runs(styles: None) -> None:
    emotion = FakeEmotion([_face((0, 0, 50, 50), happy=1.0)])
    pipe = FaceToVoicePipeline(emotion_pipeline=emotion, speech_pipeline=FakeSpeech())
    with pytest.raises(ValueError, match="text is empty"):
        pipe("photo.jpg", "  ")
    assert emotion.calls == 0


@pytest.mark.parametrize("domain", ["mel", "waveform"])
def test_speak_by_emotion_label_changes_duration_by_the_rate(styles: None, domain: str) -> None:
    pipe = FaceToVoicePipeline(speech_pipeline=FakeSpeech(), rate_domain=domain)
    neutral = pipe.speak("Hello.")
    happy = pipe.speak("Hello.", "happy")
    rate = get_speech_style("happy").rate
    assert neutral.emotion == "neutral" and neutral.duration_s == pytest.approx(neutral.neutral_duration_s)
    # the pause shrinks too (pause_scale < 1), so happy is at least rate-times shorter
    assert happy.duration_s <= neutral.duration_s / rate * 1.02
    assert happy.duration_s >= neutral.duration_s / rate * 0.85
    assert happy.sample_rate == SR and happy.waveform.dtype == torch.float32
    assert happy.mel.shape[-1] == happy.waveform.shape[-1] // 256  # the mel of what is heard
    assert happy.neutral_duration_s == pytest.approx(neutral.neutral_duration_s, abs=256 / SR)
    # a mel-domain rate change vocodes only the stretched mel, never the neutral speech first
    assert pipe.speech_pipeline.vocoded == [True, domain != "mel"]


def test_result_summary_is_json_ready(styles: None) -> None:
    result = _pipeline([_face((10, 20, 30, 40), surprise=0.7, fear=0.3)])("photo.jpg", "Oh!")
    summary = json.loads(json.dumps(result.to_dict()))
    assert summary["emotion"] == "surprise" and summary["face_index"] == 0
    assert summary["faces"][0]["box"] == [10, 20, 30, 40]
    assert set(summary["faces"][0]["scores"]) == set(EMOTIONS)
    assert summary["vocoder"] == "griffinlim.default" and summary["sample_rate"] == SR
    assert summary["duration_s"] == pytest.approx(result.duration_s, abs=1e-3)


def test_bad_rate_domain_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="mel, waveform"):
        FaceToVoicePipeline(rate_domain="spectrum")


class FakeProsodySpeech(FakeSpeech):
    """A speech pipeline whose acoustic model renders prosody: rate shortens the tone by resampling
    it, so the duration shows that the controls reached the model; records what it was given."""

    supports_prosody = True
    hop = 256

    def __init__(self) -> None:
        super().__init__()
        self.prosodies: list[object] = []

    def __call__(self, text: str, *, vocode: bool = True, prosody: object = None) -> Speech:  # type: ignore[override]
        self.vocoded.append(vocode)
        self.prosodies.append(prosody)
        rate = getattr(prosody, "rate", 1.0)
        wave = torch.nn.functional.interpolate(self.wave.view(1, 1, -1), scale_factor=1 / rate, mode="linear")[0, 0]
        return Speech(wave if vocode else torch.zeros(0), SR, mel_spectrogram(wave))


def test_a_model_with_prosody_controls_renders_the_style(styles: None) -> None:
    speech = FakeProsodySpeech()
    pipe = FaceToVoicePipeline(speech_pipeline=speech)
    happy = pipe.speak("Hello.", "happy")
    style = get_speech_style("happy")
    assert happy.rendered_by == "model" and happy.to_dict()["style"]["rendered_by"] == "model"
    # the model got the style's rate, pitch and energy; the neutral pass only measured the length
    assert speech.prosodies == [None, style.prosody()] and speech.vocoded == [False, True]
    assert happy.neutral_duration_s == pytest.approx(speech.wave.shape[-1] / SR, abs=256 / SR)
    # rate from the model, then the pause scale (< 1) on the waveform: shorter than the rate alone
    assert happy.duration_s < happy.neutral_duration_s / style.rate
    assert happy.duration_s > 0.8 * happy.neutral_duration_s / style.rate
    assert pipe.speak("Hello.").rendered_by == "none"
    dsp = FaceToVoicePipeline(speech_pipeline=FakeProsodySpeech(), renderer="dsp").speak("Hello.", "happy")
    assert dsp.rendered_by == "dsp"


def test_renderer_model_needs_prosody_controls(styles: None) -> None:
    with pytest.raises(ValueError, match="no prosody controls"):
        FaceToVoicePipeline(speech_pipeline=FakeSpeech(), renderer="model").speak("Hello.", "sad")
    with pytest.raises(ValueError, match="auto, model, dsp"):
        FaceToVoicePipeline(renderer="prosody")
