"""FastSpeech-style non-autoregressive acoustic model driven by per-character durations.

Ren et al. 2019, "FastSpeech: Fast, Robust and Controllable Text to Speech" and Ren et al. 2021
(FastSpeech 2): character embedding + sinusoidal positions -> feed-forward Transformer (FFT)
blocks (self-attention + a 1-D convolutional feed-forward layer, kernel 3 as in FastPitch,
Łańcucki 2021) -> a duration predictor and a *length regulator* that repeats each token's
encoding for its number of mel frames -> FFT blocks over frames -> a linear projection to the
mel spectrogram.

No attention has to be learned between text and audio: training uses the teacher's frame-exact
per-character durations (:func:`facevox_tts.alignment.char_durations`), and inference uses the
predicted ones, so the model cannot skip, repeat or fail to stop. The ``alignments`` it returns
are the hard (one-hot) token-per-frame paths of the length regulator.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from facevox import AcousticModel, AcousticOutput, Decoder, Encoder, ProsodyControl, lengths_to_mask
from facevox.roles import DecoderCapWarning
from torch import Tensor, nn

from .variance import VarianceAdaptor, VariancePredictor

__all__ = ["DurationOutput", "FastSpeech", "FastSpeechConfig", "length_regulate"]


@dataclass
class FastSpeechConfig:
    """Architecture of :class:`FastSpeech`."""

    n_symbols: int = 35  # token vocabulary size (en.chars has 35; index 0 = padding)
    n_mels: int = 80  # mel bins of the output spectrogram
    dim: int = 192  # model width (embedding, attention, block outputs)
    heads: int = 2  # self-attention heads per block
    ffn_dim: int = 384  # hidden channels of the convolutional feed-forward layer
    ffn_kernel: int = 3  # its kernel width (tokens or frames)
    encoder_layers: int = 3  # FFT blocks over tokens
    decoder_layers: int = 4  # FFT blocks over frames
    duration_channels: int = 192  # duration predictor conv channels (two layers)
    dropout: float = 0.1  # dropout in blocks and duration predictor (training only)
    max_frames_per_token: int = 40  # inference: predicted durations are clamped to [0, this]
    mel_floor: float = -11.5129  # log(1e-5): value of silent / padded frames
    variance: bool = False  # FastSpeech 2 variance adaptor: token pitch and energy predictors + embeddings
    pitch_mean: float = 4.6  # training corpus mean of log(F0 / Hz) over voiced frames (normalisation)
    pitch_std: float = 0.2  # its standard deviation
    energy_mean: float = -20.0  # training corpus mean of frame energy, dB (facevox_tts.prosody)
    energy_std: float = 10.0  # its standard deviation, dB


@dataclass(kw_only=True)
class DurationOutput(AcousticOutput):
    """:class:`facevox.AcousticOutput` plus ``log_durations`` ``(B, L)`` float32: the predicted
    ``log(1 + frames)`` of every token (0 at padding), and with a variance adaptor the predicted
    normalised token ``pitch`` and ``energy`` ``(B, L)`` float32 (``None`` without one). A
    duration model has no postnet and no stop token: ``mel_before_postnet`` and ``stop_logits``
    are ``None``."""

    log_durations: Tensor
    pitch: Tensor | None = None
    energy: Tensor | None = None


def _positions(length: int, dim: int, device: torch.device) -> Tensor:
    """Sinusoidal position encodings ``(length, dim)`` (Vaswani et al. 2017)."""
    pos = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    out = torch.zeros(length, dim, device=device)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq)
    return out


class _FFTBlock(nn.Module):
    """Self-attention + convolutional feed-forward, each residual and layer-normalised (post-norm)."""

    def __init__(self, cfg: FastSpeechConfig) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(cfg.dim, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(cfg.dim)
        pad = cfg.ffn_kernel // 2
        self.conv1 = nn.Conv1d(cfg.dim, cfg.ffn_dim, cfg.ffn_kernel, padding=pad)
        self.conv2 = nn.Conv1d(cfg.ffn_dim, cfg.dim, cfg.ffn_kernel, padding=pad)
        self.norm2 = nn.LayerNorm(cfg.dim)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x`` ``(B, T, dim)``, ``mask`` ``(B, T)`` bool (True = valid) -> ``(B, T, dim)``."""
        keep = mask.unsqueeze(-1).to(x.dtype)
        a, _ = self.attention(x, x, x, key_padding_mask=~mask, need_weights=False)
        x = self.norm1(x + self.dropout(a)) * keep
        # Hidden activations at padding are zeroed before the second conv reads them, so a padded
        # item gets exactly what it gets alone (zero padding of the conv), whatever its batch.
        h = self.conv2(F.relu(self.conv1(x.transpose(1, 2))) * keep.transpose(1, 2)).transpose(1, 2)
        return self.norm2(x + self.dropout(h)) * keep


