"""``facevox train face-ae | face-vae | face-cvae`` on the Lightning engine, on a tiny generated fer2013.csv:
a run that learns, resumes from its last checkpoint and exports a ``best/`` folder; ``--init`` sources; errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import facevox
import numpy as np
import pytest
import torch
from facevox.cli import main

_SMALL = ["--batch-size", "16", "--threads", "1", "--no-bf16", "--channels", "8,16,32"]


def _fer_csv(path: Path, n_train: int = 48, n_val: int = 16, structured: bool = False) -> Path:
    """A fer2013.csv of random faces; ``structured``: a dark vertical gradient per class plus noise (learnable)."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, 48)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for i in range(n_train + n_val):
            if structured:
                face = 30 + 90 * np.outer(ramp ** (1 + i % 7), np.ones(48)) + rng.normal(0, 4, (48, 48))
                pixels = np.clip(face, 0, 255).astype(int).ravel()
            else:
                pixels = rng.integers(0, 256, 48 * 48)
            writer.writerow([i % 7, " ".join(map(str, pixels)), "Training" if i < n_train else "PublicTest"])
    return path


def _ckpt(out: Path, name: str = "last") -> dict:
    return torch.load(out / "checkpoints" / f"{name}.ckpt", map_location="cpu", weights_only=True)


def test_face_ae_learns_resumes_and_exports_best(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from facevox_face import ConvAutoencoder
    from facevox_face.ae import AEConfig
    from facevox_face.training import _load, _to_float, evaluate_reconstruction

    data = _fer_csv(tmp_path / "fer2013.csv", structured=True)
    out = tmp_path / "run"
    args = ["train", "face-ae", "--data", str(data), "--out", str(out), *_SMALL, "--latent-dim", "8",
            "--warmup-steps", "1", "--lr", "3e-3"]
    assert main([*args, "--epochs", "2"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"checkpoints", "best", "history.json", "metrics.jsonl", "settings.json", "grid_epoch001.png",
            "grid_epoch002.png"} <= names
    assert not {"state.pt", "model.safetensors", "config.json"} & names  # no look-alike of a save_pretrained folder
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[1]["loss"] < 0.9 * history[0]["loss"] and history[1]["sq"] < history[0]["sq"]  # it learns
    first = _ckpt(out)
    torch.manual_seed(0)
    fresh = ConvAutoencoder(AEConfig(channels=(8, 16, 32), latent_dim=8)).state_dict()
    assert any(not torch.equal(first["state_dict"][f"model.{k}"], v) for k, v in fresh.items() if v.is_floating_point())
    assert any(k.startswith("aux.") for k in first["state_dict"])  # the auxiliary head trains and resumes

    assert main([*args, "--epochs", "3"]) == 2  # refuses to train over a checkpoint without --resume
    assert "pass --resume" in capsys.readouterr().err
    assert main([*args, "--epochs", "3", "--resume"]) == 0
    assert "resuming" in capsys.readouterr().err
    last = _ckpt(out)
    assert last["global_step"] == 9 and last["facevox"]["epochs_done"] == 3  # 3 steps an epoch
    assert last["lr_schedulers"][0]["last_epoch"] == 9  # the schedule continued
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2, 3] and (out / "grid_epoch003.png").is_file()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "val_ssim" in r] == [3, 6, 9]  # appended across the resume
    assert main([*args, "--epochs", "3", "--resume"]) == 1
    assert "already has 3 epochs" in capsys.readouterr().err

    best = facevox.load_pretrained(out / "best")  # the best weights as a save_pretrained folder
    assert isinstance(best, ConvAutoencoder) and best.config == AEConfig(channels=(8, 16, 32), latent_dim=8)
    x_val = _to_float(_load(data, "val", 0, 0)[0])
    scores = evaluate_reconstruction(best, x_val)
    assert scores["ssim"] == pytest.approx(max(r["val_ssim"] for r in history), abs=1e-5)  # picked by val_ssim
    recon = best.reconstruct(x_val[:2])
    assert recon.shape == (2, 1, 48, 48) and torch.isfinite(recon).all()


