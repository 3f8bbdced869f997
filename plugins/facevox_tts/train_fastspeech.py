"""Training recipe for :class:`facevox_tts.fastspeech.FastSpeech` (``facevox train tts-fastspeech``).

Needs a corpus with teacher durations (``alignments/<id>.tsv``, as joe-tts has): they are mapped
onto the character tokens by :func:`facevox_tts.alignment.char_durations` and fitted to each
cached mel's frame count. Loss: masked L1 on the log-mel + MSE on ``log(1 + frames)`` of every
token (Ren et al. 2019). Adam with a linear warm-up (Transformer blocks need one, Vaswani et
al. 2017), then the ``--lr-decay`` schedule. Length-bucketed batches.

The loop is PyTorch Lightning's (:mod:`facevox.training`; the module is
:class:`facevox_tts.lit_fastspeech.FastSpeechModule`), so ``--devices``, ``--num-nodes`` and
``--strategy ddp`` train on several processes or GPUs (``--batch-size`` and ``--batch-frames``
are per process). Under ``--out``:

* ``checkpoints/last.ckpt`` (every validation and every 100 steps; ``--resume`` continues from
  it) and ``checkpoints/best.ckpt`` (lowest validation mel L1): Lightning checkpoints;
* ``best/``: the best weights as a :func:`facevox.save_pretrained` folder
  (``facevox.load_pretrained(OUT / "best")`` rebuilds the model) at the end;
* ``metrics.jsonl``: training losses every 50 steps and each validation (``val_*`` keys),
  one JSON object per line (``benchmarks/plot_tts_training.py`` plots them).

Ship weights with :func:`export_weights` (``.ckpt`` or ``best/`` to ``.safetensors``). Runs
started before the move to Lightning wrote ``last.pt``/``best.pt``: this code cannot resume
them (``--resume`` says so); ``facevox_tts.train.export_weights`` still exports them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import torch
import torch.nn.functional as F
from facevox import config_from_dict, config_to_dict, lengths_to_mask
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

from .data import read_corpus
from .fastspeech import FastSpeech, FastSpeechConfig
from .text import SYMBOLS
from .train import TrainItem, parse_schedule

__all__ = [
    "PRETRAINED_NAMES",
    "DurationBatch",
    "export_weights",
    "fastspeech_loss",
    "fit_durations",
    "make_duration_batch",
    "parse_model_config",
    "train_fastspeech_command",
    "warm_start",
]

PRETRAINED_NAME = "tts.fastspeech_joe"
"""The registered model whose architecture the recipe trains (the name ``best/`` is saved under)."""
PRETRAINED_NAMES = {"en.chars": PRETRAINED_NAME, "en.ipa": "tts.fastspeech_joe_ipa"}
"""Registered model per ``--text-processor``: the name ``best/`` is saved under."""


@dataclass
class DurationBatch:
    """A padded batch: tokens ``(B, L)`` int64, token_lengths ``(B,)``, mels ``(B, n_mels, T)``
    float32, mel_lengths ``(B,)``, durations ``(B, L)`` int64 whose rows sum to mel_lengths, and
    for a model with a variance adaptor the normalised token ``pitch`` and ``energy`` ``(B, L)``
    float32 targets (:func:`facevox_tts.prosody.token_targets`; ``None`` otherwise)."""

    tokens: Tensor
    token_lengths: Tensor
    mels: Tensor
    mel_lengths: Tensor
    durations: Tensor
    pitch: Tensor | None = None
    energy: Tensor | None = None


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


def make_duration_batch(
    items: list[TrainItem], mel_floor: float, prosody: dict[str, tuple[Tensor, Tensor]] | None = None
) -> DurationBatch:
    """Pad ``items`` (all with teacher durations) into a :class:`DurationBatch`.

    Args:
        prosody: ``uid -> (pitch (L,), energy (L,))`` token targets; ``None``: no variance targets.

    Raises:
        ValueError: an item has no durations, or no prosody targets when ``prosody`` is given
            (its id is named).
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
    batch = DurationBatch(tokens, torch.tensor([len(it.tokens) for it in items]), mels, lengths, durations)
    if prosody is not None:
        batch.pitch, batch.energy = torch.zeros(b, lmax), torch.zeros(b, lmax)
        for i, it in enumerate(items):
            if it.uid not in prosody:
                raise ValueError(f"utterance {it.uid!r} has no pitch/energy targets")
            p, e = prosody[it.uid]
            batch.pitch[i, : len(p)], batch.energy[i, : len(e)] = p, e
    return batch


