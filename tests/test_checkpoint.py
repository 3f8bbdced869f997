"""Safe checkpoints: round trip, tampering, truncation, mismatched configs, shipped weights."""

from __future__ import annotations

import json
from pathlib import Path

import facevox
import pytest
import torch
import toy_plugin
from facevox import CheckpointError, load_pretrained, load_weights, plugins, save_pretrained, save_weights
from facevox.validation import ConfigError


@pytest.fixture
def toy(isolated_plugins: None) -> torch.nn.Module:
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")
    torch.manual_seed(0)
    return facevox.create_model("toy.tiny", pretrained=False)


def test_round_trip_gives_identical_outputs_and_no_pickle(toy: torch.nn.Module, tmp_path: Path) -> None:
    x = torch.randn(3, 1, 8, 8)
    target = save_pretrained(toy, tmp_path / "ckpt")
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((target / "config.json").read_text())
    assert meta["model"] == "toy.tiny" and meta["config"] == {"input_size": [1, 8, 8], "hidden": 4}
    assert meta["card"]["labels"] == ["calm", "excited"]
    loaded = load_pretrained(target)
    assert not loaded.training
    toy.eval()
    assert torch.equal(toy(x), loaded(x))


def test_tampered_weights_are_refused(toy: torch.nn.Module, tmp_path: Path) -> None:
    target = save_pretrained(toy, tmp_path / "ckpt")
    data = bytearray((target / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (target / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match its config's sha256"):
        load_pretrained(target)


def test_truncated_weights_file_is_a_clear_error(toy: torch.nn.Module, tmp_path: Path) -> None:
    path = save_weights(toy, tmp_path / "w.safetensors")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_weights(toy, path)


def test_unknown_config_key_and_wrong_shapes(toy: torch.nn.Module, tmp_path: Path) -> None:
    target = save_pretrained(toy, tmp_path / "ckpt")
    meta = json.loads((target / "config.json").read_text())
    meta["config"]["depth"] = 3
    (target / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"unknown ToyConfig field\(s\) \['depth'\]"):
        load_pretrained(target)
    bigger = facevox.create_model("toy.tiny", pretrained=False, hidden=5)
    path = save_weights(toy, tmp_path / "w.safetensors")
    with pytest.raises(CheckpointError, match=r"do not fit ToyClassifier: shape mismatch net.1.bias: file \(4,\) vs model \(5,\), net.1.weight: file \(4, 64\) vs model \(5, 64\)"):
        load_weights(bigger, path)


def test_fp16_weights_load_into_float32(toy: torch.nn.Module, tmp_path: Path) -> None:
    path = save_weights(toy, tmp_path / "w.safetensors", dtype=torch.float16)
    fresh = facevox.create_model("toy.tiny", pretrained=False)
    load_weights(fresh, path)
    w = fresh.state_dict()["net.1.weight"]
    assert w.dtype == torch.float32
    assert torch.allclose(w, toy.state_dict()["net.1.weight"], atol=1e-3)


def test_missing_checkpoint_and_bad_override(toy: torch.nn.Module, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="checkpoint config not found"):
        load_pretrained(tmp_path / "nothing")
    with pytest.raises(ConfigError, match=r"unknown config field\(s\) \['widht'\]"):
        facevox.create_model("toy.tiny", widht=3)


def test_save_replaces_existing_checkpoint_whole(toy: torch.nn.Module, tmp_path: Path) -> None:
    save_pretrained(toy, tmp_path / "ckpt")
    with torch.no_grad():
        for p in toy.parameters():
            p.add_(1.0)
    save_pretrained(toy, tmp_path / "ckpt")
    loaded = load_pretrained(tmp_path / "ckpt")
    assert torch.equal(loaded.state_dict()["net.1.bias"], toy.state_dict()["net.1.bias"])
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no temporary leftovers


def test_weights_loader_used_only_when_pretrained(isolated_plugins: None) -> None:
    import dataclasses

    from facevox import hookimpl

    def fill_with_ones(model: torch.nn.Module) -> None:
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(1.0)

    class _Loaded:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register(dataclasses.replace(toy_plugin.toy_spec("toy.loaded"), weights_loader=fill_with_ones))

    plugins.register_plugin(_Loaded(), name="loaded")
    assert facevox.model_info("toy.loaded")["pretrained"] is True
    pretrained = facevox.create_model("toy.loaded")
    assert not pretrained.training
    assert all(bool((p == 1).all()) for p in pretrained.parameters())
    untrained = facevox.create_model("toy.loaded", pretrained=False)
    assert untrained.training and not all(bool((p == 1).all()) for p in untrained.parameters())
