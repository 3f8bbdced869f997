"""facevox.images: any input type and mode, EXIF orientation, clear errors, face crops."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from facevox import FaceBox
from facevox.images import (
    ImageReadError,
    align_face,
    crop_detected_face,
    crop_face,
    find_images,
    load_image,
    to_grayscale,
)
from PIL import Image


def _quadrants() -> np.ndarray:
    """A 40x60 RGB image: top-left red, the rest blue (tells orientation apart)."""
    img = np.zeros((40, 60, 3), dtype=np.uint8)
    img[:, :, 2] = 200
    img[:20, :30] = (255, 0, 0)
    return img


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(_quadrants()).save(path, exif=exif, quality=95)
    out = load_image(path)
    assert out.shape == (60, 40, 3) and out.dtype == np.uint8  # width and height swapped
    # after a clockwise turn the red (top-left) quadrant is at the top right
    assert out[5, 35, 0] > 200 and out[5, 35, 2] < 60
    assert out[5, 5, 0] < 60
    # without the tag nothing is rotated
    plain = tmp_path / "plain.jpg"
    Image.fromarray(_quadrants()).save(plain, quality=95)
    assert load_image(plain).shape == (40, 60, 3)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "LA", "I;16", "1", "CMYK"])
def test_any_mode_becomes_rgb_uint8(mode: str, tmp_path: Path) -> None:
    rgb = Image.fromarray(_quadrants())
    im = rgb.convert(mode) if mode != "I;16" else Image.fromarray((np.arange(2400).reshape(40, 60) * 20).astype(np.uint16))
    out = load_image(im)
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8
    if mode in ("RGB", "RGBA", "P", "CMYK"):
        assert out[5, 5, 0] > 200 and out[30, 50, 2] > 150  # colours survive
    if mode in ("L", "LA", "1", "I;16"):
        assert np.array_equal(out[..., 0], out[..., 1])  # grey stays grey
    # through a file too (PNG keeps the mode, JPEG cannot hold all)
    if mode not in ("CMYK",):
        path = tmp_path / f"img_{mode.replace(';', '')}.png"
        im.save(path)
        assert load_image(path).shape == (40, 60, 3)


def test_transparent_pixels_become_white() -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)  # fully transparent black
    rgba[0, 0] = (10, 20, 30, 255)
    out = load_image(Image.fromarray(rgba, "RGBA"))
    assert tuple(out[1, 1]) == (255, 255, 255) and tuple(out[0, 0]) == (10, 20, 30)
    assert tuple(load_image(rgba)[1, 1]) == (255, 255, 255)  # arrays too


def test_arrays_bytes_and_types() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = load_image(grey)
    assert out.shape == (3, 4, 3) and np.array_equal(out[..., 2], grey)
    assert load_image(np.full((2, 2, 3), 0.5)).max() == 128
    buf = io.BytesIO()
    Image.fromarray(_quadrants()).save(buf, format="PNG")
    assert np.array_equal(load_image(buf.getvalue()), _quadrants())
    with pytest.raises(ImageReadError, match=r"float arrays must hold values in \[0, 1\]"):
        load_image(np.full((2, 2), 3.0))
    with pytest.raises(ImageReadError, match="array shape"):
        load_image(np.zeros((2, 2, 5), np.uint8))
    with pytest.raises(TypeError, match="accepted: path, bytes, PIL.Image, numpy array"):
        load_image(42)


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    with pytest.raises(ImageReadError, match=r"notes\.jpg: not a recognised image format") as info:
        load_image(bad)
    assert isinstance(info.value, ValueError) and info.value.source == str(bad)
    with pytest.raises(ImageReadError, match=r"missing\.png: no such file"):
        load_image(tmp_path / "missing.png")
    truncated = tmp_path / "cut.png"
    buf = io.BytesIO()
    Image.fromarray(_quadrants()).save(buf, format="PNG")
    truncated.write_bytes(buf.getvalue()[:80])
    with pytest.raises(ImageReadError, match=r"cut\.png"):
        load_image(truncated)
    with pytest.raises(ImageReadError, match="is a folder"):
        load_image(tmp_path)


def test_crop_face_margin_square_and_padding() -> None:
    img = np.zeros((100, 200, 3), dtype=np.uint8)
    img[40:60, 90:110] = 255  # a white 20x20 "face"
    crop = crop_face(img, (90, 40, 20, 20), size=(48, 48), margin=0.0)
    assert crop.shape == (48, 48) and crop.min() > 200  # exactly the face
    wide = crop_face(img, (90, 40, 20, 20), size=(48, 48), margin=0.5)
    assert wide[24, 24] > 200 and wide[2, 2] < 30  # face centred, background around it
    rgb = crop_face(img, (90, 40, 20, 20), size=(32, 24), grayscale=False)
    assert rgb.shape == (32, 24, 3)
    # a box at the border is padded (replicated), keeping the face undistorted and centred
    img2 = np.zeros((50, 50, 3), dtype=np.uint8)
    img2[0:20, 0:20] = 255
    edge = crop_face(img2, (0, 0, 20, 20), size=(40, 40), margin=0.5)
    assert edge.shape == (40, 40) and edge[20, 20] > 200 and edge[39, 39] < 30
    with pytest.raises(ValueError, match="positive width and height"):
        crop_face(img, (0, 0, 0, 10))
    with pytest.raises(ValueError, match="outside"):
        crop_face(img, (500, 500, 10, 10))


def test_grayscale_and_find_images(tmp_path: Path) -> None:
    assert to_grayscale(np.array([[[255, 0, 0]]], np.uint8))[0, 0] == 76
    (tmp_path / "a" / "b").mkdir(parents=True)
    for rel in ["a/x.jpg", "a/b/y.PNG", "a/readme.txt", "z.webp"]:
        (tmp_path / rel).write_bytes(b"")
    found = find_images([tmp_path / "a", tmp_path / "z.webp", tmp_path / "given.txt"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/b/y.PNG", "a/x.jpg", "z.webp", "given.txt"]


def test_crop_detected_face_aligns_only_when_both_eyes_are_known() -> None:
    image = np.random.default_rng(3).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    box = FaceBox(40, 20, 60, 70)
    np.testing.assert_array_equal(crop_detected_face(image, box), crop_face(image, box))
    with_eyes = FaceBox(40, 20, 60, 70, left_eye=(55.0, 45.0), right_eye=(85.0, 50.0))
    aligned = crop_detected_face(image, with_eyes, size=(48, 48), grayscale=False)
    np.testing.assert_array_equal(aligned, align_face(image, (55.0, 45.0), (85.0, 50.0), grayscale=False))
    assert not np.array_equal(crop_detected_face(image, with_eyes), crop_face(image, box))
    one_eye = FaceBox(40, 20, 60, 70, left_eye=(55.0, 45.0))
    np.testing.assert_array_equal(crop_detected_face(image, one_eye), crop_face(image, box))
    with pytest.raises(ValueError, match="one pixel apart"):
        crop_detected_face(image, FaceBox(40, 20, 60, 70, left_eye=(55.0, 45.0), right_eye=(55.2, 45.0)))
