"""Vocos-style vocoder: ConvNeXt blocks at the mel frame rate and an inverse-STFT head.

Source: H. Siuzdak, "Vocos: Closing the gap between time-domain and Fourier-based neural
vocoders for high-quality audio synthesis", ICLR 2024 (arXiv:2306.00814). The backbone runs at
the mel frame rate (one vector per hop of 256 samples) and predicts, per frame, the log
magnitude and the phase of a 1024-point STFT; an inverse STFT with "same" padding turns them
into samples. Nothing runs at the sample rate except the inverse FFT and overlap-add, which is
why it costs a small fraction of HiFi-GAN V1 (Kong et al. 2020) per second of audio.

facevox's ``vocos.joe`` is trained by distillation from HiFi-GAN V1 (universal): the teacher is
a deterministic function of the mel, so its waveform is a regression target (multi-resolution
STFT, compressed complex STFT and log-mel losses; see :mod:`facevox_vocoders.train_vocos`).

Input: natural-log magnitude mel in HiFi-GAN's LJSpeech format (:func:`facevox.audio.mel_spectrogram`
with the default :class:`facevox.audio.MelSettings`: 22,050 Hz, hop 256, 80 bands).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facevox_vocoders._checks import GeneratorVocoder

__all__ = ["VocosConfig", "VocosVocoder", "inverse_stft_same"]

# A magnitude above exp(_MAX_LOG_MAG) is clipped (as Vocos' ISTFTHead clips at 1e2).
_MAX_LOG_MAG = math.log(100.0)


@dataclass(frozen=True)
class VocosConfig:
    """Architecture of the Vocos-style generator (defaults: ``vocos.joe``, 2.77 M parameters)."""

    # Mel bands of the input.
    n_mels: int = 80
    # Output sample rate, Hz.
    sample_rate: int = 22050
    # Samples per mel frame (the STFT hop of the head).
    hop_length: int = 256
    # FFT size of the inverse-STFT head, samples (n_fft // 2 + 1 frequency bins).
    n_fft: int = 1024
    # Channels of the backbone.
    dim: int = 256
    # Hidden channels of each ConvNeXt block's pointwise MLP.
    intermediate_dim: int = 768
    # ConvNeXt blocks.
    num_layers: int = 6
    # Depthwise kernel size, frames.
    kernel_size: int = 7

    def __post_init__(self) -> None:
        for field in ("n_mels", "sample_rate", "hop_length", "n_fft", "dim", "intermediate_dim", "num_layers"):
            if getattr(self, field) < 1:
                raise ValueError(f"VocosConfig.{field} must be >= 1, got {getattr(self, field)}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"VocosConfig.kernel_size must be odd and >= 1, got {self.kernel_size}")
        if self.n_fft < self.hop_length or (self.n_fft - self.hop_length) % 2:
            raise ValueError(
                f"VocosConfig.n_fft ({self.n_fft}) must be >= hop_length ({self.hop_length}) "
                "with an even difference (same padding)"
            )


class _ConvNeXtBlock(nn.Module):
    """Depthwise conv, LayerNorm, pointwise MLP (GELU), layer scale, residual (Liu et al. 2022)."""

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: Tensor) -> Tensor:
        """``(B, dim, T) -> (B, dim, T)``."""
        y = self.dwconv(x).transpose(1, 2)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


def inverse_stft_same(spec: Tensor, n_fft: int, hop_length: int, window: Tensor) -> Tensor:
    """Inverse STFT with "same" padding: ``T`` frames -> ``T * hop_length`` samples.

    Frame ``t`` is centred on sample ``t * hop_length + hop_length / 2``, the framing of
    :func:`facevox.audio.mel_spectrogram` (reflect padding of ``(n_fft - hop_length) / 2`` on
    each side, no centring), so a mel frame and the STFT frame the head predicts for it cover
    the same samples. Overlap-add is normalised by the summed squared window.

    Args:
        spec: ``(B, n_fft // 2 + 1, T)`` complex spectrum.
        n_fft: FFT size, samples.
        hop_length: frame shift, samples.
        window: ``(n_fft,)`` real synthesis window.

    Returns:
        ``(B, T * hop_length)`` real waveform, the dtype of ``window``.
    """
    frames = spec.shape[-1]
    pad = (n_fft - hop_length) // 2
    segments = torch.fft.irfft(spec, n=n_fft, dim=1) * window[None, :, None]  # (B, n_fft, T)
    size = (frames - 1) * hop_length + n_fft
    out = F.fold(segments, output_size=(1, size), kernel_size=(1, n_fft), stride=(1, hop_length))[:, 0, 0]
    envelope = F.fold(
        (window**2)[None, :, None].expand(1, n_fft, frames), output_size=(1, size),
        kernel_size=(1, n_fft), stride=(1, hop_length),
    )[0, 0, 0]
    return out[:, pad : size - pad] / envelope[pad : size - pad].clamp_min(1e-11)


class VocosVocoder(GeneratorVocoder):
    """Vocos-style generator: log-mel ``(B, n_mels, T)`` -> waveform ``(B, T * hop_length)``.

    ``forward(mels, lengths)`` returns ``(waveforms, wave_lengths)``: ``waveforms`` ``(B, S)``
    float32 in ``[-1, 1]`` at :attr:`sample_rate` Hz, ``S = T * hop_length``, samples past each
    item's ``wave_lengths = lengths * hop_length`` zeroed.

    Example::

        vocoder = facevox.create_model("vocos.joe")
        waves, wave_lengths = vocoder(mels, mel_lengths)
    """

    def __init__(self, config: VocosConfig) -> None:
        super().__init__()
        self.config = config
        self.sample_rate = config.sample_rate
        self.n_mels = config.n_mels
        self.hop_length = config.hop_length
        self.embed = nn.Conv1d(config.n_mels, config.dim, 7, padding=3)
        self.norm = nn.LayerNorm(config.dim, eps=1e-6)
        scale = 1.0 / config.num_layers
        self.blocks = nn.ModuleList(
            _ConvNeXtBlock(config.dim, config.intermediate_dim, config.kernel_size, scale)
            for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(config.dim, eps=1e-6)
        self.head = nn.Linear(config.dim, config.n_fft + 2)  # log magnitude and phase per bin
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Conv1d, nn.Linear)):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    def spectrum(self, mels: Tensor) -> Tensor:
        """The predicted STFT: ``(B, n_mels, T)`` log-mel -> ``(B, n_fft // 2 + 1, T)`` complex64."""
        x = self.embed(mels)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2).float()
        log_mag, phase = x.chunk(2, dim=1)
        magnitude = torch.exp(log_mag.clamp(max=_MAX_LOG_MAG))
        return torch.polar(magnitude, phase)

    def generate(self, mels: Tensor) -> Tensor:
        """The bare generator: ``(B, n_mels, T)`` log-mel -> ``(B, T * hop_length)`` in ``[-1, 1]``."""
        wave = inverse_stft_same(self.spectrum(mels), self.config.n_fft, self.hop_length, self.window)
        return wave.clamp(-1.0, 1.0)

