"""Image input helpers: read any image the way users have it, crop faces for models.

* :func:`load_image` accepts a path, raw bytes, a PIL image or a numpy array, in any PIL mode
  (RGB, RGBA, greyscale, palette, 16-bit...), applies the EXIF orientation tag and returns an
  ``(H, W, 3)`` uint8 RGB array.
* :func:`crop_face` cuts a face box (with a margin) out of such an array and resizes it to a
  model's input size, greyscale by default (FER2013-style crops).

Unreadable inputs raise :class:`ImageReadError` (a :class:`ValueError`) naming the file.
"""

from __future__ import annotations

import glob
import io
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facevox.registry import FacevoxError

__all__ = ["FER2013_EYES", "IMAGE_SUFFIXES", "ImageReadError", "align_face", "crop_detected_face", "crop_face", "find_images", "load_image", "to_grayscale"]

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm"}
)
"""File suffixes :func:`find_images` collects from folders (lower case)."""


class ImageReadError(FacevoxError, ValueError):
    """An image could not be read or decoded; the message names the file and the reason.

    A :class:`facevox.FacevoxError` (the CLI prints it as one line) and, for callers that catch
    it that way, a :class:`ValueError`.
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"cannot read image {source}: {reason}")
        self.source = source
        self.reason = reason


def _pil_to_rgb(im: Image.Image) -> np.ndarray:
    im = ImageOps.exif_transpose(im) or im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        # composite transparent pixels on white, as viewers show them
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    elif im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = arr.max() if arr.size else 1.0
        arr = arr / (hi if hi > 0 else 1.0) * 255.0
        im = Image.fromarray(arr.round().astype(np.uint8), mode="L")
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def _array_to_rgb(arr: np.ndarray, source: str) -> np.ndarray:
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if arr.size and (np.nanmin(arr) < 0 or np.nanmax(arr) > 1):
            raise ImageReadError(source, f"float arrays must hold values in [0, 1], got [{arr.min()}, {arr.max()}]")
        arr = (np.nan_to_num(arr) * 255.0).round().astype(np.uint8)
    elif arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.integer):
            raise ImageReadError(source, f"unsupported array dtype {arr.dtype}; accepted: uint8, bool, float in [0, 1]")
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ImageReadError(source, f"integer arrays must hold values in 0..255, got [{arr.min()}, {arr.max()}]")
        arr = arr.astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    elif not (arr.ndim == 3 and arr.shape[2] == 3):
        raise ImageReadError(source, f"array shape {arr.shape} is not (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageReadError(source, f"empty image of shape {arr.shape}")
    return np.ascontiguousarray(arr)


def load_image(image: str | os.PathLike[str] | bytes | Image.Image | np.ndarray | Any) -> np.ndarray:
    """Read an image as an ``(H, W, 3)`` uint8 RGB array.

    Args:
        image: a file path, the encoded file bytes, a :class:`PIL.Image.Image` (any mode) or a
            numpy array (``(H, W)`` greyscale, ``(H, W, 1|3|4)`` RGB(A); uint8, bool, or float
            in ``[0, 1]``). Arrays are taken as RGB, not OpenCV's BGR.

    Returns:
        ``(H, W, 3)`` uint8 RGB, EXIF orientation applied (files, bytes and PIL images);
        transparent pixels composited on white.

    Raises:
        ImageReadError: the file is missing, not an image, truncated, or the array is
            malformed; the message names the file (or the input type) and the reason.
        TypeError: ``image`` is of an unsupported type.
    """
    if isinstance(image, np.ndarray):
        return _array_to_rgb(image, "<array>")
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        source, opener = "<bytes>", lambda: Image.open(io.BytesIO(bytes(image)))
    elif isinstance(image, (str, os.PathLike)):
        path = Path(image)
        source = str(path)
        if not path.exists():
            raise ImageReadError(source, "no such file")
        if path.is_dir():
            raise ImageReadError(source, "is a folder, not an image file")
        opener = lambda: Image.open(path)  # noqa: E731
    else:
        raise TypeError(
            f"unsupported image input {type(image).__name__}; accepted: path, bytes, PIL.Image, numpy array"
        )
    try:
        with opener() as im:
            im.load()
            return _pil_to_rgb(im)
    except UnidentifiedImageError:
        raise ImageReadError(source, "not a recognised image format") from None
    except (OSError, SyntaxError, ValueError, IndexError, struct.error, Image.DecompressionBombError) as exc:
        # Pillow's pure-Python decoders can also fail with IndexError (a truncated QOI file reads
        # past its end) or struct.error on damaged headers: both mean "not a readable image"
        raise ImageReadError(source, f"{type(exc).__name__}: {exc}") from None


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(H, W)`` uint8 luma (ITU-R 601, as PIL's ``"L"``)."""
    if image.ndim == 2:
        return image
    rgb = image.astype(np.float32)
    grey = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return np.clip(grey + 0.5, 0, 255).astype(np.uint8)


