"""The face recipes as a Lightning module; :mod:`facevox_face.training` is their driver
(``facevox train face-ae | face-vae | face-cvae``).

One optimiser step per batch: each epoch shuffles the training faces from (seed, epoch)
(:class:`EpochBatches`; the last batch of an epoch is shorter), augments a batch on the CPU side
(:meth:`FaceModule.on_before_batch_transfer`) from a generator seeded by (seed, epoch, rank),
which also draws the CVAE's dropped labels, posterior samples and random guide targets, so a
resumed run draws what an uninterrupted one would from the next epoch on. With ``--devices N``
each process takes every N-th batch.

The losses are in :meth:`FaceModule.training_step` (see :mod:`facevox_face.training`). Adam on
the model (and the auxiliary latent classifier of face-ae / face-vae) follows
:meth:`FaceModule.rate` through a ``LambdaLR`` Lightning steps every step; Lightning clips the
gradient norm (``--gradient-clip``, 50 by default). The CVAE's guide is not part of the
Lightning state dict: a frozen :class:`~facevox_face.guide.PretrainedGuide` /
:class:`~facevox_face.guide.GuideEnsemble` is never trained or saved; the trainable
:class:`~facevox_face.guide.GuideCNN` has its own Adam (lr 1e-3, constant), stepped after the
model's step on the same augmented real faces (:meth:`FaceModule.on_train_batch_end`), trained
alone for ``guide_pretrain_steps`` steps before the first epoch, and saved with its optimiser
under ``checkpoint["facevox"]``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from facevox import config_to_dict
from facevox.io import atomic_write_text
from facevox.training import echo
from torch import Tensor, nn
from torch.utils.data import DataLoader, Sampler, TensorDataset

from .cvae import ConditionalVAE
from .guide import GuideCNN, GuideEnsemble, PretrainedGuide
from .metrics import ssim
from .training import (
    TrainSettings,
    _augment,
    _aux_head,
    _epoch_grid,
    _lr_at,
    _to_float,
    evaluate_reconstruction,
)
from .vae import ConvVAE

__all__ = ["MONITOR", "EpochBatches", "FaceModule", "epoch_order"]

MONITOR = "val_ssim"
"""What picks ``best.ckpt``: the mean SSIM of the validation reconstructions (higher is better)."""

_PACE_STEPS = 10  # the first epoch of a launch with a deadline measures its pace over this many steps


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """The shuffled order of ``n`` training faces in ``epoch`` (alike on every process)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000 + epoch))


class EpochBatches(Sampler[list[int]]):
    """Batches of :func:`epoch_order` for the trainer's current epoch, every ``world``-th from ``rank``.

    ``ceil(n / batch_size)`` batches per epoch (the last one shorter); each process gets the same
    number of them, ``ceil(n / batch_size) // world``.

    Args:
        n: training faces; batch_size: faces per batch; seed: with the epoch, seeds the order.
        current_epoch: returns the epoch that is starting (the trainer's).
        rank, world: this process and how many there are.
    """

    def __init__(self, n: int, batch_size: int, seed: int, current_epoch: Callable[[], int],
                 rank: int = 0, world: int = 1) -> None:
        self.n, self.batch_size, self.seed, self.current_epoch = n, batch_size, seed, current_epoch
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size) // self.world

    def __iter__(self) -> Iterator[list[int]]:
        order = epoch_order(self.n, self.seed, self.current_epoch())
        batches = [order[i : i + self.batch_size].tolist() for i in range(0, self.n, self.batch_size)]
        yield from batches[self.rank :: self.world][: len(self)]


@torch.no_grad()
def _guide_metrics(model: ConditionalVAE, guide: GuideCNN, val: Tensor, y_val: Tensor) -> dict[str, float]:
    """Guide accuracy on real val faces and the rate at which it recognises random-target morphs."""
    guide.eval()
    model.eval()
    n = min(len(val), 1024)
    pick = torch.linspace(0, len(val) - 1, n).long()  # spread over the split (folder layouts are sorted by class)
    val, y_val = val[pick], y_val[pick]
    acc = float((guide(val).argmax(1) == y_val).float().mean())
    target = (torch.arange(n) % model.num_labels).to(val.device)
    morphed = torch.cat([model.decode(model.encode(val[i : i + 256]), target[i : i + 256]) for i in range(0, n, 256)])
    rate = float((guide(morphed).argmax(1) == target).float().mean())
    return {"guide_val_acc": acc, "guide_morph_rate": rate}