def fastspeech_loss(
    model: FastSpeech, batch: DurationBatch, duration_weight: float = 1.0, variance_weight: float = 0.1
) -> dict[str, Tensor]:
    """Losses of one teacher-forced pass: ``mel`` (masked L1, natural-log mel), ``duration``
    (masked MSE on ``log(1 + frames)``) and ``total`` = mel + duration_weight * duration; with a
    variance adaptor and targets also ``pitch`` and ``energy`` (masked MSE on the normalised
    token values, FastSpeech 2), added with ``variance_weight`` (0.1, as FastPitch weighs pitch).
    The decoder is teacher-forced with the target pitch and energy."""
    out = model(batch.tokens, batch.token_lengths, batch.mels, batch.mel_lengths, durations=batch.durations,
                pitch=batch.pitch, energy=batch.energy)
    frame_mask = lengths_to_mask(batch.mel_lengths, batch.mels.shape[2]).unsqueeze(1).float()
    mel = (F.l1_loss(out.mel, batch.mels, reduction="none") * frame_mask).sum() / (frame_mask.sum() * model.n_mels)
    token_mask = lengths_to_mask(batch.token_lengths, batch.tokens.shape[1]).float()
    target = torch.log1p(batch.durations.float())
    duration = (((out.log_durations - target) ** 2) * token_mask).sum() / token_mask.sum()
    losses = {"total": mel + duration_weight * duration, "mel": mel, "duration": duration}
    if out.pitch is not None and out.energy is not None and batch.pitch is not None and batch.energy is not None:
        losses["pitch"] = (((out.pitch - batch.pitch) ** 2) * token_mask).sum() / token_mask.sum()
        losses["energy"] = (((out.energy - batch.energy) ** 2) * token_mask).sum() / token_mask.sum()
        losses["total"] = losses["total"] + variance_weight * (losses["pitch"] + losses["energy"])
    return losses


def parse_model_config(text: str, n_symbols: int = len(SYMBOLS)) -> FastSpeechConfig:
    """A :class:`FastSpeechConfig` from ``"field=value,field=value"`` overrides of the default.

    ``n_symbols`` is the text processor's vocabulary (``en.chars``: 35, ``en.ipa``: 58).

    Raises:
        click.BadParameter: a pair is not ``field=value``, an unknown field (the accepted ones
            are listed) or a value of the wrong type.
    """
    base = config_to_dict(FastSpeechConfig(n_symbols=n_symbols))
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in base:
            raise click.BadParameter(f"{part!r} is not field=value with a field of {sorted(base)}",
                                     param_hint="--model-config")
        try:
            if isinstance(base[key], bool):
                if value.strip().lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                base[key] = value.strip().lower() in ("true", "1")
                continue
            base[key] = type(base[key])(value.strip())
        except ValueError:
            raise click.BadParameter(f"{key}={value!r}: expected a {type(base[key]).__name__}",
                                     param_hint="--model-config") from None
    return config_from_dict(FastSpeechConfig, base)


def _model_from_checkpoint(path: str, state: dict[str, Any] | None = None) -> FastSpeech:
    """The model of a checkpoint of this recipe (``state``: its contents, when already read)."""
    state = read_checkpoint(path) if state is None else state
    recipe = state.get("facevox", {})
    if recipe.get("arch") != "fastspeech":
        raise click.UsageError(f"{path} is not a FastSpeech checkpoint of `facevox train tts-fastspeech`")
    model = FastSpeech(config_from_dict(FastSpeechConfig, json.loads(recipe["config"])))
    prefix = "model."
    model.load_state_dict({k[len(prefix):]: v for k, v in state["state_dict"].items() if k.startswith(prefix)})
    return model


