"""Photo -> faces -> emotions: :class:`FaceEmotionPipeline` and :func:`recognize_emotions`.

Usage::

    from facevox.pipelines import FaceEmotionPipeline
    faces = FaceEmotionPipeline()("photo.jpg")       # [FaceEmotion(box, emotion, scores), ...]
    print(faces[0].emotion, faces[0].scores["happy"])

Each image is read with :func:`facevox.images.load_image` (any mode, EXIF orientation
applied), faces are found by a registered face detector (default: :func:`facevox.default_face_detector`),
cropped with a margin (or, when the detector found both eyes, aligned on them), converted to
greyscale, resized to the model's input and classified by a registered expression model
(default: :func:`facevox.default_model` of ``Task.EXPRESSION_CLASSIFICATION``), averaging the probabilities of the crop and its mirror
image and of five 40-of-48 sub-crops and their mirrors (``tta="crops"``, the default: the 10-crop
TTA of Khaireddin & Chen 2021 plus the whole face; ``tta="flip"`` is the crop and its mirror,
``tta=False`` the crop alone). Probabilities use the model's fitted
softmax ``temperature`` (calibrated confidences).
"""

from __future__ import annotations

import enum
import os
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from facevox.batching import DynamicBatcher
from facevox.card import Task
from facevox.compat import cpu_has_bf16
from facevox.images import ImageReadError, crop_detected_face, load_image, to_grayscale
from facevox.registry import (
    UntrainedModelWarning,
    create_face_detector,
    create_model,
    default_model,
    get_model_spec,
)
from facevox.roles import ExpressionClassifier, FaceBox, FaceDetector

__all__ = [
    "TTA",
    "cpu_has_bf16",
    "FaceEmotion",
    "FaceEmotionPipeline",
    "ImageEmotions",
    "UntrainedModelWarning",
    "largest_face",
    "recognize_emotions",
]



@dataclass
class FaceEmotion:
    """One face and its expression.

    Attributes:
        box: ``[x, y, w, h]`` in pixels of the EXIF-rotated image (the whole image with
            ``detect=False``).
        emotion: the most probable label.
        scores: ``{label: probability}`` for every label of the model, summing to 1.
        left_eye, right_eye: eye centres ``[x, y]`` in pixels of the same image (the eye on the
            image's left first) when the detector found them (``mtcnn`` does); the crop was then
            aligned on them. ``None`` otherwise.
    """

    box: list[int]
    emotion: str
    scores: dict[str, float]
    left_eye: list[float] | None = None
    right_eye: list[float] | None = None

    @property
    def area(self) -> int:
        """Area of :attr:`box` in square pixels (:attr:`facevox.FaceBox.area`)."""
        return _box_area(self.box)

    def to_dict(self) -> dict[str, Any]:
        """``{"box": [x, y, w, h], "emotion": ..., "scores": {...}}`` (JSON-ready), plus
        ``"left_eye"`` / ``"right_eye"`` ``[x, y]`` when the detector found the eyes."""
        out: dict[str, Any] = {"box": list(self.box), "emotion": self.emotion,
                               "scores": {k: round(float(v), 6) for k, v in self.scores.items()}}
        if self.left_eye is not None and self.right_eye is not None:
            out.update(left_eye=list(self.left_eye), right_eye=list(self.right_eye))
        return out


def largest_face(faces: Sequence[Any]) -> int:
    """Index of the face with the largest box (the first of equal ones): the face a
    single-face pipeline (face -> voice, the demo) uses when none is chosen.

    Args:
        faces: :class:`FaceEmotion` results, or anything with a ``box`` that is a
            :class:`facevox.FaceBox` or ``[x, y, w, h]``.

    Raises:
        ValueError: ``faces`` is empty.
    """
    if not faces:
        raise ValueError("largest_face() needs at least one face; got none")
    return max(range(len(faces)), key=lambda i: _box_area(faces[i].box))


def _box_area(box: Any) -> int:
    if isinstance(box, FaceBox):
        return box.area
    x, y, w, h = (int(v) for v in list(box)[:4])
    return FaceBox(x, y, w, h).area


