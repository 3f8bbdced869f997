"""Face detection with OpenCV's Haar cascade (Viola & Jones 2001), shipped in opencv-python.

No download: the cascade XML files come with ``opencv-python-headless`` under
``cv2.data.haarcascades``. Registered as ``opencv.haar`` (the default detector) and
``opencv.haar_eyes``, which also finds both eyes in each face with OpenCV's eye cascade so the
pipelines align the crop on them (eyes level, FER2013's scale: :func:`facevox.images.align_face`).

Both are safe to call from many threads at once (a web server's workers): OpenCV's
``CascadeClassifier`` is not (sharing one between threads corrupts the heap, opencv/opencv
issue 10532), so each thread gets its own copy of the cascade, loaded on its first call.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from facevox import FaceBox, FaceDetector

__all__ = ["HaarEyeFaceDetector", "HaarFaceDetector"]



def _load_cascade(cascade: str) -> cv2.CascadeClassifier:
    """A Haar cascade from a path or a file name under ``cv2.data.haarcascades``.

    Raises:
        FileNotFoundError: neither holds a loadable cascade.
    """
    path = Path(cascade)
    if not path.is_file():
        path = Path(cv2.data.haarcascades) / cascade
    classifier = cv2.CascadeClassifier(str(path))
    if classifier.empty():
        raise FileNotFoundError(f"cannot load Haar cascade {cascade!r} (looked in {cv2.data.haarcascades})")
    return classifier


class _PerThreadCascade:
    """One :class:`cv2.CascadeClassifier` per calling thread (they must not be shared)."""

    def __init__(self, cascade: str) -> None:
        self.cascade = cascade
        self._local = threading.local()
        self._local.classifier = _load_cascade(cascade)  # fails here, in the constructor, if bad

    def get(self) -> cv2.CascadeClassifier:
        classifier = getattr(self._local, "classifier", None)
        if classifier is None:
            classifier = self._local.classifier = _load_cascade(self.cascade)
        return classifier


class HaarFaceDetector(FaceDetector):
    """Frontal-face Haar cascade detector.

    Images larger than ``max_side`` are downscaled for detection (speed) and the boxes scaled
    back. Detection runs on the histogram-equalised greyscale image. The default cascade is
    ``frontalface_alt2`` (fewer false faces than ``frontalface_default`` on textured
    backgrounds, e.g. scikit-image's astronaut photo).

    Args:
        cascade: file name under ``cv2.data.haarcascades`` or a path to a cascade XML.
        scale_factor: image pyramid step of ``detectMultiScale`` (``> 1``).
        min_neighbors: overlapping detections needed to keep a face (higher: fewer false faces).
        min_size_fraction: smallest face side as a fraction of the shorter image side.
        max_side: longest side the image is reduced to before detection (pixels).
    """

    name = "opencv.haar"

    def __init__(
        self,
        cascade: str = "haarcascade_frontalface_alt2.xml",
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size_fraction: float = 0.08,
        max_side: int = 400,
    ) -> None:
        self._classifier = _PerThreadCascade(cascade)
        if scale_factor <= 1.0:
            raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size_fraction = min_size_fraction
        self.max_side = max_side

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in an ``(H, W, 3)`` uint8 RGB (or ``(H, W)`` greyscale) image, largest first; ``[]`` if none."""
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise ValueError(f"image must be (H, W, 3) or (H, W) uint8, got {image.shape} {image.dtype}")
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        h, w = grey.shape
        scale = min(1.0, self.max_side / max(h, w))
        if scale < 1.0:
            grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(grey)
        min_side = max(20, int(min(grey.shape) * self.min_size_fraction))
        found = self._classifier.get().detectMultiScale(
            grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(min_side, min_side)
        )
        boxes = [
            FaceBox(int(round(x / scale)), int(round(y / scale)), int(round(bw / scale)), int(round(bh / scale)))
            for x, y, bw, bh in (found if len(found) else [])
        ]
        return sorted(boxes, key=lambda b: b.area, reverse=True)


class HaarEyeFaceDetector(HaarFaceDetector):
    """:class:`HaarFaceDetector` plus eye landmarks, for aligned crops.

    In each face, OpenCV's ``haarcascade_eye`` searches the upper 60 % of the box (resized to
    ``eye_side`` pixels wide); the strongest detection in each half of the face becomes that
    eye. The pair is kept only if it is plausible: eye distance 0.25-0.65 of the box width and
    the eye line within ``max_tilt`` degrees of level; otherwise the face keeps its box alone
    (the pipelines then fall back to the plain box crop). Faces are returned as
    :class:`facevox.FaceBox` with ``left_eye`` / ``right_eye`` in image pixels.

    Args:
        eye_cascade: file name under ``cv2.data.haarcascades`` or a path.
        eye_side: width in pixels the face box is resized to for the eye search.
        max_tilt: largest accepted eye-line angle, degrees.
        **kwargs: :class:`HaarFaceDetector` arguments.
    """

    name = "opencv.haar_eyes"

    def __init__(self, eye_cascade: str = "haarcascade_eye.xml", eye_side: int = 144, max_tilt: float = 30.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._eyes = _PerThreadCascade(eye_cascade)
        if eye_side < 48:
            raise ValueError(f"eye_side must be >= 48 pixels, got {eye_side}")
        self.eye_side = eye_side
        self.max_tilt = max_tilt

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces (largest first) with ``left_eye`` / ``right_eye`` set where both eyes were found."""
        boxes = super().detect(image)
        if not boxes:
            return boxes
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        return [self._with_eyes(grey, b) for b in boxes]

    def _with_eyes(self, grey: np.ndarray, box: FaceBox) -> FaceBox:
        h, w = grey.shape
        x0, y0 = max(box.x, 0), max(box.y, 0)
        x1, y1 = min(box.x + box.w, w), min(box.y + int(box.h * 0.6), h)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return box
        f = self.eye_side / (x1 - x0)
        region = cv2.resize(grey[y0:y1, x0:x1], (self.eye_side, max(1, round((y1 - y0) * f))),
                            interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        found, _, weights = self._eyes.get().detectMultiScale3(
            cv2.equalizeHist(region), scaleFactor=1.1, minNeighbors=3, minSize=(self.eye_side // 8,) * 2,
            maxSize=(self.eye_side // 2,) * 2, outputRejectLevels=True)
        best: dict[int, tuple[float, float, float]] = {}
        for (ex, ey, ew, eh), score in zip(found if len(found) else [], np.ravel(weights), strict=False):
            cx, cy = ex + ew / 2, ey + eh / 2
            side = 0 if cx < self.eye_side / 2 else 1
            if side not in best or score > best[side][2]:
                best[side] = (cx, cy, float(score))
        if len(best) < 2:
            return box
        (lx, ly, _), (rx, ry, _) = best[0], best[1]
        dist = np.hypot(rx - lx, ry - ly) / self.eye_side
        tilt = abs(np.degrees(np.arctan2(ry - ly, rx - lx)))
        if not 0.25 <= dist <= 0.65 or tilt > self.max_tilt:
            return box
        left = (x0 + lx / f, y0 + ly / f)
        right = (x0 + rx / f, y0 + ry / f)
        return replace(box, left_eye=(round(float(left[0]), 1), round(float(left[1]), 1)),
                       right_eye=(round(float(right[0]), 1), round(float(right[1]), 1)))
