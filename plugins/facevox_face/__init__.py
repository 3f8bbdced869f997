"""facevox_face: face autoencoder, VAE and expression-conditional VAE (face.ae, face.vae, face.cvae).

Built-in facevox plugin; see ``docs/face.md``.
"""

from __future__ import annotations

from .ae import AEConfig, ConvAutoencoder
from .cvae import EXPRESSIONS, ConditionalVAE, CVAEConfig
from .vae import ConvVAE, VAEConfig

__all__ = ["EXPRESSIONS", "AEConfig", "CVAEConfig", "ConditionalVAE", "ConvAutoencoder", "ConvVAE", "VAEConfig"]
