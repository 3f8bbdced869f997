"""Expression guides for ``facevox train face-cvae``: classifiers that judge decoded morphs.

Classifier guidance (Fader Networks, Lample et al. 2017; AttGAN, He et al. 2019) trains the
CVAE so that a face decoded with a random target label is classified as that label. Two guides:

* :class:`GuideCNN`: a small CNN trained alongside the CVAE on blurred real faces (the
  original recipe; weak, and the decoder learns pixel patterns that fool it).
* :class:`PretrainedGuide`: a frozen facevox expression classifier trained beforehand
  (``facevox train expression --variant resmasknet_small``) and loaded through the public
  registry, seen through random views (expectation over transformation, Athalye et al. 2018:
  flip, +-2 px shift, random blur, pixel noise) so that a decoder cannot satisfy it with pixel
  patterns that fool one fixed view. It must not be the model that later judges the morphs
  (``benchmarks/bench_face.py`` uses the shipped ``expression.resmasknet``); a guide of another
  architecture and seed keeps that measure independent.
* :class:`GuideEnsemble`: several frozen guides, each with its own random view, their
  probabilities averaged. A morph must convince classifiers of different architectures and
  seeds at once, which transfers better to an unseen judge than fooling one (Liu et al. 2017,
  "Delving into transferable adversarial examples").
"""

from __future__ import annotations

from pathlib import Path

import click
import torch
import torch.nn.functional as F
from facevox import CheckpointError, create_model, get_model_spec, load_weights
from torch import Tensor, nn

from .blocks import ConvBlock

__all__ = ["GuideCNN", "GuideEnsemble", "PretrainedGuide", "gaussian_blur"]


def gaussian_blur(images: Tensor, sigma: float | Tensor) -> Tensor:
    """Blur ``(B, 1, H, W)`` images with a 7x7 Gaussian of ``sigma`` pixels (a float, or ``(B,)``).

    Borders are replicated; a ``sigma`` of 0 leaves an image unchanged.
    """
    t = torch.arange(7, dtype=torch.float32, device=images.device) - 3
    s = torch.as_tensor(sigma, dtype=torch.float32, device=images.device).reshape(-1, 1).clamp_min(1e-3)
    g = torch.exp(-(t[None] ** 2) / (2 * s**2))
    g = g / g.sum(1, keepdim=True)  # (S, 7), S = 1 or B
    kernels = (g[:, :, None] * g[:, None, :])[:, None].to(images.dtype)  # (S, 1, 7, 7)
    padded = F.pad(images, (3, 3, 3, 3), mode="replicate")
    if kernels.shape[0] == 1:
        return F.conv2d(padded, kernels)
    b = images.shape[0]
    out = F.conv2d(padded.reshape(1, b, *padded.shape[-2:]), kernels, groups=b)
    return out.reshape_as(images)


