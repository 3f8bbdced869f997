"""Tacotron 2-style acoustic model, sized for CPU training.

Shen et al. 2018, "Natural TTS Synthesis by Conditioning WaveNet on Mel Spectrogram
Predictions" (Tacotron 2): character embedding -> conv + BiLSTM encoder; location-sensitive
attention (Chorowski et al. 2015); autoregressive LSTM decoder with an always-on-dropout
prenet that emits ``r`` mel frames per step (reduction factor, Wang et al. 2017 "Tacotron");
stop-token prediction; convolutional postnet.

Training-time alignment help: ``forward`` accepts an optional ``attention_prior``
``(B, T_dec, L)`` that is multiplied into the attention weights before the context is taken
(Badlani et al. 2021, "One TTS Alignment to Rule Them All"); the returned ``alignments`` are
the model's own weights (before the prior), so an attention loss trains them to find the path
alone. ``infer`` never uses a prior.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from facevox import AcousticModel, AcousticOutput, Encoder, SequenceAttention, lengths_to_mask
from facevox.roles import DecoderCapWarning
from torch import Tensor, nn

__all__ = ["LocationSensitiveAttention", "Tacotron", "TacotronConfig"]


@dataclass
class TacotronConfig:
    """Architecture of :class:`Tacotron`."""

    n_symbols: int = 35  # token vocabulary size (en.chars has 35; index 0 = padding)
    n_mels: int = 80  # mel bins of the output spectrogram
    reduction_factor: int = 4  # mel frames emitted per decoder step (r)
    embedding_dim: int = 256  # character embedding size
    encoder_conv_layers: int = 3  # conv layers before the BiLSTM
    encoder_kernel_size: int = 5  # width of the encoder convolutions (tokens)
    encoder_dim: int = 256  # encoder output size (BiLSTM: half per direction)
    attention_rnn_dim: int = 256  # attention LSTM hidden size
    attention_dim: int = 128  # attention energy size
    location_filters: int = 32  # location-feature channels
    location_kernel_size: int = 31  # location-feature conv width (tokens)
    decoder_rnn_dim: int = 256  # decoder LSTM hidden size
    prenet_dim: int = 192  # prenet layer size (two layers)
    prenet_dropout: float = 0.5  # prenet dropout, applied in training AND inference (Tacotron 2)
    rnn_dropout: float = 0.1  # dropout on the two decoder LSTM outputs (training only)
    postnet_channels: int = 128  # postnet conv channels
    postnet_layers: int = 5  # postnet conv layers
    postnet_kernel_size: int = 5  # postnet conv width (frames)
    dropout: float = 0.5  # encoder/postnet conv dropout (training only)
    max_steps_per_token: float = 3.0  # inference cap: decoder steps per input token (+ 20)
    stop_threshold: float = 0.5  # stop when sigmoid(stop logit) exceeds this
    infer_window: int = 3  # inference: attend only tokens [focus - 1, focus + window] (0 = off)
    mel_floor: float = -11.5129  # log(1e-5): value of silent / padded frames


class _Encoder(Encoder):
    """Token ids ``(B, L)`` int64 + lengths ``(B,)`` -> ``(B, L, encoder_dim)`` float32."""

    def __init__(self, cfg: TacotronConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(cfg.n_symbols, cfg.embedding_dim, padding_idx=0)
        convs = []
        dim = cfg.embedding_dim
        for _ in range(cfg.encoder_conv_layers):
            convs += [
                nn.Conv1d(dim, cfg.encoder_dim, cfg.encoder_kernel_size, padding=cfg.encoder_kernel_size // 2),
                nn.BatchNorm1d(cfg.encoder_dim),
                nn.ReLU(),
                nn.Dropout(cfg.dropout),
            ]
            dim = cfg.encoder_dim
        self.convs = nn.Sequential(*convs)
        self.lstm = nn.LSTM(cfg.encoder_dim, cfg.encoder_dim // 2, batch_first=True, bidirectional=True)

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        x = self.convs(self.embedding(inputs).transpose(1, 2)).transpose(1, 2)  # (B, L, D)
        if lengths is None:
            lengths = torch.full((inputs.shape[0],), inputs.shape[1], dtype=torch.int64)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=inputs.shape[1])
        return out


class LocationSensitiveAttention(SequenceAttention):
    """Additive attention with location features (Chorowski et al. 2015; Tacotron 2).

    ``e_j = v^T tanh(W q + V m_j + U f_j)`` where ``f`` are convolutions of the previous and
    cumulative weights; see :class:`facevox.SequenceAttention` for the call signature.
    """

    def __init__(self, query_dim: int, memory_dim: int, attention_dim: int, filters: int, kernel: int) -> None:
        super().__init__()
        self.query = nn.Linear(query_dim, attention_dim, bias=False)
        self.memory = nn.Linear(memory_dim, attention_dim, bias=False)
        self.location_conv = nn.Conv1d(2, filters, kernel, padding=kernel // 2, bias=False)
        self.location = nn.Linear(filters, attention_dim, bias=False)
        self.v = nn.Linear(attention_dim, 1, bias=True)

    def process_memory(self, memory: Tensor) -> Tensor:
        return self.memory(memory)

    def _location_features(self, previous: Tensor) -> Tensor:
        """``location(location_conv(previous))``: ``(B, 2, L)`` -> ``(B, L, A)``.

        The bias-free conv and linear layers are composed into one ``(A, 2 k)`` matrix applied
        to unfolded windows: the same result as the two layers, several times faster on CPU
        than a tiny convolution per decoder step (forward and backward).
        """
        conv = self.location_conv.weight  # (F, 2, k)
        n_filters, channels, k = conv.shape
        kernel = self.location.weight @ conv.reshape(n_filters, channels * k)  # (A, 2k)
        b, _, length = previous.shape
        windows = F.pad(previous, (k // 2, k // 2)).unfold(2, k, 1)  # (B, 2, L, k)
        windows = windows.permute(0, 2, 1, 3).reshape(b, length, channels * k)
        return windows @ kernel.t()

    def forward(
        self,
        query: Tensor,
        memory: Tensor,
        mask: Tensor,
        previous_weights: Tensor | None = None,
        processed_memory: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        if processed_memory is None:
            processed_memory = self.process_memory(memory)
        if previous_weights is None:
            previous_weights = memory.new_zeros(memory.shape[0], 2, memory.shape[1])
        loc = self._location_features(previous_weights)  # (B, L, A)
        energies = self.v(torch.tanh(self.query(query).unsqueeze(1) + processed_memory + loc)).squeeze(-1)
        energies = energies.masked_fill(~mask, -1e4)
        weights = torch.softmax(energies, dim=-1) * mask
        context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)
        return context, weights


class _Prenet(nn.Module):
    def __init__(self, n_in: int, dim: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(n_in, dim), nn.Linear(dim, dim)])
        self.dropout = dropout

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            # Always-on dropout (Tacotron 2): a source of variation at inference too.
            x = F.dropout(F.relu(layer(x)), p=self.dropout, training=True)
        return x


class _Postnet(nn.Module):
    def __init__(self, cfg: TacotronConfig) -> None:
        super().__init__()
        k, c = cfg.postnet_kernel_size, cfg.postnet_channels
        layers: list[nn.Module] = []
        for i in range(cfg.postnet_layers):
            cin = cfg.n_mels if i == 0 else c
            last = i == cfg.postnet_layers - 1
            cout = cfg.n_mels if last else c
            layers += [nn.Conv1d(cin, cout, k, padding=k // 2), nn.BatchNorm1d(cout)]
            if not last:
                layers.append(nn.Tanh())
            layers.append(nn.Dropout(cfg.dropout))
        self.net = nn.Sequential(*layers)

    def forward(self, mel: Tensor) -> Tensor:
        return self.net(mel)


class Tacotron(AcousticModel):
    """Tacotron 2-style acoustic model: tokens -> natural-log mel (HiFi-GAN format).

    ``forward(tokens, token_lengths, mels, mel_lengths, attention_prior=None)``: teacher
    forcing; ``tokens`` ``(B, L)`` int64, ``mels`` ``(B, n_mels, T)`` float32 natural-log mel,
    lengths ``(B,)`` int64; returns :class:`facevox.AcousticOutput` with ``T`` frames: ``mel``
    after the postnet, ``mel_before_postnet``, ``stop_logits`` ``(B, T)`` and ``alignments``
    ``(B, ceil(T / r), L)``.

    ``infer`` decodes until every item predicts a stop or ``max_decoder_steps`` is reached
    (default ``max_steps_per_token * L + 20``); items cut there are ``True`` in ``reached_cap``
    (and a :class:`facevox.roles.DecoderCapWarning` says how many).
    """

    def __init__(self, config: TacotronConfig | None = None) -> None:
        super().__init__()
        cfg = config or TacotronConfig()
        if cfg.reduction_factor < 1:
            raise ValueError(f"reduction_factor must be >= 1, got {cfg.reduction_factor}")
        self.config = cfg
        self.n_mels = cfg.n_mels
        self.reduction_factor = cfg.reduction_factor
        r = cfg.reduction_factor
        self.encoder = _Encoder(cfg)
        self.prenet = _Prenet(cfg.n_mels, cfg.prenet_dim, cfg.prenet_dropout)
        self.attention_rnn = nn.LSTMCell(cfg.prenet_dim + cfg.encoder_dim, cfg.attention_rnn_dim)
        self.attention = LocationSensitiveAttention(
            cfg.attention_rnn_dim, cfg.encoder_dim, cfg.attention_dim, cfg.location_filters, cfg.location_kernel_size
        )
        self.decoder_rnn = nn.LSTMCell(cfg.attention_rnn_dim + cfg.encoder_dim, cfg.decoder_rnn_dim)
        self.mel_proj = nn.Linear(cfg.decoder_rnn_dim + cfg.encoder_dim, cfg.n_mels * r)
        self.stop_proj = nn.Linear(cfg.decoder_rnn_dim + cfg.encoder_dim, r)
        self.postnet = _Postnet(cfg)
        with torch.no_grad():
            self.mel_proj.bias.fill_(-6.0)  # near the mean log-mel: a faster start

    # ------------------------------------------------------------------ decoder core
    def _init_state(self, memory: Tensor) -> dict[str, Tensor]:
        b, length, _ = memory.shape
        cfg = self.config
        z = memory.new_zeros
        return {
            "ah": z(b, cfg.attention_rnn_dim),
            "ac": z(b, cfg.attention_rnn_dim),
            "dh": z(b, cfg.decoder_rnn_dim),
            "dc": z(b, cfg.decoder_rnn_dim),
            "w": z(b, length),
            "wsum": z(b, length),
            "ctx": z(b, cfg.encoder_dim),
        }

    def _step(
        self, x: Tensor, s: dict[str, Tensor], memory: Tensor, pmem: Tensor, mask: Tensor, prior: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """One decoder step; ``x`` is the prenet output ``(B, prenet_dim)``.

        Returns the projection input ``(B, decoder_rnn_dim + encoder_dim)`` and the raw
        attention weights ``(B, L)``; updates ``s`` in place.
        """
        p = self.config.rnn_dropout
        ah, ac = self.attention_rnn(torch.cat([x, s["ctx"]], dim=-1), (s["ah"], s["ac"]))
        ah = F.dropout(ah, p, self.training)
        previous = torch.stack([s["w"], s["wsum"]], dim=1)
        _, weights = self.attention(ah, memory, mask, previous, pmem)
        used = weights
        if prior is not None:
            used = weights * prior
            used = used / used.sum(-1, keepdim=True).clamp_min(1e-8)
        ctx = torch.bmm(used.unsqueeze(1), memory).squeeze(1)
        dh, dc = self.decoder_rnn(torch.cat([ah, ctx], dim=-1), (s["dh"], s["dc"]))
        dh = F.dropout(dh, p, self.training)
        s.update(ah=ah, ac=ac, dh=dh, dc=dc, w=used, wsum=s["wsum"] + used, ctx=ctx)
        return torch.cat([dh, ctx], dim=-1), weights

    def _project(self, outs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(B, T_dec, D)`` -> mel ``(B, n_mels, T_dec * r)``, postnet mel, stop ``(B, T_dec * r)``."""
        b, t_dec, _ = outs.shape
        mel = self.mel_proj(outs).view(b, t_dec * self.reduction_factor, self.n_mels).transpose(1, 2)
        stop = self.stop_proj(outs).reshape(b, t_dec * self.reduction_factor)
        return mel, mel + self.postnet(mel), stop

    # ------------------------------------------------------------------ public API
    def forward(
        self,
        tokens: Tensor,
        token_lengths: Tensor,
        mels: Tensor,
        mel_lengths: Tensor,
        attention_prior: Tensor | None = None,
    ) -> AcousticOutput:
        b, n_mels, t = mels.shape
        if n_mels != self.n_mels:
            raise ValueError(f"mels must have {self.n_mels} bins (B, n_mels, T), got shape {tuple(mels.shape)}")
        r = self.reduction_factor
        t_dec = math.ceil(t / r)
        memory = self.encoder(tokens, token_lengths)
        mask = lengths_to_mask(token_lengths, tokens.shape[1])
        pmem = self.attention.process_memory(memory)
        # Decoder input of step i is the last frame of step i-1 (a zero "go" frame first).
        padded = F.pad(mels, (0, t_dec * r - t), value=self.config.mel_floor)
        last = padded[:, :, r - 1 :: r].transpose(1, 2)[:, :-1]  # (B, T_dec - 1, n_mels)
        inputs = self.prenet(torch.cat([mels.new_zeros(b, 1, n_mels), last], dim=1))
        if attention_prior is not None and attention_prior.shape[1] < t_dec:
            raise ValueError(f"attention_prior has {attention_prior.shape[1]} decoder steps, need {t_dec}")
        state = self._init_state(memory)
        outs, aligns = [], []
        for i in range(t_dec):
            prior = None if attention_prior is None else attention_prior[:, i]
            out, w = self._step(inputs[:, i], state, memory, pmem, mask, prior)
            outs.append(out)
            aligns.append(w)
        mel, mel_post, stop = self._project(torch.stack(outs, dim=1))
        return AcousticOutput(
            mel=mel_post[:, :, :t],
            mel_lengths=mel_lengths,
            mel_before_postnet=mel[:, :, :t],
            stop_logits=stop[:, :t],
            alignments=torch.stack(aligns, dim=1),
        )

    @torch.no_grad()
    def infer(self, tokens: Tensor, token_lengths: Tensor, max_decoder_steps: int | None = None) -> AcousticOutput:
        cfg = self.config
        r = self.reduction_factor
        if max_decoder_steps is None:
            max_decoder_steps = int(cfg.max_steps_per_token * int(token_lengths.max())) + 20
        b = tokens.shape[0]
        memory = self.encoder(tokens, token_lengths)
        mask = lengths_to_mask(token_lengths, tokens.shape[1])
        pmem = self.attention.process_memory(memory)
        state = self._init_state(memory)
        frame = memory.new_zeros(b, self.n_mels)
        lengths = torch.zeros(b, dtype=torch.int64)
        done = torch.zeros(b, dtype=torch.bool)
        outs, aligns = [], []
        positions = torch.arange(tokens.shape[1]).unsqueeze(0)
        focus = torch.zeros(b, 1, dtype=torch.int64)
        for i in range(max_decoder_steps):
            step_mask = mask
            if cfg.infer_window > 0:
                # Monotonic window around the last focus (attention constraint as in ESPnet's
                # Tacotron 2 decoding): no skipping ahead, no jumping back.
                step_mask = mask & (positions >= focus - 1) & (positions <= focus + cfg.infer_window)
            out, w = self._step(self.prenet(frame), state, memory, pmem, step_mask, None)
            focus = w.argmax(-1, keepdim=True)
            outs.append(out)
            aligns.append(w)
            frame = self.mel_proj(out).view(b, r, self.n_mels)[:, -1]
            stop = torch.sigmoid(self.stop_proj(out)) > cfg.stop_threshold  # (B, r)
            # A sequence stops at the first frame whose stop probability passes the threshold,
            # once attention has reached the last token (guards against an early stop).
            at_end = w.argmax(-1) >= token_lengths - 2
            newly = ~done & stop.any(-1) & at_end
            first = stop.float().argmax(-1)
            lengths[newly] = (i * r + first[newly] + 1).cpu()
            done |= newly
            if bool(done.all()):
                break
        capped = ~done
        if bool(capped.any()):
            warnings.warn(
                f"decoder hit the step cap ({max_decoder_steps} steps) for {int(capped.sum())} of {b} "
                "sequence(s) without predicting a stop; the speech is probably garbled",
                DecoderCapWarning,
                stacklevel=3,  # the caller, past torch.no_grad's wrapper
            )
        lengths[capped] = len(outs) * r
        mel, mel_post, stop = self._project(torch.stack(outs, dim=1))
        t = int(lengths.max())
        valid = lengths_to_mask(lengths, t).unsqueeze(1)
        return AcousticOutput(
            mel=mel_post[:, :, :t].masked_fill(~valid, cfg.mel_floor),
            mel_lengths=lengths,
            mel_before_postnet=mel[:, :, :t].masked_fill(~valid, cfg.mel_floor),
            stop_logits=stop[:, :t],
            alignments=torch.stack(aligns, dim=1),
            reached_cap=capped.cpu(),
        )

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> tuple[Any, ...]:
        length, frames = 12, 24
        tokens = torch.randint(2, self.config.n_symbols, (batch_size, length), generator=generator)
        token_lengths = torch.full((batch_size,), length, dtype=torch.int64)
        token_lengths[-1] = length - 3
        tokens[-1, length - 3 :] = 0
        mels = torch.randn(batch_size, self.n_mels, frames, generator=generator) - 5.0
        mel_lengths = torch.full((batch_size,), frames, dtype=torch.int64)
        mel_lengths[-1] = frames - 5
        return tokens, token_lengths, mels, mel_lengths
