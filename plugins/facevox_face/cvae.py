"""``face.cvae``: conditional VAE on the 7 FER2013 expressions, for expression synthesis.

Sohn et al. 2015, "Learning Structured Output Representation using Deep Conditional Generative
Models", with two changes aimed at *re-rendering a given face with another expression*:

* The encoder ``q(z | x)`` does not see the label, so an unlabelled photo can be morphed, and
  the decoder ``p(x | z, c)`` takes a condition ``c`` that is either a one-hot expression or
  the all-zero *null* condition ("keep the expression in z"). Training drops the label to
  null with probability ``label_dropout`` (as in classifier-free guidance, Ho & Salimans
  2022), so ``decode(z, null)`` reconstructs the face as it is and ``t * onehot(target)``,
  ``t`` from 0 to 1, moves it to the target expression.
* Classifier guidance in training (in the spirit of Lample et al. 2017, "Fader Networks", and
  AttGAN, He et al. 2019): the face decoded with a *random* target label must be classified
  as that label by a small expression CNN trained alongside on real faces (the CNN is not
  part of the shipped model), while staying close to the source face (identity term). A plain
  CVAE learns to ignore the label when ``z`` already carries the expression; the guidance
  term makes the target expression visible after short training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from facevox import ConditionalFaceAutoencoder
from facevox.datasets import FER2013_LABELS
from torch import Tensor

from .blocks import ConvDecoder, ConvEncoder, ConvNetConfig, FittedLatentPrior, check_images

__all__ = ["CVAEConfig", "ConditionalVAE", "EXPRESSIONS"]

EXPRESSIONS: tuple[str, ...] = FER2013_LABELS
"""Condition labels: FER2013's seven, in facevox's order (:data:`facevox.datasets.FER2013_LABELS`)."""


@dataclass
class CVAEConfig(ConvNetConfig):
    """Config of :class:`ConditionalVAE`."""

    beta: float = 0.01  # KL weight against the per-image summed squared error (= 2 * decoder sigma**2)
    num_labels: int = 7  # number of expression classes (FER2013: 7)
    label_dropout: float = 0.3  # training: probability that the condition is replaced by the null condition
    morph_strength: float = 1.0  # condition scale of a finished morph (t = 1); > 1 exaggerates


class ConditionalVAE(FittedLatentPrior, ConditionalFaceAutoencoder):
    """CVAE with an unconditional encoder and an expression-conditioned decoder.

    ``forward(images, labels=None) -> (reconstruction, mu, logvar)``: ``images``
    ``(B, 1, 48, 48)`` float32 in ``[0, 1]``; ``labels`` ``(B,)`` int64 indices into
    :data:`EXPRESSIONS` (``None``: the null condition). ``encode`` ignores labels;
    ``decode(z, labels)`` renders expression ``labels`` (``None``: the expression held in ``z``).

    Example::

        cvae = facevox.create_model("face.cvae")
        happy = cvae.morph(faces, "happy")            # (B, 1, 48, 48)
        frames = cvae.morph(face, "happy", steps=5)   # (5, 1, 48, 48): source -> happy
    """

    labels: tuple[str, ...]

    def __init__(self, config: CVAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or CVAEConfig()
        cfg = self.config
        if cfg.beta < 0 or not 0 <= cfg.label_dropout < 1 or cfg.num_labels < 2:
            raise ValueError("need beta >= 0, 0 <= label_dropout < 1 and num_labels >= 2")
        self.beta = float(cfg.beta)
        self.latent_dim = cfg.latent_dim
        self.num_labels = cfg.num_labels
        self.labels = EXPRESSIONS if cfg.num_labels == len(EXPRESSIONS) else tuple(map(str, range(cfg.num_labels)))
        self.encoder = ConvEncoder(cfg, 2 * cfg.latent_dim)
        self.decoder = ConvDecoder(cfg, condition_dim=cfg.num_labels)
        # Sampling distribution of z (ex-post fit to the training posterior means, see fit_latent_prior).
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_dim))
        self.register_buffer("latent_scale", torch.eye(cfg.latent_dim))  # Cholesky factor

    # ------------------------------------------------------------------ conditions
    def condition(self, labels: Tensor | None, batch_size: int, scale: float = 1.0) -> Tensor:
        """Decoder condition ``(B, num_labels)`` float32: ``scale * onehot(labels)``, zeros for ``None``."""
        device = next(self.parameters()).device
        if labels is None:
            return torch.zeros(batch_size, self.num_labels, device=device)
        if labels.dim() != 1 or labels.shape[0] != batch_size:
            raise ValueError(f"labels must be (B={batch_size},) int64, got {tuple(labels.shape)}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_labels):
            raise ValueError(f"labels must be in 0..{self.num_labels - 1} ({', '.join(self.labels)})")
        return F.one_hot(labels.long(), self.num_labels).float().to(device) * scale

    # ------------------------------------------------------------------ role API
    def encode_distribution(self, images: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Posterior ``(mu, logvar)``, each ``(B, latent_dim)``; labels are not used by the encoder."""
        mu, logvar = self.encoder(check_images(images, self.input_size)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, latent: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images ``(B, 1, H, W)`` in ``[0, 1]`` with expression ``labels`` (``None``: as in ``z``)."""
        return self.decoder(latent, self.condition(labels, latent.shape[0]))

    def decode_condition(self, latent: Tensor, condition: Tensor) -> Tensor:
        """Decode with an arbitrary (soft, scaled) condition ``(B, num_labels)`` float32."""
        return self.decoder(latent, condition)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode_distribution(images)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z, labels), mu, logvar

    def loss(self, images: Tensor, recon: Tensor, mu: Tensor, logvar: Tensor, kl_weight: float = 1.0) -> Tensor:
        """Batch mean of ``sum((x - x_hat)**2) + kl_weight * beta * KL`` (scalar)."""
        sq = (recon.float() - images.float()).pow(2).flatten(1).sum(1).mean()
        return sq + kl_weight * self.beta * self.kl_divergence(mu.float(), logvar.float())

    # ------------------------------------------------------------------ synthesis
    @torch.no_grad()
    def morph(self, images: Tensor, target: int | str, steps: int = 1, strength: float | None = None) -> Tensor:
        """Re-render faces with expression ``target``.

        Args:
            images: ``(B, 1, H, W)`` float32 faces in ``[0, 1]``.
            target: expression name (see :attr:`labels`) or index.
            steps: ``1``: only the result; ``>= 2``: frames from the source (null condition)
                to the target, for a single image (``B == 1``).
            strength: condition scale at the end of the morph; default ``config.morph_strength``.

        Returns:
            ``(B, 1, H, W)`` for ``steps == 1``, else ``(steps, 1, H, W)``; float32 in ``[0, 1]``.
        """
        index = self.label_index(target)
        scale = self.config.morph_strength if strength is None else float(strength)
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        mu = self.encode(images)
        target_labels = torch.full((mu.shape[0],), index, dtype=torch.long, device=mu.device)
        if steps == 1:
            return self.decoder(mu, self.condition(target_labels, mu.shape[0], scale))
        if mu.shape[0] != 1:
            raise ValueError(f"a morph sequence (steps >= 2) takes one image, got {mu.shape[0]}")
        t = torch.linspace(0, 1, steps, device=mu.device).unsqueeze(1)
        cond = t * self.condition(target_labels, 1, scale)
        return self.decoder(mu.expand(steps, -1), cond)

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> tuple[Any, ...]:
        return super().example_inputs(batch_size, generator)
