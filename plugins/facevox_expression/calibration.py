"""Probability calibration for classifiers: temperature scaling and expected calibration error.

Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks", ICML) divides
the logits by one scalar ``T > 0`` fitted to minimise the negative log-likelihood of held-out
labels; it changes confidences, never the predicted class. The expected calibration error
(ECE, Naeini et al. 2015) bins predictions by confidence (15 equal-width bins, as in Guo et al.)
and averages ``|accuracy - confidence|`` weighted by the bin's share of samples.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["expected_calibration_error", "fit_temperature", "tta_probabilities"]


def tta_probabilities(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Softmax probabilities averaged over test-time views.

    Args:
        logits: ``(V, N, K)`` float logits of ``V`` views (e.g. a face and its mirror) of ``N``
            samples, or ``(N, K)`` for one view.
        temperature: ``T > 0``; probabilities are ``softmax(logits / T)`` averaged over views.

    Returns:
        ``(N, K)`` float32 probabilities, rows summing to 1.

    Raises:
        ValueError: ``temperature <= 0`` or ``logits`` not 2-D / 3-D.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if logits.dim() == 2:
        logits = logits.unsqueeze(0)
    if logits.dim() != 3:
        raise ValueError(f"logits must be (N, K) or (V, N, K), got shape {tuple(logits.shape)}")
    return torch.softmax(logits.float() / temperature, dim=-1).mean(0)


def fit_temperature(logits: Tensor, labels: Tensor, low: float = 0.2, high: float = 5.0, steps: int = 241) -> float:
    """The temperature minimising the NLL of ``labels`` under :func:`tta_probabilities`.

    A log-spaced grid search over ``[low, high]`` (``steps`` points, 1.3 % apart at the
    defaults): one parameter, so a grid is exact enough and cannot diverge.

    Args:
        logits: ``(N, K)`` or ``(V, N, K)`` held-out logits (never the test split's).
        labels: ``(N,)`` int64 class indices.

    Returns:
        ``T`` in ``[low, high]``; ``T > 1`` softens over-confident probabilities.

    Raises:
        ValueError: empty or mismatched inputs.
    """
    n = logits.shape[-2] if logits.dim() >= 2 else 0
    if n == 0 or labels.shape != (n,):
        raise ValueError(f"need (N, K) or (V, N, K) logits and (N,) labels, got {tuple(logits.shape)}, "
                         f"{tuple(labels.shape)}")
    grid = torch.logspace(torch.log10(torch.tensor(low)), torch.log10(torch.tensor(high)), steps)
    nll = []
    for t in grid:
        p = tta_probabilities(logits, float(t)).clamp_min(1e-12)
        nll.append(float(-p.log().gather(1, labels.view(-1, 1)).mean()))
    return round(float(grid[int(torch.tensor(nll).argmin())]), 4)


def expected_calibration_error(probs: Tensor, labels: Tensor, bins: int = 15) -> float:
    """ECE of ``(N, K)`` probabilities against ``(N,)`` labels, in ``[0, 1]`` (0: calibrated).

    Confidence is the top probability; bins are ``bins`` equal-width intervals of ``(0, 1]``.

    Raises:
        ValueError: mismatched shapes or ``bins < 1``.
    """
    if probs.dim() != 2 or labels.shape != (probs.shape[0],) or bins < 1:
        raise ValueError(f"need (N, K) probs, (N,) labels and bins >= 1, got {tuple(probs.shape)}, "
                         f"{tuple(labels.shape)}, {bins}")
    conf, pred = probs.max(1)
    correct = (pred == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = torch.zeros(())
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            ece += inside.float().mean() * (correct[inside].mean() - conf[inside].mean()).abs()
    return float(ece)
