"""Griffin-Lim vocoder: log-mel -> linear magnitude (filterbank pseudo-inverse) -> phase recovery.

Source: D. Griffin and J. Lim, "Signal estimation from modified short-time Fourier
transform", IEEE TASSP 1984, with the momentum ("fast Griffin-Lim") of N. Perraudin,
P. Balazs, P. L. Sondergaard, "A fast Griffin-Lim algorithm", WASPAA 2013, through
``torchaudio.transforms.GriffinLim`` (loaded with :func:`facevox.compat.import_torchaudio`).

The mel -> linear step multiplies ``exp(log_mel)`` by the Moore-Penrose pseudo-inverse of the
same librosa filterbank the mel front end uses (:func:`facevox.audio.mel_filterbank`) and
clamps negatives to a small floor. It is a fixed matrix product, much faster than
``torchaudio.transforms.InverseMelScale``'s per-call least squares, with the same result on
the bands below ``f_max`` (see ``docs/vocoders.md`` for measurements). An optional
``power`` > 1 sharpens the magnitudes before phase recovery, a common trick that reduces
the buzz of Griffin-Lim speech.

No trainable parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from facevox import Vocoder
from facevox.audio import MelSettings, mel_filterbank
from facevox.compat import import_torchaudio
from torch import Tensor

from facevox_vocoders._checks import check_mels, mask_beyond

__all__ = ["GriffinLimConfig", "GriffinLimVocoder"]


@dataclass(frozen=True)
class GriffinLimConfig:
    """Griffin-Lim vocoder settings; the mel settings must match the acoustic model's."""

    # Mel front-end settings of the input (HiFi-GAN LJSpeech format by default).
    mel: MelSettings = MelSettings()
    # Griffin-Lim iterations; more is slower and (slowly) better.
    n_iter: int = 32
    # Momentum of fast Griffin-Lim, in [0, 1).
    momentum: float = 0.99
    # Magnitudes are raised to this power before phase recovery (1.0: none; ~1.2-1.5 sharpens).
    power: float = 1.0
    # Start from random phases (seeded, so still deterministic) instead of zero phases.
    random_init: bool = True
    # Seed of the random initial phases.
    seed: int = 0


class GriffinLimVocoder(Vocoder):
    """Log-mel ``(B, n_mels, T)`` -> waveform ``(B, T * hop_length)`` by fast Griffin-Lim.

    ``forward(mels, lengths) -> (waveforms, wave_lengths)``: ``waveforms`` ``(B, S)`` float32
    at :attr:`sample_rate` Hz, ``S = T * hop_length``, peak-limited to ``[-1, 1]``, zero past
    each item's ``wave_lengths = lengths * hop_length``. Deterministic for a given config.
    """

    def __init__(self, config: GriffinLimConfig) -> None:
        super().__init__()
        if config.n_iter < 1:
            raise ValueError(f"n_iter must be >= 1, got {config.n_iter}")
        if not 0.0 <= config.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {config.momentum}")
        if config.power <= 0:
            raise ValueError(f"power must be > 0, got {config.power}")
        self.config = config
        mel = config.mel
        self.sample_rate = mel.sample_rate
        self.n_mels = mel.n_mels
        self.hop_length = mel.hop_length
        # (n_freqs, n_mels): maps mel magnitudes back to linear-frequency magnitudes.
        self.register_buffer("inverse_basis", torch.linalg.pinv(mel_filterbank(mel)), persistent=False)
        self.register_buffer("window", torch.hann_window(mel.win_length), persistent=False)

    def mel_to_linear(self, mels: Tensor) -> Tensor:
        """Natural-log mel ``(B, n_mels, T)`` -> linear magnitude ``(B, n_fft // 2 + 1, T)``, ``>= 1e-8``."""
        linear = torch.matmul(self.inverse_basis, torch.exp(mels.float()))
        return torch.clamp(linear, min=1e-8)

    def forward(self, mels: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Synthesize waveforms; see the class docstring.

        Args:
            mels: ``(B, n_mels, T)`` float natural-log mel.
            lengths: ``(B,)`` int64 valid frames per item, in ``[1, T]``.

        Raises:
            ValueError: wrong shapes, dtypes or lengths (the message says what is accepted).
        """
        lengths = check_mels(mels, lengths, self.n_mels, type(self).__name__)
        magnitude = self.mel_to_linear(mels) ** self.config.power
        frames = mels.shape[-1]
        # torchaudio's Griffin-Lim works with centred frames: T + 1 frames <-> T * hop samples,
        # so the last frame is repeated once.
        magnitude = torch.cat([magnitude, magnitude[..., -1:]], dim=-1)
        waves = self._griffin_lim(magnitude, frames * self.hop_length)
        # The mel front end reflect-pads (n_fft - hop) / 2 and uses center=False, so frame t
        # is centred on sample t * hop + hop / 2; istft(center=True) centres it on t * hop.
        shift = self.hop_length // 2
        waves = F.pad(waves, (shift, 0))[:, : frames * self.hop_length]
        peak = waves.abs().amax(dim=1, keepdim=True).clamp(min=1.0)
        waves = waves / peak
        wave_lengths = lengths * self.hop_length
        return mask_beyond(waves, wave_lengths), wave_lengths

    def _griffin_lim(self, magnitude: Tensor, length: int) -> Tensor:
        """Fast Griffin-Lim (torchaudio) on linear magnitudes ``(B, F, T)`` -> ``(B, length)``."""
        torchaudio = import_torchaudio()
        mel = self.config.mel
        # Seeded initial phases without touching the caller's global random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            return torchaudio.functional.griffinlim(  # type: ignore[no-any-return]
                magnitude,
                self.window,
                mel.n_fft,
                mel.hop_length,
                mel.win_length,
                1.0,  # the input is a magnitude spectrogram
                self.config.n_iter,
                self.config.momentum,
                length,
                self.config.random_init,
            )
