"""Training recipe for :class:`facevox_tts.fastspeech.FastSpeech` (``facevox train tts-fastspeech``).

Needs a corpus with teacher durations (``alignments/<id>.tsv``, as joe-tts has): they are mapped
onto the character tokens by :func:`facevox_tts.alignment.char_durations` and fitted to each
cached mel's frame count. Loss: masked L1 on the log-mel + MSE on ``log(1 + frames)`` of every
token (Ren et al. 2019). Adam with a linear warm-up (Transformer blocks need one, Vaswani et
al. 2017), then the ``--lr-decay`` schedule. Length-bucketed batches; checkpoints
(:func:`facevox_tts.train.save_checkpoint`) to ``OUT/last.pt`` and ``OUT/best.pt`` (lowest
validation mel L1); metrics to ``OUT/metrics.jsonl``.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import click
import torch
import torch.nn.functional as F
from facevox import lengths_to_mask
from torch import Tensor
from tqdm import tqdm

from .data import build_mel_cache, length_buckets, read_corpus
from .fastspeech import FastSpeech, FastSpeechConfig
from .text import SYMBOLS, EnglishCharacters
from .train import (
    TrainItem,
    load_checkpoint,
    parse_schedule,
    prepare_items,
    run_options,
    save_checkpoint,
    value_at,
)

__all__ = ["DurationBatch", "fastspeech_loss", "fit_durations", "make_duration_batch", "train_fastspeech_command"]


@dataclass
class DurationBatch:
    """A padded batch: tokens ``(B, L)`` int64, token_lengths ``(B,)``, mels ``(B, n_mels, T)``
    float32, mel_lengths ``(B,)``, durations ``(B, L)`` int64 whose rows sum to mel_lengths."""

    tokens: Tensor
    token_lengths: Tensor
    mels: Tensor
    mel_lengths: Tensor
    durations: Tensor


def fit_durations(durations: list[int], frames: int) -> list[int]:
    """Make per-token durations sum to ``frames`` (the cached mel's length).

    The teacher's frames can differ from the mel cache's by a frame or two (padding at the
    ends): the difference is added to, or taken from, the last tokens (the end token first).

    Raises:
        ValueError: ``frames`` is negative.
    """
    if frames < 0:
        raise ValueError(f"frames must be >= 0, got {frames}")
    out = list(durations)
    diff = frames - sum(out)
    i = len(out) - 1
    while diff and i >= 0:
        change = diff if diff > 0 else -min(out[i], -diff)
        out[i] += change
        diff -= change
        i -= 1
    return out


def make_duration_batch(items: list[TrainItem], mel_floor: float) -> DurationBatch:
    """Pad ``items`` (all with teacher durations) into a :class:`DurationBatch`.

    Raises:
        ValueError: an item has no durations (its id is named).
    """
    b = len(items)
    lmax = max(len(it.tokens) for it in items)
    tmax = max(it.mel.shape[1] for it in items)
    tokens = torch.zeros(b, lmax, dtype=torch.int64)
    durations = torch.zeros(b, lmax, dtype=torch.int64)
    mels = torch.full((b, items[0].mel.shape[0], tmax), mel_floor)
    for i, it in enumerate(items):
        if it.durations is None:
            raise ValueError(f"utterance {it.uid!r} has no teacher durations")
        n, t = len(it.tokens), it.mel.shape[1]
        tokens[i, :n] = it.tokens
        mels[i, :, :t] = it.mel.float()
        durations[i, :n] = torch.tensor(fit_durations(it.durations, t))
    lengths = torch.tensor([it.mel.shape[1] for it in items])
    return DurationBatch(tokens, torch.tensor([len(it.tokens) for it in items]), mels, lengths, durations)


def fastspeech_loss(model: FastSpeech, batch: DurationBatch, duration_weight: float = 1.0) -> dict[str, Tensor]:
    """Losses of one teacher-forced pass: ``mel`` (masked L1, natural-log mel), ``duration``
    (masked MSE on ``log(1 + frames)``) and ``total`` = mel + duration_weight * duration."""
    out = model(batch.tokens, batch.token_lengths, batch.mels, batch.mel_lengths, durations=batch.durations)
    frame_mask = lengths_to_mask(batch.mel_lengths, batch.mels.shape[2]).unsqueeze(1).float()
    mel = (F.l1_loss(out.mel, batch.mels, reduction="none") * frame_mask).sum() / (frame_mask.sum() * model.n_mels)
    token_mask = lengths_to_mask(batch.token_lengths, batch.tokens.shape[1]).float()
    target = torch.log1p(batch.durations.float())
    duration = (((out.log_durations - target) ** 2) * token_mask).sum() / token_mask.sum()
    return {"total": mel + duration_weight * duration, "mel": mel, "duration": duration}


@torch.no_grad()
def _validate(model: FastSpeech, val: list[TrainItem], batch_size: int) -> dict[str, float]:
    """Teacher-forced losses plus the free-running length ratio (predicted / true frames)."""
    model.eval()
    sums: dict[str, float] = {}
    ratios = []
    for i in range(0, len(val), batch_size):
        batch = make_duration_batch(val[i : i + batch_size], model.config.mel_floor)
        for k, v in fastspeech_loss(model, batch).items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(batch.tokens)
        predicted = model.predict_durations(batch.tokens, batch.token_lengths).sum(-1)
        ratios.extend((predicted.float() / batch.mel_lengths.float()).tolist())
    model.train()
    result = {f"val_{k}": v / len(val) for k, v in sums.items()}
    result["infer_frames_ratio"] = sum(ratios) / len(ratios)
    return result


@click.command("tts-fastspeech")
@run_options("runs/tts-fastspeech", "LJSpeech-layout corpus with teacher durations (metadata.csv, wavs/ or audio/, alignments/).")
@click.option("--steps", default=40000, show_default=True, type=click.IntRange(1), help="Total optimiser steps.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1), help="Largest batch.")
@click.option("--batch-frames", default=4000, show_default=True, type=click.IntRange(100),
              help="Budget of padded mel frames per batch (B x T_max).")
@click.option("--lr", default=1e-3, show_default=True, type=float, help="Adam learning rate after warm-up.")
@click.option("--warmup", default=1000, show_default=True, type=click.IntRange(0), help="Linear warm-up steps.")
@click.option("--lr-decay", default="", help="step:lr pairs: the learning rate from that step on, e.g. 20000:5e-4.")
@click.option("--eval-every", default=500, show_default=True, type=click.IntRange(1), help="Validation interval.")
def train_fastspeech_command(
    data_dir: Path, out_dir: Path, cache_dir: Path | None, resume: bool, steps: int, batch_size: int,
    batch_frames: int, threads: int, lr: float, warmup: int, lr_decay: str, val_count: int, eval_every: int,
    seed: int,
) -> None:
    """Train the FastSpeech acoustic model on a corpus with teacher durations."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    lr_schedule = parse_schedule(lr_decay, float, "--lr-decay")
    utts = read_corpus(data_dir)
    if not any(u.alignment is not None for u in utts):
        raise click.UsageError(f"{data_dir} has no alignments/<id>.tsv teacher durations; this model needs them")
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = cache_dir or out_dir / "mels"
    build_mel_cache(utts, cache)
    items = [it for it in prepare_items(utts, cache, EnglishCharacters()) if it.durations is not None]
    order = list(range(len(items)))
    random.Random(1234).shuffle(order)  # the same held-out set as `facevox train tts`
    val = [items[i] for i in order[:val_count]]
    train = [items[i] for i in order[val_count:]]
    if not train:
        raise click.UsageError(f"{len(items)} utterances with durations: none left after {val_count} held out")
    ckpt = out_dir / "last.pt"
    step, best = 0, float("inf")
    state = None
    if resume and ckpt.is_file():
        loaded, state = load_checkpoint(ckpt)
        if not isinstance(loaded, FastSpeech):
            raise click.UsageError(f"{ckpt} is a {type(loaded).__name__} checkpoint, not a FastSpeech one")
        model = loaded
    else:
        model = FastSpeech(FastSpeechConfig(n_symbols=len(SYMBOLS)))
    optim = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9)
    if state is not None:
        optim.load_state_dict(state["optim"])
        step = int(state["step"])
        best = json.loads(state["extra"]).get("best", best)
        print(f"resumed from {ckpt} at step {step}")
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, {len(train)} train / {len(val)} val")
    rng = random.Random(seed + step)
    lengths = [it.mel.shape[1] for it in train]
    bar = tqdm(total=steps, initial=step, desc="train tts-fastspeech", mininterval=30)
    model.train()
    t0 = time.time()
    with open(out_dir / "metrics.jsonl", "a") as log:
        while step < steps:
            for idx in length_buckets(lengths, batch_frames, batch_size, rng):
                if step >= steps:
                    break
                rate = value_at(lr_schedule, step, lr) * min(1.0, (step + 1) / max(warmup, 1))
                for group in optim.param_groups:
                    group["lr"] = rate
                losses = fastspeech_loss(model, make_duration_batch([train[i] for i in idx], model.config.mel_floor))
                optim.zero_grad(set_to_none=True)
                losses["total"].backward()
                grad = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))
                if math.isfinite(grad):
                    optim.step()
                step += 1
                bar.update(1)
                if step % 50 == 0:
                    rec = {k: round(float(v.detach()), 4) for k, v in losses.items()}
                    rec.update(step=step, lr=rate, B=len(idx), s_per_step=round((time.time() - t0) / 50, 2),
                               grad=round(grad, 2))
                    t0 = time.time()
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                    bar.set_postfix(mel=rec["mel"], dur=rec["duration"])
                if step % eval_every == 0 or step == steps:
                    metrics = {k: round(v, 4) for k, v in _validate(model, val, batch_size).items()}
                    metrics["step"] = step
                    log.write(json.dumps(metrics) + "\n")
                    log.flush()
                    tqdm.write(json.dumps(metrics))
                    if metrics["val_mel"] < best:
                        best = metrics["val_mel"]
                        save_checkpoint(out_dir / "best.pt", model, optim, step, {"best": best, **metrics})
                    save_checkpoint(ckpt, model, optim, step, {"best": best})
                    t0 = time.time()
                elif step % 100 == 0:
                    save_checkpoint(ckpt, model, optim, step, {"best": best})
    bar.close()


if __name__ == "__main__":  # pragma: no cover - `python -m facevox_tts.train_fastspeech`
    train_fastspeech_command()
