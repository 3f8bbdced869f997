"""FER2013 loaders: the Kaggle folder layout and the original fer2013.csv, with tiny fixtures."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from facevox.datasets import FER2013_CSV_LABELS, FER2013_LABELS, FER2013Dataset, load_fer2013
from PIL import Image


def _face(value: int) -> np.ndarray:
    """A 48x48 image whose pixels encode ``value`` (so each sample is recognisable)."""
    img = np.full((48, 48), value, dtype=np.uint8)
    img[0, 0] = 255 - value
    return img


def _write_csv(path: Path, rows: list[tuple[int, np.ndarray, str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for emotion, img, usage in rows:
            writer.writerow([emotion, " ".join(str(int(v)) for v in img.ravel()), usage])
    return path


@pytest.fixture()
def fer_csv(tmp_path: Path) -> Path:
    # one Training row per CSV class index, plus one PublicTest and one PrivateTest row
    rows = [(i, _face(10 * i), "Training") for i in range(7)]
    rows += [(6, _face(100), "PublicTest"), (1, _face(120), "PrivateTest")]
    return _write_csv(tmp_path / "fer2013.csv", rows)


def test_csv_remaps_label_order_and_splits(fer_csv: Path) -> None:
    images, labels = load_fer2013(fer_csv, "train")
    assert images.shape == (7, 48, 48) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    # row i has CSV index i; its facevox label must name the same emotion
    for i in range(7):
        assert FER2013_LABELS[labels[i]] == FER2013_CSV_LABELS[i]
        assert images[i, 1, 1] == 10 * i and images[i, 0, 0] == 255 - 10 * i  # row-major pixels
    assert FER2013_LABELS[labels[4]] == "sad" and FER2013_LABELS[labels[6]] == "neutral"

    val_images, val_labels = load_fer2013(fer_csv, "val")
    assert val_images.shape == (1, 48, 48) and FER2013_LABELS[val_labels[0]] == "neutral"
    test_images, test_labels = load_fer2013(fer_csv, "PrivateTest")  # CSV usage names accepted
    assert test_images[0, 1, 1] == 120 and FER2013_LABELS[test_labels[0]] == "disgust"


def test_csv_errors_name_the_problem(tmp_path: Path, fer_csv: Path) -> None:
    with pytest.raises(ValueError, match="accepted: train, val, test"):
        load_fer2013(fer_csv, "holdout")
    bad = tmp_path / "bad.csv"
    bad.write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    with pytest.raises(ValueError, match=r"bad.csv:2: 'pixels' must hold 2304"):
        load_fer2013(bad, "train")
    wrong_header = tmp_path / "wrong.csv"
    wrong_header.write_text("label,pixels\n")
    with pytest.raises(ValueError, match="missing CSV column"):
        load_fer2013(wrong_header, "train")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_fer2013(tmp_path / "missing", "train")


def _write_folder(root: Path, split: str, per_class: dict[str, list[int]]) -> None:
    for name, values in per_class.items():
        (root / split / name).mkdir(parents=True, exist_ok=True)
        for j, value in enumerate(values):
            Image.fromarray(_face(value)).save(root / split / name / f"img_{j}.png")


def test_folder_layout(tmp_path: Path) -> None:
    _write_folder(tmp_path, "train", {"happy": [30, 40], "angry": [50], "surprise": [60]})
    _write_folder(tmp_path, "val", {"neutral": [70]})
    images, labels = load_fer2013(tmp_path, "train")
    assert images.shape == (4, 48, 48) and images.dtype == np.uint8
    names = [FER2013_LABELS[i] for i in labels]
    assert names == ["angry", "happy", "happy", "surprise"]  # sorted by class folder, then file
    assert [int(images[i, 1, 1]) for i in range(4)] == [50, 30, 40, 60]
    val_images, val_labels = load_fer2013(tmp_path, "val")
    assert FER2013_LABELS[val_labels[0]] == "neutral" and val_images[0, 5, 5] == 70


def test_folder_layout_kaggle_test_folder_is_val_and_errors(tmp_path: Path) -> None:
    _write_folder(tmp_path, "test", {"fear": [90]})
    _, labels = load_fer2013(tmp_path, "val")  # Kaggle download: test/ = PublicTest
    assert FER2013_LABELS[labels[0]] == "fear"
    with pytest.raises(FileNotFoundError, match="no folder for split 'train'"):
        load_fer2013(tmp_path, "train")
    (tmp_path / "train" / "joy").mkdir(parents=True)
    with pytest.raises(ValueError, match="unknown class folder 'joy'"):
        load_fer2013(tmp_path, "train")
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "test" / "fear" / "small.png")
    with pytest.raises(ValueError, match="must be 48x48"):
        load_fer2013(tmp_path, "val")


def test_torch_dataset(fer_csv: Path) -> None:
    ds = FER2013Dataset(fer_csv, "train", transform=lambda x: x * 2)
    assert len(ds) == 7
    image, label = ds[3]
    assert image.shape == (1, 48, 48) and image.dtype == torch.float32
    assert torch.allclose(image[0, 1, 1], torch.tensor(2 * 30 / 255.0))
    assert FER2013_LABELS[int(label)] == "happy"
    assert ds.class_counts().tolist() == [1] * 7
