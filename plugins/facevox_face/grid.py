"""Image grids and PNG output for face tensors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from facevox.io import atomic_path
from torch import Tensor

__all__ = ["grid_shape", "make_grid", "png_pixel_limit", "save_png", "to_uint8"]


def png_pixel_limit() -> int | None:
    """The most pixels a PNG may have for Pillow to open it with its default limits.

    That is ``PIL.Image.MAX_IMAGE_PIXELS`` (89,478,485 unless changed): above it Pillow warns
    (``DecompressionBombWarning``), above twice it refuses. ``None`` when the limit is disabled.
    """
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    return None if limit is None else int(limit)


def grid_shape(n_rows: int, n_cols: int, tile: Sequence[int], pad: int = 2, scale: int = 1) -> tuple[int, int]:
    """``(height, width)`` in pixels of :func:`make_grid`'s output for ``n_rows`` rows of at most
    ``n_cols`` tiles of ``tile = (H, W)`` pixels, computed before anything is drawn."""
    h, w = tile
    return (n_rows * (h + pad) + pad) * scale, (n_cols * (w + pad) + pad) * scale


def to_uint8(images: Tensor) -> np.ndarray:
    """``(B, 1, H, W)`` float in ``[0, 1]`` -> ``(B, H, W)`` uint8 (values clipped)."""
    arr = images.detach().float().cpu().clamp(0, 1).mul(255).round().to(torch.uint8)
    return arr[:, 0].numpy()


def make_grid(rows: Sequence[Tensor], pad: int = 2, scale: int = 1) -> np.ndarray:
    """Tile rows of faces into one uint8 image.

    Args:
        rows: each ``(N_i, 1, H, W)`` float in ``[0, 1]``; shorter rows are padded with white.
        pad: white pixels between tiles.
        scale: integer upscaling (nearest) of the result.

    Returns:
        ``(H_grid, W_grid)`` uint8 greyscale.
    """
    if not rows:
        raise ValueError("make_grid needs at least one row")
    h, w = rows[0].shape[-2:]
    ncol = max(r.shape[0] for r in rows)
    grid = np.full((len(rows) * (h + pad) + pad, ncol * (w + pad) + pad), 255, dtype=np.uint8)
    for i, row in enumerate(rows):
        for j, tile in enumerate(to_uint8(row)):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y : y + h, x : x + w] = tile
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid


def save_png(image: np.ndarray | Tensor, path: str | os.PathLike[str], overwrite: bool = True) -> Path:
    """Write a greyscale uint8 array ``(H, W)`` (or one face ``(1, 1, H, W)``/``(1, H, W)`` float
    in ``[0, 1]``) to ``path`` as PNG, atomically.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        ValueError: the image has more pixels than Pillow opens by default (:func:`png_pixel_limit`).
    """
    from PIL import Image

    if isinstance(image, Tensor):
        image = to_uint8(image.reshape(1, 1, *image.shape[-2:]))[0]
    limit = png_pixel_limit()
    if limit is not None and image.shape[0] * image.shape[1] > limit:
        raise ValueError(f"a {image.shape[1]}x{image.shape[0]} PNG has more pixels than the {limit:,} Pillow "
                         f"opens by default (PIL.Image.MAX_IMAGE_PIXELS); not writing {path}")
    with atomic_path(path, overwrite=overwrite) as tmp:
        Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(tmp, format="PNG")
    return Path(path)
