"""facevox.audio: mel front end against known signals, audio read/write."""

from __future__ import annotations

import math
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile
import torch
from facevox.audio import MelSettings, load_audio, mel_filterbank, mel_spectrogram, save_wav

SR = 22050


def _sine(freq: float, seconds: float = 0.5, amp: float = 0.5, sr: int = SR) -> torch.Tensor:
    t = torch.arange(int(sr * seconds)) / sr
    return amp * torch.sin(2 * math.pi * freq * t)


def test_frame_count_is_samples_over_hop() -> None:
    for n in (385, 1000, 22050, 22050 + 255, 22050 + 256):
        mel = mel_spectrogram(torch.zeros(n) + 0.01)
        assert mel.shape == (80, n // 256)


def test_sine_energy_lands_in_its_mel_band() -> None:
    settings = MelSettings()
    mel = mel_spectrogram(_sine(1000.0), settings)
    band = int(mel.mean(dim=1).argmax())
    centers = librosa.mel_frequencies(n_mels=settings.n_mels + 2, fmin=settings.f_min, fmax=settings.f_max)[1:-1]
    assert abs(centers[band] - 1000.0) < (centers[band + 1] - centers[band - 1])
    # Far-away bands are much quieter (natural log, > 5 nepers down).
    assert mel[band].mean() - mel[band + 20].mean() > 5
    # Two sines at different frequencies peak in different bands, in order.
    band_3k = int(mel_spectrogram(_sine(3000.0)).mean(dim=1).argmax())
    assert centers[band_3k] > 2500 and band_3k > band


def test_silence_is_log_clamp_floor() -> None:
    settings = MelSettings()
    mel = mel_spectrogram(torch.zeros(4096), settings)
    assert torch.allclose(mel, torch.full_like(mel, math.log(1e-5)), atol=1e-3)
    assert settings.log_floor == pytest.approx(math.log(1e-5))


def test_batch_matches_single_and_amplitude_is_log_linear() -> None:
    a, b = _sine(440.0), _sine(2000.0, amp=0.25)
    batched = mel_spectrogram(torch.stack([a, b]))
    assert batched.shape == (2, 80, a.shape[0] // 256)
    assert torch.allclose(batched[0], mel_spectrogram(a), atol=1e-5)
    assert torch.allclose(batched[1], mel_spectrogram(b), atol=1e-5)
    # Magnitude (not power): halving the amplitude lowers loud bands by log(2).
    loud = mel_spectrogram(a)
    band = int(loud.mean(dim=1).argmax())
    half = mel_spectrogram(a / 2)
    assert (loud[band] - half[band]).mean().item() == pytest.approx(math.log(2), abs=0.01)


def test_matches_hifigan_recipe_with_librosa_stft() -> None:
    """Independent check: numpy/librosa re-implementation of HiFi-GAN's meldataset recipe."""
    rng = np.random.default_rng(0)
    wave = (rng.standard_normal(5000) * 0.1).astype(np.float32)
    pad = (1024 - 256) // 2
    padded = np.pad(wave, (pad, pad), mode="reflect")
    stft = librosa.stft(padded, n_fft=1024, hop_length=256, win_length=1024, window="hann", center=False)
    mag = np.sqrt(np.abs(stft) ** 2 + 1e-9)
    basis = librosa.filters.mel(sr=SR, n_fft=1024, n_mels=80, fmin=0, fmax=8000)
    expected = np.log(np.clip(basis @ mag, 1e-5, None))
    got = mel_spectrogram(torch.from_numpy(wave)).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-3)
    assert mel_filterbank().shape == (80, 513)


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="more than 384"):
        mel_spectrogram(torch.zeros(100))
    with pytest.raises(ValueError, match=r"\(S,\) or \(B, S\)"):
        mel_spectrogram(torch.zeros(1, 1, 1000))
    with pytest.raises(ValueError, match="floating point"):
        mel_spectrogram(torch.zeros(1000, dtype=torch.int16))
    with pytest.raises(ValueError, match="f_max"):
        MelSettings(f_max=20000.0)
    with pytest.raises(TypeError, match="accepted"):
        MelSettings.from_dict({"sr": 1})
    assert MelSettings.from_dict(MelSettings().to_dict()) == MelSettings()


def test_save_and_load_round_trip_with_resampling(tmp_path: Path) -> None:
    wave = _sine(440.0, seconds=1.0)
    path = save_wav(tmp_path / "a.wav", wave, SR)
    assert soundfile.info(str(path)).subtype == "PCM_16"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
    loaded, sr = load_audio(path)
    assert sr == SR and loaded.dtype == torch.float32 and loaded.shape == wave.shape
    assert (loaded - wave).abs().max() < 1e-3
    down, sr16 = load_audio(path, sample_rate=16000)
    assert sr16 == 16000 and abs(down.shape[0] - 16000) <= 1
    peak_hz = np.argmax(np.abs(np.fft.rfft(down.numpy()))) * 16000 / down.shape[0]
    assert abs(peak_hz - 440.0) < 2


def test_load_stereo_ogg_is_mixed_to_mono(tmp_path: Path) -> None:
    left = _sine(300.0).numpy()
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    soundfile.write(str(tmp_path / "s.ogg"), stereo, SR, format="OGG", subtype="VORBIS")
    mono, sr = load_audio(tmp_path / "s.ogg")
    assert mono.dim() == 1 and sr == SR
    assert 0.15 < mono.abs().max() < 0.35  # (0.5 + 0) / 2


def test_load_and_save_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        load_audio(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match="bad.wav"):
        load_audio(bad)
    with pytest.raises(ValueError, match="mono"):
        save_wav(tmp_path / "x.wav", torch.zeros(2, 100), SR)
    assert not (tmp_path / "x.wav").exists()
