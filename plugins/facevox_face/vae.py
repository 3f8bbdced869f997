"""``face.vae``: convolutional variational autoencoder for 48x48 greyscale faces.

Kingma & Welling 2014, "Auto-Encoding Variational Bayes", with the beta-weighted KL term of
Higgins et al. 2017 ("beta-VAE"). The decoder is a Gaussian with fixed variance, so the
training loss per image is ``sum((x - x_hat)**2) + beta * KL``; ``beta = 2 * sigma**2`` makes
it the exact negative ELBO for decoder noise ``sigma`` (``beta = 0.01`` <-> ``sigma = 0.07``
on the ``[0, 1]`` pixel scale). Trained on FER2013 (Goodfellow et al. 2013).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from facevox import VariationalFaceAutoencoder
from torch import Tensor

from .blocks import ConvDecoder, ConvEncoder, ConvNetConfig, FittedLatentPrior, check_images

__all__ = ["ConvVAE", "VAEConfig"]


@dataclass
class VAEConfig(ConvNetConfig):
    """Config of :class:`ConvVAE`."""

    beta: float = 0.01  # KL weight against the per-image summed squared error (= 2 * decoder sigma**2)


class ConvVAE(FittedLatentPrior, VariationalFaceAutoencoder):
    """Conv VAE with a diagonal Gaussian posterior and an ``N(0, I)`` prior.

    ``forward(images, labels=None) -> (reconstruction, mu, logvar)``: ``images``
    ``(B, 1, 48, 48)`` float32 in ``[0, 1]``; ``reconstruction`` the same shape in ``[0, 1]``
    (decoded from a posterior sample in training mode, from ``mu`` in eval mode); ``mu`` and
    ``logvar`` ``(B, latent_dim)``. ``labels`` is ignored.

    Example::

        vae = facevox.create_model("face.vae")
        faces = vae.sample(16, generator=torch.Generator().manual_seed(0))  # (16, 1, 48, 48)
        frames = vae.interpolate(a, b, steps=8)                              # (8, 1, 48, 48)
    """

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or VAEConfig()
        if self.config.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.config.beta}")
        self.beta = float(self.config.beta)
        self.latent_dim = self.config.latent_dim
        self.num_labels = 0
        self.encoder = ConvEncoder(self.config, 2 * self.config.latent_dim)
        self.decoder = ConvDecoder(self.config)
        # Sampling distribution of z (ex-post fit to the training posterior means, see fit_latent_prior).
        self.register_buffer("latent_mean", torch.zeros(self.config.latent_dim))
        self.register_buffer("latent_scale", torch.eye(self.config.latent_dim))  # Cholesky factor

    def encode_distribution(self, images: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Posterior ``(mu, logvar)``, each ``(B, latent_dim)`` float32; logvar clamped to [-12, 8]."""
        mu, logvar = self.encoder(check_images(images, self.input_size)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, latent: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images ``(B, 1, H, W)`` float32 in ``[0, 1]`` from latents ``(B, latent_dim)``."""
        return self.decoder(latent)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode_distribution(images)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar

    def loss(self, images: Tensor, recon: Tensor, mu: Tensor, logvar: Tensor, kl_weight: float = 1.0) -> Tensor:
        """Scalar training loss: batch mean of ``sum((x - x_hat)**2) + kl_weight * beta * KL``.

        ``kl_weight`` in ``[0, 1]`` implements KL warm-up (Bowman et al. 2016).
        """
        sq = (recon.float() - images.float()).pow(2).flatten(1).sum(1).mean()
        return sq + kl_weight * self.beta * self.kl_divergence(mu.float(), logvar.float())

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> tuple[Any, ...]:
        return super().example_inputs(batch_size, generator)
