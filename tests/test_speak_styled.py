"""`facevox speak --emotion / --face`: speech styled by an emotion or by a photo's face."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from facevox.cli import main
from PIL import Image

ASTRONAUT = Path(__file__).resolve().parents[1] / "demo" / "facevox_demo" / "examples" / "astronaut.jpg"
TEXT = "The quick brown fox jumps over the lazy dog."


def _duration(path: Path) -> float:
    info = sf.info(str(path))
    assert info.samplerate == 22050
    return info.frames / info.samplerate


def test_emotion_changes_the_speaking_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for emotion in ("sad", "happy"):
        assert main(["speak", TEXT, "--emotion", emotion, "-o", str(tmp_path / f"{emotion}.wav"), "-q"]) == 0
    assert "style happy" in capsys.readouterr().out
    assert _duration(tmp_path / "sad.wav") > 1.1 * _duration(tmp_path / "happy.wav")


def test_face_style_follows_the_detected_emotion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "face.wav"
    assert main(["speak", TEXT, "--face", str(ASTRONAUT), "-o", str(out), "--json", "-q"]) == 0
    result = json.loads(capsys.readouterr().out)
    face = result["faces"][result["face_index"]]
    assert result["path"] == str(out) and out.is_file()
    assert result["emotion"] == face["emotion"] == max(face["scores"], key=face["scores"].get)
    assert abs(result["duration_s"] - _duration(out)) < 0.05


def test_face_without_a_face_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((120, 160, 3), 200, np.uint8)).save(blank)
    assert main(["speak", TEXT, "--face", str(blank), "-o", str(tmp_path / "x.wav")]) == 1
    err = capsys.readouterr().err
    assert "facevox: error:" in err and "face" in err and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()
    assert main(["speak", TEXT, "--face", str(blank), "--emotion", "angry", "-o", str(tmp_path / "y.wav"), "-q"]) == 0


def test_unknown_emotion_lists_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["speak", TEXT, "--emotion", "bored"]) == 2
    assert "accepted: angry, disgust, fear, happy, neutral, sad, surprise" in capsys.readouterr().err
