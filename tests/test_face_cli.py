"""`facevox face ...` and `facevox train face-*`: outputs, atomic writes, --overwrite, errors."""

from __future__ import annotations

from pathlib import Path

import facevox
import numpy as np
import pytest
from facevox.cli import main
from PIL import Image


def _face_png(path: Path, seed: int = 0, size: int = 48) -> Path:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    img = np.where((xx / 0.7) ** 2 + (yy / 0.9) ** 2 < 1, 180, 40) + rng.integers(0, 20, (size, size))
    Image.fromarray(img.astype(np.uint8)).save(path)
    return path


def _astronaut(path: Path) -> Path:
    from skimage import data as skimage_data  # dev extra: always installed in CI
    Image.fromarray(skimage_data.astronaut()).save(path)
    return path


@pytest.fixture(autouse=True)
def _needs_weights() -> None:
    for name in ("face.ae", "face.vae", "face.cvae"):
        if not facevox.model_info(name)["pretrained"]:
            pytest.skip(f"{name} ships no weights")


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_reconstruct_one_file_and_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _face_png(tmp_path / "a.png")
    out = tmp_path / "out.png"
    assert main(["face", "reconstruct", str(src), "-o", str(out), "--no-detect"]) == 0
    assert Image.open(out).size == (48, 48)
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["face", "reconstruct", str(src), "-o", str(out), "--no-detect"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["face", "reconstruct", str(src), "-o", str(out), "--no-detect", "--overwrite", "--scale", "2"]) == 0
    assert Image.open(out).size == (96, 96)
    assert _no_temp_files(tmp_path)


def test_reconstruct_several_inputs_and_a_folder(tmp_path: Path) -> None:
    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(3):
        _face_png(faces / f"f{i}.png", seed=i)
    out = tmp_path / "out"
    assert main(["face", "reconstruct", str(faces / "f0.png"), str(faces / "f1.png"), "-o", str(out), "--no-detect"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["f0.png", "f1.png"]
    out2 = tmp_path / "out2"
    assert main(["face", "reconstruct", str(faces), "-o", str(out2), "--no-detect"]) == 0
    assert sorted(p.name for p in out2.iterdir()) == ["f0.png", "f1.png", "f2.png"]


def test_reconstruct_detects_the_face_in_a_photo(tmp_path: Path) -> None:
    photo = _astronaut(tmp_path / "astronaut.png")
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), (128, 128, 128)).save(blank)
    out = tmp_path / "out"
    assert main(["face", "reconstruct", str(photo), str(blank), "-o", str(out)]) == 1  # blank has no face
    assert [p.name for p in out.iterdir()] == ["astronaut.png"]  # the photo was still processed


def test_sample_is_reproducible(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    assert main(["face", "sample", "--n", "9", "-o", str(a), "--seed", "1"]) == 0
    assert main(["face", "sample", "--n", "9", "-o", str(b), "--seed", "1"]) == 0
    assert main(["face", "sample", "--n", "9", "-o", str(c), "--seed", "2", "--emotion", "happy"]) == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    assert Image.open(a).size == (2 * (3 * 50 + 2), 2 * (3 * 50 + 2))
    assert main(["face", "sample", "-o", str(a)]) == 1  # exists, no --overwrite
    assert main(["face", "sample", "--emotion", "happy", "--model", "face.vae", "-o", str(tmp_path / "d.png")]) == 2
    # sampling reads no images, so it offers no --no-detect (a no-op flag would mislead)
    assert main(["face", "sample", "--no-detect", "-o", str(tmp_path / "e.png")]) == 2


def test_interpolate_and_morph(tmp_path: Path) -> None:
    a, b = _face_png(tmp_path / "a.png", 0), _face_png(tmp_path / "b.png", 1)
    out = tmp_path / "interp.png"
    assert main(["face", "interpolate", str(a), str(b), "--steps", "4", "--no-detect", "-o", str(out), "--scale", "1"]) == 0
    assert Image.open(out).size == (4 * 50 + 2, 52)
    one = tmp_path / "happy.png"
    assert main(["face", "morph", str(a), "--to", "happy", "--steps", "1", "--no-detect", "-o", str(one)]) == 0
    assert Image.open(one).size == (48, 48)
    seq = tmp_path / "seq.png"
    assert main(["face", "morph", str(a), "--to", "surprise", "--no-detect", "-o", str(seq)]) == 0
    assert Image.open(seq).size == (5 * 50 + 2, 52)
    folder = tmp_path / "morphs"
    assert main(["face", "morph", str(a), str(b), "--to", "sad", "--steps", "1", "--no-detect", "-o", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png"]


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _face_png(tmp_path / "a.png")
    assert main(["face", "morph", str(a), "--to", "smug", "--no-detect", "-o", str(tmp_path / "x.png")]) == 2
    assert "accepted: angry, disgust, fear, happy, neutral, sad, surprise" in capsys.readouterr().err
    assert main(["face", "morph", str(a), "--to", "happy", "--model", "face.ae", "--no-detect",
                 "-o", str(tmp_path / "x.png")]) == 2
    assert main(["face", "reconstruct", str(tmp_path / "missing.png"), "-o", str(tmp_path / "y.png")]) == 1
    assert "missing.png" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert main(["face", "reconstruct", str(bad), "-o", str(tmp_path / "z.png"), "--no-detect"]) == 1
    assert "bad.png" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "z.png").exists()
