"""A real photo with one known face, for detector and pipeline tests."""

from __future__ import annotations

from collections.abc import Sequence

ASTRONAUT_FACE = (176, 66, 98, 98)
"""x, y, w, h of Eileen Collins' face in scikit-image's astronaut (public domain, NASA)."""


def iou(a: Sequence[int], b: Sequence[int]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    return iw * ih / (aw * ah + bw * bh - iw * ih)
