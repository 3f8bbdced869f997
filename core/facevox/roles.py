"""Role interfaces: what each kind of facevox model promises to its users.

A registered model implements exactly one role (its :class:`facevox.Task`). Roles are small
abstract classes, in the spirit of torchaudio's Tacotron2 bundle, which splits text
processor, acoustic model and vocoder behind three tiny interfaces.

Every trainable role derives from :class:`FacevoxModel`, which adds
:meth:`FacevoxModel.example_inputs` so that the conformance suite (``facevox.testing``)
can run any model without knowing it.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "AcousticModel",
    "AcousticOutput",
    "ExpressionClassifier",
    "FaceAutoencoder",
    "FaceBox",
    "FaceDetector",
    "FacevoxModel",
    "TextProcessor",
    "VariationalFaceAutoencoder",
    "Vocoder",
]


class FacevoxModel(nn.Module, abc.ABC):
    """Base of every registered model.

    Attributes:
        config: the dataclass config the model was built from (set by the model's
            ``__init__``); saved with checkpoints.
    """

    config: Any

    @abc.abstractmethod
    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> tuple[Any, ...]:
        """Valid positional inputs for ``forward``, random but well-formed.

        Args:
            batch_size: ``B`` of the returned tensors, ``>= 1``.
            generator: source of randomness, for reproducible inputs.

        Returns:
            a tuple ``args`` such that ``self(*args)`` runs.
        """


# ---------------------------------------------------------------------------- faces


class ExpressionClassifier(FacevoxModel):
    """Classifies face crops into expression labels.

    ``forward(images)``: ``images`` ``(B, C, H, W)`` float32, normalised as the card's
    ``preprocessing`` says -> logits ``(B, len(labels))`` float32.
    """

    labels: tuple[str, ...]
    temperature: float = 1.0
    """Softmax temperature ``T > 0`` of :meth:`predict_proba` (temperature scaling, Guo et al.
    2017): ``1`` leaves the logits as trained; a fitted ``T`` makes probabilities calibrated.
    ``forward`` always returns the raw logits."""

    @abc.abstractmethod
    def forward(self, images: Tensor) -> Tensor:
        """Logits ``(B, K)`` for normalised images ``(B, C, H, W)``."""

    @torch.no_grad()
    def predict_proba(self, images: Tensor) -> Tensor:
        """Class probabilities ``(B, K)`` in ``[0, 1]``, rows summing to 1: ``softmax(logits / temperature)``."""
        return torch.softmax(self(images).float() / self.temperature, dim=-1)

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> tuple[Any, ...]:
        c, h, w = self.input_size
        return (torch.randn(batch_size, c, h, w, generator=generator),)

    @property
    def input_size(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of the input crops."""
        return tuple(self.config.input_size)  # type: ignore[no-any-return]


