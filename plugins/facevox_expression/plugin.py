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
    """Register ``expression.resmasknet`` (the default) and ``expression.resmasknet_small`` (its
    distilled student, about 4x the crops/s); both ship weights."""
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
        weights=_WEIGHTS / "resmasknet_small.safetensors",
    ))


@hookimpl
def register_face_detectors(register: Any) -> None:
    """Register ``mtcnn`` (the default: the MTCNN cascade with five landmarks, weights shipped
    here, so crops are aligned on the eyes), ``opencv.haar`` (OpenCV's frontal-face Haar cascade,
    no weights of its own) and ``opencv.haar_eyes`` (the same plus Haar eye detection).

    MTCNN is the default because it measured both faster and better on 640x480 photos
    (``benchmarks/bench_expression.py --align 600``, see docs/expression.md)."""
    from facevox_expression.detector import HaarEyeFaceDetector, HaarFaceDetector
    from facevox_expression.mtcnn import MTCNNFaceDetector

    register("mtcnn", MTCNNFaceDetector, default=True)
    register("opencv.haar", HaarFaceDetector)
    register("opencv.haar_eyes", HaarEyeFaceDetector)


@hookimpl
def register_trainers(register: Any) -> None:
    """Register ``facevox train expression``."""
    from facevox_expression.train import command

    register(command)

