"""``facevox train vocoder``: distil a teacher vocoder (HiFi-GAN V1) into a Vocos-style student.

Recipe (measured in docs/vocoders.md and the ``vocos.joe`` card):

1. **Teacher targets** (resumable, ``OUT/cache/{gt,fs}/<id>.npz``: float16 ``mel`` ``(80, T)``
   and ``wave`` ``(T * 256,)``): the teacher vocodes (a) the mels of ``--clips`` training clips
   of an LJSpeech-layout corpus and (b) the mels the acoustic model ``--acoustic`` predicts for
   ``--acoustic-clips`` other training texts, so the student learns the mels it will be given.
   The ``--val-count`` held-out utterances are the ones ``facevox train tts-fastspeech`` holds
   out (the same seeded shuffle).
2. **Regression**: random crops of ``--segment-frames`` frames with ``_CONTEXT`` frames of
   context on each side (the loss sees only the centre, so crop edges do not teach the model
   to expect silence); loss = multi-resolution STFT (spectral convergence + log magnitude,
   Yamamoto et al. 2020, FFT sizes 512/1024/2048) + compressed complex STFT (magnitude**0.3 with
   the phase, L1; it is what teaches the phase) + 2 x log-mel L1 (HiFi-GAN's mel loss).
   AdamW, linear warm-up then cosine decay, bf16 autocast on CPUs with native bfloat16 (float32 elsewhere: emulated bf16 is slower),
   gradient clipping at 1.

Validation (every ``--eval-every`` steps) scores the same loss on ``--val-clips`` held-out clips
twice: their true mels (``val_*``, copy synthesis) and the acoustic model's mels of their texts
(``valfs_*``, the mels the pipeline gives); the kept weights minimise the sum of both totals.
``--init`` fine-tunes trained weights of the same architecture (e.g. the shipped ``vocos.joe``).

Checkpoints: ``OUT/last.pt`` (every ``--save-every`` steps and at the end; ``--resume``
continues from it), ``OUT/model.safetensors`` + ``OUT/config.json`` (float32 weights of the
best validation loss), metrics in ``OUT/metrics.jsonl``.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import click
import numpy as np
import torch
import torch.nn.functional as F
from facevox import create_model, create_text_processor, get_model_spec, load_weights, save_weights
from facevox.audio import MelSettings, load_audio, mel_spectrogram
from facevox.compat import cpu_has_bf16
from facevox.io import atomic_path, atomic_write_text
from torch import Tensor

from facevox_vocoders.vocos import VocosConfig, VocosVocoder

__all__ = ["distillation_loss", "train_vocoder_command"]

_DATA_SEED = 7  # shuffles the training clips before the first --clips are taken
_CONTEXT = 8  # frames of context on each side of a training crop
_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop) of the STFT losses
_BF16 = cpu_has_bf16()  # bf16 autocast only where the CPU has native bfloat16


def _stft(wave: Tensor, n_fft: int, hop: int) -> Tensor:
    window = torch.hann_window(n_fft, device=wave.device)
    return torch.stft(wave, n_fft, hop, window=window, center=True, return_complex=True)


def distillation_loss(student: Tensor, teacher: Tensor) -> dict[str, Tensor]:
    """Losses between waveforms ``(B, S)`` float32; ``total`` is what training minimises.

    Returns:
        ``{"total", "stft", "complex", "mel"}`` scalar tensors (all >= 0, 0 iff equal).
    """
    stft = complex_loss = torch.zeros((), device=student.device)
    for n_fft, hop in _RESOLUTIONS:
        s, t = _stft(student, n_fft, hop), _stft(teacher, n_fft, hop)
        s_mag, t_mag = s.abs().clamp_min(1e-7), t.abs().clamp_min(1e-7)
        convergence = torch.linalg.vector_norm(t_mag - s_mag) / torch.linalg.vector_norm(t_mag).clamp_min(1e-7)
        stft = stft + convergence + (s_mag.log() - t_mag.log()).abs().mean()
        s_c = s * s_mag.pow(0.3 - 1.0)  # |S|**0.3 with the phase of S
        t_c = t * t_mag.pow(0.3 - 1.0)
        complex_loss = complex_loss + (s_c - t_c).abs().mean()
    mel = (mel_spectrogram(student) - mel_spectrogram(teacher)).abs().mean()
    n = len(_RESOLUTIONS)
    total = stft / n + complex_loss / n + 2.0 * mel
    return {"total": total, "stft": stft / n, "complex": complex_loss / n, "mel": mel}


def build_teacher_cache(
    data_dir: Path, cache: Path, teacher: str, acoustic: str | None, clips: int, acoustic_clips: int,
    val_count: int, val_clips: int,
) -> None:
    """Write the teacher's ``(mel, wave)`` pairs under ``cache/{gt,fs,val}``; existing files are kept."""
    from facevox_tts.data import read_corpus  # the corpus reader of the TTS plugin

    utts = read_corpus(data_dir)
    order = list(range(len(utts)))
    random.Random(1234).shuffle(order)  # the held-out set of `facevox train tts-fastspeech`
    held, train = [utts[i] for i in order[:val_count]], [utts[i] for i in order[val_count:]]
    random.Random(_DATA_SEED).shuffle(train)
    vocoder = create_model(teacher).eval()
    settings = MelSettings()
    model = processor = None
    if acoustic is not None and acoustic_clips:
        model = create_model(acoustic).eval()
        processor = create_text_processor(get_model_spec(acoustic).card.preprocessing.text_processor)
    jobs: list[tuple[str, object]] = [("gt", u) for u in train[:clips]]
    jobs += [("fs", u) for u in train[::-1][:acoustic_clips]] if model is not None else []
    jobs += [("val", u) for u in held[:val_clips]]
    jobs += [("valfs", u) for u in held[:val_clips]] if model is not None else []
    for kind in ("gt", "fs", "val", "valfs"):
        (cache / kind).mkdir(parents=True, exist_ok=True)
    for i, (kind, u) in enumerate(jobs):
        path = cache / kind / f"{u.uid}.npz"  # type: ignore[attr-defined]
        if path.is_file():
            continue
        with torch.no_grad():
            if kind in ("fs", "valfs"):
                tokens, lengths = processor([u.text])  # type: ignore[attr-defined,misc]
                out = model.infer(tokens, lengths)  # type: ignore[union-attr]
                mel = out.mel[0, :, : int(out.mel_lengths[0])]
            else:
                wav, _ = load_audio(u.audio, settings.sample_rate)  # type: ignore[attr-defined]
                mel = mel_spectrogram(wav, settings)
            wave, _ = vocoder(mel[None], torch.tensor([mel.shape[1]]))
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, mel=mel.numpy().astype(np.float16), wave=wave[0].clamp(-1, 1).numpy().astype(np.float16))
        if i % 50 == 0:
            click.echo(f"teacher cache: {i}/{len(jobs)}")