class FaceAutoencoder(FacevoxModel):
    """Encodes face crops to a latent vector and decodes them back.

    Images are ``(B, C, H, W)`` float32 in ``[0, 1]``; latents ``(B, latent_dim)``.
    Conditional models (``num_labels > 0``) take ``labels`` ``(B,)`` int64 class indices in
    ``encode``/``decode``; unconditional ones ignore ``labels`` and accept ``None``.

    ``forward(images, labels=None)`` returns the reconstruction ``(B, C, H, W)`` for plain
    autoencoders; variational ones return ``(reconstruction, mu, logvar)``.
    """

    latent_dim: int
    num_labels: int = 0

    @abc.abstractmethod
    def encode(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Latent ``(B, latent_dim)`` (the posterior mean for a VAE)."""

    @abc.abstractmethod
    def decode(self, latent: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images ``(B, C, H, W)`` in ``[0, 1]`` from latents ``(B, latent_dim)``."""

    @torch.no_grad()
    def reconstruct(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """``decode(encode(images))``: ``(B, C, H, W)`` in ``[0, 1]``."""
        return self.decode(self.encode(images, labels), labels)

    @property
    def input_size(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of the images."""
        return tuple(self.config.input_size)  # type: ignore[no-any-return]

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> tuple[Any, ...]:
        c, h, w = self.input_size
        images = torch.rand(batch_size, c, h, w, generator=generator)
        if self.num_labels:
            return images, torch.randint(0, self.num_labels, (batch_size,), generator=generator)
        return (images,)


class VariationalFaceAutoencoder(FaceAutoencoder):
    """A face autoencoder with a Gaussian posterior (Kingma & Welling 2014).

    ``forward(images, labels=None) -> (reconstruction, mu, logvar)``.
    """

    beta: float = 1.0

    @abc.abstractmethod
    def encode_distribution(self, images: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Posterior ``(mu, logvar)``, each ``(B, latent_dim)``."""

    def encode(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.encode_distribution(images, labels)[0]

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``mu + exp(logvar / 2) * eps``, ``eps ~ N(0, I)``: differentiable sample ``(B, D)``."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    @staticmethod
    def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
        """``KL(N(mu, exp(logvar)) || N(0, I))`` summed over latent dims, averaged over batch: scalar."""
        return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` new faces ``(n, C, H, W)`` in ``[0, 1]`` decoded from ``z ~ N(0, I)``."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        return self.decode(z, labels)

    @torch.no_grad()
    def interpolate(self, a: Tensor, b: Tensor, steps: int = 8, labels: Tensor | None = None) -> Tensor:
        """Decode ``steps`` latents on the line from ``encode(a)`` to ``encode(b)``.

        Args:
            a, b: ``(1, C, H, W)`` images in ``[0, 1]``.
            steps: number of frames, ``>= 2`` (the ends included).

        Returns:
            ``(steps, C, H, W)`` in ``[0, 1]``.
        """
        if steps < 2:
            raise ValueError(f"steps must be >= 2, got {steps}")
        za, zb = self.encode(a, labels), self.encode(b, labels)
        t = torch.linspace(0, 1, steps, device=za.device).unsqueeze(1)
        z = (1 - t) * za + t * zb
        lab = None if labels is None else labels.expand(steps)
        return self.decode(z, lab)


@dataclass(frozen=True)
class FaceBox:
    """One detected face.

    Attributes:
        x, y, w, h: box in pixels of the (EXIF-rotated) image, top-left origin.
        score: detector confidence in ``[0, 1]`` (1.0 for detectors that give none).
        left_eye, right_eye: eye centres ``(x, y)`` in pixels of the same image, the eye on the
            image's left first, from detectors that find landmarks; ``None`` otherwise. When both
            are set, pipelines align the crop on them (:func:`facevox.images.align_face`).
    """

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0
    left_eye: tuple[float, float] | None = None
    right_eye: tuple[float, float] | None = None

    def as_list(self) -> list[int]:
        """``[x, y, w, h]``."""
        return [self.x, self.y, self.w, self.h]

    @property
    def area(self) -> int:
        """``w * h`` in square pixels (detectors sort their boxes by it, largest first)."""
        return int(self.w) * int(self.h)


class FaceDetector(abc.ABC):
    """Finds faces in an image (not necessarily a neural network).

    Registered through the ``register_face_detectors`` hook.
    """

    name: str = ""

    @abc.abstractmethod
    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in ``image``.

        Args:
            image: ``(H, W, 3)`` uint8 RGB array.

        Returns:
            boxes sorted by decreasing area; an empty list when there is no face.
        """


# ---------------------------------------------------------------------------- speech


class TextProcessor(abc.ABC):
    """Turns raw text into token ids for an acoustic model.

    ``processor(texts) -> (tokens, lengths)``: ``tokens`` ``(B, L_max)`` int64 padded with
    ``0``; ``lengths`` ``(B,)`` int64. Registered through ``register_text_processors``.
    """

    name: str = ""

    @property
    @abc.abstractmethod
    def symbols(self) -> Sequence[str]:
        """The token vocabulary; index 0 is padding."""

    @abc.abstractmethod
    def normalize(self, text: str) -> str:
        """Spoken form of ``text`` (numbers, abbreviations and symbols expanded)."""

    @abc.abstractmethod
    def __call__(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Token ids and lengths; see the class docstring."""


@dataclass
class AcousticOutput:
    """Teacher-forced output of an :class:`AcousticModel`.

    Attributes:
        mel: ``(B, n_mels, T)`` decoder mel spectrogram (before the postnet), natural-log scale.
        mel_postnet: ``(B, n_mels, T)`` after the postnet residual.
        stop_logits: ``(B, T)`` stop-token logits (``> 0``: stop).
        alignments: ``(B, T_dec, L)`` attention weights, ``T_dec = ceil(T / r)``.
        mel_lengths: ``(B,)`` int64 valid frames.
    """

    mel: Tensor
    mel_postnet: Tensor
    stop_logits: Tensor
    alignments: Tensor
    mel_lengths: Tensor


class AcousticModel(FacevoxModel):
    """Text tokens -> mel spectrogram, with token-per-frame alignments.

    ``forward(tokens, token_lengths, mels, mel_lengths) -> AcousticOutput`` is teacher-forced
    (training); :meth:`infer` is free-running with a step cap. Attention models (Tacotron 2)
    return their attention weights as alignments; duration models (FastSpeech) return the hard
    one-hot path of their length regulator and ``reduction_factor`` 1. Models may take extra
    keyword arguments in ``forward`` (an attention prior, teacher durations).

    Shapes: ``tokens`` ``(B, L)`` int64, ``token_lengths`` ``(B,)`` int64, ``mels``
    ``(B, n_mels, T)`` float32 natural-log mel, ``mel_lengths`` ``(B,)`` int64.
    """

    n_mels: int
    reduction_factor: int

    @abc.abstractmethod
    def forward(self, tokens: Tensor, token_lengths: Tensor, mels: Tensor, mel_lengths: Tensor) -> AcousticOutput:
        """Teacher-forced pass; see the class docstring."""

    @abc.abstractmethod
    def infer(
        self, tokens: Tensor, token_lengths: Tensor, max_decoder_steps: int | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Free-running synthesis.

        Args:
            tokens: ``(B, L)`` int64; token_lengths: ``(B,)`` int64.
            max_decoder_steps: cap on decoder steps; ``None`` -> proportional to ``L``.
                Hitting the cap emits a :class:`RuntimeWarning`.

        Returns:
            ``mels`` ``(B, n_mels, T)`` float32, ``mel_lengths`` ``(B,)`` int64,
            ``alignments`` ``(B, T_dec, L)`` float32.
        """


class Vocoder(FacevoxModel):
    """Mel spectrogram -> waveform.

    ``forward(mels, lengths) -> (waveforms, wave_lengths)``: ``mels`` ``(B, n_mels, T)``
    natural-log mel (the card's ``preprocessing.mel`` settings), ``lengths`` ``(B,)`` int64
    frames; ``waveforms`` ``(B, S)`` float32 in ``[-1, 1]`` at :attr:`sample_rate` Hz,
    ``wave_lengths`` ``(B,)`` int64 samples (``lengths * hop_length``).

    Attributes:
        sample_rate: output rate, Hz.
        n_mels: mel bins expected.
        hop_length: waveform samples per mel frame (256 for the HiFi-GAN LJSpeech format).
    """

    sample_rate: int
    n_mels: int = 80
    hop_length: int = 256

    @abc.abstractmethod
    def forward(self, mels: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Synthesize; see the class docstring."""

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> tuple[Any, ...]:
        frames = 8  # small: a GAN vocoder's backward is costly on CPU
        mels = torch.randn(batch_size, self.n_mels, frames, generator=generator) - 5.0
        lengths = torch.full((batch_size,), frames, dtype=torch.int64)
        lengths[-1] = frames // 2
        return mels, lengths
