"""Face detection with OpenCV's Haar cascade (Viola & Jones 2001), shipped in opencv-python.

No download: the cascade XML files come with ``opencv-python-headless`` under
``cv2.data.haarcascades``. Registered as ``opencv.haar`` (the default detector).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from facevox import FaceBox, FaceDetector

__all__ = ["HaarFaceDetector"]


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
        path = Path(cascade)
        if not path.is_file():
            path = Path(cv2.data.haarcascades) / cascade
        self._classifier = cv2.CascadeClassifier(str(path))
        if self._classifier.empty():
            raise FileNotFoundError(f"cannot load Haar cascade {cascade!r} (looked in {cv2.data.haarcascades})")
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
        found = self._classifier.detectMultiScale(
            grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(min_side, min_side)
        )
        boxes = [
            FaceBox(int(round(x / scale)), int(round(y / scale)), int(round(bw / scale)), int(round(bh / scale)))
            for x, y, bw, bh in (found if len(found) else [])
        ]
        return sorted(boxes, key=lambda b: b.w * b.h, reverse=True)
