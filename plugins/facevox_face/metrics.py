"""Image quality metrics of the face plugin, in plain torch (no scikit-image needed).

:func:`ssim` is the structural similarity index of Wang, Bovik, Sheikh and Simoncelli (2004,
"Image quality assessment: from error visibility to structural similarity", IEEE TIP 13(4)):
an 11x11 Gaussian window (sigma 1.5), ``K1 = 0.01``, ``K2 = 0.03``, population (not sample)
variances, averaged over the positions where the window fits inside the image. It equals
``skimage.metrics.structural_similarity(x, y, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=...)`` (per channel, then averaged over channels).

Note that scikit-image's *default* (a 7x7 uniform window, sample variances) gives somewhat
different numbers; state which one a figure uses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["SSIM_K1", "SSIM_K2", "SSIM_SIGMA", "SSIM_WINDOW", "ssim"]

SSIM_WINDOW = 11  # side of the Gaussian window, pixels (radius 5 = int(3.5 * sigma + 0.5))
SSIM_SIGMA = 1.5  # standard deviation of the Gaussian window, pixels
SSIM_K1 = 0.01  # C1 = (K1 * data_range) ** 2 stabilises the luminance term
SSIM_K2 = 0.03  # C2 = (K2 * data_range) ** 2 stabilises the contrast-structure term


def _gaussian_window(dtype: torch.dtype, device: torch.device) -> Tensor:
    """The normalised 1-D Gaussian taps ``(SSIM_WINDOW,)``."""
    t = torch.arange(SSIM_WINDOW, dtype=dtype, device=device) - (SSIM_WINDOW - 1) / 2
    g = torch.exp(-(t**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def ssim(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """Mean structural similarity (SSIM) of each image pair; differentiable (``1 - ssim`` is a loss).

    Args:
        x: ``(B, C, H, W)`` images, ``H`` and ``W`` at least 11 (the window). Floating point
            is computed in its own precision (float64 stays float64; float16/bfloat16 are
            computed in float32); integer images are converted to float32.
        y: the images to compare with, same shape as ``x``. SSIM is symmetric in ``x``, ``y``.
        data_range: the value range of the pixels (1 for ``[0, 1]`` images, 255 for uint8).

    Returns:
        ``(B,)`` SSIM per image, at most 1 (1 for identical images), averaged over the channels
        and over the ``(H - 10) x (W - 10)`` window positions.

    Raises:
        ValueError: the shapes differ or are not ``(B, C, H, W)``, an image is smaller than
            11x11, or ``data_range`` is not positive.
    """
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError(f"ssim takes two torch tensors, got {type(x).__name__} and {type(y).__name__}")
    if x.shape != y.shape:
        raise ValueError(f"ssim needs two image batches of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.dim() != 4:
        raise ValueError(f"ssim takes (B, C, H, W) image batches, got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h < SSIM_WINDOW or w < SSIM_WINDOW:
        raise ValueError(
            f"ssim needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels (its Gaussian window), got {h}x{w}"
        )
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    x, y = x.to(dtype), y.to(dtype)
    c = x.shape[1]
    g = _gaussian_window(dtype, x.device)
    # the five local statistics of every channel, filtered in one separable depthwise convolution
    stats = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # (B, 5C, H, W)
    groups = stats.shape[1]
    stats = F.conv2d(stats, g.view(1, 1, 1, -1).expand(groups, 1, 1, SSIM_WINDOW), groups=groups)
    stats = F.conv2d(stats, g.view(1, 1, -1, 1).expand(groups, 1, SSIM_WINDOW, 1), groups=groups)
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.split(c, dim=1)  # each (B, C, H - 10, W - 10)
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov = e_xy - mu_x * mu_y
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(dim=1)
