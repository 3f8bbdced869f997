"""Training recipe for :class:`facevox_tts.tacotron.Tacotron` (``facevox train tts``).

Teacher-forced training on an LJSpeech-layout corpus with a mel cache, length-bucketed batches
(short utterances first), L1 mel loss before and after the postnet, stop-token BCE and --
when the corpus has teacher durations (``alignments/``) -- an attention-supervision loss
towards the near-exact character path of :mod:`facevox_tts.alignment` plus that path, blurred,
multiplied into the attention as a prior early in training (annealed to zero). Without
durations a beta-binomial prior is used (Badlani et al. 2021) and no attention loss.

Checkpoints (model + optimiser + step; ``torch.load(weights_only=True)``) go to ``OUT/last.pt``
and ``OUT/best.pt``; validation alignments are plotted to ``OUT/align_<step>.png``.
"""

from __future__ import annotations

import json
import math
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import click
import numpy as np
import torch
import torch.nn.functional as F
from facevox import AcousticModel, config_from_dict, config_to_dict, lengths_to_mask
from facevox.io import atomic_path
from facevox.roles import DecoderCapWarning
from torch import Tensor
from tqdm import tqdm

from .alignment import attention_target, beta_binomial_prior, char_durations, read_durations
from .data import Utterance, build_mel_cache, length_buckets, load_mel, read_corpus
from .fastspeech import FastSpeech, FastSpeechConfig
from .tacotron import Tacotron, TacotronConfig
from .text import SYMBOLS, EnglishCharacters

__all__ = [
    "Batch",
    "TrainItem",
    "alignment_metrics",
    "export_weights",
    "make_batch",
    "parse_schedule",
    "load_checkpoint",
    "prepare_items",
    "run_options",
    "save_checkpoint",
    "tacotron_loss",
    "train_command",
    "value_at",
]

_V = TypeVar("_V")


@dataclass
class TrainItem:
    """One prepared utterance: token ids ``(L,)`` int64 (end token included), mel ``(n_mels, T)``
    float16, per-token teacher frames (or ``None``) and the text."""

    uid: str
    tokens: Tensor
    mel: Tensor
    durations: list[int] | None
    text: str


@dataclass
class Batch:
    """A padded batch: tokens ``(B, L)``, token_lengths ``(B,)``, mels ``(B, n_mels, T)``,
    mel_lengths ``(B,)``, target ``(B, T_dec, L)`` attention target, ``has_target`` ``(B,)``
    bool, prior ``(B, T_dec, L)``."""

    tokens: Tensor
    token_lengths: Tensor
    mels: Tensor
    mel_lengths: Tensor
    target: Tensor
    has_target: Tensor
    prior: Tensor


def prepare_items(utterances: list[Utterance], cache: Path, processor: EnglishCharacters) -> list[TrainItem]:
    """Tokenise texts, load cached mels and map teacher durations onto the tokens."""
    items = []
    unmatched = 0
    for u in utterances:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ids = processor.encode(u.text)
        text = "".join(SYMBOLS[i] for i in ids[:-1])
        durations = None
        if u.alignment is not None:
            durations = char_durations(text, read_durations(u.alignment))
            unmatched += durations is None
        items.append(TrainItem(u.uid, torch.tensor(ids), load_mel(cache, u.uid).half(), durations, text))
    if unmatched:
        print(f"teacher durations unmatched for {unmatched} of {len(items)} utterances (beta-binomial prior used)")
    return items


def _blur(target: np.ndarray, width: int = 2) -> np.ndarray:
    """Spread a path over +-``width`` tokens (a soft prior), with a small floor."""
    out = target.copy()
    for s in range(1, width + 1):
        w = 0.5**s
        out[:, s:] += w * target[:, :-s]
        out[:, :-s] += w * target[:, s:]
    return out + 1e-3


