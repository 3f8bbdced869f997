"""`facevox train face-ae | face-cvae` on a tiny fer2013.csv fixture: checkpoint, grid, resume."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from facevox.cli import main


def _fer_csv(path: Path, n_train: int = 48, n_val: int = 16) -> Path:
    rng = np.random.default_rng(0)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for i in range(n_train + n_val):
            pixels = " ".join(map(str, rng.integers(0, 256, 48 * 48)))
            writer.writerow([i % 7, pixels, "Training" if i < n_train else "PublicTest"])
    return path


@pytest.mark.parametrize("kind", ["face-ae", "face-cvae"])
def test_train_writes_checkpoint_grid_and_resumes(kind: str, tmp_path: Path) -> None:
    data = _fer_csv(tmp_path / "fer2013.csv")
    out = tmp_path / "run"
    args = ["train", kind, "--data", str(data), "--out", str(out), "--batch-size", "16", "--threads", "1",
            "--latent-dim", "8", "--no-bf16", "--guide-pretrain-steps", "5"]
    assert main([*args, "--epochs", "1"]) == 0
    assert {"model.safetensors", "config.json", "state.pt", "history.json", "grid_epoch001.png"} <= {
        p.name for p in out.iterdir()}
    assert main([*args, "--epochs", "1"]) == 2  # refuses to overwrite a checkpoint without --resume
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert (out / "grid_epoch002.png").exists()


def test_spatial_bottleneck_and_ssim_loss_from_the_cli(tmp_path: Path) -> None:
    import json

    import facevox
    from facevox_face import ConvVAE
    from facevox_face.blocks import Bottleneck
    from facevox_face.vae import VAEConfig

    data = _fer_csv(tmp_path / "fer2013.csv")
    out = tmp_path / "run"
    args = ["train", "face-vae", "--data", str(data), "--out", str(out), "--batch-size", "16", "--threads", "1",
            "--no-bf16", "--bottleneck", "spatial", "--channels", "8,16,32", "--latent-dim", "72",
            "--ssim-weight", "5"]
    assert main([*args, "--epochs", "1"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["bottleneck"] == "spatial" and config["channels"] == [8, 16, 32] and config["latent_dim"] == 72
    history = json.loads((out / "history.json").read_text())
    assert 0 < history[-1]["1-ssim"] <= 2  # the structural term was part of the loss
    model = ConvVAE(facevox.config_from_dict(VAEConfig, config))
    assert model.config.bottleneck is Bottleneck.SPATIAL
    facevox.load_weights(model, out / "model.safetensors")  # the checkpoint fits the config it was saved with


def test_bad_architecture_options_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _fer_csv(tmp_path / "fer2013.csv")
    base = ["train", "face-ae", "--data", str(data), "--batch-size", "16", "--threads", "1", "--epochs", "1",
            "--no-bf16"]
    # 3 stages -> a 6x6 code map: 100 values do not fill it
    assert main([*base, "--out", str(tmp_path / "a"), "--bottleneck", "spatial", "--channels", "8,16,32",
                 "--latent-dim", "100"]) == 2
    assert "multiples of 36" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "b"), "--channels", "8,x"]) == 2
    assert "comma-separated integers" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "c"), "--bottleneck", "pyramid"]) == 2
    assert "dense" in capsys.readouterr().err
    assert not (tmp_path / "a" / "model.safetensors").exists()
