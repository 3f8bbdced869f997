"""Face synthesis: reconstruct a detected face, re-render it with another expression, sample new faces.

Example::

    from facevox.pipelines import FaceSynthesisPipeline
    pipe = FaceSynthesisPipeline()                      # the registry's default face model
    happy = pipe.morph("photo.jpg", "happy")            # (1, 1, 48, 48) float32 in [0, 1]
    frames = pipe.morph("photo.jpg", "happy", steps=5)  # (5, 1, 48, 48): the face -> happy
    faces = pipe.sample(8, label="surprise", seed=0)    # (8, 1, 48, 48)

The face is found by a registered face detector (default :func:`facevox.default_face_detector`),
the largest one is cropped with :func:`facevox.images.crop_detected_face` (aligned on the eyes
when the detector finds them, as the default ``mtcnn`` does; otherwise a square crop with a 20 %
margin; greyscale for one-channel models) and scaled to ``[0, 1]``. Morphing and labelled sampling need a
:class:`facevox.ConditionalFaceAutoencoder` (a conditional VAE, Sohn, Lee & Yan 2015); sampling a
:class:`facevox.VariationalFaceAutoencoder`; reconstruction any :class:`facevox.FaceAutoencoder`.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import torch
from torch import Tensor

from facevox.card import Task
from facevox.errors import NoFaceError
from facevox.images import crop_detected_face, crop_face, load_image
from facevox.registry import create_face_detector, create_model, default_model
from facevox.roles import (
    ConditionalFaceAutoencoder,
    FaceAutoencoder,
    FaceBox,
    FaceDetector,
    VariationalFaceAutoencoder,
)

__all__ = ["FaceSynthesisPipeline"]

#: Face box margin added on each side before cropping (the face models' training crops).
_MARGIN = 0.2


class FaceSynthesisPipeline:
    """Photo -> face crop -> face model: reconstruction, expression morphs, samples.

    Args:
        model: a registered face-autoencoder name or a :class:`facevox.FaceAutoencoder`;
            ``None``: :func:`facevox.default_model` of ``Task.FACE_AUTOENCODER``.
        detector: a registered face detector name or a :class:`facevox.FaceDetector`;
            ``None``: :func:`facevox.default_face_detector`. Built on first use.

    Raises:
        facevox.UnknownModelError: unknown model or detector name.
        TypeError: ``model`` is neither a name nor a FaceAutoencoder.
    """

    def __init__(self, model: str | FaceAutoencoder | None = None, detector: str | FaceDetector | None = None) -> None:
        if model is None or isinstance(model, str):
            self.model_name = model or default_model(Task.FACE_AUTOENCODER)
            built: Any = create_model(self.model_name)
        else:
            self.model_name = str(getattr(model, "facevox_name", type(model).__name__))
            built = model
        if not isinstance(built, FaceAutoencoder):
            raise TypeError(f"model must be a facevox.FaceAutoencoder, got {type(built).__name__}")
        self.model: FaceAutoencoder = built.eval()
        self._detector_arg = detector
        self._detector: FaceDetector | None = detector if isinstance(detector, FaceDetector) else None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ faces in
    @property
    def labels(self) -> tuple[str, ...]:
        """Labels the model can render (``()`` for an unconditional model)."""
        model = self.model
        return tuple(model.labels) if isinstance(model, ConditionalFaceAutoencoder) else ()

    @property
    def detector(self) -> FaceDetector:
        """The face detector (built on first use)."""
        with self._lock:
            if self._detector is None:
                name = self._detector_arg if isinstance(self._detector_arg, str) else None
                self._detector = create_face_detector(name)
            return self._detector

    def face(self, image: Any, detect: bool = True) -> tuple[Tensor, FaceBox | None]:
        """The largest face of ``image`` as the model's input.

        Args:
            image: a path, encoded bytes, PIL image or RGB array (:func:`facevox.images.load_image`);
                or a crop this method returned, a ``(1, C, H, W)`` float tensor in ``[0, 1]`` at
                the model's input size, used as it is (so one photo is read once for many calls).
            detect: ``False``: the whole image is the face (as FER2013 images are).

        Returns:
            ``(crop, box)``: ``(1, C, H, W)`` float32 in ``[0, 1]`` at the model's input size,
            and the detected box (``None`` with ``detect=False``).

        Raises:
            facevox.NoFaceError: no face was found.
            facevox.images.ImageReadError: the image cannot be read.
            ValueError: a tensor that is not ``(1, C, H, W)`` at the model's input size in ``[0, 1]``.
        """
        c, h, w = self.model.input_size
        if isinstance(image, Tensor):
            if tuple(image.shape) != (1, c, h, w) or not image.is_floating_point():
                raise ValueError(f"a face tensor must be (1, {c}, {h}, {w}) float in [0, 1], got "
                                 f"{tuple(image.shape)} {image.dtype}")
            if image.numel() and (float(image.min()) < 0 or float(image.max()) > 1):
                raise ValueError("a face tensor must be in [0, 1]")
            return image.float(), None
        rgb = load_image(image)
        if detect:
            boxes = self.detector.detect(rgb)
            if not boxes:
                raise NoFaceError("no face was found in the image; use a photo with a clear frontal face, "
                                  "or pass detect=False for an image that is already a face crop")
            box: FaceBox | None = max(boxes, key=lambda b: b.area)
            crop = crop_detected_face(rgb, box, size=(h, w), margin=_MARGIN, grayscale=c == 1)
        else:
            box = None
            crop = crop_face(rgb, FaceBox(0, 0, rgb.shape[1], rgb.shape[0]), size=(h, w), margin=0.0,
                             grayscale=c == 1)
        array = np.ascontiguousarray(crop, dtype=np.uint8).reshape(h, w, c)
        tensor = torch.from_numpy(array).float().div_(255.0).permute(2, 0, 1).unsqueeze(0)
        return tensor.contiguous(), box

    # ------------------------------------------------------------------ faces out
    @torch.no_grad()
    def reconstruct(self, image: Any, detect: bool = True) -> Tensor:
        """The face passed through the autoencoder: ``(1, C, H, W)`` float32 in ``[0, 1]``."""
        crop, _ = self.face(image, detect)
        return self.model.reconstruct(crop)

    @torch.no_grad()
    def morph(self, image: Any, target: int | str, steps: int = 1, strength: float | None = None,
              detect: bool = True) -> Tensor:
        """The face re-rendered with label ``target`` (:meth:`facevox.ConditionalFaceAutoencoder.morph`).

        Returns:
            ``(1, C, H, W)`` for ``steps == 1``, else ``(steps, C, H, W)`` frames from the face to
            ``target``; float32 in ``[0, 1]``.

        Raises:
            ValueError: the model is not conditional, ``target`` is not one of :attr:`labels`,
                or ``steps < 1``.
            facevox.NoFaceError: no face was found.
        """
        model = self._conditional("morph")
        model.label_index(target)  # fails before the photo is read
        crop, _ = self.face(image, detect)
        return model.morph(crop, target, steps=steps, strength=strength)

    @torch.no_grad()
    def morph_all(self, image: Any, detect: bool = True) -> Tensor:
        """The face in every label, in :attr:`labels` order: ``(L, C, H, W)`` float32 in ``[0, 1]``."""
        model = self._conditional("morph")
        crop, _ = self.face(image, detect)
        return torch.cat([model.morph(crop, label) for label in model.labels])

    @torch.no_grad()
    def sample(self, n: int, label: int | str | None = None, seed: int | None = 0) -> Tensor:
        """``n`` new faces ``(n, C, H, W)`` float32 in ``[0, 1]`` (of label ``label``, or any).

        Args:
            n: number of faces, ``>= 1``.
            label: a name of :attr:`labels` or its index (conditional models only).
            seed: seeds the latent draw (``None``: not seeded).

        Raises:
            ValueError: ``n < 1``, the model is not variational, or ``label`` is given to an
                unconditional model or is not one of :attr:`labels`.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        model = self.model
        if not isinstance(model, VariationalFaceAutoencoder):
            raise ValueError(f"{self.model_name} cannot sample: it is not a variational face autoencoder")
        labels = None
        if label is not None:
            index = self._conditional("sample a label").label_index(label)
            labels = torch.full((n,), index, dtype=torch.long)
        generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        return model.sample(n, labels=labels, generator=generator)

    def _conditional(self, what: str) -> ConditionalFaceAutoencoder:
        if not isinstance(self.model, ConditionalFaceAutoencoder):
            raise ValueError(f"{self.model_name} cannot {what}: it is not a facevox.ConditionalFaceAutoencoder; "
                             "choose a conditional face model (facevox models --task face-autoencoder)")
        return self.model