def export_weights(checkpoint: str | Path, path: str | Path, dtype: torch.dtype | None = torch.float16) -> Path:
    """Write the model of a training checkpoint as shipped weights (a ``.safetensors`` state dict).

    Args:
        checkpoint: ``OUT/checkpoints/last.ckpt`` or ``best.ckpt`` of this recipe, or its
            ``OUT/best`` folder.
        path: destination ``.safetensors`` (written atomically).
        dtype: cast to this dtype (``float16`` halves the file); ``None`` keeps float32.

    Returns:
        ``path``.
    """
    from facevox import load_pretrained, save_weights

    model = load_pretrained(checkpoint) if Path(checkpoint).is_dir() else _model_from_checkpoint(str(checkpoint))
    return save_weights(model, path, dtype=dtype)


_VOCABULARY_TENSORS = ("encoder.embedding.weight",)


def warm_start(model: FastSpeech, weights: str | Path) -> list[str]:
    """Load trained weights into ``model`` for a new run; a variance adaptor they lack stays as built.

    Weights of another text processor (a character model warm-starting a phoneme model) load
    all but the token embedding, which starts fresh.

    Args:
        weights: a ``.safetensors`` state dict (float16 is cast) or a
            :func:`facevox.save_pretrained` folder.

    Returns:
        the top-level modules that were not in ``weights`` or started fresh (``["variance_adaptor"]``,
        ``["encoder"]`` (its token embedding), both or ``[]``).

    Raises:
        click.BadParameter: a tensor of ``weights`` that the model lacks, of another shape, or
            a missing tensor outside the variance adaptor (the names are given).
    """
    from safetensors.torch import load_file

    path = Path(weights)
    file = path / "model.safetensors" if path.is_dir() else path
    if not file.is_file():
        raise click.BadParameter(f"{path}: no .safetensors weights there", param_hint="--init")
    state = load_file(str(file))
    own = model.state_dict()
    fresh = [k for k in _VOCABULARY_TENSORS if k in state and k in own and own[k].shape != state[k].shape]
    state = {k: v for k, v in state.items() if k not in fresh}
    bad = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
    missing = [k for k in own if k not in state and k not in fresh]
    if bad or any(not k.startswith("variance_adaptor.") for k in missing):
        raise click.BadParameter(
            f"{path} does not fit this FastSpeech config: unexpected or reshaped {bad[:5]}, missing "
            f"{[k for k in missing if not k.startswith('variance_adaptor.')][:5]}", param_hint="--init")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=False)
    return sorted({k.split(".")[0] for k in missing + fresh})


