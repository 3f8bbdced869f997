"""Hook implementations of the face plugin: ``face.ae``, ``face.vae``, ``face.cvae``, their
trainers (``facevox train face-ae | face-vae | face-cvae``) and the ``facevox face`` commands."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from facevox import ModelSpec, Task, hookimpl

from .ae import AEConfig, ConvAutoencoder
from .blocks import Bottleneck
from .cards import AE_CARD, CVAE_CARD, VAE_CARD
from .cvae import ConditionalVAE, CVAEConfig
from .vae import ConvVAE, VAEConfig

__all__ = ["register_commands", "register_models", "register_trainers"]

# 64-128-256 channels, a spatial 8 x 6 x 6 code (288 values): see facevox_face.blocks
_ARCH = dict(channels=(64, 128, 256), latent_dim=288, bottleneck=Bottleneck.SPATIAL)
AE_CONFIG = AEConfig(**_ARCH)  # type: ignore[arg-type]
VAE_CONFIG = VAEConfig(**_ARCH, beta=0.01)  # type: ignore[arg-type]
CVAE_CONFIG = CVAEConfig(**_ARCH, beta=0.01)  # type: ignore[arg-type]


def _weights(stem: str) -> Traversable:
    """The shipped weights file; a missing one is an error at load time, never an untrained model."""
    return files(__package__) / "weights" / f"{stem}.safetensors"


@hookimpl
def register_models(register: Callable[[Any], None]) -> None:
    """Register ``face.ae``, ``face.vae`` and ``face.cvae`` (with their shipped weights)."""
    register(ModelSpec(name="face.ae", task=Task.FACE_AUTOENCODER, factory=ConvAutoencoder, config=AE_CONFIG,
                       card=AE_CARD, weights=_weights("face_ae")))
    register(ModelSpec(name="face.vae", task=Task.FACE_AUTOENCODER, factory=ConvVAE, config=VAE_CONFIG,
                       card=VAE_CARD, weights=_weights("face_vae")))
    register(ModelSpec(name="face.cvae", task=Task.FACE_AUTOENCODER, factory=ConditionalVAE, config=CVAE_CONFIG,
                       card=CVAE_CARD, weights=_weights("face_cvae"), default=True))


@hookimpl
def register_trainers(register: Callable[[Any], None]) -> None:
    """Register ``facevox train face-ae``, ``face-vae`` and ``face-cvae``."""
    from .training import train_commands

    for command in train_commands():
        register(command)


@hookimpl
def register_commands(register: Callable[[Any], None]) -> None:
    """Register the ``facevox face`` command group."""
    from .cli import face_group

    register(face_group)
