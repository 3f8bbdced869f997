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
import math
import re
from collections.abc import Iterator, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from facevox.nn import fold_batchnorm

__all__ = [
    "AcousticModel",
    "AcousticOutput",
    "ConditionalFaceAutoencoder",
    "DecoderCapWarning",
    "ExpressionClassifier",
    "FaceAutoencoder",
    "FaceBox",
    "FaceDetector",
    "FacevoxModel",
    "ProsodyControl",
    "TextProcessor",
    "VariationalFaceAutoencoder",
    "Vocoder",
    "bound_pieces",
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

    def for_inference(self) -> ExpressionClassifier:
        """An eval-mode copy of this model for inference only, with the same logits up to float32
        rounding but cheaper to run: every ``BatchNorm2d`` that follows a ``Conv2d`` in an
        ``nn.Sequential`` folded into it (:func:`facevox.nn.fold_batchnorm`), and 4-d weights in
        channels-last memory format (a 1-channel input cannot carry that format, so without it
        oneDNN runs every convolution in its slower NCHW kernels). Blocks that call a convolution and
        its BatchNorm from their own ``forward`` fold them through a ``fold_batchnorm()`` method
        (see :func:`facevox.nn.fold_batchnorm`). ``self`` is unchanged.
        :class:`facevox.pipelines.FaceEmotionPipeline` classifies with this copy; do not train it.
        """
        copy = deepcopy(self).eval()
        fold_batchnorm(copy)
        return copy.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

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


class ConditionalFaceAutoencoder(VariationalFaceAutoencoder):
    """A variational face autoencoder conditioned on a named label (an expression): it can
    re-render a face with another label (Sohn, Lee & Yan 2015, conditional VAE).

    ``decode(z, labels)`` renders label indices ``labels`` ``(B,)`` int64 (``None``: the null
    condition, the label held in ``z``); :attr:`labels` names them in index order (for the
    built-in ``face.cvae``: FER2013's seven expressions, ``facevox.datasets.FER2013_LABELS``).
    """

    labels: tuple[str, ...]

    def label_index(self, label: int | str) -> int:
        """Index of a label given by name (case-insensitive) or index.

        Raises:
            ValueError: unknown name or index out of range (the accepted names are listed).
        """
        if isinstance(label, str):
            names = [n.lower() for n in self.labels]
            if label.lower() not in names:
                raise ValueError(f"unknown label {label!r}; accepted: {', '.join(self.labels)}")
            return names.index(label.lower())
        if isinstance(label, bool) or not 0 <= int(label) < len(self.labels):
            raise ValueError(f"label index {label!r} not in 0..{len(self.labels) - 1} ({', '.join(self.labels)})")
        return int(label)

    @abc.abstractmethod
    def morph(self, images: Tensor, target: int | str, steps: int = 1, strength: float | None = None) -> Tensor:
        """Re-render faces with label ``target``.

        Args:
            images: ``(B, C, H, W)`` float32 faces in ``[0, 1]``.
            target: a name of :attr:`labels` or its index.
            steps: ``1``: only the result; ``>= 2``: frames from the source to the target, for
                one image (``B == 1``).
            strength: condition scale at the end of the morph (model-specific default).

        Returns:
            ``(B, C, H, W)`` for ``steps == 1``, else ``(steps, C, H, W)``; float32 in ``[0, 1]``.

        Raises:
            ValueError: unknown ``target``, ``steps < 1``, or ``steps >= 2`` with ``B != 1``.
        """


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
    ``0``; ``lengths`` ``(B,)`` int64. ``processor.split(text)`` cuts long text into the
    normalised pieces that are synthesized one by one (the speech pipeline calls it); the
    default splits at sentence ends and bounds every piece to ``max_chars``; override it for a
    language's own rules. Registered through ``register_text_processors``.
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

    def split(self, text: str, max_chars: int = 180) -> list[str]:
        """Normalise ``text`` and cut it into pieces to synthesize, in order.

        The default normalises the whole text (:meth:`normalize`), splits it after sentence ends
        (``. ! ?`` followed by white space) and cuts a sentence longer than ``max_chars`` with
        :func:`bound_pieces` (at ``, ; :``, then spaces, then anywhere).

        Args:
            text: raw text of any length.
            max_chars: longest piece, ``>= 1`` characters.

        Returns:
            non-blank pieces of at most ``max_chars`` characters each (none if normalisation
            leaves nothing).

        Raises:
            TypeError: ``text`` is not a ``str``.
            ValueError: ``text`` is empty or only white space, or ``max_chars < 1``.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text.strip():
            raise ValueError("text is empty or only white space; pass some text to speak")
        return [q for s in _BREAKS[0].split(self.normalize(text)) for q in bound_pieces(s, max_chars)]


# Where an over-long piece is cut, in order of preference: sentence ends, clause marks, spaces.
_BREAKS = (re.compile(r"(?<=[.!?])\s+"), re.compile(r"(?<=[,;:])\s+"), re.compile(r"\s+"))


def bound_pieces(text: str, max_chars: int) -> list[str]:
    """``text`` as pieces of at most ``max_chars`` characters, in order.

    Cut after sentence ends (``. ! ?``), then after ``, ; :``, then at spaces, then anywhere;
    the parts are packed greedily back into pieces up to ``max_chars``. Text that fits is
    returned whole (stripped); blank text gives ``[]``.

    Raises:
        ValueError: ``max_chars < 1``.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    return _bound(text.strip(), max_chars, 0)


def _bound(text: str, max_chars: int, level: int) -> list[str]:
    if len(text) <= max_chars:
        return [text] if text else []
    if level == len(_BREAKS):
        return [text[i : i + max_chars] for i in range(0, len(text), max_chars)]
    out: list[str] = []
    current = ""
    for part in _BREAKS[level].split(text):
        for piece in _bound(part.strip(), max_chars, level + 1):
            candidate = f"{current} {piece}" if current else piece
            if len(candidate) > max_chars:
                out.append(current)
                current = piece
            else:
                current = candidate
    if current:
        out.append(current)
    return out


class DecoderCapWarning(RuntimeWarning):
    """``infer`` cut some sequences at its step cap; :attr:`AcousticOutput.reached_cap` says which."""


@dataclass(kw_only=True)
class AcousticOutput:
    """Output of an :class:`AcousticModel`, teacher-forced (``forward``) or free-running (``infer``).

    ``B`` is the batch, ``T`` mel frames, ``L`` tokens, ``r`` the model's ``reduction_factor``
    and ``T_dec = ceil(T / r)`` decoder steps. Mels are float32 natural-log mel (the card's
    ``preprocessing.mel`` settings); a model returns only what it has, so the optional fields
    are ``None`` where a model has no such thing.

    Attributes:
        mel: ``(B, n_mels, T)`` float32 final mel spectrogram (after the postnet, if any): what
            a vocoder is given. Frames past ``mel_lengths`` are padding (``infer``: the mel floor).
        mel_lengths: ``(B,)`` int64 valid frames of each item, ``<= T``.
        mel_before_postnet: ``(B, n_mels, T)`` float32 decoder mel before a postnet residual
            (Tacotron 2 trains on both); ``None`` for models without a postnet.
        stop_logits: ``(B, T)`` float32 stop-token logits (``> 0``: stop) of autoregressive
            models; ``None`` for models that know their length (duration models).
        alignments: ``(B, T_dec, L)`` float32 token weights per decoder step: attention weights
            (rows sum to 1) or the one-hot token-per-frame path of a length regulator (``r = 1``);
            ``None`` for models with neither.
        reached_cap: ``(B,)`` bool, ``infer`` only: ``True`` where an item was cut by the step
            cap instead of ending by itself (its speech is probably garbled or truncated);
            ``None`` from ``forward``, or from a model that has no cap.

    For old code, iterating gives the legacy ``infer`` triple ``(mel, mel_lengths, alignments)``
    (``mels, lengths, align = model.infer(...)``); new code should use the attributes.
    """

    mel: Tensor
    mel_lengths: Tensor
    mel_before_postnet: Tensor | None = None
    stop_logits: Tensor | None = None
    alignments: Tensor | None = None
    reached_cap: Tensor | None = None

    @property
    def mel_postnet(self) -> Tensor:
        """The final mel: the same tensor as :attr:`mel` (the name of older facevox versions)."""
        return self.mel

    def capped(self) -> list[bool]:
        """:attr:`reached_cap` as one bool per item (all ``False`` when it is ``None``)."""
        if self.reached_cap is None:
            return [False] * int(self.mel_lengths.shape[0])
        return [bool(c) for c in self.reached_cap.tolist()]

    def __iter__(self) -> Iterator[Tensor | None]:
        """The legacy ``infer`` triple ``(mel, mel_lengths, alignments)``."""
        return iter((self.mel, self.mel_lengths, self.alignments))


@dataclass(frozen=True)
class ProsodyControl:
    """Phoneme-level prosody controls of an acoustic model with a variance adaptor.

    FastSpeech 2 (Ren et al. 2021) and FastPitch (Łańcucki 2021) predict a duration, a pitch and
    an energy per input token; these controls move the predictions before the decoder reads
    them, so the decoder renders the change (no signal processing after the model).

    Attributes:
        rate: speaking-rate factor, ``> 0``: predicted durations (frames) are divided by it
            (1.2 = 20 % faster, shorter audio).
        pitch_semitones: F0 shift, semitones, within ``[-12, 12]`` (added to every token's
            predicted ``log F0``).
        pitch_range: factor on each token's F0 deviation from the utterance's mean ``log F0``,
            within ``[0, 3]`` (0 = monotone, 1 = as predicted, 1.5 = livelier).
        energy_db: energy change, dB, within ``[-20, 20]`` (added to every token's predicted
            frame energy).

    Raises:
        ValueError: a value outside its range (named, with the accepted range).
    """

    rate: float = 1.0
    pitch_semitones: float = 0.0
    pitch_range: float = 1.0
    energy_db: float = 0.0

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"ProsodyControl.rate must be a positive number, got {self.rate}")
        if not -12 <= self.pitch_semitones <= 12:
            raise ValueError(f"ProsodyControl.pitch_semitones must be within [-12, 12], got {self.pitch_semitones}")
        if not 0 <= self.pitch_range <= 3:
            raise ValueError(f"ProsodyControl.pitch_range must be within [0, 3], got {self.pitch_range}")
        if not -20 <= self.energy_db <= 20:
            raise ValueError(f"ProsodyControl.energy_db must be within [-20, 20], got {self.energy_db}")

    @property
    def is_identity(self) -> bool:
        """``True`` when the controls change nothing."""
        return self == ProsodyControl()


