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
