"""The expression recipe as a Lightning module; :mod:`facevox_expression.train` is its driver.

One optimiser step per batch of ``batch_size`` faces per process (with ``--devices N`` the
global batch is ``N * batch_size``; each process draws its own shard of every epoch's
shuffled order, ``DistributedSampler``). Augmentation and CutMix run on the CPU side before
the batch moves to the device (:meth:`ExpressionModule.on_before_batch_transfer`), from a
generator seeded by (seed, epoch, rank), so a run is reproducible and a resumed run draws
what an uninterrupted one would from the next epoch on.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from facevox.io import atomic_write_text
from facevox.training import echo
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from facevox_expression.augment import augment, cutmix
from facevox_expression.distill import TeacherEnsemble, distillation_loss
from facevox_expression.model import ResMaskNet
from facevox_expression.train import _fit_epochs, _save_safetensors, evaluate, lr_at

__all__ = ["ExpressionModule"]


class ExpressionModule(pl.LightningModule):
    """Trains a :class:`ResMaskNet` with the recipe's loss, schedule and per-epoch validation.

    Args:
        model: the network (channels-last), already initialised or warm-started.
        train_data: ``(N, 48, 48)`` uint8 faces and ``(N,)`` int64 labels.
        val_data: the validation split, the same way (validated whole, with flip TTA, on
            every process: all of them get the same metrics).
        class_weights: ``(K,)`` float32 loss weights.
        out: the run folder; rank 0 writes ``best.safetensors``, ``best.json`` and
            ``history.json`` there after every validation.
        settings: recorded in ``best.json`` and ``history.json`` (``epochs`` is kept current).
        teacher: frozen distillation teachers (not part of the checkpoint), or ``None``.
        bf16: whether the run computes in bfloat16 (the teachers and validation follow it).
        deadline: shorten the epoch count (and the schedule) to what the measured pace allows.
        Other arguments: as :func:`facevox_expression.train.train`.
    """

    def __init__(self, model: ResMaskNet, train_data: tuple[Tensor, Tensor], val_data: tuple[Tensor, Tensor],
                 class_weights: Tensor, out: Path, settings: dict[str, Any], *, batch_size: int, lr: float,
                 weight_decay: float, optimizer_name: str, label_smoothing: float, cutmix_p: float,
                 low_res: int, low_res_fraction: float, crop: int | None, seed: int, bf16: bool,
                 teacher: TeacherEnsemble | None = None, kd_weight: float = 0.9, kd_temperature: float = 2.0,
                 deadline: datetime | None = None) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("class_weights", class_weights, persistent=False)
        self._train, self._val = train_data, val_data
        self._teachers = [teacher] if teacher is not None else []  # a list: kept out of the state dict
        self.out, self.settings = Path(out), settings
        self.batch_size, self.lr, self.weight_decay, self.optimizer_name = batch_size, lr, weight_decay, optimizer_name
        self.label_smoothing, self.cutmix_p = label_smoothing, cutmix_p
        self.low_res, self.low_res_fraction, self.crop, self.seed, self.bf16 = low_res, low_res_fraction, crop, seed, bf16
        self.kd_weight, self.kd_temperature, self.deadline = kd_weight, kd_temperature, deadline
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {"accuracy": -1.0}
        self._gen = torch.Generator()
        self._gen_epoch = -1
        self._total_steps = 1
        self._epoch_start = time.time()
        self._sums = torch.zeros(3, dtype=torch.float64)  # loss * n, correct, n (this process)

    # ---------------------------------------------------------------- data

    def train_dataloader(self) -> DataLoader:
        world, rank = self.trainer.world_size, self.global_rank
        dataset = TensorDataset(*self._train)
        sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=self.seed,
                                     drop_last=True)
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader([self._val], batch_size=None)  # the whole split as one batch: evaluate() batches it

    def side(self, epoch: int) -> tuple[int, int | None]:
        """Training face side and crop of ``epoch`` (progressive resizing, then crops)."""
        low = epoch < int(round(self.low_res_fraction * self.trainer.max_epochs))
        return (self.low_res, None) if low else (self.crop or 48, self.crop)

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if not self.trainer.training:
            return batch
        images, labels = batch
        epoch = self.current_epoch
        if self._gen_epoch != epoch:
            self._gen.manual_seed((self.seed * 1_000_003 + epoch * 7_919 + self.global_rank * 104_729) % 2**63)
            self._gen_epoch = epoch
        side, crop = self.side(epoch)
        x = augment(images, self._gen, size=side, crop=crop).contiguous(memory_format=torch.channels_last)
        if self.cutmix_p:
            x, perm, lam = cutmix(x, self._gen, p=self.cutmix_p)
            return x, labels, labels[perm], torch.tensor(lam)
        return x, labels, labels, torch.tensor(1.0)

    # ---------------------------------------------------------------- optimisation

    def configure_optimizers(self) -> Any:
        named = list(self.model.named_parameters())
        groups = [{"params": [p for _, p in named if p.dim() > 1], "weight_decay": self.weight_decay},
                  {"params": [p for _, p in named if p.dim() <= 1], "weight_decay": 0.0}]
        # lr 1.0 is a placeholder: the scheduler's factor is the absolute rate of lr_at, so a
        # resumed run follows its current --lr and --epochs (the schedule is a pure function of the step)
        if self.optimizer_name == "adamw":
            optimizer: torch.optim.Optimizer = torch.optim.AdamW(groups, lr=1.0)
        else:
            optimizer = torch.optim.SGD(groups, lr=1.0, momentum=0.9, nesterov=True)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_at(step, self._total_steps, self.lr))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_fit_start(self) -> None:
        for teacher in self._teachers:
            teacher.to(self.device)

    def on_train_start(self) -> None:
        self._total_steps = self.trainer.max_epochs * self.trainer.num_training_batches
        for group in self.trainer.optimizers[0].param_groups:  # a resumed run: the current schedule's rate
            group["lr"] = lr_at(self.global_step, self._total_steps, self.lr)
        self._epoch_start = time.time()

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.time()
        self._sums = torch.zeros(3, dtype=torch.float64)
        if self.deadline is None:
            return
        epoch, total = self.current_epoch, self.trainer.max_epochs
        new_total = total
        if self.global_rank == 0:
            side = self.crop or 48
            new_total = _fit_epochs(self.history, epoch, total, self.deadline, self.low_res, self.low_res_fraction, side)
        new_total = int(self.trainer.strategy.broadcast(new_total, src=0))
        if new_total != total:
            echo(f"deadline {self.deadline:%H:%M %Z}: schedule shortened from {total} to {new_total} epochs")
            self.trainer.fit_loop.max_epochs = new_total
            self._total_steps = new_total * self.trainer.num_training_batches
            self.settings["epochs"] = new_total

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y, y_mix, lam = batch
        logits = self.model(x).float()
        loss = F.cross_entropy(logits, y, weight=self.class_weights, label_smoothing=self.label_smoothing)
        if float(lam) < 1.0:
            loss = lam * loss + (1.0 - lam) * F.cross_entropy(
                logits, y_mix, weight=self.class_weights, label_smoothing=self.label_smoothing)
        if self._teachers:
            targets = self._teachers[0].soft_targets(x, self.kd_temperature, bf16=self.bf16)
            loss = self.kd_weight * distillation_loss(logits, targets, self.kd_temperature) + (1.0 - self.kd_weight) * loss
        n = len(y)
        self._sums += torch.tensor([float(loss.detach()) * n, float((logits.argmax(-1) == y).sum()), n],
                                   dtype=torch.float64)
        self.log("loss", loss.detach(), prog_bar=True, batch_size=n)
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"], prog_bar=True, batch_size=n)
        return loss

    # ---------------------------------------------------------------- validation and export

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        images, labels = batch
        self._metrics = evaluate(self.model, images, labels, bf16=self.bf16)
        for key in ("accuracy", "accuracy_noflip", "ece"):
            self.log(f"val_{key}", float(self._metrics[key]), batch_size=len(labels))

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        metrics = self._metrics
        sums = self.trainer.strategy.reduce(self._sums.to(self.device), reduce_op="sum").cpu()
        count = max(float(sums[2]), 1.0)
        epoch = self.current_epoch + 1
        record = {"epoch": epoch, "side": self.side(self.current_epoch)[0],
                  "train_loss": round(float(sums[0]) / count, 4), "train_accuracy": round(float(sums[1]) / count, 4),
                  "val_accuracy": round(metrics["accuracy"], 4), "val_accuracy_noflip": round(metrics["accuracy_noflip"], 4),
                  "recall": metrics["recall"], "seconds": round(time.time() - self._epoch_start, 1)}
        self.history.append(record)
        improved = metrics["accuracy"] > self.best["accuracy"]
        if improved:
            self.best = {**metrics, "epoch": epoch, "settings": self.settings}
        if self.global_rank == 0:
            if improved:
                _save_safetensors(self.model, self.out / "best.safetensors",
                                  {"variant": self.settings["variant"], "epoch": str(epoch),
                                   "val_accuracy": f"{metrics['accuracy']:.4f}"})
                atomic_write_text(self.out / "best.json", json.dumps(self.best, indent=1))
            atomic_write_text(self.out / "history.json",
                              json.dumps({"settings": self.settings, "epochs": self.history}, indent=1))
        echo(f"epoch {epoch}/{self.trainer.max_epochs}: loss {record['train_loss']:.4f} train acc "
             f"{record['train_accuracy']:.4f} val acc {record['val_accuracy']:.4f} "
             f"(no flip {record['val_accuracy_noflip']:.4f}) best {self.best['accuracy']:.4f} [{record['seconds']:.0f}s]")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["facevox"] = {"recipe": "expression", "variant": self.settings["variant"],
                                 "epochs_done": len(self.history), "epochs": int(self.trainer.max_epochs),
                                 "history": json.dumps(self.history), "best": json.dumps(self.best)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("facevox", {})
        self.history = json.loads(state.get("history", "[]"))
        self.best = json.loads(state.get("best", '{"accuracy": -1.0}'))
