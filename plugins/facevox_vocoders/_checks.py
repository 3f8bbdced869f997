"""Input checks and the generator base shared by the vocoders (private to this plugin)."""

from __future__ import annotations

import abc

import torch
from facevox import Vocoder
from torch import Tensor


def check_mels(mels: Tensor, lengths: Tensor | None, n_mels: int, who: str) -> Tensor:
    """Validate ``mels`` ``(B, n_mels, T)`` and ``lengths`` ``(B,)``; returns int64 lengths on CPU.

    ``lengths=None`` means every item has ``T`` frames.
    """
    if not isinstance(mels, Tensor):
        raise TypeError(f"{who}: mels must be a torch.Tensor, got {type(mels).__name__}")
    if mels.dim() != 3 or mels.shape[1] != n_mels:
        raise ValueError(
            f"{who}: mels must be (batch, n_mels={n_mels}, frames) natural-log mel, got shape "
            f"{tuple(mels.shape)} (add a batch dimension with mels.unsqueeze(0) for one item)"
        )
    if not mels.is_floating_point():
        raise ValueError(f"{who}: mels must be floating point, got {mels.dtype}")
    batch, _, frames = mels.shape
    if frames < 1:
        raise ValueError(f"{who}: mels have no frames")
    if lengths is None:
        return torch.full((batch,), frames, dtype=torch.int64)
    if not isinstance(lengths, Tensor) or lengths.shape != (batch,) or lengths.is_floating_point():
        shape = tuple(lengths.shape) if isinstance(lengths, Tensor) else type(lengths).__name__
        raise ValueError(f"{who}: lengths must be an integer tensor of shape ({batch},), got {shape}")
    lengths = lengths.detach().to("cpu", torch.int64)
    if int(lengths.min()) < 1 or int(lengths.max()) > frames:
        raise ValueError(f"{who}: lengths must be in [1, {frames}] frames, got {lengths.tolist()}")
    return lengths


def mask_beyond(waveforms: Tensor, wave_lengths: Tensor) -> Tensor:
    """Zero the samples of ``waveforms`` ``(B, S)`` at or after each item's ``wave_lengths``."""
    positions = torch.arange(waveforms.shape[1], device=waveforms.device)
    keep = positions.unsqueeze(0) < wave_lengths.to(waveforms.device).unsqueeze(1)
    return waveforms * keep


class GeneratorVocoder(Vocoder):
    """A vocoder defined by :meth:`generate`: ``(B, n_mels, T)`` log-mel -> ``(B, T * hop_length)``.

    :meth:`forward` checks the input, casts it to the weights' dtype, and returns float32
    waveforms with the samples past each item's ``lengths * hop_length`` zeroed.
    """

    @abc.abstractmethod
    def generate(self, mels: Tensor) -> Tensor:
        """The bare generator: ``(B, n_mels, T)`` log-mel -> ``(B, T * hop_length)`` in ``[-1, 1]``."""

    def forward(self, mels: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Synthesize waveforms ``(B, T * hop_length)`` float32 and their lengths ``(B,)`` int64.

        Args:
            mels: ``(B, n_mels, T)`` float natural-log mel (padding frames are ignored).
            lengths: ``(B,)`` int64 valid frames per item, in ``[1, T]``.

        Raises:
            ValueError: wrong shapes, dtypes or lengths (the message says what is accepted).
        """
        lengths = check_mels(mels, lengths, self.n_mels, type(self).__name__)
        waves = self.generate(mels.to(next(self.parameters()).dtype)).float()
        wave_lengths = lengths * self.hop_length
        if int(lengths.min()) < mels.shape[-1]:
            waves = mask_beyond(waves, wave_lengths)
        return waves, wave_lengths