def _load_pairs(folder: Path) -> list[tuple[Tensor, Tensor]]:
    pairs = []
    for path in sorted(folder.glob("*.npz")):
        with np.load(path) as data:
            pairs.append((torch.from_numpy(data["mel"].astype(np.float32)),
                          torch.from_numpy(data["wave"].astype(np.float32))))
    return pairs


def _batch(pairs: list[tuple[Tensor, Tensor]], size: int, frames: int, hop: int,
           rng: random.Random) -> tuple[Tensor, Tensor]:
    """Crops ``(size, n_mels, frames + 2 * _CONTEXT)`` and the centre's teacher samples ``(size, frames * hop)``."""
    weights = [m.shape[1] for m, _ in pairs]
    mels, waves = [], []
    floor = math.log(MelSettings().clamp)
    for mel, wave in rng.choices(pairs, weights=weights, k=size):
        start = rng.randint(0, max(0, mel.shape[1] - frames))
        lo, hi = start - _CONTEXT, start + frames + _CONTEXT
        crop = mel[:, max(lo, 0) : hi]
        crop = F.pad(crop, (max(0, -lo), hi - lo - crop.shape[1] - max(0, -lo)), value=floor)
        target = wave[start * hop : (start + frames) * hop]
        mels.append(crop)
        waves.append(F.pad(target, (0, frames * hop - target.shape[0])))
    return torch.stack(mels), torch.stack(waves)


def _centre(model: VocosVocoder, mels: Tensor) -> Tensor:
    hop = model.hop_length
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=_BF16):
        wave = model.generate(mels)
    return wave.float()[:, _CONTEXT * hop : wave.shape[1] - _CONTEXT * hop]


def _validate(model: VocosVocoder, pairs: list[tuple[Tensor, Tensor]], prefix: str = "val") -> dict[str, float]:
    model.eval()
    sums: dict[str, float] = {}
    with torch.no_grad():
        for mel, wave in pairs:
            out = model.generate(mel[None])
            for k, v in distillation_loss(out, wave[None, : out.shape[1]]).items():
                sums[k] = sums.get(k, 0.0) + float(v)
    model.train()
    return {f"{prefix}_{k}": v / max(len(pairs), 1) for k, v in sums.items()}


def _validation(model: VocosVocoder, val_pairs: list[tuple[Tensor, Tensor]],
                valfs_pairs: list[tuple[Tensor, Tensor]]) -> dict[str, float]:
    """``val_*`` losses on true mels and ``valfs_*`` on the acoustic model's mels (when cached)."""
    record = _validate(model, val_pairs)
    if valfs_pairs:
        record.update(_validate(model, valfs_pairs, prefix="valfs"))
    return record


@click.command("vocoder")
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--teacher", default="hifigan.universal", show_default=True, help="Registered vocoder to distil.")
@click.option("--acoustic", default="tts.fastspeech_joe", show_default=True,
              help="Registered acoustic model whose predicted mels are also vocoded ('' for none).")
