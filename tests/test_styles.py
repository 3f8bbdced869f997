"""Speech styles: the built-in emotion table and their DSP rendering (apply_style, stretch_mel)."""

from __future__ import annotations

import facevox_styles.plugin
import librosa
import numpy as np
import pytest
import torch
from facevox import plugins
from facevox.styles import (
    MIN_PAUSE_S,
    SpeechStyle,
    apply_style,
    blend_styles,
    get_speech_style,
    list_speech_styles,
    mel_rate,
    resolve_style,
    stretch_mel,
    voiced_intervals,
)

SR = 22050
FER_EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


@pytest.fixture
def styles(isolated_plugins: None) -> None:
    plugins.register_plugin(facevox_styles.plugin, name="styles")


def _voice(f0: float = 140.0, seconds: float = 0.6) -> np.ndarray:
    """A voiced, speech-like harmonic tone (10 harmonics, 1/k amplitudes) at ``f0`` Hz."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 11))
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def _utterance() -> np.ndarray:
    """Voice, 400 ms of silence, voice: one pause between two 'words'."""
    return np.concatenate([_voice(), np.zeros(int(0.4 * SR), np.float32), _voice()])


def _median_f0(y: np.ndarray) -> float:
    f0 = librosa.yin(y, fmin=60, fmax=500, sr=SR, frame_length=2048)
    return float(np.median(f0))


def _longest_gap(y: np.ndarray) -> int:
    voiced = librosa.effects.split(y, top_db=40, frame_length=1024, hop_length=256)
    return int(max(b[0] - a[1] for a, b in zip(voiced[:-1], voiced[1:], strict=True)))


def test_plugin_registers_one_style_per_fer_emotion(styles: None) -> None:
    assert list_speech_styles() == list(FER_EMOTIONS)
    assert get_speech_style("neutral") == SpeechStyle("neutral")


def test_style_directions_follow_the_issue(styles: None) -> None:
    happy, sad, angry = get_speech_style("happy"), get_speech_style("sad"), get_speech_style("angry")
    surprise, fear, disgust = get_speech_style("surprise"), get_speech_style("fear"), get_speech_style("disgust")
    assert happy.rate > 1 and happy.pitch_semitones > 0
    assert sad.rate < 1 and sad.pitch_semitones < 0 and sad.energy_db < 0 and sad.pause_scale > 1
    assert angry.energy_db > 0 and angry.rate > 1 and angry.energy_db > happy.energy_db
    assert surprise.pitch_semitones > happy.pitch_semitones
    assert fear.rate > 1 and 0 < fear.pitch_semitones < surprise.pitch_semitones
    assert disgust.rate < 1 and disgust.pitch_semitones < 0


def test_neutral_style_is_the_identity(styles: None) -> None:
    y = _utterance()
    out = apply_style(torch.from_numpy(y), SR, "neutral")
    assert out.dtype == torch.float32 and torch.equal(out, torch.from_numpy(y))


def test_pitch_shift_moves_f0_by_the_semitones_and_keeps_duration() -> None:
    y = _voice(seconds=1.0)
    up = apply_style(y, SR, SpeechStyle("x", pitch_semitones=3.0)).numpy()
    down = apply_style(y, SR, SpeechStyle("x", pitch_semitones=-2.0)).numpy()
    assert len(up) == len(down) == len(y)
    assert _median_f0(up) / _median_f0(y) == pytest.approx(2 ** (3 / 12), rel=0.03)
    assert _median_f0(down) / _median_f0(y) == pytest.approx(2 ** (-2 / 12), rel=0.03)


def test_rate_changes_duration_but_not_pitch() -> None:
    y = _voice(seconds=1.0)
    fast = apply_style(y, SR, SpeechStyle("x", rate=1.25)).numpy()
    slow_high = apply_style(y, SR, SpeechStyle("x", rate=0.8, pitch_semitones=2.0)).numpy()
    assert len(fast) == round(len(y) / 1.25)
    assert len(slow_high) == round(len(y) / 0.8)
    assert _median_f0(fast) == pytest.approx(_median_f0(y), rel=0.03)
    assert _median_f0(slow_high) / _median_f0(y) == pytest.approx(2 ** (2 / 12), rel=0.03)


def test_phase_vocoder_keeps_the_level() -> None:
    y = _voice(seconds=1.0)
    styled = apply_style(y, SR, SpeechStyle("x", rate=1.2, pitch_semitones=-2.0)).numpy()
    assert np.sqrt(np.mean(styled**2)) == pytest.approx(np.sqrt(np.mean(y**2)), rel=0.01)


def test_mel_stretched_path_shifts_pitch_by_resampling_to_the_styles_rate() -> None:
    style = SpeechStyle("x", rate=1.1, pitch_semitones=3.0)
    assert mel_rate(style) == pytest.approx(1.1 / 2 ** (3 / 12))
    y = _voice(seconds=1.0)  # stands for speech vocoded from a mel stretched by mel_rate(style)
    out = apply_style(y, SR, style, mel_stretched=True).numpy()
    assert len(out) == pytest.approx(len(y) / 2 ** (3 / 12), abs=2)  # overall: len(neutral) / rate
    assert _median_f0(out) / _median_f0(y) == pytest.approx(2 ** (3 / 12), rel=0.03)


def test_pause_scale_stretches_only_the_silent_gap() -> None:
    y = _utterance()
    longer = apply_style(y, SR, SpeechStyle("x", pause_scale=1.5)).numpy()
    shorter = apply_style(y, SR, SpeechStyle("x", pause_scale=0.5)).numpy()
    gap = _longest_gap(y)
    assert _longest_gap(longer) == pytest.approx(1.5 * gap, rel=0.1)
    assert _longest_gap(shorter) == pytest.approx(0.5 * gap, rel=0.1)
    assert len(longer) - len(y) == pytest.approx(0.5 * gap, rel=0.1)


def test_energy_is_gain_and_peaks_are_limited() -> None:
    y = _voice()
    softer = apply_style(y, SR, SpeechStyle("x", energy_db=-6.0)).numpy()
    assert np.sqrt(np.mean(softer**2)) / np.sqrt(np.mean(y**2)) == pytest.approx(10 ** (-6 / 20), rel=1e-4)
    loud = apply_style(y * 3, SR, SpeechStyle("x", energy_db=6.0)).numpy()  # would peak at ~1.8
    assert np.abs(loud).max() <= 0.98
    assert np.sqrt(np.mean(loud**2)) > np.sqrt(np.mean((y * 3) ** 2))  # still louder than the input


def test_blended_probabilities_resolve_between_the_styles(styles: None) -> None:
    mixed = resolve_style({"happy": 0.5, "sad": 0.5})
    assert mixed.emotion in ("happy", "sad")
    assert get_speech_style("sad").rate < mixed.rate < get_speech_style("happy").rate
    assert mixed == blend_styles({"happy": 0.5, "sad": 0.5}, name=mixed.emotion)
    assert resolve_style({"happy": 1.0}).rate == pytest.approx(get_speech_style("happy").rate)


def test_bad_inputs_are_clear_errors(styles: None) -> None:
    with pytest.raises(ValueError, match="mono"):
        apply_style(np.zeros((2, 100), np.float32), SR, "happy")
    with pytest.raises(ValueError, match="NaN"):
        apply_style(np.array([0.0, np.nan], np.float32), SR, "happy")
    with pytest.raises(ValueError, match="sample_rate"):
        apply_style(_voice(), 0, "happy")
    with pytest.raises(KeyError, match="registered: angry, disgust"):
        apply_style(_voice(), SR, "bored")
    with pytest.raises(TypeError, match="emotion label"):
        resolve_style(3)  # type: ignore[arg-type]


def test_stretch_mel_resamples_time_and_keeps_values() -> None:
    ramp = torch.linspace(-11.0, 0.0, 100).expand(80, 100).contiguous()
    fast = stretch_mel(ramp, 1.25)
    assert fast.shape == (80, 80)
    assert fast[:, 0].eq(-11.0).all() and fast[:, -1].eq(0.0).all()
    assert torch.all(fast[:, 1:] > fast[:, :-1])  # still a monotone ramp
    batch = stretch_mel(torch.randn(2, 80, 30), 0.5)
    assert batch.shape == (2, 80, 60)
    assert stretch_mel(torch.randn(80, 1), 0.5).shape == (80, 2)
    with pytest.raises(ValueError, match="rate"):
        stretch_mel(ramp, 0.0)
    with pytest.raises(ValueError, match="n_mels"):
        stretch_mel(torch.randn(100), 1.0)


def test_voiced_intervals_find_the_tone_bursts_around_a_pause() -> None:
    sr = 22050
    tone = 0.5 * np.sin(2 * np.pi * 220 * np.arange(sr // 2) / sr).astype(np.float32)
    pause = np.zeros(int(0.3 * sr), np.float32)
    y = np.concatenate([tone, pause, tone])
    voiced = voiced_intervals(y)
    assert voiced.dtype == np.int64 and voiced.shape == (2, 2)
    gap_s = (voiced[1, 0] - voiced[0, 1]) / sr
    # frames of 1,024 samples (46 ms) that overlap a tone count as voiced: the gap shrinks by up to one frame a side
    assert MIN_PAUSE_S <= 0.3 - 2 * 1024 / sr <= gap_s <= 0.3
    assert voiced[0, 0] == 0 and voiced[1, 1] == len(y)
