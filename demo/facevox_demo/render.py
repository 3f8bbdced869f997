"""Pictures for the demo: boxes on photos, face grids, mel and alignment plots (presentation only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["alignment_image", "draw_faces", "face_strip", "mel_image"]

_COLOURS = ("#ff4b4b", "#2f80ed", "#27ae60", "#f2994a", "#9b51e0", "#00b8d9", "#eb5757")


def _box(face: Any) -> list[int]:
    box = face.box
    return [int(v) for v in (box.as_list() if hasattr(box, "as_list") else box)]


def draw_faces(image: np.ndarray, faces: Sequence[Any], highlight: int | None = None) -> np.ndarray:
    """The photo with a numbered box and the top emotion drawn for each face, and a dot on each
    eye the detector found (the crop was aligned on them).

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        faces: objects with ``box`` (``[x, y, w, h]`` or a ``FaceBox``), ``emotion``, ``scores``
            and optionally ``left_eye`` / ``right_eye`` (``[x, y]`` pixels or ``None``).
        highlight: index of the face drawn thicker (the one that styled the speech).

    Returns:
        ``(H, W, 3)`` uint8 RGB copy with the annotations.
    """
    canvas = Image.fromarray(np.ascontiguousarray(image[..., :3]).astype(np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    size = max(12, round(min(canvas.size) / 28))
    font = ImageFont.load_default(size=size)
    for i, face in enumerate(faces):
        x, y, w, h = _box(face)
        colour = _COLOURS[i % len(_COLOURS)]
        width = max(2, round(min(canvas.size) / 150)) * (2 if i == highlight else 1)
        draw.rectangle((x, y, x + w, y + h), outline=colour, width=width)
        radius = max(2, round(w / 40))
        for eye in (getattr(face, "left_eye", None), getattr(face, "right_eye", None)):
            if eye is not None:
                ex, ey = float(eye[0]), float(eye[1])
                draw.ellipse((ex - radius, ey - radius, ex + radius, ey + radius), fill=colour)
        label = f"#{i} {face.emotion} {100 * float(face.scores[face.emotion]):.0f}%"
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        ty = y - (bottom - top) - 6 if y - (bottom - top) - 6 >= 0 else y + h + 2
        draw.rectangle((x, ty, x + right - left + 8, ty + bottom - top + 6), fill=colour)
        draw.text((x + 4, ty + 3 - top), label, fill="white", font=font)
    return np.asarray(canvas)


def face_strip(faces: Any, captions: Sequence[str] | None = None, size: int = 144) -> np.ndarray:
    """Faces side by side, upscaled, with optional captions underneath.

    Args:
        faces: ``(N, 1, H, W)`` or ``(N, H, W)`` float tensor/array in ``[0, 1]`` (greyscale).
        captions: one short text per face.
        size: displayed side of each face, pixels.

    Returns:
        ``(size + caption band, N * size, 3)`` uint8 RGB.
    """
    array = faces.detach().float().cpu().numpy() if hasattr(faces, "detach") else np.asarray(faces, np.float32)
    if array.ndim == 4:
        array = array[:, 0]
    band = 22 if captions else 0
    strip = Image.new("RGB", (size * len(array), size + band), "white")
    draw = ImageDraw.Draw(strip)
    font = ImageFont.load_default(size=14)
    for i, face in enumerate(array):
        tile = Image.fromarray(np.clip(face * 255.0 + 0.5, 0, 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
        strip.paste(tile.convert("RGB"), (i * size, 0))
        if captions:
            draw.text((i * size + size / 2, size + band / 2), captions[i], fill="black", font=font, anchor="mm")
    return np.asarray(strip)


def _figure_image(fig: Any) -> np.ndarray:
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    import matplotlib.pyplot as plt

    plt.close(fig)
    return rgba[..., :3].copy()


def mel_image(mel: Any, sample_rate: int, hop_length: int = 256, title: str = "Mel spectrogram") -> np.ndarray:
    """A plot of a ``(n_mels, T)`` log-mel spectrogram as ``(H, W, 3)`` uint8 RGB."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = mel.detach().float().cpu().numpy() if hasattr(mel, "detach") else np.asarray(mel)
    fig, ax = plt.subplots(figsize=(8, 2.8), dpi=100)
    seconds = data.shape[-1] * hop_length / sample_rate
    im = ax.imshow(data, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, data.shape[0]))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel band")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="log magnitude")
    fig.tight_layout()
    return _figure_image(fig)


def alignment_image(alignment: Any, title: str = "Attention alignment") -> np.ndarray:
    """A plot of attention weights ``(T_dec, L)`` (decoder step x text token) as uint8 RGB."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = alignment.detach().float().cpu().numpy() if hasattr(alignment, "detach") else np.asarray(alignment)
    while data.ndim > 2:
        data = data[0]
    fig, ax = plt.subplots(figsize=(8, 2.8), dpi=100)
    im = ax.imshow(data.T, origin="lower", aspect="auto", cmap="viridis", interpolation="none")
    ax.set_xlabel("decoder step")
    ax.set_ylabel("text token")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="weight")
    fig.tight_layout()
    return _figure_image(fig)