def make_batch(items: list[TrainItem], r: int, mel_floor: float) -> Batch:
    """Pad ``items`` into a :class:`Batch`."""
    b = len(items)
    lmax = max(len(it.tokens) for it in items)
    tmax = max(it.mel.shape[1] for it in items)
    dmax = math.ceil(tmax / r)
    tokens = torch.zeros(b, lmax, dtype=torch.int64)
    mels = torch.full((b, items[0].mel.shape[0], tmax), mel_floor)
    target = torch.zeros(b, dmax, lmax)
    prior = torch.ones(b, dmax, lmax)
    has = torch.zeros(b, dtype=torch.bool)
    for i, it in enumerate(items):
        n, t = len(it.tokens), it.mel.shape[1]
        tokens[i, :n] = it.tokens
        mels[i, :, :t] = it.mel.float()
        steps = math.ceil(t / r)
        if it.durations is not None:
            tgt = attention_target(it.durations, r, t)
            target[i, :steps, :n] = torch.from_numpy(tgt)
            prior[i, :steps, :n] = torch.from_numpy(_blur(tgt))
            has[i] = True
        else:
            prior[i, :steps, :n] = torch.from_numpy(beta_binomial_prior(n, steps))
    return Batch(
        tokens,
        torch.tensor([len(it.tokens) for it in items]),
        mels,
        torch.tensor([it.mel.shape[1] for it in items]),
        target,
        has,
        prior,
    )


