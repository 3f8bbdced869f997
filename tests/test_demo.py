"""The Gradio demo, launched on a free local port and driven through every named endpoint.

Real inputs: the shipped astronaut photo (public domain), scikit-image's coffee photo (no
face), a sentence. Outputs are checked for content: a detected face with an emotion, images of
the expected size, audio of plausible duration at the vocoder's sample rate.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import facevox
import numpy as np
import pytest
import soundfile
from facevox_demo import EXAMPLES_DIR, DemoBackend, launch
from facevox_demo.handlers import AUTO, EMOTIONS
from gradio_client import Client, handle_file  # dev extra: a missing one fails, not skips
from PIL import Image

pytestmark = pytest.mark.slow

PHOTO = EXAMPLES_DIR / "astronaut.jpg"
SENTENCE = "Hello there, nice to meet you."
SAMPLE_RATE = 22050


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    demo = launch(host="127.0.0.1", port=_free_port(), backend=DemoBackend(), block=False, quiet=True)
    try:
        assert demo.local_url and demo.local_url.startswith("http://127.0.0.1:")
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def no_face_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skimage import data as skimage_data  # dev extra: always installed in CI
    path = tmp_path_factory.mktemp("photos") / "coffee.png"
    Image.fromarray(skimage_data.coffee()).save(path)
    return path


def _image(path: Any) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _audio(path: Any) -> tuple[np.ndarray, int]:
    data, rate = soundfile.read(path, dtype="float32")
    return data, int(rate)


def test_demo_is_offline_and_local_by_default(client: Client) -> None:
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert client.src.startswith("http://127.0.0.1:")
    config = client.config
    assert config.get("analytics_enabled") is False and not config.get("share_url")


def test_every_tab_has_a_named_endpoint(client: Client) -> None:
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/emotion", "/morph", "/sample", "/speak", "/face_to_voice"} <= set(endpoints)


def test_emotion_finds_the_astronauts_face(client: Client) -> None:
    annotated, label, table = client.predict(handle_file(str(PHOTO)), api_name="/emotion")
    image = _image(annotated)
    assert image.shape == _image(PHOTO).shape  # the same photo, with boxes drawn on it
    assert not np.array_equal(image, _image(PHOTO))
    assert label["label"] in EMOTIONS and len(label["confidences"]) == 3
    rows = table["data"]
    assert len(rows) >= 1
    x, y, w, h = (int(v) for v in rows[0][1].strip("[]").split(","))
    assert 120 <= x + w / 2 <= 260 and 30 <= y + h / 2 <= 160 and w >= 60  # Eileen Collins' face
    scores = [float(v) for v in rows[0][3:]]
    assert len(scores) == 7 and sum(scores) == pytest.approx(1.0, abs=0.01)
    assert rows[0][2] == EMOTIONS[int(np.argmax(scores))]


def test_bad_photos_give_clear_messages(client: Client, no_face_photo: Path, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="No face found"):
        client.predict(handle_file(str(no_face_photo)), api_name="/emotion")
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    with pytest.raises(Exception, match="notes.txt is not an image"):
        client.predict(handle_file(str(text)), api_name="/emotion")
    with pytest.raises(Exception, match="upload a photo"):
        client.predict(None, api_name="/emotion")


def test_morph_renders_the_face_in_every_emotion(client: Client) -> None:
    frames, everyone = client.predict(handle_file(str(PHOTO)), "happy", 4, api_name="/morph")
    strip, row = _image(frames), _image(everyone)
    assert strip.shape[1] == (1 + 4) * 144 and row.shape[1] == 7 * 144  # the input crop, then 4 frames
    tiles = [strip[:144, i * 144 : (i + 1) * 144].astype(float) for i in range(5)]
    assert tiles[0].std() > 20  # the astronaut's face crop
    if facevox.model_info("face.cvae")["pretrained"]:  # an untrained decoder draws no face
        assert tiles[1].std() > 5  # its reconstruction is a face, not a flat grey square
        assert np.abs(tiles[1] - tiles[-1]).mean() > 0.5  # the morph changed it


def test_sample_is_seeded(client: Client) -> None:
    a = _image(client.predict(4, "happy", 7, api_name="/sample"))
    b = _image(client.predict(4, "happy", 7, api_name="/sample"))
    c = _image(client.predict(4, "any", 8, api_name="/sample"))
    assert a.shape[1] == 4 * 112 and c.shape[1] == 4 * 112 and np.array_equal(a, b)
    if facevox.model_info("face.cvae")["pretrained"]:  # an untrained decoder draws the same grey
        assert not np.array_equal(a[:112], c[:112])


def test_speak_styles_the_voice(client: Client) -> None:
    audio, mel, alignment, info = client.predict(SENTENCE, "griffinlim.default", "sad", api_name="/speak")
    wave, rate = _audio(audio)
    assert rate == SAMPLE_RATE and 0.3 < len(wave) / rate < 30 and np.abs(wave).max() > 0.01
    assert info["emotion"] == "sad" and info["style"]["rate"] < 1
    assert info["duration_s"] == pytest.approx(len(wave) / rate, abs=0.05)
    assert _image(mel).std() > 5 and _image(alignment).std() > 5
    with pytest.raises(Exception, match="type a sentence"):
        client.predict("   ", "griffinlim.default", "sad", api_name="/speak")


def test_face_to_voice_follows_the_detected_emotion(client: Client) -> None:
    annotated, label, audio, info = client.predict(
        handle_file(str(PHOTO)), SENTENCE, "hifigan.universal", AUTO, api_name="/face_to_voice"
    )
    wave, rate = _audio(audio)
    assert rate == SAMPLE_RATE and 0.3 < len(wave) / rate < 30
    assert label["label"] in EMOTIONS and info["face_index"] == 0
    assert info["emotion"] == label["label"] == info["faces"][0]["emotion"]
    assert info["vocoder"] == "hifigan.universal"
    assert _image(annotated).shape == _image(PHOTO).shape

    _, _, _, forced = client.predict(handle_file(str(PHOTO)), SENTENCE, "griffinlim.default", "happy", api_name="/face_to_voice")
    assert forced["emotion"] == "happy" and forced["face_index"] is None and forced["style"]["rate"] > 1
