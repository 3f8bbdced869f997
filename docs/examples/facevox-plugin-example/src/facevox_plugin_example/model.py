"""A tiny CNN expression classifier for 48x48 greyscale faces (FER2013 input format)."""

from __future__ import annotations

from dataclasses import dataclass

from facevox import ExpressionClassifier
from torch import Tensor, nn

__all__ = ["LABELS", "TinyCNN", "TinyCNNConfig"]

#: FER2013 labels (Goodfellow et al. 2013), in logit order.
LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


@dataclass(frozen=True)
class TinyCNNConfig:
    input_size: tuple[int, int, int] = (1, 48, 48)  # (channels, height, width) in pixels
    width: int = 8  # channels of the first conv layer; the second has twice as many


class TinyCNN(ExpressionClassifier):
    """Two conv layers and a linear head.

    ``forward(images)``: ``(B, 1, 48, 48)`` float32 pixels normalised to ``(x - 0.5) / 0.5``
    -> logits ``(B, 7)`` float32.
    """

    labels = LABELS

    def __init__(self, config: TinyCNNConfig) -> None:
        super().__init__()
        self.config = config
        c = config.input_size[0]
        w = config.width
        self.features = nn.Sequential(
            nn.Conv2d(c, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(2 * w, len(LABELS))

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images).flatten(1))