def tacotron_loss(model: Tacotron, batch: Batch, use_prior: bool, attention_weight: float) -> dict[str, Tensor]:
    """Teacher-forced losses: ``mel`` (L1 before + after postnet), ``stop`` (BCE, pos_weight 5),
    ``attention`` (cross-entropy of the weights to the teacher path, per decoder step),
    ``total``; plus the output's ``alignments`` under key ``"alignments"``."""
    out = model(batch.tokens, batch.token_lengths, batch.mels, batch.mel_lengths, batch.prior if use_prior else None)
    t = batch.mels.shape[2]
    valid = lengths_to_mask(batch.mel_lengths, t).unsqueeze(1).float()  # (B, 1, T)
    n = valid.sum() * batch.mels.shape[1]
    assert out.mel_before_postnet is not None and out.stop_logits is not None and out.alignments is not None
    mel = ((out.mel_before_postnet - batch.mels).abs() * valid).sum() / n
    post = ((out.mel - batch.mels).abs() * valid).sum() / n
    stop_target = (torch.arange(t).unsqueeze(0) >= (batch.mel_lengths.unsqueeze(1) - 1)).float()
    stop = F.binary_cross_entropy_with_logits(
        out.stop_logits, stop_target, weight=valid[:, 0], pos_weight=torch.tensor(5.0), reduction="sum"
    ) / valid.sum()
    r = model.reduction_factor
    dec_valid = lengths_to_mask((batch.mel_lengths + r - 1) // r, out.alignments.shape[1]) & batch.has_target[:, None]
    ce = -(batch.target * torch.log(out.alignments + 1e-6)).sum(-1)  # (B, T_dec)
    att = (ce * dec_valid).sum() / dec_valid.sum().clamp_min(1)
    total = mel + post + stop + attention_weight * att
    return {"total": total, "mel": mel, "postnet": post, "stop": stop, "attention": att, "alignments": out.alignments}


def alignment_metrics(alignments: Tensor, batch: Batch, r: int) -> dict[str, float]:
    """``focus``: mean over valid decoder steps of the largest weight; ``diagonal``: share of
    steps whose argmax is within 2 tokens of the teacher path's argmax (``nan`` without one)."""
    steps = (batch.mel_lengths + r - 1) // r
    valid = lengths_to_mask(steps, alignments.shape[1])
    focus = float((alignments.max(-1).values * valid).sum() / valid.sum())
    v = valid & batch.has_target[:, None]
    if not bool(v.any()):
        return {"focus": focus, "diagonal": float("nan")}
    close = (alignments.argmax(-1) - batch.target.argmax(-1)).abs() <= 2
    return {"focus": focus, "diagonal": float((close & v).sum() / v.sum())}


def _plot(alignment: np.ndarray, title: str, path: Path) -> None:
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


_ARCHS: dict[str, tuple[type[AcousticModel], type]] = {
    "tacotron": (Tacotron, TacotronConfig),
    "fastspeech": (FastSpeech, FastSpeechConfig),
}


def save_checkpoint(
    path: Path, model: Tacotron | FastSpeech, optim: torch.optim.Optimizer, step: int, extra: dict
) -> None:
    """Write a training checkpoint atomically: model and optimiser state, step, the model's
    architecture name and config as JSON, and ``extra`` (JSON); loads with ``weights_only=True``."""
    arch = next(name for name, (cls, _) in _ARCHS.items() if isinstance(model, cls))
    with atomic_path(path) as tmp:
        torch.save(
            {"model": model.state_dict(), "optim": optim.state_dict(), "step": step, "arch": arch,
             "config": json.dumps(config_to_dict(model.config)), "extra": json.dumps(extra)},
            tmp,
        )


def load_checkpoint(path: str | Path) -> tuple[Tacotron | FastSpeech, dict]:
    """The model of a :func:`save_checkpoint` file, built from its architecture and config with
    its weights loaded, and the whole checkpoint dict (``optim``, ``step``, ``extra``...)."""
    state = torch.load(path, weights_only=True)
    cls, config_cls = _ARCHS[state.get("arch", "tacotron")]  # checkpoints before "arch" are Tacotron's
    model = cls(config_from_dict(config_cls, json.loads(state["config"])))
    model.load_state_dict(state["model"])
    return model, state


@torch.no_grad()
def _validate(model: Tacotron, val: list[TrainItem], out: Path, step: int, batch_size: int) -> dict[str, float]:
    model.eval()
    r = model.reduction_factor
    sums: dict[str, float] = {}
    count = 0
    for i in range(0, len(val), batch_size):
        batch = make_batch(val[i : i + batch_size], r, model.config.mel_floor)
        losses = tacotron_loss(model, batch, use_prior=False, attention_weight=1.0)
        metrics = alignment_metrics(losses["alignments"], batch, r)
        for k, v in [*((k, float(v)) for k, v in losses.items() if k != "alignments"), *metrics.items()]:
            sums[k] = sums.get(k, 0.0) + v * len(batch.tokens)
        count += len(batch.tokens)
    result = {f"val_{k}": v / count for k, v in sums.items()}
    # Free-running check on the shortest validation item.
    item = min(val, key=lambda it: len(it.tokens))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DecoderCapWarning)  # reported as infer_cap_hit
        free = model.infer(item.tokens[None], torch.tensor([len(item.tokens)]))
    assert free.alignments is not None
    result["infer_cap_hit"] = float(any(free.capped()))
    result["infer_frames_ratio"] = float(free.mel_lengths[0]) / item.mel.shape[1]
    _plot(free.alignments[0].numpy(), f"step {step} free-running: {item.text}", out / f"align_{step:06d}.png")
    model.train()
    return result


