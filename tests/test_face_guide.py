"""CVAE guides (facevox_face.guide): blur, a frozen registered classifier with random views, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import click
import facevox
import pytest
import torch
from facevox.cli import main
from facevox_face.guide import GuideEnsemble, PretrainedGuide, gaussian_blur

from tests.test_face_train import _fer_csv

_LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def test_gaussian_blur_keeps_flat_images_and_smooths_edges() -> None:
    flat = torch.full((2, 1, 12, 12), 0.3)
    assert torch.allclose(gaussian_blur(flat, 1.5), flat, atol=1e-6)
    step = torch.zeros(1, 1, 12, 12)
    step[..., 6:] = 1.0
    out = gaussian_blur(step, 1.5)
    assert 0.05 < out[0, 0, 0, 5] < 0.5 < out[0, 0, 0, 6] < 0.95  # the edge is spread over neighbours
    assert torch.allclose(gaussian_blur(step, 0.0), step, atol=1e-6)  # sigma 0: unchanged
    # per-image sigmas equal one call per image
    pair = torch.cat([step, step.flip(-1)])
    both = gaussian_blur(pair, torch.tensor([0.5, 2.0]))
    assert torch.allclose(both[:1], gaussian_blur(step, 0.5), atol=1e-6)
    assert torch.allclose(both[1:], gaussian_blur(step.flip(-1), 2.0), atol=1e-6)


def test_pretrained_guide_is_frozen_and_matches_the_classifier_in_eval() -> None:
    guide = PretrainedGuide("expression.resmasknet", None, _LABELS)
    faces = torch.rand(4, 1, 48, 48, requires_grad=True)
    reference = facevox.create_model("expression.resmasknet").eval()
    guide.eval()
    with torch.no_grad():
        expected = reference((faces - 0.5) / 0.25)  # the card's Preprocessing: mean 0.5, std 0.25
    assert torch.allclose(guide(faces), expected, atol=1e-4)
    guide.train()
    assert not guide.classifier.training  # frozen batch-norm statistics
    torch.manual_seed(0)
    a = guide(faces)
    torch.manual_seed(1)
    b = guide(faces)
    assert not torch.allclose(a, b)  # random views in training mode
    a.sum().backward()
    assert faces.grad is not None and faces.grad.abs().sum() > 0  # gradients reach the decoded faces
    assert all(p.grad is None for p in guide.parameters())


def test_pretrained_guide_reorders_labels_to_the_cvae() -> None:
    reordered = tuple(reversed(_LABELS))
    guide = PretrainedGuide("expression.resmasknet", None, reordered).eval()
    plain = PretrainedGuide("expression.resmasknet", None, _LABELS).eval()
    faces = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        assert torch.allclose(guide(faces), plain(faces).flip(1), atol=1e-5)


def test_guide_ensemble_averages_member_probabilities(tmp_path: Path) -> None:
    torch.manual_seed(0)
    small = facevox.create_model("expression.resmasknet_small", pretrained=False)
    weights = facevox.save_weights(small, tmp_path / "small.safetensors")
    members = [PretrainedGuide("expression.resmasknet", None, _LABELS),
               PretrainedGuide("expression.resmasknet_small", weights, _LABELS)]
    ensemble = GuideEnsemble(members).eval()
    faces = torch.rand(3, 1, 48, 48)
    with torch.no_grad():
        p = [torch.softmax(m(faces), 1) for m in members]
        out = ensemble(faces)
    assert torch.allclose(out.exp(), (p[0] + p[1]) / 2, atol=1e-5)  # log of the mean probability
    assert torch.allclose(out.exp().sum(1), torch.ones(3), atol=1e-5)
    assert not torch.allclose(p[0], p[1], atol=1e-3)  # two different members, so the mean is not trivial
    assert ensemble.trainable is False and not any(q.requires_grad for q in ensemble.parameters())
    with pytest.raises(ValueError, match="at least one member"):
        GuideEnsemble([])


def test_pretrained_guide_refuses_unusable_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import facevox_face.guide as guide_module

    spec = facevox.get_model_spec("expression.resmasknet_small")
    unshipped = dataclasses.replace(spec, weights=None)  # a registered model that ships no weights
    monkeypatch.setattr(guide_module, "get_model_spec", lambda name: unshipped if name == spec.name else facevox.get_model_spec(name))
    with pytest.raises(click.BadParameter, match="ships no weights"):
        PretrainedGuide("expression.resmasknet_small", None, _LABELS)
    monkeypatch.undo()
    with pytest.raises(click.BadParameter, match="no-such-model"):
        PretrainedGuide("no-such-model", None, _LABELS)
    with pytest.raises(click.BadParameter, match="needs the labels"):
        PretrainedGuide("expression.resmasknet", None, ("a", "b"))
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(click.BadParameter, match="safetensors"):
        PretrainedGuide("expression.resmasknet_small", bad, _LABELS)


def test_face_cvae_trains_with_a_frozen_guide_from_the_cli(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = _fer_csv(tmp_path / "fer2013.csv")
    small = facevox.create_model("expression.resmasknet_small", pretrained=False)
    weights = facevox.save_weights(small, tmp_path / "guide.safetensors")
    out = tmp_path / "run"
    args = ["train", "face-cvae", "--data", str(data), "--out", str(out), "--batch-size", "16", "--threads", "1",
            "--latent-dim", "8", "--no-bf16", "--epochs", "1", "--guide-model", "expression.resmasknet_small",
            "--guide-weights", str(weights)]
    assert main(args) == 0
    history = json.loads((out / "history.json").read_text())
    assert history[-1]["guide_ce"] > 0 and "guide_train_ce" not in history[-1]  # used, never trained
    settings = json.loads((out / "settings.json").read_text())
    assert settings["guide_model"] == "expression.resmasknet_small" and settings["guide_weights"] == str(weights)
    for name in ("last", "best"):  # a frozen guide is never saved: only the CVAE's weights are in the checkpoint
        checkpoint = torch.load(out / "checkpoints" / f"{name}.ckpt", weights_only=True)
        assert all(k.startswith("model.") for k in checkpoint["state_dict"])
        assert "guide" not in checkpoint["facevox"] and "guide_opt" not in checkpoint["facevox"]
        assert len(checkpoint["optimizer_states"]) == 1
    assert main([*args[:-4], "--guide-weights", str(weights), "--out", str(tmp_path / "b")]) == 2
    assert "--guide-weights needs --guide-model" in capsys.readouterr().err
    # an ensemble: one --guide-weights per --guide-model, or none
    pair = [*args, "--guide-model", "expression.resmasknet", "--out", str(tmp_path / "c")]
    assert main(pair) == 2
    assert "1 --guide-weights for 2 --guide-model" in capsys.readouterr().err
    assert main([*pair[:-1], str(tmp_path / "d"), "--guide-weights", str(weights)]) == 2
    assert "do not fit ResMaskNet" in capsys.readouterr().err  # weights pair with models in order
    base = facevox.save_weights(facevox.create_model("expression.resmasknet", pretrained=False),
                                tmp_path / "base.safetensors")
    assert main([*pair[:-1], str(tmp_path / "d"), "--guide-weights", str(base)]) == 0
    settings = json.loads((tmp_path / "d" / "settings.json").read_text())
    assert settings["guide_model"] == "expression.resmasknet_small,expression.resmasknet"
