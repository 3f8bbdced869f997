"""Training recipe for :class:`facevox_tts.tacotron.Tacotron` (``facevox train tts``).

Teacher-forced training on an LJSpeech-layout corpus with a mel cache, length-bucketed batches
(short utterances first: ``--curriculum``), L1 mel loss before and after the postnet, stop-token
BCE and -- when the corpus has teacher durations (``alignments/``) -- an attention-supervision
loss towards the near-exact character path of :mod:`facevox_tts.alignment` plus that path,
blurred, multiplied into the attention as a prior early in training (annealed to zero over
``--prior-steps``). Without durations a beta-binomial prior is used (Badlani et al. 2021) and
no attention loss.

The loop is PyTorch Lightning's (:mod:`facevox.training`; the module is
:class:`facevox_tts.lit_tacotron.TacotronModule`), so ``--devices``, ``--num-nodes`` and
``--strategy ddp`` train on several processes or GPUs (``--batch-size`` and ``--batch-frames``
are per process), ``--precision`` and ``--deadline`` work as for every recipe. Under ``--out``:

* ``checkpoints/last.ckpt`` (every validation and every 100 steps; ``--resume`` continues from
  it: weights, optimiser, schedule, step counter) and ``checkpoints/best.ckpt`` (lowest
  held-out mel L1 after the postnet once past ``--prior-steps``; before that, the first
  validation's): Lightning checkpoints, loaded with ``weights_only=True``;
* ``best/``: the best weights as a :func:`facevox.save_pretrained` folder of
  ``tts.tacotron_joe``'s architecture (``facevox.load_pretrained(OUT / "best")``) at the end;
* ``metrics.jsonl``: training losses (``total``, ``mel``, ``postnet``, ``stop``, ``attention``,
  ``focus``, ``diagonal``, ``prior``, ``B``, ``T``, ``lr``, ``grad``, ``s_per_step``) every 25 steps
  and each validation (``val_*``, ``infer_cap_hit``, ``infer_frames_ratio``), one JSON object
  with a ``step`` per line (``benchmarks/plot_tts_training.py`` plots them);
* ``align_<step>.png``: the free-running alignment of the shortest held-out utterance at each
  validation; ``val_ids.txt``: the held-out utterances.

Ship weights with :func:`export_weights`. Runs started before the move to Lightning wrote
``last.pt``/``best.pt``: they restart (``--resume`` on such a folder says so; start a new run
in another ``--out``), and :func:`export_weights` still exports their weights.

Example::

    facevox train tts --data data/joe-tts --out runs/tts --steps 7500
    facevox train tts --data data/joe-tts --out runs/tts --steps 7500 --resume
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import click
import numpy as np
import torch
import torch.nn.functional as F
from facevox import AcousticModel, TextProcessor, config_from_dict, lengths_to_mask
from facevox.training import (
    TrainingOptions,
    build_trainer,
    checkpoint_dir,
    echo,
    read_checkpoint,
    resume_checkpoint,
    training_command,
)
from torch import Tensor

from .alignment import attention_target, beta_binomial_prior, char_durations, read_durations
from .data import Utterance, load_mel, read_corpus
from .fastspeech import FastSpeech, FastSpeechConfig
from .phonemes import tokens_from_alignment
from .tacotron import Tacotron, TacotronConfig
from .text import SYMBOLS

__all__ = [
    "PRETRAINED_NAME",
    "Batch",
    "TrainItem",
    "alignment_metrics",
    "export_weights",
    "make_batch",
    "parse_schedule",
    "prepare_items",
    "tacotron_loss",
    "train_command",
    "value_at",
]

PRETRAINED_NAME = "tts.tacotron_joe"
"""The registered model whose architecture the recipe trains (the name ``best/`` is saved under)."""

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


def prepare_items(utterances: list[Utterance], cache: Path, processor: TextProcessor) -> list[TrainItem]:
    """Tokenise texts, load cached mels and map teacher durations onto the tokens.

    With ``en.ipa`` (:class:`facevox_tts.phonemes.EnglishPhonemes`) an utterance's teacher
    alignment gives its tokens and frames as they are; others are phonemised from their text.
    With ``en.chars`` the teacher's phoneme frames are mapped onto the characters.
    """
    items = []
    unmatched = 0
    for u in utterances:
        if processor.name == "en.ipa" and u.alignment is not None:
            ids, frames = tokens_from_alignment(read_durations(u.alignment))
            text = "".join(processor.symbols[i] for i in ids)
            items.append(TrainItem(u.uid, torch.tensor(ids), load_mel(cache, u.uid).half(), frames, text))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ids = processor.encode(u.text)
        text = "".join(processor.symbols[i] for i in ids[:-1])
        durations = None
        if u.alignment is not None:
            durations = char_durations(text, read_durations(u.alignment))
            unmatched += durations is None
        items.append(TrainItem(u.uid, torch.tensor(ids), load_mel(cache, u.uid).half(), durations, text))
    if unmatched:
        echo(f"teacher durations unmatched for {unmatched} of {len(items)} utterances (beta-binomial prior used)")
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
    ``total`` (0-dim float32 tensors); plus the output's ``alignments`` ``(B, T_dec, L)`` float32
    under key ``"alignments"``. ``batch`` is on the model's device; under mixed precision the
    losses are computed in float32."""
    out = model(batch.tokens, batch.token_lengths, batch.mels, batch.mel_lengths, batch.prior if use_prior else None)
    t = batch.mels.shape[2]
    valid = lengths_to_mask(batch.mel_lengths, t).unsqueeze(1).float()  # (B, 1, T)
    n = valid.sum() * batch.mels.shape[1]
    assert out.mel_before_postnet is not None and out.stop_logits is not None and out.alignments is not None
    mel = ((out.mel_before_postnet.float() - batch.mels).abs() * valid).sum() / n
    post = ((out.mel.float() - batch.mels).abs() * valid).sum() / n
    alignments = out.alignments.float()
    device = batch.mels.device
    stop_target = (torch.arange(t, device=device).unsqueeze(0) >= (batch.mel_lengths.unsqueeze(1) - 1)).float()
    stop = F.binary_cross_entropy_with_logits(
        out.stop_logits.float(), stop_target, weight=valid[:, 0], pos_weight=torch.tensor(5.0, device=device),
        reduction="sum",
    ) / valid.sum()
    r = model.reduction_factor
    dec_valid = lengths_to_mask((batch.mel_lengths + r - 1) // r, alignments.shape[1]) & batch.has_target[:, None]
    ce = -(batch.target * torch.log(alignments + 1e-6)).sum(-1)  # (B, T_dec)
    att = (ce * dec_valid).sum() / dec_valid.sum().clamp_min(1)
    total = mel + post + stop + attention_weight * att
    return {"total": total, "mel": mel, "postnet": post, "stop": stop, "attention": att, "alignments": alignments}


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


_ARCHS: dict[str, tuple[type[AcousticModel], type]] = {
    "tacotron": (Tacotron, TacotronConfig),
    "fastspeech": (FastSpeech, FastSpeechConfig),
}


def _model_from_checkpoint(path: str | Path) -> Tacotron | FastSpeech:
    """The model of a training checkpoint, built from the architecture and config it records.

    Reads a Lightning checkpoint of ``facevox train tts`` or ``tts-fastspeech``
    (``state_dict`` + ``facevox``), or a ``last.pt``/``best.pt`` of the training code before
    Lightning (``model`` + ``arch`` + ``config``).

    Raises:
        click.UsageError: neither (the file is named).
    """
    state = read_checkpoint(path)
    if "state_dict" in state and "arch" in state.get("facevox", {}):
        recipe = state["facevox"]
        prefix = "model."
        weights = {k[len(prefix) :]: v for k, v in state["state_dict"].items() if k.startswith(prefix)}
        arch, config = recipe["arch"], recipe["config"]
    elif "model" in state and "config" in state:  # before Lightning; before "arch" only Tacotron existed
        weights, arch, config = state["model"], state.get("arch", "tacotron"), state["config"]
    else:
        raise click.UsageError(f"{path} is not a checkpoint of `facevox train tts` or `facevox train tts-fastspeech`")
    cls, config_cls = _ARCHS[arch]
    model = cls(config_from_dict(config_cls, json.loads(config)))
    model.load_state_dict(weights)
    return model  # type: ignore[return-value]


def export_weights(checkpoint: str | Path, path: str | Path, dtype: torch.dtype | None = torch.float16) -> Path:
    """Write the model of a training checkpoint as shipped weights (a ``.safetensors`` state dict).

    Args:
        checkpoint: ``OUT/checkpoints/last.ckpt`` or ``best.ckpt`` of ``facevox train tts`` (or
            of ``tts-fastspeech``), the run's ``OUT/best`` folder, or a ``last.pt``/``best.pt``
            of a run from before the move to Lightning.
        path: destination ``.safetensors`` (written atomically).
        dtype: cast to this dtype (``float16`` halves the file); ``None`` keeps float32.

    Returns:
        ``path``.
    """
    from facevox import load_pretrained, save_weights

    model = load_pretrained(checkpoint) if Path(checkpoint).is_dir() else _model_from_checkpoint(checkpoint)
    return save_weights(model, path, dtype=dtype)


@training_command("tts", default_out="runs/tts", steps=20000, gradient_clip=1.0)
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="LJSpeech-layout corpus: metadata.csv + wavs/ or audio/ (+ optional alignments/).")
@click.option("--cache", "cache_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Mel cache folder [default: OUT/mels].")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1), help="torch CPU threads per process.")
@click.option("--val-count", default=48, show_default=True, type=click.IntRange(1), help="Held-out utterances.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**63 - 1),
              help="Random seed, 0 .. 2**63 - 1.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1), help="Largest batch (per process).")
@click.option("--batch-frames", default=9000, show_default=True, type=click.IntRange(100),
              help="Budget of padded mel frames per batch (B x T_max).")
@click.option("--lr", default=1e-3, show_default=True, type=float, help="Adam learning rate.")
@click.option("--lr-decay", default="",
              help="step:lr pairs: the learning rate from that step on (piecewise constant), e.g. 4300:5e-4,6500:2.5e-4.")
@click.option("--reduction-factor", default=4, show_default=True, type=click.IntRange(1, 8),
              help="Mel frames per decoder step (new runs only; a resumed run keeps its checkpoint's).")
@click.option("--attention-weight", default=1.0, show_default=True, type=float, help="Attention-loss weight.")
@click.option("--prior-steps", default=1500, show_default=True, type=click.IntRange(0),
              help="Steps over which the attention prior is annealed away.")
@click.option("--curriculum", default="0:350,1500:550,4000:900", show_default=True,
              help="step:max_frames pairs: utterances longer than max_frames are left out until then.")
@click.option("--eval-every", default=250, show_default=True, type=click.IntRange(1), help="Validation interval.")
def train_command(
    training: TrainingOptions, data_dir: Path, cache_dir: Path | None, threads: int, val_count: int, seed: int,
    batch_size: int, batch_frames: int, lr: float, lr_decay: str, reduction_factor: int, attention_weight: float,
    prior_steps: int, curriculum: str, eval_every: int,
) -> None:
    """Train the Tacotron acoustic model on an LJSpeech-layout corpus."""
    torch.set_num_threads(threads)
    schedule = parse_schedule(curriculum, int, "--curriculum")
    if not schedule or schedule[0][0] != 0:
        raise click.BadParameter("needs a pair for step 0, e.g. 0:350,1500:900", param_hint="--curriculum")
    lr_schedule = parse_schedule(lr_decay, float, "--lr-decay")
    ckpt = resume_checkpoint(training)
    out_dir = Path(training.out)
    utts = read_corpus(data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if ckpt is not None:
        model = _model_from_checkpoint(ckpt)
        if not isinstance(model, Tacotron):
            raise click.UsageError(f"{ckpt} is a {type(model).__name__} checkpoint, not a Tacotron one")
        echo(f"resumed from {ckpt} at step {int(read_checkpoint(ckpt)['global_step'])}")
    else:
        torch.manual_seed(seed)
        model = Tacotron(TacotronConfig(n_symbols=len(SYMBOLS), reduction_factor=reduction_factor))
    from .lit_tacotron import MONITOR, TacotronModule  # imports lightning (seconds)

    module = TacotronModule(model, utts, cache_dir or out_dir / "mels", out_dir, val_count=val_count,
                            batch_size=batch_size, batch_frames=batch_frames, lr=lr, lr_schedule=lr_schedule,
                            attention_weight=attention_weight, prior_steps=prior_steps, curriculum=schedule, seed=seed)
    trainer = build_trainer(training, monitor=MONITOR, mode="min", val_check_interval=eval_every,
                            checkpoint_every_n_steps=100, log_every_n_steps=25)
    trainer.fit(module, ckpt_path=ckpt)
    best = checkpoint_dir(out_dir) / "best.ckpt"
    if trainer.is_global_zero and best.is_file():
        from facevox import save_pretrained

        save_pretrained(_model_from_checkpoint(best), out_dir / "best", name=PRETRAINED_NAME)
        echo(f"best weights: {out_dir / 'best'} (facevox.load_pretrained)")


if __name__ == "__main__":  # pragma: no cover - `python -m facevox_tts.train`, same as `facevox train tts`
    train_command()
