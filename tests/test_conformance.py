"""Every registered model passes the conformance suite; the suite itself catches broken models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import facevox
import pytest
import torch
import toy_plugin
from facevox import ExpressionClassifier, ModelCard, ModelSpec, Task, hookimpl, plugins
from facevox.testing import ConformanceError, check_face_detector, run_conformance
from torch import Tensor, nn

REGISTERED = facevox.list_models()


@pytest.mark.parametrize("name", REGISTERED)
def test_registered_model_conforms(name: str, tmp_path: Path) -> None:
    run_conformance(name, tmp_path)


@pytest.mark.parametrize("name", facevox.list_face_detectors())
def test_registered_face_detector_conforms(name: str) -> None:
    from skimage import data

    check_face_detector(name)  # noise
    check_face_detector(name, data.astronaut())  # a photo with one face (found by each built-in)


def test_the_detector_check_catches_broken_detectors(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    class _Unsorted(facevox.FaceDetector):
        def detect(self, image: np.ndarray) -> list[facevox.FaceBox]:
            return [facevox.FaceBox(0, 0, 5, 5), facevox.FaceBox(0, 0, 10, 10)]

    class _OneEye(facevox.FaceDetector):
        def detect(self, image: np.ndarray) -> list[facevox.FaceBox]:
            if image.dtype != np.uint8:
                raise ValueError("uint8 only")
            return [] if image.std() == 0 else [facevox.FaceBox(0, 0, 10, 10, left_eye=(2.0, 2.0))]

    for broken, fault in ((_Unsorted, "decreasing area"), (_OneEye, "both eyes")):
        monkeypatch.setattr(facevox.testing, "create_face_detector", lambda name, b=broken: b())
        with pytest.raises(ConformanceError, match=fault):
            check_face_detector("broken")


def test_every_builtin_plugin_registers_models() -> None:
    providers = {facevox.model_info(n)["plugin"] for n in REGISTERED}
    assert {"expression", "face", "tts", "vocoders"} <= providers, providers
    assert facevox.list_speech_styles() == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


@dataclass(frozen=True)
class _Cfg:
    input_size: tuple[int, int, int] = (1, 8, 8)
    nan: bool = False
    bad_inference_copy: bool = False


class _Unused(ExpressionClassifier):
    labels = ("a", "b")

    def __init__(self, config: _Cfg) -> None:
        super().__init__()
        self.config = config
        self.used = nn.Linear(64, 2)
        self.unused = nn.Linear(3, 3)

    def forward(self, images: Tensor) -> Tensor:
        out = self.used(images.flatten(1))
        return out * float("nan") if self.config.nan else out

    def for_inference(self) -> ExpressionClassifier:
        fast = super().for_inference()
        if self.config.bad_inference_copy:  # an "optimisation" that changes the answers
            with torch.no_grad():
                fast.used.bias.add_(0.5)  # type: ignore[operator]
        return fast


class _BadPlugin:
    @hookimpl
    def register_models(self, register):  # type: ignore[no-untyped-def]
        card = ModelCard(summary="bad", labels=("a", "b"))
        register(ModelSpec("bad.unused", Task.EXPRESSION_CLASSIFICATION, _Unused, _Cfg(), card))
        register(ModelSpec("bad.nan", Task.EXPRESSION_CLASSIFICATION, _Unused, _Cfg(nan=True), card))
        register(ModelSpec("bad.fast", Task.EXPRESSION_CLASSIFICATION, _Unused, _Cfg(bad_inference_copy=True), card))


def test_suite_catches_unused_parameters_and_nans(isolated_plugins: None, tmp_path: Path) -> None:
    plugins.register_plugin(_BadPlugin(), name="bad")
    with pytest.raises(ConformanceError, match=r"bad.nan: forward: .*NaN"):
        run_conformance("bad.nan", tmp_path)
    with pytest.raises(ConformanceError, match=r"bad.unused: backward: parameters got no gradient: \['unused.weight', 'unused.bias'\]"):
        run_conformance("bad.unused", tmp_path)
    with pytest.raises(ConformanceError, match=r"bad.fast: forward: for_inference\(\) changes the logits by up to 5.00e-01"):
        run_conformance("bad.fast", tmp_path)


def test_suite_passes_a_good_model(isolated_plugins: None, tmp_path: Path) -> None:
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")
    run_conformance("toy.tiny", tmp_path)
    torch.testing.assert_close(facevox.create_model("toy.tiny", pretrained=False).predict_proba(torch.zeros(1, 1, 8, 8)).sum(), torch.tensor(1.0))


def test_pytest_fixture_is_available(facevox_conformance, isolated_plugins: None) -> None:  # type: ignore[no-untyped-def]
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")
    facevox_conformance("toy.tiny")
