"""Tacotron training as a Lightning module; :mod:`facevox_tts.train` is its driver (``facevox train tts``).

Length-bucketed batches under a step curriculum (:class:`CurriculumBatches`: utterances longer
than the curriculum's ``max_frames`` at the current step are left out of an epoch), dealt out
to the processes, so with ``--devices N`` each process takes every N-th batch; the step count
is global. Adam (eps 1e-6, weight decay 1e-6) at ``--lr`` then the ``--lr-decay`` steps (a
``LambdaLR`` stepped every step); the attention prior is used on a step with probability
``1 - step / --prior-steps`` (drawn from (seed, step), so a resumed run draws as an
uninterrupted one); the gradient norm is clipped to ``--gradient-clip`` and a step whose
gradient is not finite is skipped. Validation (teacher-forced losses without the prior,
attention focus and diagonality, one free-running synthesis and its alignment plot) every
``--eval-every`` steps and at the last step, with the random generator seeded from
(seed, step) so every process gets the same numbers.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import random
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from facevox import config_to_dict
from facevox.io import atomic_path, atomic_write_text
from facevox.roles import DecoderCapWarning
from facevox.training import echo
from torch import Tensor
from torch.utils.data import DataLoader, Sampler

from .data import Utterance, build_mel_cache, length_buckets
from .tacotron import Tacotron
from .text import EnglishCharacters
from .train import Batch, TrainItem, alignment_metrics, make_batch, prepare_items, tacotron_loss, value_at

__all__ = ["MONITOR", "CurriculumBatches", "TacotronModule"]

MONITOR = "val_postnet_after_prior"
"""What picks ``best.ckpt``: the held-out postnet mel L1 once the step is past ``--prior-steps``
(``inf`` before, so the first validation's checkpoint stands until then). Not written to
``metrics.jsonl`` (``val_postnet`` is)."""


class CurriculumBatches(Sampler[list[int]]):
    """Length-bucketed batches of indices under a step curriculum, every ``world``-th one from ``rank``.

    Each pass (epoch) reads the global step when it starts: items longer than
    ``value_at(curriculum, step)`` frames are left out, and the batches are shuffled from
    (seed, step), alike on every process. Every process gets the same number of batches.

    Args:
        lengths: frames per item; batch_frames, max_batch: see :func:`facevox_tts.data.length_buckets`.
        curriculum: ``[(step, max_frames), ...]`` sorted, the first at step 0.
        seed: with the step, seeds the shuffle.
        current_step: returns the global step (the trainer's).
        rank, world: this process and how many there are.
    """

    def __init__(self, lengths: list[int], batch_frames: int, max_batch: int, curriculum: list[tuple[int, int]],
                 seed: int, current_step: Callable[[], int], rank: int = 0, world: int = 1) -> None:
        self.lengths, self.batch_frames, self.max_batch = lengths, batch_frames, max_batch
        self.curriculum, self.seed, self.current_step = curriculum, seed, current_step
        self.rank, self.world = rank, world

    def batches_at(self, step: int) -> list[list[int]]:
        """This process's batches of the pass that starts at global step ``step``.

        Raises:
            ValueError: the curriculum leaves fewer batches than there are processes (the
                step, the frame limit and what to change are named).
        """
        max_len = value_at(self.curriculum, step, self.curriculum[0][1])
        rng = random.Random(self.seed * 1_000_003 + step)
        batches = list(length_buckets(self.lengths, self.batch_frames, self.max_batch, rng, max_len))
        count = len(batches) // self.world
        if count == 0:
            raise ValueError(f"step {step}: the {sum(n <= max_len for n in self.lengths)} training utterances of at "
                             f"most {max_len} frames (--curriculum) make {len(batches)} batches, fewer than the "
                             f"{self.world} processes; raise the curriculum's frames, lower --batch-size or "
                             "--batch-frames, or use fewer --devices")
        return batches[self.rank :: self.world][:count]

    def __len__(self) -> int:
        """Batches of a pass without the curriculum's limit (an upper bound: Lightning reads it once)."""
        batches = list(length_buckets(self.lengths, self.batch_frames, self.max_batch, random.Random(0)))
        return max(len(batches) // self.world, 1)

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches_at(self.current_step())


class _Collate:
    def __init__(self, reduction_factor: int, mel_floor: float) -> None:
        self.reduction_factor, self.mel_floor = reduction_factor, mel_floor

    def __call__(self, items: list[TrainItem]) -> Batch:
        return make_batch(items, self.reduction_factor, self.mel_floor)


def _plot(alignment: np.ndarray, title: str, path: Path) -> None:
    """Save a ``(T_dec, L)`` attention matrix as a PNG (decoder steps across, tokens up)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.imshow(alignment.T, aspect="auto", origin="lower", interpolation="none")
    ax.set_xlabel("decoder step")
    ax.set_ylabel("token")
    ax.set_title(title[:90], fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


class TacotronModule(pl.LightningModule):
    """Trains :class:`Tacotron` teacher-forced with guided attention (see :mod:`facevox_tts.train`).

    Args:
        model: the network (new, or built from the resumed checkpoint's config).
        utterances: the corpus; cache: its mel cache folder, filled by :meth:`prepare_data`
            (once per machine).
        out: the run folder: ``val_ids.txt`` and ``align_<step>.png`` go there (rank 0).
        val_count: held-out utterances (the same ones ``facevox train tts-fastspeech`` holds out).
        batch_size, batch_frames: largest batch and padded-frame budget per batch (per process).
        lr, lr_schedule: Adam rate and ``[(step, lr)]`` changes (piecewise constant).
        attention_weight: weight of the attention loss.
        prior_steps: steps over which the attention prior is annealed away.
        curriculum: ``[(step, max_frames)]``, the first at step 0.
        seed: shuffles the batches, draws the prior steps, seeds validation.
    """

    def __init__(self, model: Tacotron, utterances: list[Utterance], cache: Path, out: Path, *, val_count: int,
                 batch_size: int, batch_frames: int, lr: float, lr_schedule: list[tuple[int, float]],
                 attention_weight: float, prior_steps: int, curriculum: list[tuple[int, int]], seed: int) -> None:
        super().__init__()
        self.model = model
        self.utterances, self.cache, self.out, self.val_count = utterances, Path(cache), Path(out), val_count
        self.batch_size, self.batch_frames, self.seed = batch_size, batch_frames, seed
        self.lr, self.lr_schedule = lr, lr_schedule
        self.attention_weight, self.prior_steps, self.curriculum = attention_weight, prior_steps, curriculum
        self.train_items: list[TrainItem] = []
        self.val_items: list[TrainItem] = []
        self._grad = float("nan")
        self._sums: dict[str, float] = {}
        self._rng: contextlib.ExitStack | None = None
        self._t0 = time.time()

    # ---------------------------------------------------------------- data

    def prepare_data(self) -> None:
        build_mel_cache(self.utterances, self.cache)

    def setup(self, stage: str) -> None:
        import click

        items = prepare_items(self.utterances, self.cache, EnglishCharacters())
        order = list(range(len(items)))
        random.Random(1234).shuffle(order)  # the held-out set of every run on this corpus
        self.val_items = [items[i] for i in order[: self.val_count]]
        self.train_items = [items[i] for i in order[self.val_count :]]
        if not self.train_items:
            raise click.UsageError(f"{len(items)} utterances: none left for training after --val-count {self.val_count}")
        if self.global_rank == 0:
            atomic_write_text(self.out / "val_ids.txt", "\n".join(it.uid for it in self.val_items) + "\n")
        echo(f"{sum(p.numel() for p in self.model.parameters()) / 1e6:.2f} M parameters, "
             f"{len(self.train_items)} train / {len(self.val_items)} val")

    def _sampler(self) -> CurriculumBatches:
        return CurriculumBatches([it.mel.shape[1] for it in self.train_items], self.batch_frames, self.batch_size,
                                 self.curriculum, self.seed, lambda: self.global_step, self.global_rank,
                                 self.trainer.world_size)

    def train_dataloader(self) -> DataLoader:
        import click

        batches = self._sampler()
        try:
            batches.batches_at(self.global_step)  # fail here, with the message, rather than in the loop
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        return DataLoader(self.train_items, batch_sampler=batches,  # type: ignore[arg-type]
                          collate_fn=_Collate(self.model.reduction_factor, self.model.config.mel_floor))

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_items, batch_size=self.batch_size,  # type: ignore[arg-type]
                          collate_fn=_Collate(self.model.reduction_factor, self.model.config.mel_floor))

    # ---------------------------------------------------------------- optimisation

    def rate(self, step: int) -> float:
        """The learning rate of optimiser step ``step`` (0-based)."""
        return value_at(self.lr_schedule, step, self.lr)

    def uses_prior(self, step: int) -> bool:
        """Whether step ``step`` multiplies the attention prior in (probability ``1 - step / prior_steps``)."""
        return random.Random(self.seed * 7_919 + step).random() < max(0.0, 1.0 - step / max(self.prior_steps, 1))

    def configure_optimizers(self) -> Any:
        # lr 1.0 is a placeholder: the scheduler's factor is the absolute rate (a resumed run
        # follows its current --lr and --lr-decay)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=1.0, eps=1e-6, weight_decay=1e-6)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self.rate)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_train_start(self) -> None:
        for group in self.trainer.optimizers[0].param_groups:
            group["lr"] = self.rate(self.global_step)
        self._t0 = time.time()

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        params = [p for p in self.model.parameters() if p.grad is not None]
        self._grad = float(torch.nn.utils.clip_grad_norm_(params, gradient_clip_val or float("inf")))
        if not math.isfinite(self._grad):  # skip the step: Adam leaves parameters without a gradient alone
            for p in params:
                p.grad = None

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        use_prior = self.uses_prior(self.global_step)
        losses = tacotron_loss(self.model, batch, use_prior, self.attention_weight)
        n = len(batch.tokens)
        shown = ("postnet", "attention")  # on the progress bar too
        self.log_dict({k: losses[k].detach() for k in shown}, prog_bar=True, batch_size=n)
        self.log_dict({k: v.detach() for k, v in losses.items() if k not in (*shown, "alignments")}, batch_size=n)
        metrics = alignment_metrics(losses["alignments"].detach(), batch, self.model.reduction_factor)
        self.log_dict({k: v for k, v in metrics.items() if math.isfinite(v)}, batch_size=n)
        self.log_dict({"prior": float(use_prior), "B": float(n), "T": float(batch.mels.shape[2]),
                       "lr": self.trainer.optimizers[0].param_groups[0]["lr"]}, batch_size=n)
        return losses["total"]

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        now = time.time()
        self.log_dict({"grad": self._grad, "s_per_step": now - self._t0, "step": float(self.global_step)}, batch_size=1)
        self._t0 = now
        if self.trainer.max_steps > 0 and self.global_step >= self.trainer.max_steps:
            self.trainer.should_stop = True  # makes Lightning validate at the last step too

    # ---------------------------------------------------------------- validation

    def on_validation_epoch_start(self) -> None:
        self._sums = {}
        self._rng = contextlib.ExitStack()  # the prenet's always-on dropout: alike on every process
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        self._rng.enter_context(torch.random.fork_rng(devices=cuda))
        torch.manual_seed(self.seed * 1_000_003 + self.global_step)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        n = len(batch.tokens)
        losses = tacotron_loss(self.model, batch, use_prior=False, attention_weight=1.0)
        values = {k: float(v) for k, v in losses.items() if k != "alignments"}
        values.update(alignment_metrics(losses["alignments"], batch, self.model.reduction_factor))
        for key, value in values.items():
            if math.isfinite(value):  # no diagonal for a batch without teacher paths
                weight = int(batch.has_target.sum()) if key == "diagonal" else n
                total, count = self._sums.get(key, 0.0), self._sums.get(f"#{key}", 0.0)
                self._sums[key], self._sums[f"#{key}"] = total + value * weight, count + weight

    def _free_running(self) -> dict[str, float]:
        """Synthesise the shortest held-out item without teacher forcing; plot its alignment (rank 0)."""
        item = min(self.val_items, key=lambda it: len(it.tokens))
        model = self.model if self.device.type == "cpu" else copy.deepcopy(self.model).cpu()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DecoderCapWarning)  # reported as infer_cap_hit
            free = model.infer(item.tokens[None], torch.tensor([len(item.tokens)]))
        assert free.alignments is not None
        if self.global_rank == 0:
            _plot(free.alignments[0].float().numpy(), f"step {self.global_step} free-running: {item.text}",
                  self.out / f"align_{self.global_step:06d}.png")
        return {"infer_cap_hit": float(any(free.capped())), "infer_frames_ratio": float(free.mel_lengths[0]) / item.mel.shape[1]}

    def on_validation_epoch_end(self) -> None:
        try:
            metrics = {f"val_{k}": round(v / self._sums[f"#{k}"], 4) for k, v in self._sums.items()
                       if not k.startswith("#") and self._sums[f"#{k}"] > 0}
            metrics.update({k: round(v, 4) for k, v in self._free_running().items()})
        finally:
            if self._rng is not None:
                self._rng.close()
                self._rng = None
        self.log_dict({**metrics, "step": float(self.global_step)}, batch_size=max(len(self.val_items), 1))
        after_prior = self.global_step > self.prior_steps and "val_postnet" in metrics
        self.log(MONITOR, metrics["val_postnet"] if after_prior else float("inf"), logger=False, batch_size=1)
        echo(json.dumps({**metrics, "step": self.global_step}))
        self._t0 = time.time()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["facevox"] = {"recipe": "tts", "arch": "tacotron", "config": json.dumps(config_to_dict(self.model.config))}
