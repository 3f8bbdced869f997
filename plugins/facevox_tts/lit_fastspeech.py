"""FastSpeech training as a Lightning module; :mod:`facevox_tts.train_fastspeech` is its driver.

Length-bucketed batches (:func:`facevox_tts.data.length_buckets`) are reshuffled every epoch
from (seed, epoch) and dealt out to the processes (:class:`BucketBatches`), so with
``--devices N`` each process takes every N-th batch; the step count is global. Adam with a
linear warm-up then the ``--lr-decay`` steps (a ``LambdaLR`` stepped every step), the gradient
norm clipped to ``--gradient-clip`` and a step whose gradient is not finite skipped (as before
the move to Lightning). Validation (teacher-forced losses and the free-running length ratio)
every ``--eval-every`` steps and at the last step.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from facevox import TextProcessor, config_to_dict
from facevox.training import echo
from torch import Tensor
from torch.utils.data import DataLoader, Sampler

from .data import Utterance, build_mel_cache, length_buckets
from .fastspeech import FastSpeech
from .prosody import build_pitch_cache, load_pitch, pitch_warp_matrix, prosody_stats, token_targets
from .text import EnglishCharacters
from .train import TrainItem, prepare_items, value_at
from .train_fastspeech import DurationBatch, fastspeech_loss, fit_durations, make_duration_batch

__all__ = ["BucketBatches", "FastSpeechModule"]


class _Epoch:
    """What Lightning calls ``set_epoch`` on (``batch_sampler.sampler``) at each epoch start."""

    def __init__(self) -> None:
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


class BucketBatches(Sampler[list[int]]):
    """Length-bucketed batches of indices, shuffled per epoch, every ``world``-th one from ``rank``.

    Every process gets the same number of batches (``len(self)``), so none waits on the others at
    the end of an epoch.

    Args:
        lengths: frames per item; batch_frames, max_batch: see :func:`length_buckets`.
        seed: with the epoch, seeds the shuffle (all processes shuffle alike).
        rank, world: this process and how many there are.

    Raises:
        ValueError: fewer batches than processes.
    """

    def __init__(self, lengths: list[int], batch_frames: int, max_batch: int, seed: int, rank: int = 0,
                 world: int = 1) -> None:
        self.lengths, self.batch_frames, self.max_batch = lengths, batch_frames, max_batch
        self.seed, self.rank, self.world = seed, rank, world
        self.sampler = _Epoch()
        self._count = len(list(length_buckets(lengths, batch_frames, max_batch, random.Random(0)))) // world
        if self._count == 0:
            raise ValueError(f"{len(lengths)} training utterances make fewer batches than the {world} processes; "
                             "lower --batch-size or --batch-frames, or use fewer --devices")

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + self.sampler.epoch)
        batches = list(length_buckets(self.lengths, self.batch_frames, self.max_batch, rng))
        yield from batches[self.rank :: self.world][: self._count]


class _Collate:
    def __init__(self, mel_floor: float, prosody: dict[str, tuple[Tensor, Tensor]] | None,
                 pitch_augment: float = 0.0, pitch_std: float = 1.0, seed: int = 0) -> None:
        self.mel_floor, self.prosody = mel_floor, prosody
        self.pitch_augment, self.pitch_std = pitch_augment, pitch_std
        self._gen = torch.Generator().manual_seed(seed)

    def __call__(self, items: list[TrainItem]) -> DurationBatch:
        batch = make_duration_batch(items, self.mel_floor, self.prosody)
        if self.pitch_augment > 0 and batch.pitch is not None:
            augment_pitch(batch, self.pitch_augment, self.pitch_std, self._gen)
        return batch


def augment_pitch(batch: DurationBatch, semitones: float, pitch_std: float, generator: torch.Generator,
                  share: float = 0.5) -> None:
    """Shift ``share`` of the batch's mels by a random interval and their pitch targets with them.

    Each chosen item's mel is warped in frequency (:func:`facevox_tts.prosody.pitch_warp_matrix`)
    by ``U(-semitones, semitones)`` and its voiced tokens' normalised pitch (non-zero) moved by
    the same interval, ``k log(2) / 12 / pitch_std``; padding frames stay at the floor. In place.
    """
    assert batch.pitch is not None
    for i in range(len(batch.tokens)):
        if float(torch.rand((), generator=generator)) >= share:
            continue
        k = float(torch.empty(()).uniform_(-semitones, semitones, generator=generator))
        t = int(batch.mel_lengths[i])
        batch.mels[i, :, :t] = pitch_warp_matrix(k) @ batch.mels[i, :, :t]
        voiced = batch.pitch[i] != 0
        batch.pitch[i] = torch.where(voiced, batch.pitch[i] + k * math.log(2.0) / 12.0 / pitch_std, batch.pitch[i])


class FastSpeechModule(pl.LightningModule):
    """Trains :class:`FastSpeech` on teacher durations.

    Args:
        model: the network (new, or built from the resumed checkpoint's config).
        utterances: the corpus (with ``alignments/``); cache: its mel cache folder, filled by
            :meth:`prepare_data` (once per machine).
        val_count: held-out utterances (the same ones ``facevox train tts`` holds out).
        batch_size, batch_frames: largest batch and padded-frame budget per batch (per process).
        lr, warmup, lr_schedule: Adam rate after the linear warm-up, and ``[(step, lr)]`` changes.
        seed: shuffles the batches.
        pitch_cache: F0 track folder (:func:`facevox_tts.prosody.build_pitch_cache`, filled by
            :meth:`prepare_data` when missing), for a model with a variance adaptor; ``None``
            otherwise.
        fit_stats: set the model's pitch and energy normalisation from the training items (a
            new or warm-started run); ``False`` keeps the config's (a resumed run).
        processor: the text processor whose tokens the model reads (``None``: ``en.chars``;
            ``en.ipa`` takes its tokens from the teacher alignments).
        pitch_augment: with a variance adaptor, half of the training utterances are shifted by
            up to this many semitones (:func:`augment_pitch`; 0: off).
        variance_lr_scale: factor on the learning rate of the variance adaptor (``> 0``). A
            warm start from a model without one has a decoder that already predicts prosody from
            the text, so the adaptor's zero-initialised embeddings receive little gradient; a
            larger rate lets the decoder come to rely on them (the controls then move the voice).
    """

    def __init__(self, model: FastSpeech, utterances: list[Utterance], cache: Path, *, val_count: int,
                 batch_size: int, batch_frames: int, lr: float, warmup: int, lr_schedule: list[tuple[int, float]],
                 seed: int, pitch_cache: Path | None = None, fit_stats: bool = True,
                 processor: TextProcessor | None = None, variance_lr_scale: float = 1.0,
                 pitch_augment: float = 0.0) -> None:
        super().__init__()
        if not variance_lr_scale > 0:
            raise ValueError(f"variance_lr_scale must be > 0, got {variance_lr_scale}")
        if not 0 <= pitch_augment <= 12:
            raise ValueError(f"pitch_augment must be within [0, 12] semitones, got {pitch_augment}")
        self.variance_lr_scale, self.pitch_augment = variance_lr_scale, pitch_augment
        self.model = model
        self.utterances, self.cache, self.val_count = utterances, Path(cache), val_count
        self.batch_size, self.batch_frames, self.seed = batch_size, batch_frames, seed
        self.lr, self.warmup, self.lr_schedule = lr, warmup, lr_schedule
        self.pitch_cache, self.fit_stats = pitch_cache, fit_stats
        self.processor = processor if processor is not None else EnglishCharacters()
        self.prosody: dict[str, tuple[Tensor, Tensor]] | None = None
        self.train_items: list[TrainItem] = []
        self.val_items: list[TrainItem] = []
        self._grad = float("nan")
        self._sums: dict[str, float] = {}
        self._ratios: list[float] = []
        self._t0 = time.time()

    # ---------------------------------------------------------------- data

    def prepare_data(self) -> None:
        frames = build_mel_cache(self.utterances, self.cache)
        if self.model.config.variance:
            build_pitch_cache(self.utterances, frames, self._pitch_dir())

    def _pitch_dir(self) -> Path:
        if self.pitch_cache is None:
            raise ValueError("a model with a variance adaptor needs pitch_cache (the F0 track folder)")
        return Path(self.pitch_cache)

    def setup(self, stage: str) -> None:
        import click

        items = [it for it in prepare_items(self.utterances, self.cache, self.processor) if it.durations is not None]
        order = list(range(len(items)))
        random.Random(1234).shuffle(order)  # the same held-out set as `facevox train tts`
        self.val_items = [items[i] for i in order[: self.val_count]]
        self.train_items = [items[i] for i in order[self.val_count :]]
        if not self.train_items:
            raise click.UsageError(f"{len(items)} utterances with durations: none left after {self.val_count} held out")
        if self.model.config.variance:
            self._prepare_prosody(items)
        echo(f"{sum(p.numel() for p in self.model.parameters()) / 1e6:.2f} M parameters, "
             f"{len(self.train_items)} train / {len(self.val_items)} val")

    def _prepare_prosody(self, items: list[TrainItem]) -> None:
        """Token pitch and energy targets of every item, normalised by the training items' stats."""
        cfg, folder = self.model.config, self._pitch_dir()
        tracks = {}
        for it in items:
            assert it.durations is not None
            mel = it.mel.float()
            tracks[it.uid] = (mel, load_pitch(folder, it.uid)[: mel.shape[1]], fit_durations(it.durations, mel.shape[1]))
        if self.fit_stats:
            (cfg.pitch_mean, cfg.pitch_std), (cfg.energy_mean, cfg.energy_std) = prosody_stats(
                [tracks[it.uid] for it in self.train_items])
            adaptor = self.model.variance_adaptor
            assert adaptor is not None
            adaptor.pitch_std, adaptor.energy_std = cfg.pitch_std, cfg.energy_std
            echo(f"prosody stats: log F0 {cfg.pitch_mean:.4f} +- {cfg.pitch_std:.4f} "
                 f"({math.exp(cfg.pitch_mean):.1f} Hz), energy {cfg.energy_mean:.2f} +- {cfg.energy_std:.2f} dB")
        stats = ((cfg.pitch_mean, cfg.pitch_std), (cfg.energy_mean, cfg.energy_std))
        self.prosody = {uid: token_targets(mel, f0, d, *stats) for uid, (mel, f0, d) in tracks.items()}

    def train_dataloader(self) -> DataLoader:
        lengths = [it.mel.shape[1] for it in self.train_items]
        batches = BucketBatches(lengths, self.batch_frames, self.batch_size, self.seed, self.global_rank,
                                self.trainer.world_size)
        collate = _Collate(self.model.config.mel_floor, self.prosody, self.pitch_augment, self.model.config.pitch_std,
                           seed=self.seed * 1_000_003 + self.global_step + self.global_rank)
        return DataLoader(self.train_items, batch_sampler=batches, collate_fn=collate)  # type: ignore[arg-type]

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_items, batch_size=self.batch_size,  # type: ignore[arg-type]
                          collate_fn=_Collate(self.model.config.mel_floor, self.prosody))

    # ---------------------------------------------------------------- optimisation

    def rate(self, step: int) -> float:
        """The learning rate of optimiser step ``step`` (0-based)."""
        return value_at(self.lr_schedule, step, self.lr) * min(1.0, (step + 1) / max(self.warmup, 1))

    def configure_optimizers(self) -> Any:
        # lr 1.0 is a placeholder: the scheduler's factor is the absolute rate (a resumed run
        # follows its current --lr, --warmup and --lr-decay)
        named = list(self.model.named_parameters())
        groups = [{"params": [p for n, p in named if not n.startswith("variance_adaptor.")], "scale": 1.0},
                  {"params": [p for n, p in named if n.startswith("variance_adaptor.")], "scale": self.variance_lr_scale}]
        groups = [g for g in groups if g["params"]]
        optimizer = torch.optim.Adam(groups, lr=1.0, betas=(0.9, 0.98), eps=1e-9)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, [lambda step, k=float(g["scale"]): k * self.rate(step) for g in groups])
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_train_start(self) -> None:
        for group in self.trainer.optimizers[0].param_groups:
            group["lr"] = group.get("scale", 1.0) * self.rate(self.global_step)
        self._t0 = time.time()

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        params = [p for p in self.model.parameters() if p.grad is not None]
        self._grad = float(torch.nn.utils.clip_grad_norm_(params, gradient_clip_val or float("inf")))
        if not math.isfinite(self._grad):  # skip the step: Adam leaves parameters without a gradient alone
            for p in params:
                p.grad = None

    def training_step(self, batch: DurationBatch, batch_idx: int) -> Tensor:
        losses = fastspeech_loss(self.model, batch)
        n = len(batch.tokens)
        self.log_dict({k: v.detach() for k, v in losses.items()}, prog_bar=False, batch_size=n)
        self.log("B", float(n), batch_size=n)
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"], batch_size=n)
        return losses["total"]

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        now = time.time()
        self.log_dict({"grad": self._grad, "s_per_step": now - self._t0, "step": float(self.global_step)}, batch_size=1)
        self._t0 = now
        if self.trainer.max_steps > 0 and self.global_step >= self.trainer.max_steps:
            self.trainer.should_stop = True  # makes Lightning validate at the last step too

    # ---------------------------------------------------------------- validation

    def on_validation_epoch_start(self) -> None:
        self._sums, self._ratios = {}, []

    def validation_step(self, batch: DurationBatch, batch_idx: int) -> None:
        for k, v in fastspeech_loss(self.model, batch).items():
            self._sums[k] = self._sums.get(k, 0.0) + float(v) * len(batch.tokens)
        predicted = self.model.predict_durations(batch.tokens, batch.token_lengths).sum(-1)
        self._ratios.extend((predicted.float() / batch.mel_lengths.float()).tolist())

    def on_validation_epoch_end(self) -> None:
        count = max(len(self._ratios), 1)
        metrics = {f"val_{k}": round(v / count, 4) for k, v in self._sums.items()}
        metrics["infer_frames_ratio"] = round(sum(self._ratios) / count, 4)
        self.log_dict({**metrics, "step": float(self.global_step)}, batch_size=count)
        echo(json.dumps({**metrics, "step": self.global_step}))
        self._t0 = time.time()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["facevox"] = {"recipe": "tts-fastspeech", "arch": "fastspeech",
                                 "config": json.dumps(config_to_dict(self.model.config)),
                                 "text_processor": self.processor.name}