@training_command("tts-fastspeech", default_out="runs/tts-fastspeech", steps=40000, gradient_clip=1.0)
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="LJSpeech-layout corpus with teacher durations (metadata.csv, wavs/ or audio/, alignments/).")
@click.option("--cache", "cache_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Mel cache folder [default: OUT/mels].")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1), help="torch CPU threads per process.")
@click.option("--val-count", default=48, show_default=True, type=click.IntRange(1), help="Held-out utterances.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**63 - 1),
              help="Random seed, 0 .. 2**63 - 1.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1), help="Largest batch (per process).")
@click.option("--batch-frames", default=4000, show_default=True, type=click.IntRange(100),
              help="Budget of padded mel frames per batch (B x T_max).")
@click.option("--lr", default=1e-3, show_default=True, type=float, help="Adam learning rate after warm-up.")
@click.option("--warmup", default=1000, show_default=True, type=click.IntRange(0), help="Linear warm-up steps.")
@click.option("--lr-decay", default="", help="step:lr pairs: the learning rate from that step on, e.g. 20000:5e-4.")
@click.option("--eval-every", default=500, show_default=True, type=click.IntRange(1), help="Validation interval.")
@click.option("--pitch-cache", "pitch_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="F0 track folder for a model with a variance adaptor (model config variance=true), "
                   "filled with librosa.pyin when missing, about 0.1 CPU-s per audio second [default: OUT/pitch].")
@click.option("--init", "init_from", default=None, type=click.Path(exists=True, path_type=Path),
              help="Warm start: .safetensors weights (or a save_pretrained folder) of the same architecture; "
                   "a variance adaptor missing from them starts fresh (its embeddings at zero). Ignored on --resume.")
@click.option("--text-processor", "processor_name", default="en.chars", show_default=True,
              type=click.Choice(sorted(PRETRAINED_NAMES)),
              help="Tokens the model reads: en.chars (characters; the teacher's phoneme frames mapped onto them) "
                   "or en.ipa (espeak-ng phonemes, the teacher alignments as they are; inference needs "
                   "facevox[phonemes]). A resumed run keeps its checkpoint's.")
@click.option("--variance-lr-scale", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Factor on the variance adaptor's learning rate (e.g. 10 when --init warm-starts a model "
                   "without one, so that the decoder learns to follow the pitch and energy it is given).")
@click.option("--pitch-augment", default=0.0, show_default=True, type=click.FloatRange(0, 12),
              help="Semitones: half of the training mels are shifted in frequency by up to this much, their pitch "
                   "targets with them, so that the decoder follows the pitch it is given (variance models; 0: off).")
@click.option("--model-config", default="", metavar="FIELD=VALUE,...",
              help="FastSpeechConfig changes for a new run, e.g. dim=128,decoder_layers=2 "
                   "(a resumed run keeps its checkpoint's).")
def train_fastspeech_command(
    training: TrainingOptions, data_dir: Path, cache_dir: Path | None, threads: int, val_count: int, seed: int,
    batch_size: int, batch_frames: int, lr: float, warmup: int, lr_decay: str, eval_every: int,
    pitch_dir: Path | None, init_from: Path | None, processor_name: str, variance_lr_scale: float, pitch_augment: float,
    model_config: str,
) -> None:
    """Train the FastSpeech acoustic model on a corpus with teacher durations."""
    from facevox import create_text_processor

    torch.set_num_threads(threads)
    lr_schedule = parse_schedule(lr_decay, float, "--lr-decay")
    utts = read_corpus(data_dir)
    if not any(u.alignment is not None for u in utts):
        raise click.UsageError(f"{data_dir} has no alignments/<id>.tsv teacher durations; this model needs them")
    ckpt = resume_checkpoint(training)
    state = read_checkpoint(ckpt) if ckpt is not None else None
    if state is not None:  # a resumed run keeps its text processor (runs before it was recorded: en.chars)
        processor_name = str(state.get("facevox", {}).get("text_processor", "en.chars"))
    processor = create_text_processor(processor_name)
    config = parse_model_config(model_config, n_symbols=len(processor.symbols))
    recorded = json.loads(state.get("facevox", {}).get("config", "{}")) if state is not None else {}
    variance = config.variance if state is None else bool(recorded.get("variance"))
    if not variance and (pitch_augment > 0 or variance_lr_scale != 1.0):
        raise click.UsageError("--pitch-augment and --variance-lr-scale need a model with a variance adaptor "
                               "(--model-config variance=true, or a resumed run of one)")
    out_dir = Path(training.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if ckpt is not None and state is not None:
        model = _model_from_checkpoint(ckpt, state)
        echo(f"resumed from {ckpt} at step {int(state['global_step'])}")
    else:
        torch.manual_seed(seed)
        model = FastSpeech(config)
        if init_from is not None:
            missing = warm_start(model, init_from)
            echo(f"warm start from {init_from}" + (f"; new: {', '.join(missing)}" if missing else ""))
    from .lit_fastspeech import FastSpeechModule  # imports lightning (seconds)

    module = FastSpeechModule(model, utts, cache_dir or out_dir / "mels", val_count=val_count, batch_size=batch_size,
                              batch_frames=batch_frames, lr=lr, warmup=warmup, lr_schedule=lr_schedule, seed=seed,
                              pitch_cache=pitch_dir or out_dir / "pitch", fit_stats=ckpt is None,
                              processor=processor, variance_lr_scale=variance_lr_scale,
                              pitch_augment=pitch_augment)
    trainer = build_trainer(training, monitor="val_mel", mode="min", val_check_interval=eval_every,
                            checkpoint_every_n_steps=100)
    trainer.fit(module, ckpt_path=ckpt)
    best = checkpoint_dir(out_dir) / "best.ckpt"
    if trainer.is_global_zero and best.is_file():
        from facevox import save_pretrained

        save_pretrained(_model_from_checkpoint(str(best)), out_dir / "best", name=PRETRAINED_NAMES[processor_name])
        echo(f"best weights: {out_dir / 'best'} (facevox.load_pretrained)")


if __name__ == "__main__":  # pragma: no cover - `python -m facevox_tts.train_fastspeech`
    train_fastspeech_command()