class GuideCNN(nn.Module):
    """Small expression classifier trained alongside the CVAE (the original guide; not shipped).

    ``(B, 1, 48, 48)`` float32 in ``[0, 1]`` -> logits ``(B, num_labels)``. Inputs are first
    blurred (Gaussian, sigma 1.5 px), so the guide judges face shape, not pixel patterns.
    """

    trainable = True

    def __init__(self, num_labels: int = 7) -> None:
        super().__init__()
        self.net = nn.Sequential(
            ConvBlock(1, 32, 2), ConvBlock(32, 32), ConvBlock(32, 64, 2), ConvBlock(64, 64),
            ConvBlock(64, 128, 2), ConvBlock(128, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Dropout(0.3), nn.Linear(128, num_labels),
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.net(gaussian_blur(images, 1.5) * 2.0 - 1.0)


class PretrainedGuide(nn.Module):
    """A frozen, registered expression classifier as the CVAE's guide.

    ``forward(images)``: ``(B, 1, H, W)`` float in ``[0, 1]`` -> logits ``(B, 7)`` float32 of the
    classifier, after its card's ``Preprocessing`` normalisation. In training mode each image is
    first seen through a random view: horizontal flip (p 0.5), one +-2 px shift, a Gaussian blur
    with sigma uniform in [0, ``max_blur``] px and Gaussian pixel noise of std ``noise``.

    Args:
        name: registered expression model, e.g. ``expression.resmasknet_small``.
        weights: a ``.safetensors`` state dict of that model (``best.safetensors`` of a
            ``facevox train expression`` run); ``None`` uses the model's shipped weights.
        labels: the CVAE's label order; the classifier's labels must hold the same names.

    Raises:
        click.BadParameter: the model is unknown, has no weights, does not fit ``weights``, or its
            labels differ from ``labels``.
    """

    trainable = False

    def __init__(self, name: str, weights: Path | None, labels: tuple[str, ...],
                 max_blur: float = 1.0, noise: float = 0.02) -> None:
        super().__init__()
        try:
            spec = get_model_spec(name)
            if weights is None and spec.weights is None:
                raise click.BadParameter(f"{name} ships no weights; pass --guide-weights with trained ones",
                                         param_hint="--guide-weights")
            model = create_model(name, pretrained=weights is None)
            if weights is not None:
                load_weights(model, weights)
        except (KeyError, CheckpointError, ValueError) as exc:
            raise click.BadParameter(str(exc), param_hint="--guide-model/--guide-weights") from exc
        own = tuple(getattr(model, "labels", ()))
        if sorted(own) != sorted(labels):
            raise click.BadParameter(f"{name} predicts {own}; the CVAE needs the labels {labels}",
                                     param_hint="--guide-model")
        self.classifier = model.float().eval().requires_grad_(False)
        self.register_buffer("order", torch.tensor([own.index(k) for k in labels]), persistent=False)
        pre = spec.card.preprocessing if spec.card else None
        mean = (pre.mean if pre and pre.mean else None) or (0.0,)
        std = (pre.std if pre and pre.std else None) or (1.0,)
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self.max_blur, self.noise = float(max_blur), float(noise)

    def train(self, mode: bool = True) -> PretrainedGuide:
        """Switch the random views on or off; the classifier itself stays in eval mode (frozen BN)."""
        super().train(mode)
        self.classifier.eval()
        return self

    def _view(self, images: Tensor) -> Tensor:
        b = images.shape[0]
        flip = torch.rand(b, device=images.device) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        dy, dx = (int(v) for v in torch.randint(-2, 3, (2,)))
        h, w = images.shape[-2:]
        images = F.pad(images, (2, 2, 2, 2), mode="replicate")[..., 2 + dy : 2 + dy + h, 2 + dx : 2 + dx + w]
        images = gaussian_blur(images, torch.rand(b, device=images.device) * self.max_blur)
        return images + self.noise * torch.randn_like(images)

    def forward(self, images: Tensor) -> Tensor:
        if self.training:
            images = self._view(images)
        x = (images.expand(-1, self.mean.shape[1], -1, -1) - self.mean) / self.std
        return self.classifier(x).float()[:, self.order]


class GuideEnsemble(nn.Module):
    """Frozen :class:`PretrainedGuide` members judged together.

    ``forward(images)``: ``(B, 1, H, W)`` float in ``[0, 1]`` -> ``(B, 7)`` float32 log of the
    members' mean probability (so ``F.cross_entropy`` on it is the NLL of the ensemble). Each
    member draws its own random view in training mode.

    Args:
        members: one or more frozen guides over the same label order.

    Raises:
        ValueError: ``members`` is empty.
    """

    trainable = False

    def __init__(self, members: list[PretrainedGuide]) -> None:
        super().__init__()
        if not members:
            raise ValueError("a guide ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, images: Tensor) -> Tensor:
        logp = torch.stack([F.log_softmax(m(images), dim=1) for m in self.members])
        return torch.logsumexp(logp, dim=0) - torch.log(torch.tensor(float(len(self.members))))
