"""Images -> 48x48 greyscale face crops for the face autoencoders.

Photos go through the registered face detector (``facevox.create_face_detector()``, OpenCV's
Haar cascade by default); the largest face is cropped with the detector plugin's margin,
converted to greyscale and resized (``facevox.images.crop_face``). With ``detect=False`` the
whole image is taken as the face crop (as FER2013 images are).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from facevox import FaceBox, FaceDetector, NoFaceError
from torch import Tensor

__all__ = ["FaceCrop", "NoFaceError", "collect_images", "load_face", "load_faces"]  # NoFaceError: facevox.NoFaceError, re-exported


@dataclass
class FaceCrop:
    """One face prepared for a face model.

    Attributes:
        path: the source image.
        image: ``(1, 1, H, W)`` float32 in ``[0, 1]`` (0 black).
        box: where the face was found (``None`` with ``detect=False``).
    """

    path: Path
    image: Tensor
    box: FaceBox | None


def collect_images(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand inputs to image files (``facevox.images.find_images``: folders recursively, sorted).

    Missing files are kept so that the caller reports them with the other failures.

    Raises:
        FileNotFoundError: nothing to process (e.g. a folder without images).
    """
    from facevox.images import IMAGE_SUFFIXES, find_images

    inputs = list(inputs)
    files = find_images(inputs)
    if not files:
        raise FileNotFoundError(f"no image in {', '.join(map(str, inputs))} (accepted: {', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def _to_tensor(grey: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(grey, dtype=np.uint8)).float().div_(255.0)[None, None]


def load_face(path: str | os.PathLike[str], size: Sequence[int] = (48, 48), detect: bool = True,
              detector: FaceDetector | None = None) -> FaceCrop:
    """Load one image and return its (largest) face as a model input.

    Args:
        path: an image file in any format Pillow reads (EXIF orientation respected).
        size: ``(height, width)`` of the crop in pixels.
        detect: find the face with ``detector``; ``False``: the image is already a face crop.
        detector: defaults to ``facevox.create_face_detector()``.

    Raises:
        NoFaceError: ``detect`` is true and no face was found.
        ValueError / OSError: the file is not a readable image (the message names it).
    """
    from facevox.images import crop_face, load_image

    path = Path(path)
    rgb = load_image(path)
    h, w = int(size[0]), int(size[1])
    if not detect:
        box = FaceBox(0, 0, rgb.shape[1], rgb.shape[0])
        return FaceCrop(path, _to_tensor(crop_face(rgb, box, size=(h, w), margin=0.0)), None)
    if detector is None:
        import facevox

        detector = facevox.create_face_detector()
    boxes = detector.detect(rgb)
    if not boxes:
        raise NoFaceError(f"{path}: no face found (pass --no-detect if the image is already a face crop)")
    return FaceCrop(path, _to_tensor(crop_face(rgb, boxes[0], size=(h, w))), boxes[0])


def load_faces(paths: Iterable[str | os.PathLike[str]], size: Sequence[int] = (48, 48), detect: bool = True,
               detector: FaceDetector | None = None) -> tuple[list[FaceCrop], list[tuple[Path, str]]]:
    """:func:`load_face` for many files; failures do not stop the batch.

    Returns:
        ``(crops, failures)``: the faces found, and ``(path, reason)`` for each file that could
        not be read or had no face.
    """
    if detect and detector is None:
        import facevox

        detector = facevox.create_face_detector()
    crops: list[FaceCrop] = []
    failures: list[tuple[Path, str]] = []
    for path in paths:
        try:
            crops.append(load_face(path, size, detect, detector))
        except (OSError, ValueError) as exc:
            failures.append((Path(path), str(exc)))
    return crops, failures
