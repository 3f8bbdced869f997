"""facevox.compat.import_torchaudio: torchaudio's pure-Python transforms work on any torch build."""

from __future__ import annotations

import math
import sys

import pytest
import torch
from facevox.compat import TORCHAUDIO_STUBBED_MODULE, cpu_has_bf16, import_torchaudio, torchaudio_is_stubbed


def test_import_is_idempotent_and_registered() -> None:
    first = import_torchaudio()
    assert import_torchaudio() is first
    assert sys.modules["torchaudio"] is first
    assert first.__version__.startswith("2.")
    stub = sys.modules[TORCHAUDIO_STUBBED_MODULE]
    # Either the real extension loaded or our stub stands in for it, consistently reported.
    assert getattr(stub, "_facevox_stub", False) == torchaudio_is_stubbed()
    if torchaudio_is_stubbed():
        assert stub._IS_TORCHAUDIO_EXT_AVAILABLE is False


def test_mel_scale_and_inverse_run_and_invert() -> None:
    ta = import_torchaudio()
    n_stft = 513
    torch.manual_seed(0)
    # A smooth positive spectrum that the 80-band filterbank can represent well.
    freqs = torch.linspace(0, 1, n_stft).unsqueeze(1)
    spec = (1.0 + torch.cos(3 * math.pi * freqs)) * torch.ones(1, 4) + 0.1
    spec = spec.unsqueeze(0)  # (1, 513, 4)
    mel = ta.transforms.MelScale(n_mels=80, sample_rate=22050, n_stft=n_stft, f_max=8000.0)(spec)
    assert mel.shape == (1, 80, 4)
    assert torch.isfinite(mel).all() and (mel > 0).all()
    inverse = ta.transforms.InverseMelScale(n_stft=n_stft, n_mels=80, sample_rate=22050, f_max=8000.0)
    recovered = inverse(mel)
    assert recovered.shape == spec.shape
    # Below f_max the spectrum comes back (roughly).
    below = int(8000 / 11025 * (n_stft - 1))
    err = (recovered[0, 5:below] - spec[0, 5:below]).abs().mean() / spec[0, 5:below].abs().mean()
    assert err < 0.2


def test_griffin_lim_reconstructs_a_sine() -> None:
    ta = import_torchaudio()
    sr, freq, n_fft = 8000, 500.0, 256
    t = torch.arange(sr // 2) / sr
    wave = 0.5 * torch.sin(2 * math.pi * freq * t)
    magnitude = ta.transforms.Spectrogram(n_fft=n_fft, power=1.0)(wave)
    rebuilt = ta.transforms.GriffinLim(n_fft=n_fft, power=1.0, n_iter=16, rand_init=False)(magnitude)
    assert rebuilt.shape[-1] == pytest.approx(wave.shape[-1], abs=n_fft)
    peak_hz = torch.fft.rfft(rebuilt).abs().argmax().item() * sr / rebuilt.shape[-1]
    assert abs(peak_hz - freq) < 10


def test_cpu_has_bf16_follows_onednn_and_is_false_when_it_cannot_tell(monkeypatch: pytest.MonkeyPatch) -> None:
    class _Ops:
        def __init__(self, answer: bool | None) -> None:
            self.answer = answer

        def _is_mkldnn_bf16_supported(self) -> bool:
            if self.answer is None:
                raise RuntimeError("no oneDNN in this build")
            return self.answer

    for answer, expected in ((True, True), (False, False), (None, False)):
        monkeypatch.setattr(torch.ops, "mkldnn", _Ops(answer))
        assert cpu_has_bf16() is expected
    monkeypatch.setattr(torch.ops, "mkldnn", object())  # the check is missing altogether
    assert cpu_has_bf16() is False
