"""FaceSynthesisPipeline: the public pipeline behind the expression studio and `facevox face`."""

from __future__ import annotations

import facevox
import numpy as np
import pytest
import torch
from facevox import ConditionalFaceAutoencoder, FaceBox, FaceDetector, FaceSynthesisPipeline, NoFaceError


class _Fixed(FaceDetector):
    """Finds two faces: a small one and a large one (the pipeline takes the larger)."""

    def detect(self, image):  # type: ignore[no-untyped-def]
        return [FaceBox(0, 0, 8, 8), FaceBox(16, 8, 32, 32)]


class _Nothing(FaceDetector):
    def detect(self, image):  # type: ignore[no-untyped-def]
        return []


@pytest.fixture(scope="module")
def pipe() -> FaceSynthesisPipeline:
    return FaceSynthesisPipeline(detector=_Fixed())


def _photo() -> np.ndarray:
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 40, (64, 64, 3), dtype=np.uint8)
    photo[8:40, 16:48] = 200  # the large face's box is bright
    return photo


def test_default_is_the_conditional_face_model(pipe: FaceSynthesisPipeline) -> None:
    assert pipe.model_name == facevox.default_model(facevox.Task.FACE_AUTOENCODER)
    assert isinstance(pipe.model, ConditionalFaceAutoencoder) and not pipe.model.training
    assert pipe.labels == tuple(facevox.get_model_spec(pipe.model_name).card.labels)


def test_face_takes_the_largest_box(pipe: FaceSynthesisPipeline) -> None:
    crop, box = pipe.face(_photo())
    assert box == FaceBox(16, 8, 32, 32)
    assert crop.shape == (1, *pipe.model.input_size) and crop.dtype == torch.float32
    assert float(crop[0, 0, 20:28, 20:28].mean()) == pytest.approx(200 / 255, abs=0.02)  # the bright box, centred


def test_tensor_crop_round_trips_and_is_checked(pipe: FaceSynthesisPipeline) -> None:
    crop, _ = pipe.face(_photo())
    again, box = pipe.face(crop)
    assert box is None and torch.equal(again, crop)
    with pytest.raises(ValueError, match=r"must be \(1, 1, 48, 48\) float"):
        pipe.face(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        pipe.face(torch.full((1, 1, 48, 48), 2.0))


def test_morph_matches_the_model_and_differs_by_target(pipe: FaceSynthesisPipeline) -> None:
    crop, _ = pipe.face(_photo())
    happy = pipe.morph(_photo(), "happy")
    assert torch.allclose(happy, pipe.model.morph(crop, "happy"), atol=1e-6)
    assert happy.min() >= 0 and happy.max() <= 1
    assert not torch.allclose(happy, pipe.morph(crop, "sad"), atol=1e-3)
    frames = pipe.morph(crop, "happy", steps=4)
    assert frames.shape == (4, *pipe.model.input_size)
    assert torch.allclose(frames[-1:], happy, atol=1e-5)  # the last frame is the full morph
    every = pipe.morph_all(crop)
    assert every.shape[0] == len(pipe.labels)
    assert torch.allclose(every[pipe.labels.index("happy")], happy[0], atol=1e-6)


def test_sample_is_seeded_and_labelled(pipe: FaceSynthesisPipeline) -> None:
    a, b = pipe.sample(3, label="surprise", seed=5), pipe.sample(3, label="surprise", seed=5)
    assert a.shape == (3, *pipe.model.input_size) and torch.equal(a, b)
    assert not torch.equal(a, pipe.sample(3, label="surprise", seed=6))
    assert not torch.allclose(a, pipe.sample(3, label="angry", seed=5), atol=1e-3)


def test_errors_name_what_was_wrong(pipe: FaceSynthesisPipeline) -> None:
    with pytest.raises(ValueError, match="unknown label 'joy'; accepted: angry"):
        pipe.morph(_photo(), "joy")
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        pipe.sample(0)
    with pytest.raises(NoFaceError, match="no face was found"):
        FaceSynthesisPipeline(detector=_Nothing()).morph(_photo(), "happy")
    plain = FaceSynthesisPipeline("face.ae", detector=_Fixed())
    assert plain.labels == ()
    assert plain.reconstruct(_photo()).shape == (1, *plain.model.input_size)
    with pytest.raises(ValueError, match="face.ae cannot morph: it is not a facevox.ConditionalFaceAutoencoder"):
        plain.morph(_photo(), "happy")
    with pytest.raises(ValueError, match="face.ae cannot sample"):
        plain.sample(2)
    with pytest.raises(ValueError, match="face.vae cannot sample a label"):
        FaceSynthesisPipeline("face.vae").sample(2, label="happy")
