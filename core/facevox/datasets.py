"""Data set loaders shared by plugins and training recipes.

FER2013 (Goodfellow et al. 2013, "Challenges in Representation Learning: A report on three
machine learning contests", ICML workshop): 35,887 greyscale 48x48 faces in 7 expression
classes. Users have it in one of two layouts, both supported by :func:`load_fer2013`:

* the Kaggle folder layout ``<root>/<split>/<class>/*.jpg`` (``split`` in ``train``, ``val``
  / ``test``; ``class`` one of :data:`FER2013_LABELS`);
* the original ``fer2013.csv`` with columns ``emotion,pixels,Usage``, where ``emotion``
  indexes ``angry, disgust, fear, happy, sad, surprise, neutral`` (the *CSV* order) and
  ``Usage`` is ``Training`` / ``PublicTest`` / ``PrivateTest``.

Whatever the source, labels are returned as indices into :data:`FER2013_LABELS`
(alphabetical order, the Kaggle folder names), so models see one label order.

Example::

    from facevox.datasets import FER2013_LABELS, load_fer2013
    images, labels = load_fer2013("data/fer2013", "train")   # (N, 48, 48) uint8, (N,) int64
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = [
    "FER2013_CSV_LABELS",
    "FER2013_IMAGE_SIZE",
    "FER2013_LABELS",
    "FER2013_SPLITS",
    "FER2013Dataset",
    "load_fer2013",
]

FER2013_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
"""facevox's FER2013 label order (alphabetical; the Kaggle folder names)."""

FER2013_CSV_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""Label order of the ``emotion`` column of the original ``fer2013.csv``."""

FER2013_IMAGE_SIZE = 48
"""FER2013 images are ``48 x 48`` greyscale."""

FER2013_SPLITS: dict[str, tuple[str, ...]] = {
    # facevox split -> (accepted folder names, in preference order ; csv Usage value last)
    "train": ("train", "Training"),
    "val": ("val", "PublicTest"),
    "test": ("test", "PrivateTest"),
}
"""Accepted split names: ``train`` (CSV ``Training``), ``val`` (``PublicTest``), ``test``
(``PrivateTest``). Folder layouts may name the split folder either way; a Kaggle download that
has only ``train/`` and ``test/`` folders maps ``test/`` to ``val`` when ``val/`` is absent."""

_CSV_TO_FACEVOX = np.array([FER2013_LABELS.index(name) for name in FER2013_CSV_LABELS], dtype=np.int64)
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".webp", ".tif", ".tiff"}


def _check_split(split: str) -> str:
    split = split.lower()
    aliases = {"training": "train", "publictest": "val", "privatetest": "test"}
    split = aliases.get(split, split)
    if split not in FER2013_SPLITS:
        raise ValueError(f"unknown FER2013 split {split!r}; accepted: {', '.join(FER2013_SPLITS)}")
    return split


def load_fer2013(path: str | os.PathLike[str], split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Load one FER2013 split into memory.

    Args:
        path: either a folder root in the Kaggle layout (``<path>/<split>/<class>/*.jpg``) or
            the original ``fer2013.csv`` file.
        split: ``"train"``, ``"val"`` (original ``PublicTest``) or ``"test"``
            (``PrivateTest``); the CSV ``Usage`` names are accepted too.

    Returns:
        ``(images, labels)``: ``images`` ``(N, 48, 48)`` uint8 greyscale (0 black, 255 white);
        ``labels`` ``(N,)`` int64 indices into :data:`FER2013_LABELS`. Folder images are
        sorted by class then file name, CSV rows keep file order.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no folder for ``split``.
        ValueError: unknown split, malformed CSV row, an image that is not 48x48 after
            greyscale conversion, an unknown class folder, or an empty split.
    """
    split = _check_split(split)
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"FER2013 data not found at {root} (expected a folder root or fer2013.csv)")
    if root.is_file():
        return _load_csv(root, split)
    return _load_folders(root, split)


