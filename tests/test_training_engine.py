"""The shared training engine (facevox.training): common options, --devices errors, resume, and
recipes trained on two processes (DDP over gloo) whose replicas end with identical weights."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from facevox.compat import cpu_has_bf16
from facevox.training import (
    Deadline,
    Devices,
    TrainingOptions,
    build_trainer,
    default_precision,
    resume_checkpoint,
    state_digest,
)
from facevox_expression.train import command as expression_command
from facevox_tts.train_fastspeech import train_fastspeech_command
from tts_corpus import write_corpus

COMMON = ["--out", "--resume", "--deadline", "--devices", "--num-nodes", "--accelerator", "--strategy", "--precision",
          "--gradient-clip"]
TWO_PROCESSES = ["--devices", "2", "--accelerator", "cpu", "--strategy", "ddp", "--precision", "32"]
TINY_FASTSPEECH = "n_mels=80,dim=32,heads=2,ffn_dim=48,encoder_layers=1,decoder_layers=1,duration_channels=16"


def _fer_csv(path: Path, n_train: int = 8, n_val: int = 2) -> Path:
    rng = np.random.default_rng(0)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for usage, n in (("Training", n_train), ("PublicTest", n_val)):
            for emotion in range(7):
                for _ in range(n):
                    img = rng.integers(0, 60, (48, 48)) + emotion * 25  # brightness encodes the class
                    writer.writerow([emotion, " ".join(map(str, img.ravel())), usage])
    return path


# "a cat." / "a cab." as the teacher phonemises them (frames per phoneme), as in test_tts_fastspeech.
_TEXTS = ["a cat.", "a cab."]
_TSVS = ["^\t2\nə\t5\n \t1\nk\t4\næ\t5\nt\t5\n.\t4\n$\t3\n", "^\t2\nə\t6\n \t1\nk\t4\næ\t6\nb\t6\n.\t4\n$\t3\n"]


# ---------------------------------------------------------------- options


@pytest.mark.parametrize("command, budget", [(expression_command, "--epochs"), (train_fastspeech_command, "--steps")],
                         ids=["expression", "tts-fastspeech"])
def test_help_lists_the_common_options_once_after_the_recipe_options(command: click.Command, budget: str) -> None:
    result = CliRunner().invoke(command, ["--help"])
    assert result.exit_code == 0, result.output
    own, sep, common = result.output.partition("Training options (every recipe):")
    assert sep, result.output
    for option in [*COMMON, budget]:
        assert common.count(f"  {option} ") + common.count(f"  {option}/") == 1, option
        assert f"  {option}" not in own, option
    assert "--data" in own and "--data" not in common and "--seed" in own


@pytest.mark.parametrize("value", ["0", "-3", "abc", "1.5", "0,0", ","])
def test_a_bad_devices_value_is_a_click_error_naming_the_accepted_forms(tmp_path: Path, value: str) -> None:
    data = _fer_csv(tmp_path / "fer2013.csv", 1, 1)
    out = tmp_path / "run"
    result = CliRunner().invoke(expression_command, ["--data", str(data), "--out", str(out), "--devices", value])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--devices'" in result.output
    assert "a positive number of processes or devices (e.g. 2), 'auto', -1" in result.output
    assert not out.exists()


def test_devices_deadline_and_precision_values() -> None:
    devices = Devices()
    assert [devices.convert(v, None, None) for v in ["2", 3, "auto", "-1", "0,1", "1,"]] == [2, 3, "auto", -1, [0, 1], [1]]
    deadline = Deadline()
    assert deadline.convert("2030-01-02T03:04", None, None) == datetime(2030, 1, 2, 3, 4, tzinfo=timezone.utc)
    assert deadline.convert("2030-01-02T03:04+02:00", None, None).utcoffset() == timedelta(hours=2)
    assert deadline.convert("23:59", None, None).date() == datetime.now(timezone.utc).date()
    with pytest.raises(click.BadParameter, match="is not HH:MM or an ISO 8601 time"):
        deadline.convert("soon", None, None)
    assert default_precision("cpu") == ("bf16-mixed" if cpu_has_bf16() else "32-true")
    options = TrainingOptions(Path("x"), max_epochs=1, accelerator="cpu")
    assert options.resolved_precision() == default_precision("cpu") and options.bf16 == cpu_has_bf16()
    assert TrainingOptions(Path("x"), precision="32").resolved_precision() == "32-true"
    assert TrainingOptions(Path("x"), precision="bf16").bf16


def test_options_build_the_trainer(tmp_path: Path) -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint, Timer

    soon = datetime.now(timezone.utc) + timedelta(hours=1)
    options = TrainingOptions(tmp_path, max_epochs=3, accelerator="cpu", gradient_clip=0.5, deadline=soon)
    trainer = build_trainer(options, monitor="val_loss", mode="min")
    assert trainer.max_epochs == 3 and trainer.gradient_clip_val == 0.5 and trainer.world_size == 1
    assert trainer.precision == default_precision("cpu")
    (best,) = [c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)]
    assert Path(best.dirpath) == tmp_path / "checkpoints" and best.monitor == "val_loss" and best.save_last
    (timer,) = [c for c in trainer.callbacks if isinstance(c, Timer)]
    assert 3500 < timer.time_remaining() <= 3600  # type: ignore[operator]
    steps = build_trainer(TrainingOptions(tmp_path, max_steps=20, accelerator="cpu", precision="32"),
                          monitor="val_loss", mode="min", val_check_interval=5)
    assert steps.max_steps == 20 and steps.max_epochs == -1 and steps.val_check_interval == 5
    with pytest.raises(click.BadParameter, match="has already passed"):
        build_trainer(TrainingOptions(tmp_path, max_epochs=1, deadline=soon - timedelta(days=1)), monitor="m", mode="min")
    with pytest.raises(click.BadParameter, match="need --accelerator gpu"):
        build_trainer(TrainingOptions(tmp_path, max_epochs=1, accelerator="cpu", devices=[0, 1]), monitor="m", mode="min")


# ---------------------------------------------------------------- resume


def _toy_module() -> Any:
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    class Toy(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Linear(4, 1)
            gen = torch.Generator().manual_seed(0)
            self.data = TensorDataset(torch.randn(12, 4, generator=gen), torch.randn(12, 1, generator=gen))
            self.epochs_started: list[int] = []

        def train_dataloader(self) -> DataLoader:
            return DataLoader(self.data, batch_size=4)

        def val_dataloader(self) -> DataLoader:
            return DataLoader(self.data, batch_size=12)

        def on_train_epoch_start(self) -> None:
            self.epochs_started.append(self.current_epoch)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(batch[0]), batch[1]))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    return Toy()


def test_resume_continues_the_epoch_and_step_counts(tmp_path: Path) -> None:
    first = _toy_module()
    options = TrainingOptions(tmp_path, max_epochs=2, accelerator="cpu", precision="32")
    build_trainer(options, monitor="val_loss", mode="min", enable_progress_bar=False).fit(first)
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file() and (tmp_path / "checkpoints" / "best.ckpt").is_file()
    resumed = _toy_module()
    options = TrainingOptions(tmp_path, max_epochs=3, resume=True, accelerator="cpu", precision="32")
    trainer = build_trainer(options, monitor="val_loss", mode="min", enable_progress_bar=False)
    trainer.fit(resumed, ckpt_path=resume_checkpoint(options))
    assert resumed.epochs_started == [2] and trainer.current_epoch == 3 and trainer.global_step == 9
    torch.testing.assert_close(resumed.net.weight, trainer.lightning_module.net.weight)
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [0, 1, 2]  # the log is appended to, not restarted
    assert not list(tmp_path.glob("rank*.sha256"))  # digests only with several processes


def test_last_checkpoint_follows_every_epoch_when_the_metric_stops_improving(tmp_path: Path) -> None:
    worsening = _toy_module()
    worsening.validation_step = lambda batch, batch_idx: worsening.log(  # type: ignore[method-assign]
        "val_loss", float(worsening.current_epoch))  # best at epoch 0, worse after
    options = TrainingOptions(tmp_path, max_epochs=3, accelerator="cpu", precision="32")
    build_trainer(options, monitor="val_loss", mode="min", enable_progress_bar=False).fit(worsening)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (2, 9)  # Lightning's own save_last stopped at epoch 0
    assert (best["epoch"], best["global_step"]) == (0, 3)
    torch.testing.assert_close(last["state_dict"]["net.weight"], worsening.net.weight.detach())
    (state,) = [v for k, v in last["callbacks"].items() if "BestAndLastCheckpoint" in k]
    assert float(state["best_model_score"]) == 0.0  # written after the top-k update: the best so far
    resumed = _toy_module()
    options = TrainingOptions(tmp_path, max_epochs=4, resume=True, accelerator="cpu", precision="32")
    build_trainer(options, monitor="val_loss", mode="min", enable_progress_bar=False).fit(
        resumed, ckpt_path=resume_checkpoint(options))
    assert resumed.epochs_started == [3]  # not [1, 2, 3]
    # validation every few steps (the TTS recipes): the same
    steps = _toy_module()
    steps.validation_step = lambda batch, batch_idx: steps.log(  # type: ignore[method-assign]
        "val_loss", float(steps.global_step))
    options = TrainingOptions(tmp_path / "steps", max_steps=8, accelerator="cpu", precision="32")
    build_trainer(options, monitor="val_loss", mode="min", val_check_interval=2, enable_progress_bar=False).fit(steps)
    last = torch.load(tmp_path / "steps" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    best = torch.load(tmp_path / "steps" / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert (last["global_step"], best["global_step"]) == (8, 2)


def test_resume_without_a_checkpoint_or_from_the_old_format_says_so(tmp_path: Path) -> None:
    assert resume_checkpoint(TrainingOptions(tmp_path)) is None
    with pytest.raises(click.ClickException, match="no checkpoint at .*last.ckpt"):
        resume_checkpoint(TrainingOptions(tmp_path, resume=True))
    torch.save({"epoch": 3}, tmp_path / "last.pt")
    with pytest.raises(click.ClickException, match="last.pt was written by the training code before facevox moved to "
                                                   "Lightning and cannot be resumed; start a new run"):
        resume_checkpoint(TrainingOptions(tmp_path, resume=True), hint=", or not")
    data = _fer_csv(tmp_path / "fer2013.csv", 1, 1)
    result = CliRunner().invoke(expression_command, ["--data", str(data), "--out", str(tmp_path), "--resume"])
    assert result.exit_code == 1 and "--init" in result.output and "best.safetensors" in result.output


# ---------------------------------------------------------------- two processes


def _facevox(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter: Lightning's DDP launcher starts rank 1 by re-running it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("LOCAL_RANK", None)
    done = subprocess.run([sys.executable, "-m", "facevox.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def _same_weights_on_both_ranks(out: Path) -> str:
    digests = {(out / f"rank{r}.sha256").read_text().strip() for r in (0, 1)}
    assert len(digests) == 1, digests
    (digest,) = digests
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state_digest(checkpoint["state_dict"]) == digest  # what rank 0 saved is what both hold
    return digest


@pytest.mark.slow
def test_expression_trains_one_epoch_on_two_processes_with_identical_weights(tmp_path: Path) -> None:
    from facevox_expression.model import ResMaskNet
    from facevox_expression.train import VARIANTS
    from safetensors.torch import load_file

    data = _fer_csv(tmp_path / "fer2013.csv")
    out = tmp_path / "run"
    done = _facevox(["train", "expression", "--data", str(data), "--out", str(out), "--epochs", "1",
                     "--batch-size", "14", "--variant", "resmasknet_small", "--threads", "1", "--holdout", "14",
                     *TWO_PROCESSES])
    _same_weights_on_both_ranks(out)
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history["epochs"]] == [1] and history["settings"]["processes"] == 2
    assert json.loads(done.stdout)["best_epoch"] == 1  # one result line, from rank 0 only
    ResMaskNet(VARIANTS["resmasknet_small"]).load_state_dict(load_file(str(out / "best.safetensors")))


@pytest.mark.slow
def test_fastspeech_trains_20_steps_on_two_processes_with_identical_weights(tmp_path: Path) -> None:
    from facevox import load_pretrained

    corpus = write_corpus(tmp_path / "corpus", _TEXTS * 3, [0.5] * 6, _TSVS * 3)
    out = tmp_path / "run"
    _facevox(["train", "tts-fastspeech", "--data", str(corpus), "--out", str(out), "--steps", "20",
              "--val-count", "1", "--batch-size", "2", "--eval-every", "10", "--model-config", TINY_FASTSPEECH,
              *TWO_PROCESSES])
    _same_weights_on_both_ranks(out)
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == 20
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "val_mel" in r] == [10, 20]
    load_pretrained(out / "best")
