"""``face.ae``: convolutional undercomplete autoencoder for 48x48 greyscale faces.

The seeds' "undercomplete autoencoder for expression features" (Hinton & Salakhutdinov 2006,
"Reducing the dimensionality of data with neural networks"; convolutional form as in Masci et
al. 2011, "Stacked convolutional auto-encoders"): a 2304-pixel face is squeezed through a
``latent_dim`` bottleneck (128 by default, 18x smaller) and decoded back. Trained on FER2013
(Goodfellow et al. 2013).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from facevox import FaceAutoencoder
from torch import Tensor

from .blocks import ConvDecoder, ConvEncoder, ConvNetConfig, check_images, lerp_latents

__all__ = ["AEConfig", "ConvAutoencoder"]


@dataclass
class AEConfig(ConvNetConfig):
    """Config of :class:`ConvAutoencoder` (all fields from :class:`ConvNetConfig`)."""


class ConvAutoencoder(FaceAutoencoder):
    """Deterministic conv autoencoder.

    ``forward(images, labels=None)``: ``images`` ``(B, 1, 48, 48)`` float32 in ``[0, 1]`` ->
    reconstruction ``(B, 1, 48, 48)`` float32 in ``[0, 1]``. ``labels`` is accepted for the
    role's signature and ignored (the model is unconditional).

    Example::

        ae = facevox.create_model("face.ae")
        z = ae.encode(faces)            # (B, 128)
        out = ae.decode(z)              # (B, 1, 48, 48) in [0, 1]
    """

    def __init__(self, config: AEConfig | None = None) -> None:
        super().__init__()
        self.config = config or AEConfig()
        self.latent_dim = self.config.latent_dim
        self.num_labels = 0
        self.encoder = ConvEncoder(self.config, self.config.latent_dim)
        self.decoder = ConvDecoder(self.config)

    def encode(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Latent codes ``(B, latent_dim)`` float32 of images ``(B, 1, H, W)`` in ``[0, 1]``."""
        return self.encoder(check_images(images, self.input_size))

    def decode(self, latent: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images ``(B, 1, H, W)`` float32 in ``[0, 1]`` from latents ``(B, latent_dim)``."""
        return self.decoder(latent)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.decode(self.encode(images))

    @torch.no_grad()
    def interpolate(self, a: Tensor, b: Tensor, steps: int = 8, labels: Tensor | None = None) -> Tensor:
        """Decode ``steps`` latents on the line from ``encode(a)`` to ``encode(b)``.

        Args:
            a, b: ``(1, 1, H, W)`` images in ``[0, 1]``.
            steps: number of frames, ``>= 2`` (both ends included).

        Returns:
            ``(steps, 1, H, W)`` float32 in ``[0, 1]``.
        """
        return self.decode(lerp_latents(self.encode(a), self.encode(b), steps))

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> tuple[Any, ...]:
        return super().example_inputs(batch_size, generator)
