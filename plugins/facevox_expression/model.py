"""Residual attention CNN for facial expression recognition on 48x48 greyscale faces.

Architecture: a small pre-activation-free ResNet (He et al. 2016, "Deep Residual Learning")
whose stages end in a residual masking attention block in the spirit of the Residual
Masking Network (Pham, Vu & Tran 2021, "Facial Expression Recognition using Residual
Masking Network", ICPR) and the Residual Attention Network (Wang et al. 2017): a mask
branch computes a spatial mask ``M`` in ``[0, 1]`` from the features ``F`` at half
resolution, a squeeze-and-excitation gate (Hu et al. 2018) re-weights channels, and the
block returns ``F * (1 + M) * g``, so attention can only emphasise, never erase, the trunk.

Trained on FER2013 (Goodfellow et al. 2013); labels in :data:`facevox.datasets.FER2013_LABELS`
order. Input: ``(B, 1, 48, 48)`` float32, pixels scaled to ``[0, 1]`` then normalised with
``(x - 0.5) / 0.25`` (see the model card's preprocessing).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from facevox import ExpressionClassifier, SpatialAttention
from facevox.datasets import FER2013_LABELS
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["RESMASKNET", "RESMASKNET_LARGE", "RESMASKNET_SMALL", "ResidualMaskAttention", "ResMaskNet", "ResMaskNetConfig"]


@dataclass
class ResMaskNetConfig:
    """Architecture of :class:`ResMaskNet`."""

    input_size: tuple[int, int, int] = (1, 48, 48)  # (channels, height, width) of the input crops
    labels: tuple[str, ...] = FER2013_LABELS  # output class names, in logit order
    stem_channels: int = 16  # channels of the full-resolution stem convolutions
    stem_convs: int = 1  # number of full-resolution 3x3 stem convolutions (>= 1)
    widths: tuple[int, ...] = (48, 96, 192)  # channels of each stage (each halves the resolution)
    blocks: tuple[int, ...] = (1, 1, 1)  # residual blocks per stage
    attention: bool = True  # residual masking + channel attention at the end of each stage
    attention_reduction: int = 8  # squeeze-excitation / mask-branch channel reduction
    dropout: float = 0.4  # dropout before the classifier (0 disables)
    temperature: float = 1.0  # softmax temperature of predict_proba, fitted on held-out training faces


class ResidualMaskAttention(SpatialAttention):
    """Residual spatial mask plus channel gate: ``out = F * (1 + M) * g``.

    ``M`` ``(B, 1, H, W)`` in ``[0, 1]`` comes from a mask branch run at half resolution
    (avg-pool, 3x3 conv, upsample, 1x1 conv, sigmoid); ``g`` ``(B, C, 1, 1)`` in ``[0, 1]`` is a
    squeeze-and-excitation gate. :attr:`last_mask` keeps the last ``M`` for visualisation.

    Args:
        channels: ``C`` of the feature map.
        reduction: channel reduction of both branches (``>= 1``).
    """

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels and reduction must be >= 1, got {channels}, {reduction}")
        hidden = max(channels // reduction, 4)
        self.mask_branch = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
        )
        self.mask_out = nn.Conv2d(hidden, 1, 1)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )
        self.last_mask = None

    def forward(self, features: Tensor) -> Tensor:
        """``(B, C, H, W)`` float32 -> ``(B, C, H, W)`` float32 attended features."""
        if features.dim() != 4:
            raise ValueError(f"features must be (B, C, H, W), got shape {tuple(features.shape)}")
        h, w = features.shape[-2:]
        low = F.avg_pool2d(features, 2, ceil_mode=True) if min(h, w) >= 4 else features
        mask = self.mask_branch(low)
        if mask.shape[-2:] != (h, w):
            mask = F.interpolate(mask, size=(h, w), mode="bilinear", align_corners=False)
        mask = torch.sigmoid(self.mask_out(mask))
        self.last_mask = mask.detach()
        return features * (1.0 + mask) * self.gate(features)


class _BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 strided) shortcut: ``(B, Ci, H, W) -> (B, Co, H/s, W/s)``."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1: nn.Module = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2: nn.Module = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def fold_batchnorm(self) -> None:
        """Fold ``bn1``/``bn2`` into ``conv1``/``conv2`` in place (eval mode only; they become
        identities). :func:`facevox.fold_batchnorm`, and so ``for_inference()``, calls this."""
        if self.training:
            raise ValueError("fold the BatchNorm of an eval-mode block only")
        if isinstance(self.bn1, nn.BatchNorm2d):
            self.conv1, self.bn1 = fuse_conv_bn_eval(self.conv1, self.bn1), nn.Identity()
        if isinstance(self.bn2, nn.BatchNorm2d):
            self.conv2, self.bn2 = fuse_conv_bn_eval(self.conv2, self.bn2), nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


class ResMaskNet(ExpressionClassifier):
    """Residual CNN with residual-masking attention for 48x48 greyscale expression crops.

    ``forward(images)``: ``images`` ``(B, 1, 48, 48)`` float32 normalised as
    ``(pixel / 255 - 0.5) / 0.25`` -> logits ``(B, 7)`` float32 in :attr:`labels` order.
    Any input size works (global average pooling); the weights were trained at 48x48.
    """

    def __init__(self, config: ResMaskNetConfig | None = None) -> None:
        super().__init__()
        config = config or ResMaskNetConfig()
        if len(config.widths) != len(config.blocks) or not config.widths:
            raise ValueError(f"widths {config.widths} and blocks {config.blocks} must be non-empty, same length")
        if any(b < 1 for b in config.blocks):
            raise ValueError(f"every stage needs >= 1 block, got blocks={config.blocks}")
        if not 0.0 <= config.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {config.dropout}")
        if not config.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {config.temperature}")
        self.config = config
        self.labels = tuple(config.labels)
        self.temperature = float(config.temperature)
        cin, stem = config.input_size[0], config.stem_channels
        if config.stem_convs < 1:
            raise ValueError(f"stem_convs must be >= 1, got {config.stem_convs}")
        stem_layers: list[nn.Module] = []
        for i in range(config.stem_convs):
            stem_layers += [
                nn.Conv2d(cin if i == 0 else stem, stem, 3, padding=1, bias=False),
                nn.BatchNorm2d(stem),
                nn.ReLU(inplace=True),
            ]
        self.stem = nn.Sequential(*stem_layers)
        stages: list[nn.Module] = []
        prev = stem
        for width, n_blocks in zip(config.widths, config.blocks, strict=True):
            layers: list[nn.Module] = [_BasicBlock(prev, width, stride=2)]
            layers += [_BasicBlock(width, width, stride=1) for _ in range(n_blocks - 1)]
            if config.attention:
                layers.append(ResidualMaskAttention(width, config.attention_reduction))
            stages.append(nn.Sequential(*layers))
            prev = width
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(prev, len(self.labels))
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():  # zero-init the last BN of each block: blocks start as identity
            if isinstance(m, _BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def features(self, images: Tensor) -> Tensor:
        """Pooled features ``(B, widths[-1])`` for ``(B, C, H, W)`` normalised images."""
        if images.dim() != 4 or images.shape[1] != self.config.input_size[0]:
            raise ValueError(
                f"images must be (B, {self.config.input_size[0]}, H, W) float, got shape {tuple(images.shape)}"
            )
        x = self.stages(self.stem(images))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, images: Tensor) -> Tensor:
        """Logits ``(B, 7)`` for ``(B, 1, H, W)`` normalised images."""
        return self.head(self.dropout(self.features(images)))


RESMASKNET = ResMaskNetConfig(
    stem_channels=48, stem_convs=2, widths=(96, 192, 384), blocks=(1, 1, 1), dropout=0.3, temperature=0.9227
)
"""``expression.resmasknet``: the shipped model, 2.7 M parameters, about 270 M multiply-adds per
48x48 face (two full-resolution stem convolutions, then three residual stages with attention)."""

RESMASKNET_LARGE = ResMaskNetConfig(
    stem_channels=48, stem_convs=2, widths=(96, 192, 384, 512), blocks=(1, 1, 1, 1), dropout=0.3
)
"""``--variant resmasknet_large`` of the training recipe: the shipped model plus a fourth stage
(512 channels at 3x3 px for a 48 px face), 7.7 M parameters, about 1.25x its training step time."""

RESMASKNET_SMALL = ResMaskNetConfig(stem_channels=16, widths=(48, 96, 192), blocks=(1, 1, 1), temperature=0.84)
"""``expression.resmasknet_small``: 0.74 M parameters, about 55 M multiply-adds per 48x48 face;
shipped weights distilled from ``expression.resmasknet`` (the architecture of facevox 0.1's model)."""