@click.option("--clips", default=420, show_default=True, type=click.IntRange(1), help="Corpus clips (true mels).")
@click.option("--acoustic-clips", default=180, show_default=True, type=click.IntRange(0),
              help="Corpus texts synthesized by --acoustic.")
@click.option("--val-count", default=100, show_default=True, type=click.IntRange(1))
@click.option("--val-clips", default=24, show_default=True, type=click.IntRange(1), help="Held-out clips validated.")
@click.option("--dim", default=VocosConfig.dim, show_default=True, type=click.IntRange(8))
@click.option("--intermediate-dim", default=VocosConfig.intermediate_dim, show_default=True, type=click.IntRange(8))
@click.option("--layers", default=VocosConfig.num_layers, show_default=True, type=click.IntRange(1))
@click.option("--steps", default=20000, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1))
@click.option("--segment-frames", default=48, show_default=True, type=click.IntRange(4))
@click.option("--lr", default=1e-3, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option("--warmup", default=500, show_default=True, type=click.IntRange(0))
@click.option("--max-minutes", default=None, type=click.FloatRange(0, min_open=True),
              help="Stop (and save) after this much training time; --resume continues.")
@click.option("--eval-every", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--save-every", default=500, show_default=True, type=click.IntRange(1))
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1))
@click.option("--init", "init_weights", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Start from these .safetensors weights of the same architecture (fine-tuning).")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt.")
@click.option("--seed", default=0, show_default=True)
def train_vocoder_command(
    data_dir: Path, out_dir: Path, teacher: str, acoustic: str, clips: int, acoustic_clips: int, val_count: int,
    val_clips: int, dim: int, intermediate_dim: int, layers: int, steps: int, batch_size: int,
    segment_frames: int, lr: float, warmup: int, max_minutes: float | None, eval_every: int, save_every: int,
    threads: int, init_weights: Path | None, resume: bool, seed: int,
) -> None:
    """Distil TEACHER into a Vocos-style vocoder on DATA_DIR (LJSpeech layout)."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = VocosConfig(dim=dim, intermediate_dim=intermediate_dim, num_layers=layers)
    model = VocosVocoder(config).train()
    if init_weights is not None:  # before the (long) teacher cache: a misfit file fails at once
        load_weights(model, init_weights)  # CheckpointError naming the missing / misshapen weights
    cache = out_dir / "cache"
    build_teacher_cache(data_dir, cache, teacher, acoustic or None, clips, acoustic_clips, val_count, val_clips)
    train_pairs = _load_pairs(cache / "gt") + _load_pairs(cache / "fs")
    val_pairs = _load_pairs(cache / "val")[:val_clips]
    valfs_pairs = _load_pairs(cache / "valfs")[:val_clips]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.8, 0.99), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(warmup, 1)) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    step, best, rng = 0, float("inf"), random.Random(seed)
    ckpt = out_dir / "last.pt"
    best_of = "val_total+valfs_total" if valfs_pairs else "val_total"  # what `best` sums
    if resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=True)
        if state["config"] != asdict(config):
            raise click.UsageError(f"{ckpt} was trained with {state['config']}, not {asdict(config)}")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = int(state["step"])
        # a best score of other terms (a run from before valfs_*, or one without --acoustic) is not comparable
        best = float(state["best"]) if state.get("best_of") == best_of else float("inf")
        rng.seed(seed + step)
    click.echo(f"vocoder: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, "
               f"{len(train_pairs)} training clips, {len(val_pairs)} validation clips, from step {step}")

    def save() -> None:
        with atomic_path(ckpt) as tmp:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "step": step, "best": best, "best_of": best_of, "config": asdict(config)}, tmp)

    start, log = time.monotonic(), out_dir / "metrics.jsonl"
    if init_weights is not None and step == 0:  # where the fine-tuning starts from (not kept as "best")
        first = {"step": 0, **_validation(model, val_pairs, valfs_pairs)}
        click.echo(" ".join(f"{k} {v:.4g}" for k, v in first.items()))
        with log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(first) + "\n")
    while step < steps:
        mels, target = _batch(train_pairs, batch_size, segment_frames, config.hop_length, rng)
        losses = distillation_loss(_centre(model, mels), target)
        opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        record: dict[str, float] = {"step": step, "lr": sched.get_last_lr()[0], **{k: float(v.detach()) for k, v in losses.items()}}
        if step % eval_every == 0 or step == steps:
            record.update(_validation(model, val_pairs, valfs_pairs))
            score = record["val_total"] + record.get("valfs_total", 0.0)
            if score < best:
                best = score
                save_weights(model, out_dir / "model.safetensors", dtype=None)
                atomic_write_text(out_dir / "config.json", json.dumps(asdict(config), indent=2))
            click.echo(" ".join(f"{k} {v:.4g}" for k, v in record.items()))
        if step % 50 == 0 or "val_total" in record:
            with log.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        if step % save_every == 0:
            save()
        if max_minutes is not None and time.monotonic() - start > max_minutes * 60:
            click.echo(f"--max-minutes {max_minutes} reached at step {step}")
            break
    save()