class AcousticModel(FacevoxModel):
    """Text tokens -> mel spectrogram.

    ``forward(tokens, token_lengths, mels, mel_lengths) -> AcousticOutput`` is teacher-forced
    (training); :meth:`infer` is free-running with a step cap. Autoregressive attention models
    (Tacotron 2) return a postnet mel, stop logits and their attention weights as alignments;
    duration models (FastSpeech) return the hard one-hot path of their length regulator, no
    stop logits, and ``reduction_factor`` 1. Models may take extra keyword arguments in
    ``forward`` (an attention prior, teacher durations) and return a subclass of
    :class:`AcousticOutput` with more fields.

    Shapes: ``tokens`` ``(B, L)`` int64, ``token_lengths`` ``(B,)`` int64, ``mels``
    ``(B, n_mels, T)`` float32 natural-log mel, ``mel_lengths`` ``(B,)`` int64.

    Prosody: a model whose :attr:`supports_prosody` is ``True`` also accepts
    ``infer(tokens, token_lengths, max_decoder_steps=None, *, prosody=ProsodyControl(...))``
    and renders the controls itself (:class:`ProsodyControl`); pipelines check the attribute
    and fall back to signal processing on the waveform for the others.
    """

    n_mels: int
    reduction_factor: int
    supports_prosody: bool = False

    @abc.abstractmethod
    def forward(self, tokens: Tensor, token_lengths: Tensor, mels: Tensor, mel_lengths: Tensor) -> AcousticOutput:
        """Teacher-forced pass with ``T`` = ``mels.shape[2]`` frames; see the class docstring."""

    @abc.abstractmethod
    def infer(self, tokens: Tensor, token_lengths: Tensor, max_decoder_steps: int | None = None) -> AcousticOutput:
        """Free-running synthesis.

        Args:
            tokens: ``(B, L)`` int64; token_lengths: ``(B,)`` int64.
            max_decoder_steps: cap on decoder steps (frames for ``r = 1``); ``None`` -> the
                model's own cap, proportional to ``L``.

        Returns:
            an :class:`AcousticOutput` whose ``mel`` ``(B, n_mels, T)`` holds ``T =
            max(mel_lengths)`` frames and whose ``reached_cap`` ``(B,)`` bool marks the items cut
            by the cap (``None`` when the model has none). Models may also emit a
            :class:`DecoderCapWarning` when the cap is hit.
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