class FaceModule(pl.LightningModule):
    """Trains a face autoencoder (:mod:`facevox_face.training` describes the losses and outputs).

    Args:
        model: a :class:`~facevox_face.ae.ConvAutoencoder`, :class:`~facevox_face.vae.ConvVAE` or
            :class:`~facevox_face.cvae.ConditionalVAE` (new, warm-started, or to be resumed).
        settings: the recipe (``settings.kind`` picks the losses).
        train_data, val_data: ``(N, 48, 48)`` uint8 faces and ``(N,)`` int64 labels; the
            validation split is scored whole on every process.
        out: the run folder: rank 0 writes ``history.json`` and ``grid_epochNNN.png`` there.
        guide: the CVAE's guide (``None`` for face-ae / face-vae).
        deadline: shorten the epoch count (and the schedule) to what the measured pace allows.
    """

    def __init__(self, model: nn.Module, settings: TrainSettings, train_data: tuple[Tensor, Tensor],
                 val_data: tuple[Tensor, Tensor], out: Path, *,
                 guide: GuideCNN | PretrainedGuide | GuideEnsemble | None = None,
                 deadline: datetime | None = None) -> None:
        super().__init__()
        self.model = model
        self.settings, self.out, self.deadline = settings, Path(out), deadline
        self.variational = settings.kind != "face-ae"
        self.conditional = settings.kind == "face-cvae"
        use_aux = settings.aux_weight > 0 and not self.conditional
        self.aux = _aux_head(model.config.latent_dim) if use_aux else None
        self._guides = [guide] if guide is not None else []  # a list: kept out of the state dict
        trainable = guide is not None and guide.trainable
        self._guide_opt = torch.optim.Adam(guide.parameters(), lr=1e-3) if trainable else None
        self._guide_state: dict[str, Any] | None = None  # a resumed GuideCNN, applied at train start
        self._train = train_data
        self._val = (_to_float(val_data[0]), val_data[1])
        self.history: list[dict[str, float]] = []
        self._gen = torch.Generator()
        self._gen_epoch = -1
        self._total_steps = 1
        self._sums: dict[str, float] = {}
        self._count = 0
        self._val_metrics: dict[str, float] = {}
        self._epoch_start = self._launch = time.time()
        self._launch_epochs = 0

    # ---------------------------------------------------------------- data

    def train_dataloader(self) -> DataLoader:
        batches = EpochBatches(len(self._train[1]), self.settings.batch_size, self.settings.seed,
                               lambda: self.current_epoch, self.global_rank, self.trainer.world_size)
        return DataLoader(TensorDataset(*self._train), batch_sampler=batches)

    def val_dataloader(self) -> DataLoader:
        return DataLoader([self._val], batch_size=None)  # the whole split as one batch

    def _epoch_generator(self) -> torch.Generator:
        """This epoch's generator: seeded by (seed, epoch, rank), past the draws of the epoch's order."""
        epoch = self.current_epoch
        if self._gen_epoch != epoch:
            self._gen.manual_seed(self.settings.seed * 1000 + epoch + self.global_rank * 104_729)
            torch.randperm(len(self._train[1]), generator=self._gen)  # the order's draws (as EpochBatches)
            self._gen_epoch = epoch
        return self._gen

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if not self.trainer.training:
            return batch
        images, labels = batch
        return _augment(_to_float(images), self._epoch_generator()), labels

    # ---------------------------------------------------------------- optimisation

    def rate(self, step: int) -> float:
        """The learning rate of optimiser step ``step`` (0-based): linear warm-up over
        ``warmup_steps``, then a cosine from ``lr`` to ``0.05 * lr`` over the planned steps."""
        return _lr_at(step, self._total_steps, self.settings)

    def configure_optimizers(self) -> Any:
        params = [*self.model.parameters(), *(self.aux.parameters() if self.aux is not None else [])]
        # lr 1.0 is a placeholder: the scheduler's factor is the absolute rate (a resumed run
        # follows its current --lr and --epochs)
        optimizer = torch.optim.Adam(params, lr=1.0)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self.rate)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_fit_start(self) -> None:
        for guide in self._guides:
            guide.to(self.device)

    def on_train_start(self) -> None:
        self._total_steps = self.trainer.max_epochs * self.trainer.num_training_batches
        for group in self.trainer.optimizers[0].param_groups:
            group["lr"] = self.rate(self.global_step)
        if self._guide_opt is not None:
            if self._guide_state is not None:
                self._guides[0].load_state_dict(self._guide_state["guide"])
                self._guide_opt.load_state_dict(self._guide_state["guide_opt"])
                self._guide_state = None
            elif self.current_epoch == 0:
                self._pretrain_guide()
        self._launch = time.time()
        self._launch_epochs = 0

    def _pretrain_guide(self) -> None:
        """Train the guide CNN alone for ``guide_pretrain_steps`` steps on augmented real faces."""
        s, guide, opt = self.settings, self._guides[0], self._guide_opt
        assert opt is not None
        if not s.guide_pretrain_steps:
            return
        echo(f"guide CNN: {s.guide_pretrain_steps} steps alone first")
        gen = torch.Generator().manual_seed(s.seed + 12345)
        images, labels = self._train
        guide.train()
        for _ in range(s.guide_pretrain_steps):
            idx = torch.randint(0, len(labels), (s.batch_size,), generator=gen)
            x = _augment(_to_float(images[idx]), gen).to(self.device)
            with self.trainer.precision_plugin.forward_context():
                loss = F.cross_entropy(guide(x).float(), labels[idx].to(self.device), label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            self._sync_guide_grads()
            opt.step()

    def _sync_guide_grads(self) -> None:
        """Average the guide CNN's gradients over the processes (it is outside DDP's wrapper)."""
        if self.trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            for p in self._guides[0].parameters():
                if p.grad is not None:
                    torch.distributed.all_reduce(p.grad)
                    p.grad /= self.trainer.world_size

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.time()
        self._sums, self._count = {}, 0
        if self._launch_epochs:  # the pace of this launch's epochs, validation included
            self._fit_deadline((time.time() - self._launch) / self._launch_epochs, float(self.current_epoch))

    def _fit_deadline(self, epoch_seconds: float, done: float) -> None:
        """Lower ``max_epochs`` (never below the current epoch's end) to the whole epochs that end before
        the deadline at ``epoch_seconds`` per epoch, ``done`` epochs (a float) being done."""
        if self.deadline is None:
            return
        total = int(self.trainer.max_epochs)
        new_total = total
        if self.global_rank == 0:
            left = (self.deadline - datetime.now(timezone.utc)).total_seconds()
            fits = math.floor(done + max(left, 0.0) / max(epoch_seconds, 1e-6))
            new_total = max(self.current_epoch + 1, min(total, fits))
        new_total = int(self.trainer.strategy.broadcast(new_total, src=0))
        if new_total < total:
            echo(f"deadline {self.deadline:%H:%M %Z}: schedule shortened from {total} to {new_total} epochs")
            self.trainer.fit_loop.max_epochs = new_total
            self._total_steps = new_total * self.trainer.num_training_batches

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        s, model, gen = self.settings, self.model, self._epoch_generator()
        step, steps_per_epoch = self.global_step, self.trainer.num_training_batches
        kl_w = min(1.0, (step + 1) / max(1.0, s.kl_warmup * steps_per_epoch))
        logs: dict[str, Tensor] = {}
        if not self.variational:
            z = model.encode(x)
            recon = model.decode(z)
            loss = (recon.float() - x).pow(2).flatten(1).sum(1).mean()
            logs["sq"] = loss.detach()
        else:
            if self.conditional:
                drop = (torch.rand(len(y), generator=gen) < model.config.label_dropout).to(self.device)
                cond = model.condition(y, len(y)) * (~drop)[:, None].float()
                mu, logvar = model.encode_distribution(x)
                z = model.reparameterize(mu, logvar, generator=gen if mu.device.type == "cpu" else None)
                recon = model.decode_condition(z, cond)
            else:
                recon, mu, logvar = model(x, None)
            loss = model.loss(x, recon, mu, logvar, kl_weight=kl_w)
            logs["sq"] = (recon.float() - x).pow(2).flatten(1).sum(1).mean().detach()
            logs["kl"] = model.kl_divergence(mu.float(), logvar.float()).detach()
            z = mu
        if s.ssim_weight:
            structural = (1.0 - ssim(recon.float(), x)).mean()
            loss = loss + s.ssim_weight * structural
            logs["1-ssim"] = structural.detach()
        if self.aux is not None:
            ce = F.cross_entropy(self.aux(z.float()), y)
            loss = loss + s.aux_weight * ce
            logs["aux_ce"] = ce.detach()
        if self._guides:
            guide = self._guides[0]
            ramp = min(1.0, step / max(1, steps_per_epoch // 2))
            target = torch.randint(0, model.num_labels, (len(y),), generator=gen).to(self.device)
            morphed = model.decode(z, target)
            guide.train(not guide.trainable)  # trained guide: no dropout; frozen guide: random views
            guide.requires_grad_(False)
            g_ce = F.cross_entropy(guide(morphed.float()).float(), target)
            ident = (morphed.float() - x).pow(2).flatten(1).sum(1).mean()
            guide.requires_grad_(guide.trainable)
            loss = loss + ramp * (s.guide_weight * g_ce + s.identity_weight * ident)
            logs["guide_ce"], logs["ident"] = g_ce.detach(), ident.detach()
        logs["loss"] = loss.detach()
        self._add(logs)
        n = len(y)
        self.log("loss", logs["loss"], prog_bar=True, batch_size=n)
        self.log_dict({k: v for k, v in logs.items() if k != "loss"}, batch_size=n)
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"], batch_size=n)
        return loss

    def _add(self, logs: dict[str, Tensor]) -> None:
        for key, value in logs.items():
            self._sums[key] = self._sums.get(key, 0.0) + float(value)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._guide_opt is not None:  # the guide CNN learns from the same (augmented) real faces
            x, y = batch
            guide = self._guides[0]
            guide.train()
            with self.trainer.precision_plugin.forward_context():
                c_loss = F.cross_entropy(guide(x).float(), y, label_smoothing=0.1)
            self._guide_opt.zero_grad(set_to_none=True)
            c_loss.backward()
            self._sync_guide_grads()
            self._guide_opt.step()
            self._add({"guide_train_ce": c_loss.detach()})
            self.log("guide_train_ce", c_loss.detach(), batch_size=len(y))
        self._count += 1
        if self._launch_epochs == 0 and self._count == min(_PACE_STEPS, self.trainer.num_training_batches):
            done = self._count / self.trainer.num_training_batches
            self._fit_deadline((time.time() - self._epoch_start) / done, self.current_epoch + done)

    # ---------------------------------------------------------------- validation

    def on_validation_epoch_start(self) -> None:
        if isinstance(self.model, (ConvVAE, ConditionalVAE)):  # sampling distribution for samples and grids
            images = self._train[0][epoch_order(len(self._train[1]), self.settings.seed, self.current_epoch)[:2048]]
            with torch.autocast(self.device.type, enabled=False):
                self.model.fit_latent_prior(_to_float(images).to(self.device))

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        val, y_val = batch
        with torch.autocast(self.device.type, enabled=False):  # metrics in float32, as shipped models run
            metrics = {f"val_{k}": v for k, v in evaluate_reconstruction(self.model, val).items()}
            if self._guides:
                metrics.update(_guide_metrics(self.model, self._guides[0], val, y_val))
        self._val_metrics = metrics
        self.log_dict({**metrics, "step": float(self.global_step)}, batch_size=len(y_val))

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        epoch = self.current_epoch + 1
        record = {k: v / max(1, self._count) for k, v in self._sums.items()}
        record.update(self._val_metrics)
        record["lr"] = self.trainer.optimizers[0].param_groups[0]["lr"]
        record["epoch"] = epoch
        record["seconds"] = time.time() - self._epoch_start
        self.history.append(record)
        self._launch_epochs += 1
        if self.global_rank == 0:
            atomic_write_text(self.out / "history.json", json.dumps(self.history, indent=2))
            with torch.autocast(self.device.type, enabled=False):
                _epoch_grid(self.model, self.settings.kind, self._val[0].to(self.device),
                            self.out / f"grid_epoch{epoch:03d}.png", self.settings.seed)
        echo(json.dumps({k: round(v, 4) for k, v in record.items()}))

    # ---------------------------------------------------------------- checkpoints

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state: dict[str, Any] = {
            "recipe": self.settings.kind, "config": json.dumps(config_to_dict(self.model.config)),
            "settings": json.dumps(asdict(self.settings)), "epochs_done": len(self.history),
            "history": json.dumps(self.history)}
        if self._guide_opt is not None:  # a frozen pretrained guide is never saved
            state["guide"] = self._guides[0].state_dict()
            state["guide_opt"] = self._guide_opt.state_dict()
        checkpoint["facevox"] = state

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("facevox", {})
        self.history = json.loads(state.get("history", "[]"))
        if self._guide_opt is not None and "guide" in state:
            self._guide_state = {"guide": state["guide"], "guide_opt": state["guide_opt"]}
