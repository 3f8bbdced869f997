"""FastSpeech 2's variance predictors and adaptor (Ren et al. 2021; token-level as in FastPitch).

:class:`VariancePredictor` (two 1-D convolutions with ReLU, layer norm and dropout, then a
linear layer) predicts one value per token from the encoder states: the log-duration, and in a
:class:`VarianceAdaptor` the token's normalised ``log F0`` and energy. The adaptor adds an
embedding of the pitch and energy (a kernel-3 convolution over tokens, FastPitch) to the
states before the length regulator: the targets while training, the predictions moved by a
:class:`facevox.ProsodyControl` at inference.

Normalisation: pitch ``(log F0 - pitch_mean) / pitch_std`` (0 for tokens without voiced
frames), energy ``(dB - energy_mean) / energy_std``, with the training corpus's statistics
kept in :class:`~facevox_tts.fastspeech.FastSpeechConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch.nn.functional as F
from facevox import ProsodyControl
from torch import Tensor, nn

__all__ = ["VarianceAdaptor", "VarianceOutput", "VariancePredictor", "apply_prosody"]


class VariancePredictor(nn.Module):
    """Hidden states ``(B, L, dim)`` + mask ``(B, L)`` bool -> one value per token ``(B, L)``
    float32, 0 at padding (FastSpeech's duration predictor layout).

    Args:
        dim: input channels; channels: conv channels; dropout: training dropout.
    """

    def __init__(self, dim: int, channels: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(dim, channels, 3, padding=1)
        self.norm1 = nn.LayerNorm(channels)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)
        self.norm2 = nn.LayerNorm(channels)
        self.proj = nn.Linear(channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        keep = mask.unsqueeze(-1).to(x.dtype)  # padding is zeroed before each conv (batch-independent output)
        h = self.dropout(self.norm1(F.relu(self.conv1((x * keep).transpose(1, 2))).transpose(1, 2)))
        h = self.dropout(self.norm2(F.relu(self.conv2((h * keep).transpose(1, 2))).transpose(1, 2)))
        return self.proj(h).squeeze(-1) * mask


@dataclass
class VarianceOutput:
    """What the adaptor did: ``states`` ``(B, L, dim)`` with the embeddings added, the
    predictions ``pitch`` and ``energy`` ``(B, L)`` float32 (normalised, before any control),
    and the values the decoder was given, ``pitch_used`` and ``energy_used`` ``(B, L)``."""

    states: Tensor
    pitch: Tensor
    energy: Tensor
    pitch_used: Tensor
    energy_used: Tensor


def apply_prosody(
    pitch: Tensor, energy: Tensor, mask: Tensor, control: ProsodyControl, pitch_std: float, energy_std: float
) -> tuple[Tensor, Tensor]:
    """Move normalised token pitch and energy ``(B, L)`` by ``control``.

    Pitch: each item's deviations from its mean over valid tokens are scaled by
    ``pitch_range``, then ``pitch_semitones * log(2) / 12 / pitch_std`` is added (a shift of
    ``log F0``). Energy: ``energy_db / energy_std`` is added. Padding stays 0.

    Returns:
        ``(pitch, energy)`` ``(B, L)`` float32.
    """
    keep = mask.to(pitch.dtype)
    mean = (pitch * keep).sum(-1, keepdim=True) / keep.sum(-1, keepdim=True).clamp_min(1.0)
    shift = control.pitch_semitones * math.log(2.0) / 12.0 / pitch_std
    pitch = (mean + (pitch - mean) * control.pitch_range + shift) * keep
    energy = (energy + control.energy_db / energy_std) * keep
    return pitch, energy


class VarianceAdaptor(nn.Module):
    """Pitch and energy predictors plus their embeddings.

    ``forward(states, mask, pitch=None, energy=None, control=None)``: ``states`` ``(B, L, dim)``,
    ``mask`` ``(B, L)`` bool; ``pitch``/``energy`` ``(B, L)`` normalised targets (training:
    teacher forcing) or ``None`` (the predictions, moved by ``control`` if given). Returns a
    :class:`VarianceOutput`.

    Args:
        dim: model width; channels: predictor conv channels; dropout: predictor dropout;
        pitch_std, energy_std: the normalisation scales (log-Hz, dB) the controls are
            converted with.
    """

    def __init__(self, dim: int, channels: int, dropout: float, pitch_std: float, energy_std: float) -> None:
        super().__init__()
        self.pitch_predictor = VariancePredictor(dim, channels, dropout)
        self.energy_predictor = VariancePredictor(dim, channels, dropout)
        self.pitch_embedding = nn.Conv1d(1, dim, 3, padding=1)
        self.energy_embedding = nn.Conv1d(1, dim, 3, padding=1)
        for conv in (self.pitch_embedding, self.energy_embedding):
            # start at zero: a model warm-started from one without an adaptor begins unchanged
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.pitch_std, self.energy_std = pitch_std, energy_std

    def forward(
        self, states: Tensor, mask: Tensor, pitch: Tensor | None = None, energy: Tensor | None = None,
        control: ProsodyControl | None = None,
    ) -> VarianceOutput:
        pitch_pred = self.pitch_predictor(states, mask)
        energy_pred = self.energy_predictor(states, mask)
        p = pitch_pred if pitch is None else pitch
        e = energy_pred if energy is None else energy
        if control is not None and not control.is_identity:
            moved_p, moved_e = apply_prosody(p, e, mask, control, self.pitch_std, self.energy_std)
            p = moved_p if pitch is None else p
            e = moved_e if energy is None else e
        keep = mask.unsqueeze(-1).to(states.dtype)
        emb = self.pitch_embedding(p.unsqueeze(1)) + self.energy_embedding(e.unsqueeze(1))
        out = states + emb.transpose(1, 2) * keep
        return VarianceOutput(out, pitch_pred, energy_pred, p, e)