class _TextEncoder(Encoder):
    """Tokens ``(B, L)`` int64 + lengths ``(B,)`` -> hidden states ``(B, L, dim)`` (0 at padding)."""

    def __init__(self, cfg: FastSpeechConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(cfg.n_symbols, cfg.dim, padding_idx=0)
        self.blocks = nn.ModuleList(_FFTBlock(cfg) for _ in range(cfg.encoder_layers))

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        mask = lengths_to_mask(lengths, inputs.shape[1]) if lengths is not None else inputs != 0
        x = self.embedding(inputs) + _positions(inputs.shape[1], self.embedding.embedding_dim, inputs.device)
        for block in self.blocks:
            x = block(x, mask)
        return x


class _FrameDecoder(Decoder):
    """Length-regulated states ``(B, T, dim)`` -> mel ``(B, n_mels, T)``.

    ``forward(latent, condition=None, lengths=None)``: ``lengths`` ``(B,)`` int64 valid frames
    (``None``: all valid); ``condition`` is unused (single speaker).
    """

    def __init__(self, cfg: FastSpeechConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(_FFTBlock(cfg) for _ in range(cfg.decoder_layers))
        self.proj = nn.Linear(cfg.dim, cfg.n_mels)
        with torch.no_grad():
            self.proj.bias.fill_(-6.0)  # near the mean log-mel: a faster start

    def forward(self, latent: Tensor, condition: Tensor | None = None, lengths: Tensor | None = None) -> Tensor:
        b, t, d = latent.shape
        mask = lengths_to_mask(lengths, t) if lengths is not None else latent.new_ones(b, t, dtype=torch.bool)
        x = latent + _positions(t, d, latent.device)
        for block in self.blocks:
            x = block(x, mask)
        return self.proj(x).transpose(1, 2)


def length_regulate(states: Tensor, durations: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Repeat every token's state for its number of frames (FastSpeech's length regulator).

    Args:
        states: ``(B, L, D)`` token states.
        durations: ``(B, L)`` int64 frames per token (``>= 0``; 0 at padding).

    Returns:
        frames ``(B, T, D)`` (0 past each sequence's end), lengths ``(B,)`` int64 (the sum of
        each row of ``durations``; ``T`` is their maximum, at least 1), and the token index of
        every frame ``(B, T)`` int64 (``-1`` past the end).

    Raises:
        ValueError: a negative duration.
    """
    if bool((durations < 0).any()):
        raise ValueError("durations must be >= 0 frames")
    ends = durations.cumsum(-1)  # (B, L)
    lengths = ends[:, -1]
    t = max(int(lengths.max()), 1)
    frames = torch.arange(t, device=durations.device).unsqueeze(0).expand(durations.shape[0], t)
    index = torch.searchsorted(ends, frames.contiguous(), right=True)  # token owning each frame
    valid = frames < lengths.unsqueeze(1)
    index = torch.where(valid, index, torch.full_like(index, -1))
    gathered = torch.gather(states, 1, index.clamp_min(0).unsqueeze(-1).expand(-1, -1, states.shape[-1]))
    return gathered * valid.unsqueeze(-1).to(states.dtype), lengths, index


def _even_durations(token_lengths: Tensor, mel_lengths: Tensor, width: int) -> Tensor:
    """``(B, width)`` int64: each row's ``mel_lengths`` frames spread as evenly as possible
    over its ``token_lengths`` tokens (for a teacher-forced pass without teacher durations)."""
    n = token_lengths.clamp_min(1).unsqueeze(1)
    idx = torch.arange(width).unsqueeze(0)
    edges = (idx + 1) * mel_lengths.unsqueeze(1) // n - idx * mel_lengths.unsqueeze(1) // n
    return torch.where(idx < token_lengths.unsqueeze(1), edges, torch.zeros_like(edges))


class FastSpeech(AcousticModel):
    """Non-autoregressive acoustic model: tokens -> natural-log mel (HiFi-GAN format), r = 1.

    ``forward(tokens, token_lengths, mels, mel_lengths, durations=None)``: teacher-forced pass;
    ``tokens`` ``(B, L)`` int64 (end token included), ``mels`` ``(B, n_mels, T)`` float32
    natural-log mel, lengths ``(B,)`` int64, ``durations`` ``(B, L)`` int64 teacher frames per
    token whose rows sum to ``mel_lengths`` (``None``: frames spread evenly over the tokens).
    Returns a :class:`DurationOutput` with ``T`` frames: ``mel``, ``alignments`` ``(B, T, L)``
    (the one-hot token-per-frame paths) and ``log_durations``; no postnet mel, no stop logits.
    ``infer`` returns an :class:`facevox.AcousticOutput` whose ``reached_cap`` marks the items
    whose predicted durations passed ``max_decoder_steps`` frames (all ``False`` without a cap).

    Raises:
        ValueError: ``mels`` without ``n_mels`` bins, or ``durations`` whose sums differ from
            ``mel_lengths``.
    """

    def __init__(self, config: FastSpeechConfig | None = None) -> None:
        super().__init__()
        cfg = config or FastSpeechConfig()
        if cfg.dim % cfg.heads:
            raise ValueError(f"dim ({cfg.dim}) must be divisible by heads ({cfg.heads})")
        self.config = cfg
        self.n_mels = cfg.n_mels
        self.reduction_factor = 1
        self.encoder = _TextEncoder(cfg)
        self.duration_predictor = VariancePredictor(cfg.dim, cfg.duration_channels, cfg.dropout)
        self.variance_adaptor = (
            VarianceAdaptor(cfg.dim, cfg.duration_channels, cfg.dropout, cfg.pitch_std, cfg.energy_std)
            if cfg.variance else None
        )
        self.supports_prosody = cfg.variance
        self.decoder = _FrameDecoder(cfg)

    def _decode(self, states: Tensor, durations: Tensor, width: int) -> tuple[Tensor, Tensor, Tensor]:
        frames, lengths, index = length_regulate(states, durations)
        mel = self.decoder(frames, lengths=lengths)
        valid = lengths_to_mask(lengths, mel.shape[2]).unsqueeze(1)
        mel = mel.masked_fill(~valid, self.config.mel_floor)
        path = F.one_hot(index.clamp_min(0), width).float() * (index >= 0).unsqueeze(-1).float()
        return mel, lengths, path

    def forward(
        self,
        tokens: Tensor,
        token_lengths: Tensor,
        mels: Tensor,
        mel_lengths: Tensor,
        durations: Tensor | None = None,
        pitch: Tensor | None = None,
        energy: Tensor | None = None,
    ) -> DurationOutput:
        b, n_mels, t = mels.shape
        if n_mels != self.n_mels:
            raise ValueError(f"mels must have {self.n_mels} bins (B, n_mels, T), got shape {tuple(mels.shape)}")
        if durations is None:
            durations = _even_durations(token_lengths, mel_lengths, tokens.shape[1])
        if not torch.equal(durations.sum(-1), mel_lengths):
            raise ValueError(
                f"durations must sum to mel_lengths per row; got sums {durations.sum(-1).tolist()} "
                f"for mel_lengths {mel_lengths.tolist()}"
            )
        mask = lengths_to_mask(token_lengths, tokens.shape[1])
        states = self.encoder(tokens, token_lengths)
        log_durations = self.duration_predictor(states, mask)
        pitch_pred = energy_pred = None
        if self.variance_adaptor is not None:
            va = self.variance_adaptor(states, mask, pitch, energy)
            states, pitch_pred, energy_pred = va.states, va.pitch, va.energy
        mel, _, path = self._decode(states, durations, tokens.shape[1])
        mel = F.pad(mel, (0, t - mel.shape[2]), value=self.config.mel_floor)[:, :, :t]
        path = F.pad(path, (0, 0, 0, t - path.shape[1]))[:, :t]
        return DurationOutput(mel=mel, mel_lengths=mel_lengths, alignments=path, log_durations=log_durations,
                              pitch=pitch_pred, energy=energy_pred)

    def _predicted(self, states: Tensor, mask: Tensor, rate: float = 1.0) -> Tensor:
        """Frames per token ``(B, L)`` int64 at speaking rate ``rate``, clamped to ``[0,
        max_frames_per_token]``, 0 at padding.

        The running total is rounded, not each token: every token is within one frame of its
        predicted length and the utterance keeps its predicted total (rounding 2.5-frame tokens
        one by one at ``rate=2`` would lose a fifth of the length)."""
        log_d = self.duration_predictor(states, mask)
        frames = (torch.expm1(log_d).clamp_min(0.0) / rate).clamp_max(self.config.max_frames_per_token) * mask
        ends = torch.round(torch.cumsum(frames, dim=1))
        durations = torch.diff(ends, dim=1, prepend=torch.zeros_like(ends[:, :1]))
        return durations.clamp(0, self.config.max_frames_per_token).long() * mask

    @torch.no_grad()
    def predict_durations(self, tokens: Tensor, token_lengths: Tensor) -> Tensor:
        """Predicted frames per token ``(B, L)`` int64 (0 at padding) for ``tokens`` ``(B, L)``."""
        mask = lengths_to_mask(token_lengths, tokens.shape[1])
        return self._predicted(self.encoder(tokens, token_lengths), mask)

    @torch.no_grad()
    def infer(
        self, tokens: Tensor, token_lengths: Tensor, max_decoder_steps: int | None = None, *,
        prosody: ProsodyControl | None = None,
    ) -> AcousticOutput:
        """Free-running synthesis (:meth:`facevox.AcousticModel.infer`); ``prosody`` moves the
        predicted durations, pitch and energy token by token (a model with a variance adaptor
        only, :attr:`supports_prosody`).

        Raises:
            ValueError: ``prosody`` other than the identity for a model without a variance adaptor.
        """
        if prosody is not None and not prosody.is_identity and self.variance_adaptor is None:
            raise ValueError(
                "this FastSpeech model has no variance adaptor (config.variance is False), so it cannot "
                "render prosody controls; style its waveform instead (facevox.styles.apply_style)"
            )
        mask = lengths_to_mask(token_lengths, tokens.shape[1])
        states = self.encoder(tokens, token_lengths)
        durations = self._predicted(states, mask, prosody.rate if prosody is not None else 1.0)
        if self.variance_adaptor is not None:
            states = self.variance_adaptor(states, mask, control=prosody).states
        capped = torch.zeros(tokens.shape[0], dtype=torch.bool)
        if max_decoder_steps is not None:
            capped = (durations.sum(-1) > max_decoder_steps).cpu()
        if bool(capped.any()):
            warnings.warn(
                f"predicted durations pass the step cap (max_decoder_steps={max_decoder_steps} frames) for "
                f"{int(capped.sum())} of {len(capped)} sequence(s); the speech is cut there",
                DecoderCapWarning,
                stacklevel=3,  # the caller, past torch.no_grad's wrapper
            )
            ends = durations.cumsum(-1).clamp(max=max_decoder_steps)
            durations = torch.diff(ends, dim=-1, prepend=torch.zeros_like(ends[:, :1]))
        mel, lengths, path = self._decode(states, durations, tokens.shape[1])
        return AcousticOutput(mel=mel, mel_lengths=lengths, alignments=path, reached_cap=capped)

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> tuple[Any, ...]:
        length, frames = 12, 30
        tokens = torch.randint(2, self.config.n_symbols, (batch_size, length), generator=generator)
        token_lengths = torch.full((batch_size,), length, dtype=torch.int64)
        token_lengths[-1] = length - 3
        tokens[-1, length - 3 :] = 0
        mels = torch.randn(batch_size, self.n_mels, frames, generator=generator) - 5.0
        mel_lengths = torch.full((batch_size,), frames, dtype=torch.int64)
        mel_lengths[-1] = frames - 5
        return tokens, token_lengths, mels, mel_lengths