@dataclass
class ImageEmotions:
    """Result for one file of :meth:`FaceEmotionPipeline.run_many`.

    Attributes:
        path: the file.
        faces: detected faces (empty when there is none or on error).
        error: ``None``, or why the file could not be processed (the file is named).
    """

    path: str
    faces: list[FaceEmotion] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"path": ..., "faces": [...]}`` plus ``"error"`` when there is one."""
        out: dict[str, Any] = {"path": self.path, "faces": [f.to_dict() for f in self.faces]}
        if self.error is not None:
            out["error"] = self.error
        return out


class TTA(str, enum.Enum):
    """Test-time augmentation of :class:`FaceEmotionPipeline`: the views of each face crop whose
    probabilities are averaged.

    * ``none``: the crop alone;
    * ``flip``: the crop and its horizontal mirror (2 views);
    * ``crops``: ``flip`` plus the four corner and the centre sub-crops of side
      :data:`TTA_CROP_FRACTION` and their mirrors (12 views; Khaireddin & Chen 2021's
      10-crop TTA with the whole face added; the pipeline default: +1.5 points on PublicTest
      over ``flip`` for ``expression.resmasknet``).
    """

    NONE = "none"
    FLIP = "flip"
    CROPS = "crops"

    @classmethod
    def parse(cls, value: bool | str | TTA) -> TTA:
        """``True`` -> ``flip``, ``False`` -> ``none``, or a member / its value.

        Raises:
            ValueError: any other value (the message lists the accepted ones).
        """
        if isinstance(value, bool):
            return cls.FLIP if value else cls.NONE
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"tta must be True, False or one of {[m.value for m in cls]}, got {value!r}") from None


TTA_CROP_FRACTION = 40 / 48
"""Side of the ``crops`` TTA sub-crops as a fraction of the model input (40 of 48 pixels, the
training crops of ``expression.resmasknet``)."""


class FaceEmotionPipeline:
    """Detect faces in photos and classify their expressions.

    Args:
        model: a registered expression model name (default: the registry's,
            :func:`facevox.default_model`) or an :class:`facevox.ExpressionClassifier` instance.
        detector: a registered face detector name (default: :func:`facevox.default_face_detector`) or a
            :class:`facevox.FaceDetector` instance. Built lazily: ``detect=False`` never
            needs it.
        tta: test-time augmentation (:class:`TTA`): ``"crops"`` (default) averages the
            probabilities of the crop, five sub-crops and their mirrors; ``True`` / ``"flip"``
            of the crop and its mirror; ``False`` / ``"none"`` uses the crop alone.
        margin: fraction of the face box added on each side before cropping.
        mean, std: input normalisation (pixels scaled to ``[0, 1]``); default: the model
            card's ``preprocessing`` (a registered model), else ``0`` and ``1`` with a
            ``UserWarning`` (an unregistered instance: its training normalisation is unknown).
        bf16: classify in bfloat16 autocast on CPU (about 2x the crops/s; probabilities move
            by about 0.01); ``None`` (default): when :func:`facevox.compat.cpu_has_bf16`.
        max_batch_size: dynamic batching for servers: with ``> 1``, calls made at the same time
            from several threads classify their crops in one forward pass, up to this many
            images per pass (:class:`facevox.batching.DynamicBatcher`); ``1`` (default): each
            call runs alone. Results are the same either way.
        max_wait_s: with dynamic batching, seconds to wait for more calls after the first
            (default 0.005).

    Raises:
        facevox.UnknownModelError: unknown model or detector name.
        TypeError: ``model`` is neither a name nor an ExpressionClassifier.
        ValueError: an unknown ``tta``, ``max_batch_size < 1`` or ``max_wait_s < 0``.
    """

    def __init__(
        self,
        model: str | ExpressionClassifier | None = None,
        detector: str | FaceDetector | None = None,
        tta: bool | str | TTA = "crops",
        margin: float = 0.2,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        bf16: bool | None = None,
        max_batch_size: int = 1,
        max_wait_s: float = 0.005,
    ) -> None:
        self.tta = TTA.parse(tta)
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        self._batcher: DynamicBatcher[np.ndarray, np.ndarray] | None = (
            DynamicBatcher(self._classify_each, max_batch_size, max_wait_s, name="facevox-emotion-batcher")
            if max_batch_size > 1 else None
        )
        name = model if isinstance(model, str) else getattr(model, "facevox_name", None)
        if model is None or isinstance(model, str):
            name = model or default_model(Task.EXPRESSION_CLASSIFICATION)
            if not get_model_spec(name).has_weights:
                warnings.warn(
                    f"expression model {name!r} ships no trained weights; its predictions are meaningless "
                    f"(train it with `facevox train expression`, or pass a trained model)",
                    UntrainedModelWarning,
                    stacklevel=2,
                )
            built: Any = create_model(name)
        else:
            built = model
        if not isinstance(built, ExpressionClassifier):
            raise TypeError(
                f"model must be a registered expression model name or an ExpressionClassifier, "
                f"got {type(built).__name__}"
            )
        self.model = built  # the setter prepares the inference copy
        self.model_name = name
        pre = get_model_spec(name).card.preprocessing if name else None
        if pre is None and (mean is None or std is None):
            warnings.warn(
                f"FaceEmotionPipeline: the {type(built).__name__} instance has no registered name (facevox_name), "
                "so its input normalisation is unknown and mean 0 / std 1 on pixels in [0, 1] is assumed; pass "
                "mean= and std= (its card's preprocessing), or build it with facevox.create_model(name)",
                UserWarning,
                stacklevel=2,
            )
        self.mean = tuple(mean if mean is not None else (pre.mean if pre and pre.mean else (0.0,)))
        self.std = tuple(std if std is not None else (pre.std if pre and pre.std else (1.0,)))
        self.labels: tuple[str, ...] = tuple(built.labels)
        self.channels, self.height, self.width = built.input_size
        self.bf16 = cpu_has_bf16() if bf16 is None else bool(bf16)
        self.margin = margin
        self._detector = detector
        self._lock = threading.Lock()

    @property
    def model(self) -> ExpressionClassifier:
        """The expression classifier (eval mode). Classification runs on its
        :meth:`~facevox.ExpressionClassifier.for_inference` copy (BatchNorm folded), made when
        this is set: after changing the model's weights in place, assign it again."""
        return self._model

    @model.setter
    def model(self, model: ExpressionClassifier) -> None:
        self._model = model.eval()
        self._net = model.for_inference()

    @property
    def detector(self) -> FaceDetector:
        """The face detector (built on first use)."""
        with self._lock:
            if not isinstance(self._detector, FaceDetector):
                self._detector = create_face_detector(self._detector)
            return self._detector

    # ------------------------------------------------------------------ stages
    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Face boxes of an ``(H, W, 3)`` uint8 RGB image, largest first."""
        return self.detector.detect(image)

    def crops(self, image: np.ndarray, boxes: Sequence[FaceBox]) -> np.ndarray:
        """``(N, h, w)`` uint8 greyscale (or ``(N, h, w, 3)`` RGB for 3-channel models) crops."""
        grey = self.channels == 1
        shape = (0, self.height, self.width) if grey else (0, self.height, self.width, 3)
        if not boxes:
            return np.zeros(shape, dtype=np.uint8)
        size = (self.height, self.width)
        return np.stack([crop_detected_face(image, b, size, self.margin, grayscale=grey) for b in boxes])

    @torch.no_grad()
    def classify(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, K)`` float32 for uint8 crops ``(N, h, w)`` or ``(N, h, w, 3)``."""
        if len(crops) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        x = torch.from_numpy(np.ascontiguousarray(crops)).float().div_(255.0)
        x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
        mean = torch.tensor(self.mean, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype).view(1, -1, 1, 1)
        x = (x - mean) / std
        temperature = float(self.model.temperature)
        views = [x]
        if self.tta is TTA.CROPS:
            h, w = x.shape[-2:]
            ch, cw = round(h * TTA_CROP_FRACTION), round(w * TTA_CROP_FRACTION)
            offsets = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), ((h - ch) // 2, (w - cw) // 2)]
            views += [x[..., y0 : y0 + ch, x0 : x0 + cw] for y0, x0 in offsets]
        if self.tta is not TTA.NONE:
            views += [torch.flip(v, dims=[-1]) for v in views]
        probs = torch.zeros(len(x), len(self.labels))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            for size in sorted({tuple(v.shape[-2:]) for v in views}):  # one batch per view size
                same = [v for v in views if tuple(v.shape[-2:]) == size]
                logits = self._net(torch.cat(same).contiguous(memory_format=torch.channels_last)).float()
                probs += torch.softmax(logits / temperature, -1).view(len(same), len(x), -1).sum(0)
        return (probs / len(views)).numpy()

    def _classify_each(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """One forward pass for the crops of several images; their probabilities, split back."""
        probs = self.classify(np.concatenate(crops))
        return np.split(probs, np.cumsum([len(c) for c in crops])[:-1])

    def _faces(self, boxes: Sequence[FaceBox], probs: np.ndarray) -> list[FaceEmotion]:
        return [
            FaceEmotion(box=b.as_list(), emotion=self.labels[int(p.argmax())],
                        scores={label: float(v) for label, v in zip(self.labels, p, strict=True)},
                        left_eye=None if b.left_eye is None else list(b.left_eye),
                        right_eye=None if b.right_eye is None else list(b.right_eye))
            for b, p in zip(boxes, probs, strict=True)
        ]

    def _prepare(self, image: Any, detect: bool) -> tuple[list[FaceBox], np.ndarray]:
        array = load_image(image)
        h, w = array.shape[:2]
        if not detect:
            return [FaceBox(0, 0, w, h)], self._whole(array)
        boxes = self.detect(array)
        return boxes, self.crops(array, boxes)

    def _whole(self, array: np.ndarray) -> np.ndarray:
        """The whole image as one crop (already-cropped faces), resized without cropping."""
        import cv2

        img = to_grayscale(array) if self.channels == 1 else array
        interp = cv2.INTER_AREA if img.shape[0] >= self.height else cv2.INTER_LINEAR
        return cv2.resize(img, (self.width, self.height), interpolation=interp)[None]

    # ------------------------------------------------------------------ calls
    def __call__(self, image: Any, detect: bool = True) -> list[FaceEmotion]:
        """Faces and emotions of one image.

        Args:
            image: path, encoded bytes, PIL image or ``(H, W, 3)`` uint8 RGB array.
            detect: find faces (``True``), or treat the whole image as one face crop.

        Returns:
            one :class:`FaceEmotion` per face, largest first; ``[]`` when no face is found.

        Raises:
            facevox.images.ImageReadError: the image cannot be read (the file is named).
        """
        boxes, crops = self._prepare(image, detect)
        if self._batcher is not None and len(crops):
            return self._faces(boxes, self._batcher(crops))
        return self._faces(boxes, self.classify(crops))

    def iter_many(
        self, paths: Iterable[str | os.PathLike[str]], batch_size: int = 64, detect: bool = True
    ) -> Iterator[ImageEmotions]:
        """Like :meth:`run_many`, yielding each file's result as soon as its batch is done."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        pending: list[tuple[ImageEmotions, list[FaceBox], np.ndarray]] = []
        n_crops = 0

        def flush() -> Iterator[ImageEmotions]:
            nonlocal pending, n_crops
            ready = [c for _, _, c in pending if len(c)]
            probs = self.classify(np.concatenate(ready)) if ready else np.zeros((0, len(self.labels)))
            start = 0
            for result, boxes, crops in pending:
                result.faces = self._faces(boxes, probs[start : start + len(crops)])
                start += len(crops)
                yield result
            pending, n_crops = [], 0

        for path in paths:
            result = ImageEmotions(path=str(path))
            try:
                boxes, crops = self._prepare(path, detect)
            except ImageReadError as exc:
                result.error = str(exc)
                pending.append((result, [], np.zeros((0,), dtype=np.uint8)))
                continue
            except (OSError, ValueError) as exc:
                result.error = f"cannot process {path}: {exc}"
                pending.append((result, [], np.zeros((0,), dtype=np.uint8)))
                continue
            pending.append((result, boxes, crops))
            n_crops += len(crops)
            if n_crops >= batch_size:
                yield from flush()
        if pending:
            yield from flush()

    def run_many(
        self, paths: Iterable[str | os.PathLike[str]], batch_size: int = 64, detect: bool = True
    ) -> list[ImageEmotions]:
        """Process many files, classifying their face crops in batches of about ``batch_size``.

        A file that cannot be read does not stop the run: its :class:`ImageEmotions` has
        ``error`` set (naming the file) and no faces.

        Returns:
            one :class:`ImageEmotions` per path, in input order.
        """
        return list(self.iter_many(paths, batch_size=batch_size, detect=detect))


_DEFAULT: dict[str, FaceEmotionPipeline] = {}
_DEFAULT_LOCK = threading.Lock()


def recognize_emotions(
    image: Any, model: str | None = None, detect: bool = True
) -> list[FaceEmotion]:
    """One call: faces and emotions of an image (path, bytes, PIL image or RGB array).

    The pipeline for ``model`` (``None``: the registry's default expression model) is built
    once and reused by later calls.

    Example::

        from facevox.pipelines import recognize_emotions
        [face.emotion for face in recognize_emotions("photo.jpg")]   # e.g. ["happy"]
    """
    name = model or default_model(Task.EXPRESSION_CLASSIFICATION)
    with _DEFAULT_LOCK:
        pipe = _DEFAULT.get(name)
        if pipe is None:
            pipe = _DEFAULT[name] = FaceEmotionPipeline(name)
    return pipe(image, detect=detect)