def test_face_cvae_resumes_its_trained_guide(tmp_path: Path) -> None:
    data = _fer_csv(tmp_path / "fer2013.csv")
    out = tmp_path / "run"
    args = ["train", "face-cvae", "--data", str(data), "--out", str(out), *_SMALL, "--latent-dim", "8",
            "--guide-pretrain-steps", "5"]
    assert main([*args, "--epochs", "1"]) == 0
    state = _ckpt(out)["facevox"]
    assert state["recipe"] == "face-cvae" and set(state["guide"]) and "guide_opt" in state
    steps = {float(p["step"]) for p in state["guide_opt"]["state"].values()}
    assert steps == {8.0}  # 5 steps alone, then one after each of the 3 model steps
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    state = _ckpt(out)["facevox"]
    assert {float(p["step"]) for p in state["guide_opt"]["state"].values()} == {11.0}  # resumed, not restarted
    history = json.loads((out / "history.json").read_text())
    assert {"guide_ce", "ident", "guide_train_ce", "guide_val_acc", "guide_morph_rate", "kl"} <= set(history[-1])
    assert isinstance(facevox.load_pretrained(out / "best"), facevox.ConditionalFaceAutoencoder)


def test_spatial_bottleneck_and_ssim_loss_from_the_cli(tmp_path: Path) -> None:
    from facevox_face import ConvVAE
    from facevox_face.blocks import Bottleneck

    data = _fer_csv(tmp_path / "fer2013.csv")
    out = tmp_path / "run"
    args = ["train", "face-vae", "--data", str(data), "--out", str(out), *_SMALL, "--bottleneck", "spatial",
            "--latent-dim", "72", "--ssim-weight", "5"]
    assert main([*args, "--epochs", "1"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert 0 < history[-1]["1-ssim"] <= 2  # the structural term was part of the loss
    model = facevox.load_pretrained(out / "best")
    assert isinstance(model, ConvVAE) and model.config.bottleneck is Bottleneck.SPATIAL
    assert model.config.channels == (8, 16, 32) and model.config.latent_dim == 72
    assert model.latent_scale.abs().sum() != model.latent_dim  # the sampling prior was fitted before saving


def test_init_accepts_old_runs_shipped_weights_best_folders_and_checkpoints(tmp_path: Path) -> None:
    from facevox_face import ConditionalVAE, ConvVAE
    from facevox_face.plugin import CVAE_CONFIG
    from facevox_face.training import _init_from
    from facevox_face.vae import VAEConfig
    from safetensors.torch import save_file

    shipped = Path(__file__).parents[1] / "plugins" / "facevox_face" / "weights" / "face_vae.safetensors"
    vae = facevox.create_model("face.vae")
    cvae = ConditionalVAE(CVAE_CONFIG)
    _init_from(cvae, shipped)  # VAE -> CVAE: the latent inputs copied, the condition inputs zero
    for key, value in vae.encoder.state_dict().items():
        assert torch.equal(cvae.encoder.state_dict()[key], value)
    widened = [k for k, v in cvae.decoder.state_dict().items() if v.shape != vae.decoder.state_dict()[k].shape]
    assert widened
    for key in widened:
        extra = cvae.decoder.state_dict()[key][:, vae.decoder.state_dict()[key].shape[1] :]
        assert extra.abs().sum() == 0

    data = _fer_csv(tmp_path / "fer2013.csv")
    run = tmp_path / "vae"
    assert main(["train", "face-vae", "--data", str(data), "--out", str(run), *_SMALL, "--latent-dim", "8",
                 "--epochs", "1"]) == 0
    trained = facevox.load_pretrained(run / "best").state_dict()
    old = tmp_path / "old"  # a run from before Lightning: model.safetensors + config.json + state.pt
    old.mkdir()
    save_file({k: v.contiguous() for k, v in trained.items()}, str(old / "model.safetensors"))
    for source in (run / "best", run, old / "model.safetensors", run / "checkpoints" / "best.ckpt"):
        small = ConvVAE(VAEConfig(channels=(8, 16, 32), latent_dim=8))
        _init_from(small, source)
        for key, value in small.state_dict().items():
            assert torch.equal(value, trained[key]), (source, key)


def test_old_runs_restart_and_errors_name_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _fer_csv(tmp_path / "fer2013.csv")
    old = tmp_path / "old"
    old.mkdir()
    torch.save({"epoch": 1, "step": 3}, old / "state.pt")
    base = ["train", "face-ae", "--data", str(data), *_SMALL, "--epochs", "1"]
    assert main([*base, "--out", str(old), "--resume"]) == 1
    err = capsys.readouterr().err
    assert "before facevox moved to Lightning" in err and "--init" in err
    assert main([*base, "--out", str(old)]) == 2
    assert main([*base, "--out", str(tmp_path / "new"), "--resume"]) == 1
    assert "no checkpoint" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "p"), "--bf16", "--precision", "32"]) == 2
    assert "contradicts --precision" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "i"), "--init", str(tmp_path)]) == 2
    assert "--init" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "b"), "--beta", "0.1"]) == 2
    assert "--beta applies to face-vae and face-cvae only" in capsys.readouterr().err


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
    assert not (tmp_path / "a" / "checkpoints").exists()