def parse_schedule(text: str, cast: Callable[[str], _V], option: str) -> list[tuple[int, _V]]:
    """Parse ``"step:value,step:value"`` into ``[(step, value), ...]`` sorted by step.

    An empty string gives ``[]``.

    Raises:
        click.BadParameter: a pair is not ``step:value``, a step is negative or repeated, or a
            value does not parse (names ``option`` and shows what is accepted).
    """
    pairs: list[tuple[int, _V]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        step, sep, value = part.partition(":")
        try:
            if not sep or int(step) < 0:
                raise ValueError(part)
            pairs.append((int(step), cast(value)))
        except ValueError:
            raise click.BadParameter(
                f"{part!r} is not step:value with a step >= 0 (e.g. 0:350,1500:900)", param_hint=option
            ) from None
    steps = [s for s, _ in pairs]
    if len(set(steps)) != len(steps):
        raise click.BadParameter(f"a step appears twice in {text!r}", param_hint=option)
    return sorted(pairs, key=lambda p: p[0])


def value_at(schedule: list[tuple[int, _V]], step: int, default: _V) -> _V:
    """The value of the last pair whose step is ``<= step`` (``default`` before the first)."""
    value = default
    for start, v in schedule:
        if start <= step:
            value = v
    return value


def run_options(default_out: str, data_help: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Click options shared by the TTS trainers: ``--data``, ``--out``, ``--cache``, ``--resume``,
    ``--threads``, ``--val-count`` and ``--seed`` (parameters ``data_dir``, ``out_dir``,
    ``cache_dir``, ``resume``, ``threads``, ``val_count``, ``seed``)."""
    folder = click.Path(file_okay=False, path_type=Path)
    options = [
        click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help=data_help),
        click.option("--out", "out_dir", default=Path(default_out), show_default=True, type=folder,
                     help="Checkpoints, logs and plots."),
        click.option("--cache", "cache_dir", default=None, type=folder, help="Mel cache folder [default: OUT/mels]."),
        click.option("--resume/--no-resume", default=False, help="Continue from OUT/last.pt."),
        click.option("--threads", default=1, show_default=True, type=click.IntRange(1), help="torch CPU threads."),
        click.option("--val-count", default=48, show_default=True, type=click.IntRange(1), help="Held-out utterances."),
        click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**63 - 1),
                     help="Random seed, 0 .. 2**63 - 1."),
    ]

    def apply(command: Callable[..., None]) -> Callable[..., None]:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


@click.command("tts")
@run_options("runs/tts", "LJSpeech-layout corpus: metadata.csv + wavs/ or audio/ (+ optional alignments/).")
@click.option("--steps", default=20000, show_default=True, type=click.IntRange(1), help="Total optimiser steps.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1), help="Largest batch.")
@click.option("--batch-frames", default=9000, show_default=True, type=click.IntRange(100),
              help="Budget of padded mel frames per batch (B x T_max).")
@click.option("--lr", default=1e-3, show_default=True, type=float, help="Adam learning rate.")
@click.option("--lr-decay", default="", show_default=True,
              help="step:lr pairs: the learning rate from that step on (piecewise constant), e.g. 4300:5e-4,6500:2.5e-4.")
@click.option("--reduction-factor", default=4, show_default=True, type=click.IntRange(1, 8),
              help="Mel frames per decoder step (new runs only).")
@click.option("--attention-weight", default=1.0, show_default=True, type=float, help="Attention-loss weight.")
@click.option("--prior-steps", default=1500, show_default=True, type=click.IntRange(0),
              help="Steps over which the attention prior is annealed away.")
@click.option("--curriculum", default="0:350,1500:550,4000:900", show_default=True,
              help="step:max_frames pairs: utterances longer than max_frames are left out until then.")
@click.option("--eval-every", default=250, show_default=True, type=click.IntRange(1), help="Validation interval.")
def train_command(
    data_dir: Path, out_dir: Path, cache_dir: Path | None, resume: bool, steps: int, batch_size: int,
    batch_frames: int, threads: int, lr: float, lr_decay: str, reduction_factor: int, attention_weight: float,
    prior_steps: int, curriculum: str, val_count: int, eval_every: int, seed: int,
) -> None:
    """Train the Tacotron acoustic model on an LJSpeech-layout corpus."""
    torch.set_num_threads(threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = cache_dir or out_dir / "mels"
    schedule = parse_schedule(curriculum, int, "--curriculum")
    if not schedule or schedule[0][0] != 0:
        raise click.BadParameter("needs a pair for step 0, e.g. 0:350,1500:900", param_hint="--curriculum")
    lr_schedule = parse_schedule(lr_decay, float, "--lr-decay")
    utts = read_corpus(data_dir)
    build_mel_cache(utts, cache)
    processor = EnglishCharacters()
    items = prepare_items(utts, cache, processor)
    rng = random.Random(seed)
    order = list(range(len(items)))
    random.Random(1234).shuffle(order)
    val = [items[i] for i in order[:val_count]]
    train = [items[i] for i in order[val_count:]]
    (out_dir / "val_ids.txt").write_text("\n".join(it.uid for it in val) + "\n")
    ckpt = out_dir / "last.pt"
    step, best = 0, float("inf")
    if resume and ckpt.is_file():
        loaded, state = load_checkpoint(ckpt)
        if not isinstance(loaded, Tacotron):
            raise click.UsageError(f"{ckpt} is a {type(loaded).__name__} checkpoint, not a Tacotron one")
        model = loaded
        optim = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-6, weight_decay=1e-6)
        optim.load_state_dict(state["optim"])
        step = int(state["step"])
        best = json.loads(state["extra"]).get("best", best)
        print(f"resumed from {ckpt} at step {step}")
    else:
        model = Tacotron(TacotronConfig(n_symbols=len(SYMBOLS), reduction_factor=reduction_factor))
        optim = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-6, weight_decay=1e-6)
    r = model.reduction_factor
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, {len(train)} train / {len(val)} val")
    lengths = [it.mel.shape[1] for it in train]
    log = open(out_dir / "metrics.jsonl", "a")
    bar = tqdm(total=steps, initial=step, desc="train tts", mininterval=30)
    model.train()
    t0 = time.time()
    while step < steps:
        max_len = value_at(schedule, step, schedule[0][1])
        for idx in length_buckets(lengths, batch_frames, batch_size, rng, max_len):
            if step >= steps:
                break
            use_prior = rng.random() < max(0.0, 1.0 - step / max(prior_steps, 1))
            for group in optim.param_groups:
                group["lr"] = value_at(lr_schedule, step, lr)
            batch = make_batch([train[i] for i in idx], r, model.config.mel_floor)
            losses = tacotron_loss(model, batch, use_prior, attention_weight)
            optim.zero_grad(set_to_none=True)
            losses["total"].backward()
            grad = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))
            if math.isfinite(grad):
                optim.step()
            step += 1
            bar.update(1)
            if step % 25 == 0:
                rec = {k: round(float(v.detach()), 4) for k, v in losses.items() if k != "alignments"}
                rec.update(alignment_metrics(losses["alignments"].detach(), batch, r))
                rec.update(step=step, prior=use_prior, B=len(idx), T=int(batch.mels.shape[2]),
                           s_per_step=round((time.time() - t0) / 25, 2), grad=round(grad, 2))
                t0 = time.time()
                log.write(json.dumps(rec) + "\n")
                log.flush()
                bar.set_postfix(mel=rec["postnet"], att=rec["attention"], focus=round(rec["focus"], 2))
            if step % eval_every == 0 or step == steps:
                metrics = _validate(model, val, out_dir, step, batch_size)
                metrics["step"] = step
                log.write(json.dumps({k: round(v, 4) for k, v in metrics.items()}) + "\n")
                log.flush()
                tqdm.write(json.dumps({k: round(v, 4) for k, v in metrics.items()}))
                score = metrics["val_postnet"]
                if score < best and step > prior_steps:
                    best = score
                    save_checkpoint(out_dir / "best.pt", model, optim, step, {"best": best, **metrics})
                save_checkpoint(ckpt, model, optim, step, {"best": best})
                t0 = time.time()
            elif step % 100 == 0:
                save_checkpoint(ckpt, model, optim, step, {"best": best})
                t0 = time.time()
    bar.close()
    log.close()


def export_weights(checkpoint: str | Path, path: str | Path, dtype: torch.dtype | None = torch.float16) -> Path:
    """Write the model of a training checkpoint (``last.pt``/``best.pt``) as shipped weights.

    Args:
        checkpoint: a checkpoint written by :func:`save_checkpoint` (``facevox train tts`` or
            ``facevox train tts-fastspeech``).
        path: destination ``.safetensors`` (written atomically).
        dtype: cast to this dtype (``float16`` halves the file); ``None`` keeps float32.

    Returns:
        ``path``.
    """
    from facevox import save_weights

    model, _ = load_checkpoint(checkpoint)
    return save_weights(model, path, dtype=dtype)


if __name__ == "__main__":  # pragma: no cover - `python -m facevox_tts.train`, same as `facevox train tts`
    train_command()
