"""facevox hook implementations of the expression plugin: models, face detector, trainer."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from facevox import ModelSpec, Task, hookimpl

from facevox_expression.card import RESMASKNET_CARD, RESMASKNET_SMALL_CARD
from facevox_expression.model import RESMASKNET, RESMASKNET_SMALL, ResMaskNet, ResMaskNetConfig

__all__ = ["register_face_detectors", "register_models", "register_trainers"]

_WEIGHTS = files(__package__) / "weights"


def resmasknet(config: ResMaskNetConfig) -> ResMaskNet:
    """``expression.resmasknet`` factory (the shipped model)."""
    return ResMaskNet(config)


@hookimpl
def register_models(register: Any) -> None:
    """Register ``expression.resmasknet`` (shipped weights) and ``expression.resmasknet_wide``."""
    register(ModelSpec(
        name="expression.resmasknet",
        task=Task.EXPRESSION_CLASSIFICATION,
        factory=resmasknet,
        config=RESMASKNET,
        card=RESMASKNET_CARD,
        weights=_WEIGHTS / "resmasknet.safetensors",
        default=True,
    ))
    register(ModelSpec(
        name="expression.resmasknet_small",
        task=Task.EXPRESSION_CLASSIFICATION,
        factory=resmasknet,
        config=RESMASKNET_SMALL,
        card=RESMASKNET_SMALL_CARD,
        weights=None,
    ))


@hookimpl
def register_face_detectors(register: Any) -> None:
    """Register ``opencv.haar`` (OpenCV's frontal-face Haar cascade, no download) and
    ``opencv.haar_eyes`` (the same plus eye landmarks, for aligned crops)."""
    from facevox_expression.detector import HaarEyeFaceDetector, HaarFaceDetector

    register("opencv.haar", HaarFaceDetector, default=True)
    register("opencv.haar_eyes", HaarEyeFaceDetector)


@hookimpl
def register_trainers(register: Any) -> None:
    """Register ``facevox train expression``."""
    from facevox_expression.train import command

    register(command)

