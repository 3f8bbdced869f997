"""On-tensor training augmentation for FER2013 faces: affine jitter, native-scale crops,
photometric jitter, random erasing and CutMix.

Every random choice draws from a caller-supplied :class:`torch.Generator`, so a training run
(and its ``--resume``) is reproducible.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from facevox_expression.card import PREPROCESSING

__all__ = ["MEAN", "STD", "augment", "cutmix", "normalize"]

MEAN, STD = PREPROCESSING.mean[0], PREPROCESSING.std[0]  # type: ignore[index]
"""Input normalisation: ``(pixel / 255 - MEAN) / STD``, the model card's (what the pipeline applies)."""


def normalize(images: Tensor) -> Tensor:
    """``(B, 48, 48)`` or ``(B, 1, 48, 48)`` uint8 -> ``(B, 1, 48, 48)`` float32 normalised input."""
    x = images.float().div_(255.0)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    return (x - MEAN) / STD


def augment(
    images: Tensor, generator: torch.Generator, size: int | None = None, erase_p: float = 0.25, crop: int | None = None
) -> Tensor:
    """Random FER augmentation of a batch.

    Args:
        images: ``(B, 48, 48)`` uint8.
        generator: RNG for every random choice (reproducible runs).
        size: output side in pixels (default: the input's); smaller sizes resample the face
            (progressive resizing: cheap low-resolution epochs first).
        crop: output side in pixels at the input's own pixel scale: a random ``crop x crop``
            window of the (rotated, scaled, shifted) face, as in the random 40-of-48 crops of
            Khaireddin & Chen 2021; overrides ``size``.
        erase_p: probability of random erasing per image.

    Returns:
        ``(B, 1, size, size)`` float32, normalised like :func:`normalize`: rotation within +-12
        degrees, scale 0.88-1.12, shift within +-12 %, horizontal flip (p=0.5), brightness
        +-0.15 and contrast 0.75-1.25 jitter, random erasing (``erase_p``, 2-15 % of the area).
    """
    b = images.shape[0]
    x = images.float().div_(255.0).unsqueeze(1)

    def uniform(lo: float, hi: float, *shape: int) -> Tensor:
        return torch.rand(*(shape or (b,)), generator=generator) * (hi - lo) + lo

    angle = uniform(-12, 12) * math.pi / 180
    scale = uniform(0.88, 1.12)
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
    tx, ty = uniform(-0.12, 0.12), uniform(-0.12, 0.12)
    side = crop or size or x.shape[-1]
    zoom = (crop / x.shape[-1]) if crop else 1.0  # a crop keeps the pixel scale: sample a sub-window
    cos, sin = torch.cos(angle) / scale * zoom, torch.sin(angle) / scale * zoom
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    )  # (B, 2, 3): output -> input sampling grid
    grid = F.affine_grid(theta, [b, 1, side, side], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    # brightness / contrast around each image's mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * uniform(0.75, 1.25).view(b, 1, 1, 1) + mean + uniform(-0.15, 0.15).view(b, 1, 1, 1)
    x = x.clamp_(0.0, 1.0)
    # random erasing (Zhong et al. 2020): one rectangle of noise in a fraction of the images
    h, w = x.shape[-2:]
    area = uniform(0.02, 0.15) * h * w
    ratio = torch.exp(uniform(math.log(0.4), math.log(2.5)))
    eh = (area * ratio).sqrt().clamp(1, h - 1).long()
    ew = (area / ratio).sqrt().clamp(1, w - 1).long()
    y0 = (torch.rand(b, generator=generator) * (h - eh + 1)).long()
    x0 = (torch.rand(b, generator=generator) * (w - ew + 1)).long()
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    box = (rows >= y0.view(b, 1, 1)) & (rows < (y0 + eh).view(b, 1, 1))
    box = box & (cols >= x0.view(b, 1, 1)) & (cols < (x0 + ew).view(b, 1, 1))
    box = box & (torch.rand(b, generator=generator) < erase_p).view(b, 1, 1)
    noise = torch.rand(x.shape, generator=generator)
    x = torch.where(box.unsqueeze(1), noise, x)
    return (x - MEAN) / STD


def cutmix(
    x: Tensor, generator: torch.Generator, p: float = 0.5, alpha: float = 1.0
) -> tuple[Tensor, Tensor, float]:
    """CutMix (Yun et al. 2019, ICCV): paste a random box of a shuffled batch into the batch.

    Args:
        x: ``(B, C, H, W)`` float batch (already augmented and normalised).
        generator: RNG for every random choice.
        p: probability that this batch is mixed at all (``0`` never, ``1`` always).
        alpha: the box area fraction is drawn from ``Beta(alpha, alpha)``; must be ``> 0``.

    Returns:
        ``(mixed, perm, lam)``: the mixed batch (same shape and dtype), the ``(B,)`` int64
        permutation whose images were pasted in, and ``lam`` in ``[0, 1]``, the fraction of each
        image that is still its own (after clipping the box to the image). The loss is
        ``lam * CE(logits, y) + (1 - lam) * CE(logits, y[perm])``. An unmixed batch returns
        ``x`` itself, the identity permutation and ``lam = 1``.

    Raises:
        ValueError: ``p`` outside ``[0, 1]`` or ``alpha <= 0``.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"cutmix p must be in [0, 1], got {p}")
    if alpha <= 0:
        raise ValueError(f"cutmix alpha must be > 0, got {alpha}")
    b, _, h, w = x.shape
    if float(torch.rand((), generator=generator)) >= p:
        return x, torch.arange(b), 1.0
    # torch's Beta sampler takes no generator: seed numpy's from ours (reproducible)
    lam = float(np.random.default_rng(int(torch.randint(2**62, (), generator=generator))).beta(alpha, alpha))
    perm = torch.randperm(b, generator=generator)
    cut = math.sqrt(1.0 - lam)
    ch, cw = int(h * cut), int(w * cut)
    cy = int(torch.randint(h, (), generator=generator))
    cx = int(torch.randint(w, (), generator=generator))
    y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
    x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
    mixed = x.clone()
    mixed[:, :, y0:y1, x0:x1] = x[perm, :, y0:y1, x0:x1]
    return mixed, perm, 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
