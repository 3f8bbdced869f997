"""A tiny in-test plugin: one expression classifier, registered like any third party's."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from facevox import ExpressionClassifier, ModelCard, ModelSpec, Preprocessing, Task, hookimpl
from torch import Tensor, nn

LABELS = ("calm", "excited")


@dataclass(frozen=True)
class ToyConfig:
    input_size: tuple[int, int, int] = (1, 8, 8)  # (C, H, W) pixels
    hidden: int = 4  # hidden units


class ToyClassifier(ExpressionClassifier):
    """Linear-ReLU-linear classifier on 8x8 crops: ``(B, 1, 8, 8) -> (B, 2)`` logits."""

    labels = LABELS

    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = config
        c, h, w = config.input_size
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, config.hidden), nn.Tanh(), nn.Linear(config.hidden, 2))

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)


def toy_spec(name: str = "toy.tiny") -> ModelSpec:
    return ModelSpec(
        name=name,
        task=Task.EXPRESSION_CLASSIFICATION,
        factory=ToyClassifier,
        config=ToyConfig(),
        card=ModelCard(
            summary="A toy classifier for facevox's own tests.",
            preprocessing=Preprocessing(input_size=(1, 8, 8), mean=(0.5,), std=(0.5,)),
            labels=LABELS,
            metrics={"params": 270},  # 8*8*4 + 4 + 4*2 + 2: checked by facevox.testing
        ),
    )


class ToyPlugin:
    """Registers ``toy.tiny``."""

    @hookimpl
    def register_models(self, register):  # type: ignore[no-untyped-def]
        register(toy_spec())


class BrokenHookPlugin:
    """Registers one model, then raises: its registrations must be dropped."""

    @hookimpl
    def register_models(self, register):  # type: ignore[no-untyped-def]
        register(toy_spec("broken.half_registered"))
        raise RuntimeError("boom in hook")


class DuplicatePlugin:
    """Registers ``toy.tiny`` again."""

    @hookimpl
    def register_models(self, register):  # type: ignore[no-untyped-def]
        register(toy_spec())


torch.manual_seed(0)