def crop_face(
    image: np.ndarray,
    box: Sequence[int] | Any,
    size: tuple[int, int] = (48, 48),
    margin: float = 0.2,
    grayscale: bool = True,
) -> np.ndarray:
    """Cut a face out of an image and resize it for a model.

    The box is grown by ``margin`` times its width/height on every side, made square around
    its centre (faces are roughly square; no distortion), padded by replicating the border
    where it leaves the image, then resized with area interpolation (anti-aliased).

    Args:
        image: ``(H, W, 3)`` uint8 RGB (see :func:`load_image`) or ``(H, W)`` uint8 greyscale.
        box: ``(x, y, w, h)`` in pixels, or anything with ``x, y, w, h`` attributes
            (:class:`facevox.FaceBox`).
        size: output ``(height, width)`` in pixels.
        margin: fraction of the box size added on each side (``>= 0``).
        grayscale: return ``(h, w)`` greyscale instead of ``(h, w, 3)`` RGB.

    Returns:
        ``(size[0], size[1])`` uint8 if ``grayscale`` else ``(size[0], size[1], 3)`` uint8.

    Raises:
        ValueError: empty box, negative margin, a box entirely outside the image, or a
            malformed image.
    """
    import cv2

    values = [getattr(box, k) for k in "xywh"] if hasattr(box, "x") else list(box)
    if len(values) != 4:
        raise ValueError(f"face box must be (x, y, w, h), got {box!r}")
    x, y, w, h = (int(round(float(v))) for v in values)
    if w <= 0 or h <= 0:
        raise ValueError(f"face box must have positive width and height, got (x, y, w, h) = {(x, y, w, h)}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if image.ndim not in (2, 3) or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) or (H, W) uint8, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = int(round(cx + side / 2)), int(round(cy + side / 2))
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        raise ValueError(f"face box {(x, y, w, h)} lies outside the {width}x{height} image")
    crop = image[max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)]
    pad = ((max(-y0, 0), max(y1 - height, 0)), (max(-x0, 0), max(x1 - width, 0)))
    if any(p for pair in pad for p in pair):  # keep the crop square: replicate the border
        crop = np.pad(crop, pad + ((0, 0),) * (crop.ndim - 2), mode="edge")
    if grayscale:
        crop = to_grayscale(crop)
    out_h, out_w = size
    interp = cv2.INTER_AREA if crop.shape[0] >= out_h else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(np.ascontiguousarray(crop), (out_w, out_h), interpolation=interp))


FER2013_EYES: tuple[tuple[float, float], tuple[float, float]] = ((0.31, 0.375), (0.69, 0.375))
"""Where FER2013 crops have their eyes, as ``(x, y)`` fractions of the crop side: the medians of
OpenCV's Haar eye detections on 735 PublicTest faces (left eye 14.3, right eye 32.7, both at
row 18 of 48: eye distance 0.38 of the side, eye line at 0.375)."""


