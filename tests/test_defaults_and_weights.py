"""Defaults come from the registry (``ModelSpec(default=True)``, ``FACEVOX_DEFAULT_<TASK>``), and
weights are part of the contract (sha256 on the card, checked on load; no silent untrained model)."""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import facevox
import pytest
import torch
import toy_plugin
from facevox import CheckpointError, ModelCard, Task, UnknownModelError, hookimpl, plugins
from facevox.checkpoint import load_weights, save_weights
from facevox.testing import ConformanceError, check_card, check_weights


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Plugins registered in code for one test (on top of the installed ones), removed after."""
    names: list[str] = []
    yield names
    for name in names:
        plugins.unregister_plugin(name)


def _add(registered: list[str], plugin: object, name: str) -> None:
    registered.append(plugins.register_plugin(plugin, name=name))


class _Specs:
    """A third-party plugin registering the given specs."""

    def __init__(self, *specs: facevox.ModelSpec) -> None:
        self.specs = specs

    @hookimpl
    def register_models(self, register):  # type: ignore[no-untyped-def]
        for spec in self.specs:
            register(spec)


def test_builtin_defaults_come_from_the_registry() -> None:
    assert facevox.default_model(Task.EXPRESSION_CLASSIFICATION) == "expression.resmasknet"
    assert facevox.default_model("acoustic-model") == "tts.fastspeech_joe"
    assert facevox.default_model(Task.VOCODER) == "vocos.joe"
    assert facevox.default_model(Task.FACE_AUTOENCODER) == "face.cvae"
    assert facevox.default_face_detector() == "mtcnn"
    for task in Task:
        spec = facevox.get_model_spec(facevox.default_model(task))
        assert spec.default and spec.task is task and spec.has_weights


def test_no_default_for_a_task_names_the_models_and_the_variable(registered: list[str]) -> None:
    import task_plugin

    class _NoDefault(task_plugin.TaskPlugin):
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register(task_plugin.spec(default=False))

    _add(registered, _NoDefault(), "nodefault")
    with pytest.raises(UnknownModelError, match=r"\(registered: spk\.meanpool\) or set FACEVOX_DEFAULT_SPEAKER_EMBEDDING"):
        facevox.default_model("speaker-embedding")
    with pytest.raises(ValueError, match="unknown task .speaker-id.; accepted: acoustic-model, expression-classification, face-autoencoder"):
        facevox.default_model("speaker-id")


def test_environment_overrides_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEVOX_DEFAULT_VOCODER", "hifigan.universal")
    assert facevox.default_model(Task.VOCODER) == "hifigan.universal"
    monkeypatch.setenv("FACEVOX_DEFAULT_VOCODER", "hifigan.univresal")
    with pytest.raises(UnknownModelError, match="did you mean 'hifigan.universal'"):
        facevox.default_model(Task.VOCODER)
    monkeypatch.setenv("FACEVOX_DEFAULT_VOCODER", "tts.fastspeech_joe")
    with pytest.raises(UnknownModelError, match="registered for task 'acoustic-model', not 'vocoder'"):
        facevox.default_model(Task.VOCODER)
    monkeypatch.setenv("FACEVOX_DEFAULT_FACE_DETECTOR", "opencv.haar_eyes")
    assert facevox.default_face_detector() == "opencv.haar_eyes"


def test_a_third_party_default_replaces_the_builtin_one(registered: list[str]) -> None:
    mine = dataclasses.replace(toy_plugin.toy_spec("thirdparty.classifier"), default=True)
    _add(registered, _Specs(mine), "thirdparty")
    assert facevox.default_model(Task.EXPRESSION_CLASSIFICATION) == "thirdparty.classifier"
    with pytest.warns(facevox.UntrainedModelWarning, match="thirdparty.classifier"):  # the pipeline takes it too
        pipe = facevox.FaceEmotionPipeline(detector=None, tta=False)
    assert tuple(pipe.labels) == toy_plugin.LABELS


def test_two_third_party_defaults_warn_and_take_the_first_name(registered: list[str]) -> None:
    specs = [dataclasses.replace(toy_plugin.toy_spec(n), default=True) for n in ("zed.one", "abc.one")]
    _add(registered, _Specs(specs[0]), "zed")
    _add(registered, _Specs(specs[1]), "abc")
    with pytest.warns(plugins.PluginWarning, match=r"'abc\.one'.*'zed\.one'.*using 'abc\.one'.*FACEVOX_DEFAULT"):
        assert facevox.default_model(Task.EXPRESSION_CLASSIFICATION) == "abc.one"


class _Detector(facevox.FaceDetector):
    def detect(self, image):  # type: ignore[no-untyped-def]
        return [facevox.FaceBox(1, 2, 3, 4)]


class _DetectorPlugin:
    @hookimpl
    def register_face_detectors(self, register):  # type: ignore[no-untyped-def]
        register("mine.always", _Detector, default=True)


def test_a_third_party_default_face_detector(registered: list[str]) -> None:
    _add(registered, _DetectorPlugin(), "mydetector")
    assert facevox.default_face_detector() == "mine.always"
    assert facevox.create_face_detector().detect(None) == [facevox.FaceBox(1, 2, 3, 4)]


def test_default_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="default must be True or False"):
        dataclasses.replace(toy_plugin.toy_spec(), default="yes")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- weights contract


def _toy_weights(tmp_path: Path) -> tuple[Path, str]:
    torch.manual_seed(3)
    model = toy_plugin.ToyClassifier(toy_plugin.ToyConfig())
    path = tmp_path / "toy.safetensors"
    save_weights(model, path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_weights_checks_the_sha256(tmp_path: Path) -> None:
    path, digest = _toy_weights(tmp_path)
    model = toy_plugin.ToyClassifier(toy_plugin.ToyConfig())
    load_weights(model, path, sha256=digest)
    reference = next(iter(model.state_dict().values())).clone()
    fresh = toy_plugin.ToyClassifier(toy_plugin.ToyConfig())
    before = next(iter(fresh.state_dict().values())).clone()
    with pytest.raises(CheckpointError, match=f"{digest[:12]}.*card says 0{{64}}") as info:
        load_weights(fresh, path, sha256="0" * 64)
    assert "reinstall" in str(info.value)
    assert torch.equal(next(iter(fresh.state_dict().values())), before)  # nothing half-loaded
    assert not torch.equal(before, reference)


def test_a_card_sha256_that_does_not_match_fails_create_model(tmp_path: Path, registered: list[str]) -> None:
    path, digest = _toy_weights(tmp_path)
    base = toy_plugin.toy_spec("sha.good")
    good = dataclasses.replace(base, weights=path, card=dataclasses.replace(base.card, sha256=digest))
    bad = dataclasses.replace(good, name="sha.bad", card=dataclasses.replace(base.card, sha256="f" * 64))
    _add(registered, _Specs(good, bad), "sha")
    assert not facevox.create_model("sha.good").training
    check_card("sha.good")
    with pytest.raises(CheckpointError, match="card says f{64}"):
        facevox.create_model("sha.bad")
    with pytest.raises(ConformanceError, match="card sha256 f{64} !="):
        check_card("sha.bad")


def test_a_missing_weights_file_is_an_error_not_an_untrained_model(tmp_path: Path, registered: list[str]) -> None:
    spec = dataclasses.replace(toy_plugin.toy_spec("lost.weights"), weights=tmp_path / "gone.safetensors")
    _add(registered, _Specs(spec), "lost")
    assert facevox.model_info("lost.weights")["pretrained"]  # what the card promises stays declared
    with pytest.raises(CheckpointError, match="gone.safetensors"):
        facevox.create_model("lost.weights")
    with pytest.raises(ConformanceError, match="does not exist"):
        check_card("lost.weights")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no UntrainedModelWarning is raised in its place
        with pytest.raises(CheckpointError):
            facevox.FaceEmotionPipeline("lost.weights", detector=None)


def test_shipped_weights_need_a_sha256_on_the_card(tmp_path: Path, registered: list[str]) -> None:
    path, digest = _toy_weights(tmp_path)
    spec = dataclasses.replace(toy_plugin.toy_spec("nosha.model"), weights=path)
    _add(registered, _Specs(spec), "nosha")
    with pytest.raises(ConformanceError, match=f"has no sha256 \\(the file's is {digest}\\)"):
        check_card("nosha.model")


def test_measured_metrics_without_weights_and_wrong_param_counts_fail(registered: list[str]) -> None:
    base = toy_plugin.toy_spec()
    claims = dataclasses.replace(base, name="claims.accuracy",
                                 card=dataclasses.replace(base.card, metrics={"val_accuracy": 0.9}))
    wrong = dataclasses.replace(base, name="wrong.params", card=dataclasses.replace(base.card, metrics={"params": 271}))
    _add(registered, _Specs(claims, wrong), "claims")
    with pytest.raises(ConformanceError, match="val_accuracy.*declares no weights"):
        check_weights("claims.accuracy", facevox.create_model("claims.accuracy", pretrained=False))
    with pytest.raises(ConformanceError, match="card params 271 != 270"):
        check_weights("wrong.params", facevox.create_model("wrong.params", pretrained=False))


def test_card_sha256_format_is_checked() -> None:
    with pytest.raises(ValueError, match="64 lower-case hex digits"):
        ModelCard(summary="x", sha256="ABC")


@pytest.mark.parametrize("name", facevox.list_models())
def test_every_shipped_file_matches_its_card(name: str) -> None:
    spec = facevox.get_model_spec(name)
    check_card(name)
    if spec.weights is not None:
        assert spec.card.sha256 == hashlib.sha256(spec.weights.read_bytes()).hexdigest()
    check_weights(name, facevox.create_model(name, pretrained=False))


def test_a_card_that_does_not_serialise_to_json_fails(registered: list[str]) -> None:
    base = toy_plugin.toy_spec()
    odd = dataclasses.replace(base, name="odd.card", card=dataclasses.replace(
        base.card, preprocessing=facevox.Preprocessing(mel={"window": object()})))
    _add(registered, _Specs(odd), "odd")
    with pytest.raises(ConformanceError, match="does not serialise to JSON"):
        check_card("odd.card")