def _load_csv(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    usage = FER2013_SPLITS[split][-1]
    images: list[np.ndarray] = []
    labels: list[int] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(
                f"{path}: missing CSV column(s) {sorted(missing)}; expected header 'emotion,pixels,Usage'"
            )
        for line, row in enumerate(reader, start=2):
            if row["Usage"].strip() != usage:
                continue
            try:
                emotion = int(row["emotion"])
                pixels = np.array(row["pixels"].split(), dtype=np.int64)
            except ValueError as exc:
                raise ValueError(f"{path}:{line}: malformed row ({exc})") from None
            if not 0 <= emotion < len(FER2013_CSV_LABELS):
                raise ValueError(f"{path}:{line}: emotion {emotion} not in 0..{len(FER2013_CSV_LABELS) - 1}")
            side = FER2013_IMAGE_SIZE
            if pixels.size != side * side or pixels.min(initial=0) < 0 or pixels.max(initial=0) > 255:
                raise ValueError(
                    f"{path}:{line}: 'pixels' must hold {side * side} integers in 0..255, got {pixels.size}"
                )
            images.append(pixels.astype(np.uint8).reshape(side, side))
            labels.append(int(_CSV_TO_FACEVOX[emotion]))
    if not images:
        raise ValueError(f"{path}: no rows with Usage == {usage!r} (split {split!r})")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def _split_folder(root: Path, split: str) -> Path:
    for name in FER2013_SPLITS[split]:
        if (root / name).is_dir():
            return root / name
    if split == "val" and (root / "test").is_dir():
        return root / "test"  # Kaggle's download has train/ and test/ (= PublicTest)
    found = sorted(p.name for p in root.iterdir() if p.is_dir())
    raise FileNotFoundError(
        f"no folder for split {split!r} under {root} (looked for {list(FER2013_SPLITS[split])}; found {found})"
    )


def _read_grey(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("L"), dtype=np.uint8)
    side = FER2013_IMAGE_SIZE
    if arr.shape != (side, side):
        raise ValueError(f"{path}: FER2013 images must be {side}x{side}, got {arr.shape[1]}x{arr.shape[0]}")
    return arr


def _load_folders(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    folder = _split_folder(root, split)
    files: list[Path] = []
    labels: list[int] = []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        name = class_dir.name.lower()
        if name not in FER2013_LABELS:
            raise ValueError(
                f"{class_dir}: unknown class folder {class_dir.name!r}; accepted: {', '.join(FER2013_LABELS)}"
            )
        found = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        files.extend(found)
        labels.extend([FER2013_LABELS.index(name)] * len(found))
    if not files:
        raise ValueError(f"{folder}: no images found (expected <class>/*.jpg with classes {FER2013_LABELS})")
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        images = list(pool.map(_read_grey, files, chunksize=256))
    return np.stack(images), np.asarray(labels, dtype=np.int64)


class FER2013Dataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """In-memory FER2013 split as a :class:`torch.utils.data.Dataset`.

    Items are ``(image, label)``: ``image`` ``(1, 48, 48)`` float32 in ``[0, 1]`` after the
    optional ``transform`` (called on that tensor), ``label`` a scalar int64 tensor indexing
    :data:`FER2013_LABELS`. For fast training use :attr:`images` / :attr:`labels` directly
    (``(N, 48, 48)`` uint8 and ``(N,)`` int64 tensors) and augment whole batches.
    """

    labels_names = FER2013_LABELS

    def __init__(
        self,
        path: str | os.PathLike[str],
        split: str = "train",
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        images, labels = load_fer2013(path, split)
        self.images = torch.from_numpy(images)
        self.labels = torch.from_numpy(labels)
        self.transform = transform

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index].unsqueeze(0).float().div_(255.0)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]

    def class_counts(self) -> torch.Tensor:
        """``(7,)`` int64 number of images per class."""
        return torch.bincount(self.labels, minlength=len(FER2013_LABELS))