def align_face(
    image: np.ndarray,
    left_eye: Sequence[float],
    right_eye: Sequence[float],
    size: tuple[int, int] = (48, 48),
    eyes: tuple[tuple[float, float], tuple[float, float]] = FER2013_EYES,
    grayscale: bool = True,
) -> np.ndarray:
    """Cut out a face so that its eyes land where a model's training crops have them.

    One similarity transform (rotation, uniform scale, shift: no shear) maps the two eye centres
    onto ``eyes`` (fractions of the output side), so the eye line is level and the face's scale
    matches the training data (FER2013's by default). Pixels outside the image replicate its
    border; the image is smoothed first when the crop shrinks it more than 2x (anti-aliasing).

    Args:
        image: ``(H, W, 3)`` uint8 RGB or ``(H, W)`` uint8 greyscale.
        left_eye, right_eye: ``(x, y)`` eye centres in pixels, the one on the image's left first.
        size: output ``(height, width)`` in pixels.
        eyes: target ``(x, y)`` of the left and right eye as fractions of the output width/height.
        grayscale: return ``(h, w)`` greyscale instead of ``(h, w, 3)`` RGB.

    Returns:
        ``(size[0], size[1])`` uint8 if ``grayscale`` else ``(size[0], size[1], 3)`` uint8.

    Raises:
        ValueError: a malformed image, eye points that are not two numbers each, or eyes
            less than one pixel apart.
    """
    import cv2

    if image.ndim not in (2, 3) or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) or (H, W) uint8, got {image.shape} {image.dtype}")
    try:
        src = np.asarray([left_eye, right_eye], dtype=np.float64)
    except (TypeError, ValueError):
        src = np.zeros(0)
    if src.shape != (2, 2) or not np.isfinite(src).all():
        raise ValueError(f"eyes must be two (x, y) points, got {left_eye!r}, {right_eye!r}")
    out_h, out_w = size
    dst = np.asarray(eyes, dtype=np.float64) * np.array([out_w, out_h])
    d_src, d_dst = src[1] - src[0], dst[1] - dst[0]
    if np.hypot(*d_src) < 1.0:
        raise ValueError(f"eyes must be at least one pixel apart, got {left_eye!r}, {right_eye!r}")
    scale = np.hypot(*d_dst) / np.hypot(*d_src)
    angle = np.arctan2(d_dst[1], d_dst[0]) - np.arctan2(d_src[1], d_src[0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = np.hstack([rot, (dst[0] - rot @ src[0]).reshape(2, 1)])
    src_img = to_grayscale(image) if grayscale else image
    if scale < 0.5:  # anti-alias before a large reduction
        sigma = 0.5 / scale
        src_img = cv2.GaussianBlur(src_img, (0, 0), sigmaX=sigma)
    return np.ascontiguousarray(cv2.warpAffine(np.ascontiguousarray(src_img), matrix, (out_w, out_h),
                                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))


def crop_detected_face(
    image: np.ndarray,
    box: Any,
    size: tuple[int, int] = (48, 48),
    margin: float = 0.2,
    grayscale: bool = True,
) -> np.ndarray:
    """The model crop of one detected face: aligned on its eyes when the detector found them.

    A box with both ``left_eye`` and ``right_eye`` set (a landmark detector such as ``mtcnn``)
    goes through :func:`align_face` (eyes level, FER2013's scale); any other box through
    :func:`crop_face` with ``margin``. The pipelines crop every detected face this way, so a
    model sees faces framed the same in a photo as in its training crops.

    Args:
        image: ``(H, W, 3)`` uint8 RGB or ``(H, W)`` uint8 greyscale.
        box: a :class:`facevox.FaceBox` (or anything with ``x, y, w, h`` and optional eye attributes).
        size: output ``(height, width)`` in pixels.
        margin: :func:`crop_face`'s margin, used only without eyes.
        grayscale: return ``(h, w)`` greyscale instead of ``(h, w, 3)`` RGB.

    Returns:
        ``(size[0], size[1])`` uint8 if ``grayscale`` else ``(size[0], size[1], 3)`` uint8.

    Raises:
        ValueError: as :func:`align_face` or :func:`crop_face`.
    """
    left, right = getattr(box, "left_eye", None), getattr(box, "right_eye", None)
    if left is not None and right is not None:
        return align_face(image, left, right, size, grayscale=grayscale)
    return crop_face(image, box, size, margin, grayscale=grayscale)


def find_images(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and folders (recursively, sorted) into image files.

    Files named explicitly are kept whatever their suffix (so an unreadable one is reported,
    not skipped); inside folders only files with a suffix in :data:`IMAGE_SUFFIXES` count.
    A path that does not exist but holds glob characters (``*?[``) is expanded with
    :func:`glob.glob` (``**`` recursive; sorted; only image suffixes), for patterns too long
    for a shell's argument list. Missing paths are kept too, so the caller reports them.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists() and any(c in str(p) for c in "*?["):
            matches = sorted(Path(m) for m in glob.glob(str(p), recursive=True))
            out.extend(m for m in matches if m.is_file() and m.suffix.lower() in IMAGE_SUFFIXES)
            continue
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(p)
    return out
