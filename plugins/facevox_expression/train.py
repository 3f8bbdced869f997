"""Training recipe for the expression CNN on FER2013: ``facevox train expression``.

The whole split lives in memory as a uint8 tensor (28,709 x 48 x 48 = 66 MB); each batch is
augmented on-tensor (random affine: rotation, scale, shift, horizontal flip; random 40x40
crops at the native pixel scale as in Khaireddin & Chen 2021; brightness and contrast jitter;
random erasing), trained with class-weighted, label-smoothed cross-entropy (FER2013 is
imbalanced: disgust has 436 images, happy 7,215) and AdamW (or SGD with Nesterov momentum) on
a one-cycle schedule (Smith & Topin 2019), optionally distilled from teachers
(:mod:`facevox_expression.distill`). ``holdout`` training faces never trained on calibrate the
softmax temperature at the end (:mod:`facevox_expression.calibration`).

The loop is PyTorch Lightning's (:mod:`facevox.training`; the module is
:class:`facevox_expression.lit.ExpressionModule`): ``--devices``, ``--num-nodes``,
``--strategy ddp`` train on several processes or GPUs (``--batch-size`` is per process).
Every epoch it evaluates on the whole validation split (PublicTest) with flip test-time
augmentation and writes, under ``--out``:

* ``checkpoints/last.ckpt`` (every epoch; ``--resume`` continues from it) and
  ``checkpoints/best.ckpt`` (best validation accuracy): Lightning checkpoints with the model,
  optimiser, schedule, epoch counter and this recipe's history;
* ``best.safetensors`` + ``best.json``: the best weights so far and their metrics (at the end
  also the fitted ``temperature`` and the validation ECE before and after it);
* ``history.json``: per-epoch loss, accuracy and per-class recall; ``metrics.jsonl``: the
  logged values (:class:`facevox.training.JsonlLogger`);
* at the end ``confusion.png`` and ``recall.json`` for the best weights.

Runs started before the move to Lightning wrote ``last.pt``, which this code cannot resume:
``--resume`` says so; start a new run, warm-started from the old run's weights if wanted
(``--init OLD/best.safetensors``).

Example::

    facevox train expression --data data/fer2013 --epochs 100 --out runs/expression
    facevox train expression --data data/fer2013 --devices 2 --accelerator cpu --strategy ddp --threads 1
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
from facevox.datasets import FER2013_LABELS, load_fer2013
from facevox.io import atomic_path, atomic_write_text
from facevox.training import (
    TrainingOptions,
    build_trainer,
    echo,
    global_rank,
    read_checkpoint,
    resume_checkpoint,
    training_command,
)
from safetensors.torch import load_file, save_file
from torch import Tensor

from facevox_expression.augment import normalize
from facevox_expression.calibration import expected_calibration_error, fit_temperature, tta_probabilities
from facevox_expression.distill import TeacherEnsemble
from facevox_expression.model import (
    RESMASKNET,
    RESMASKNET_LARGE,
    RESMASKNET_SMALL,
    ResMaskNet,
    ResMaskNetConfig,
)

__all__ = ["command", "evaluate", "train"]

VARIANTS: dict[str, ResMaskNetConfig] = {
    "resmasknet": RESMASKNET, "resmasknet_large": RESMASKNET_LARGE, "resmasknet_small": RESMASKNET_SMALL
}
"""Architectures the recipe can train (``--variant``); the registered models use the same configs."""


@torch.no_grad()
def view_logits(model: ResMaskNet, images: Tensor, batch_size: int = 512, bf16: bool = False) -> Tensor:
    """Logits ``(2, N, K)`` float32 of ``(N, 48, 48)`` uint8 faces and of their mirror images
    (the pipeline's flip test-time augmentation), on the device of ``images``; the model is left
    in eval mode."""
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        x = normalize(images[i : i + batch_size]).contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            out.append(torch.stack([model(x).float(), model(torch.flip(x, dims=[-1])).float()]))
    return torch.cat(out, dim=1)


def evaluate(
    model: ResMaskNet, images: Tensor, labels: Tensor, batch_size: int = 512, bf16: bool = False,
    temperature: float = 1.0,
) -> dict[str, Any]:
    """Accuracy with and without flip TTA, per-class recall, ECE and the confusion matrix.

    Args:
        model: the classifier (switched to eval mode, left in eval mode).
        images: ``(N, 48, 48)`` uint8; labels: ``(N,)`` int64 indices into ``model.labels``.
        bf16: run in bfloat16 autocast (faster on CPU; used for per-epoch validation).
        temperature: softmax temperature for the probabilities (and so the ECE).

    Returns:
        ``{"accuracy", "accuracy_noflip", "ece", "recall": {label: r}, "confusion": K x K list}``
        where ``confusion[i][j]`` counts true class ``i`` predicted as ``j`` (flip TTA) and
        ``ece`` is the 15-bin expected calibration error of the flip-TTA probabilities.
    """
    logits = view_logits(model, images, batch_size, bf16)
    probs = tta_probabilities(logits, temperature)
    pred = probs.argmax(-1)
    pred_plain = logits[0].argmax(-1)
    k = len(model.labels)
    confusion = torch.bincount(labels * k + pred, minlength=k * k).view(k, k)
    recall = confusion.diag().float() / confusion.sum(1).clamp(min=1).float()
    return {
        "accuracy": float((pred == labels).float().mean()),
        "accuracy_noflip": float((pred_plain == labels).float().mean()),
        "ece": round(expected_calibration_error(probs, labels), 4),
        "recall": {name: round(float(r), 4) for name, r in zip(model.labels, recall, strict=True)},
        "confusion": confusion.tolist(),
    }


def lr_at(step: int, total_steps: int, peak: float, warmup: float = 0.15, final_div: float = 500.0) -> float:
    """Learning rate at ``step`` of ``total_steps``: linear warm-up from ``peak / 20`` over the first
    ``warmup`` fraction, then cosine decay to ``peak / final_div`` (a one-cycle shape).

    A pure function of the step, so ``--resume`` with a different ``--epochs`` stretches the
    remaining schedule instead of failing.
    """
    total = max(total_steps, 1)
    n_warm = max(int(total * warmup), 1)
    if step < n_warm:
        return peak / 20 + (peak - peak / 20) * step / n_warm
    t = min((step - n_warm) / max(total - n_warm, 1), 1.0)
    low = peak / final_div
    return low + (peak - low) * 0.5 * (1 + math.cos(math.pi * t))


def _fit_epochs(history: list[dict[str, Any]], done: int, epochs: int, deadline: datetime, low_res: int,
                low_res_fraction: float, full: int) -> int:
    """Largest total ``<= epochs`` whose remaining epochs fit before ``deadline`` at the measured pace.

    Epoch cost is taken as proportional to the pixel count of its training side (``side**2``),
    calibrated on the median of the last (up to) three epochs in ``history`` (one epoch slowed
    by another process on the machine does not cut the schedule). Never returns less than
    ``done + 1``.
    """
    timed = [{**h, "side": h.get("side", low_res)} for h in history[-3:]]
    if not timed:
        return epochs
    full_cost = statistics.median(h["seconds"] * (full / h["side"]) ** 2 for h in timed)
    left = (deadline - datetime.now(timezone.utc)).total_seconds()
    for total in range(epochs, done, -1):
        switch = int(round(low_res_fraction * total))
        cost = sum(full_cost * ((low_res if e < switch else full) / full) ** 2 for e in range(done, total))
        if cost <= left:
            return total
    return done + 1


def _warm_start(model: ResMaskNet, path: Path, variant: str) -> None:
    """Load ``path`` (a safetensors state dict of ``variant``) into ``model``, cast to its dtypes."""
    if not path.is_file():
        raise click.BadParameter(f"{path} is not a file; pass a .safetensors state dict", param_hint="--init")
    try:
        state = load_file(str(path))
    except Exception as error:  # safetensors raises its own SafetensorError
        raise click.BadParameter(f"{path} is not a readable safetensors file: {error}", param_hint="--init") from None
    own = model.state_dict()
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or extra or wrong:
        raise click.BadParameter(
            f"{path} does not hold {variant!r} weights: {len(missing)} missing, {len(extra)} unexpected, "
            f"{len(wrong)} wrong-shape tensors (first: {(missing + extra + wrong)[0]})", param_hint="--init")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    echo(f"warm start from {path}")


def _save_safetensors(model: torch.nn.Module, path: Path, metadata: dict[str, str]) -> None:
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)


def _plot_confusion(confusion: list[list[int]], labels: tuple[str, ...], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(confusion, dtype=np.float64)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{norm[i, j]:.2f}\n({int(cm[i, j])})", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def train(
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    epochs: int = 100,
    batch_size: int = 128,
    lr: float = 2e-3,
    weight_decay: float = 0.05,
    optimizer_name: str = "adamw",
    label_smoothing: float = 0.1,
    class_weight_power: float = 0.3,
    variant: str = "resmasknet",
    seed: int = 0,
    threads: int | None = None,
    resume: bool = False,
    bf16: bool | None = None,
    low_res: int = 36,
    low_res_fraction: float = 0.0,
    crop: int | None = 40,
    holdout: int = 1000,
    deadline: datetime | None = None,
    limit: int | None = None,
    cutmix_p: float = 0.0,
    init_from: str | os.PathLike[str] | None = None,
    teachers: Sequence[str | os.PathLike[str]] = (),
    kd_weight: float = 0.9,
    kd_temperature: float = 2.0,
    *,
    devices: int | str | list[int] = 1,
    num_nodes: int = 1,
    accelerator: str = "auto",
    strategy: str = "auto",
    precision: str | None = None,
    gradient_clip: float | None = None,
) -> dict[str, Any]:
    """Train :class:`ResMaskNet` on FER2013 ``train`` and validate on ``val`` every epoch.

    Args:
        data: FER2013 folder root or ``fer2013.csv`` (see :func:`facevox.datasets.load_fer2013`).
        out: output folder (created); see the module docstring for its files.
        epochs: total epochs of the one-cycle schedule; with ``resume`` it may differ from the
            original run (the remaining schedule is stretched, see :func:`lr_at`).
        batch_size, lr, weight_decay: optimiser settings (``batch_size`` per process); ``lr`` is
            the one-cycle peak (weight decay is not applied to biases and norm parameters).
        optimizer_name: ``"adamw"`` (default; learns FER faster in short budgets) or ``"sgd"``
            (Nesterov momentum 0.9; use e.g. ``lr=0.04, weight_decay=5e-4``).
        label_smoothing: cross-entropy label smoothing in ``[0, 1)``.
        class_weight_power: loss weight of class ``c`` is ``(mean count / count_c) ** power``
            (0: unweighted, 1: fully balanced).
        variant: architecture, a key of :data:`VARIANTS`.
        seed: seeds weights init, shuffling and augmentation.
        threads: ``torch.set_num_threads`` per process (``None``: leave torch's default).
        resume: continue from ``out/checkpoints/last.ckpt``.
        bf16: shorthand for ``precision``: ``True`` is ``"bf16-mixed"``, ``False`` ``"32-true"``;
            ``None`` (default): ``precision``, whose default is bfloat16 only where it is native
            (:func:`facevox.training.default_precision`; emulated, it is about 10x slower).
        low_res, low_res_fraction: progressive resizing: the first ``low_res_fraction`` of the
            epochs train on faces resampled to ``low_res`` pixels (about half the cost at 36),
            the rest at full 48 (the network is fully convolutional with global pooling).
        crop: after the low-resolution epochs, train on random ``crop x crop`` windows at the
            native pixel scale (``None``: whole 48 x 48 faces); validation always sees whole faces.
        holdout: training images (a seeded random slice) kept out of training; the softmax
            temperature is fitted on them after training (:func:`fit_temperature`), never on
            the validation split. ``0`` disables calibration.
        deadline: finish by this (aware) time: before each epoch the total number of epochs is
            lowered, if needed, to what the measured epoch times allow, and the learning-rate
            schedule is shortened to match; Lightning's timer also stops at the end of the epoch
            that passes it (not bit-reproducible).
        limit: use only the first ``limit`` shuffled training images (smoke tests).
        cutmix_p: probability that a batch is mixed with CutMix (Yun et al. 2019; box area
            from ``Beta(1, 1)``); the loss mixes both labels' cross-entropy by area. ``0``: off.
            Training accuracy is then counted against each image's own label.
        init_from: warm start: a ``.safetensors`` state dict of the same ``variant`` (e.g. the
            shipped weights) loaded strictly before training; fp16 files are cast to float32.
            Ignored with ``resume`` (the checkpoint has the weights).
        teachers: knowledge distillation (:mod:`facevox_expression.distill`): trained
            ``.safetensors`` weights whose averaged softened probabilities on each augmented
            batch the student matches; empty: plain supervised training. Pass the same list
            again with ``resume``.
        kd_weight: with teachers, the loss is ``kd_weight * KD + (1 - kd_weight) * CE``.
        kd_temperature: softening temperature of the distillation targets (> 0).
        devices, num_nodes, accelerator, strategy, precision, gradient_clip: the engine's
            options (:class:`facevox.training.TrainingOptions`); ``gradient_clip`` ``None``: off.

    Raises:
        click.BadParameter: unknown ``variant``, ``epochs < 1``, ``holdout`` too large,
            ``cutmix_p`` outside ``[0, 1]``, an ``init_from`` or teacher that is not a matching
            state dict, ``kd_weight`` outside ``[0, 1]``, ``kd_temperature <= 0``, or ``bf16``
            contradicting ``precision``.
        click.ClickException: ``resume`` without a checkpoint (or with one of another variant,
            or one that already has ``epochs`` epochs).

    Returns:
        the best epoch's metrics (``best.json``; on processes other than rank 0, before
        calibration).
    """
    if variant not in VARIANTS:
        raise click.BadParameter(f"unknown variant {variant!r}; accepted: {', '.join(VARIANTS)}")
    if epochs < 1:
        raise click.BadParameter(f"epochs must be >= 1, got {epochs}")
    if not 0.0 <= cutmix_p <= 1.0:
        raise click.BadParameter(f"cutmix_p must be in [0, 1], got {cutmix_p}")
    if not 0.0 <= kd_weight <= 1.0 or kd_temperature <= 0:
        raise click.BadParameter(f"kd_weight must be in [0, 1] and kd_temperature > 0, got {kd_weight}, {kd_temperature}")
    if bf16 is not None:
        wanted = "bf16-mixed" if bf16 else "32-true"
        if precision is not None and TrainingOptions(Path(out), precision=precision).bf16 != bf16:
            raise click.BadParameter(f"--{'' if bf16 else 'no-'}bf16 contradicts --precision {precision}")
        precision = precision or wanted
    options = TrainingOptions(out=Path(out), max_epochs=epochs, resume=resume, deadline=deadline, devices=devices,
                              num_nodes=num_nodes, accelerator=accelerator, strategy=strategy, precision=precision,
                              gradient_clip=gradient_clip)
    if threads:
        torch.set_num_threads(threads)
    teacher = TeacherEnsemble(teachers, VARIANTS, variant) if teachers else None
    out = Path(out)
    ckpt_path = resume_checkpoint(options, hint=f", warm-started from its weights if wanted: --init {out / 'best.safetensors'}")
    if ckpt_path is not None:
        state = read_checkpoint(ckpt_path).get("facevox", {})
        done = int(state.get("epochs_done", 0))
        if state.get("variant", variant) != variant:
            raise click.ClickException(f"--resume: {ckpt_path} holds {state['variant']!r}, not --variant {variant!r}")
        if done >= epochs:
            raise click.ClickException(f"--resume: {ckpt_path} already has {done} epochs; pass --epochs > {done}")
        old = int(state.get("epochs", epochs))
        echo(f"resuming from {ckpt_path} at epoch {done}"
             + (f" (schedule changed from {old} to {epochs} epochs)" if old != epochs else ""))
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)

    t0 = time.time()
    tr_x, tr_y = (torch.from_numpy(a) for a in load_fer2013(data, "train"))
    va_x, va_y = (torch.from_numpy(a) for a in load_fer2013(data, "val"))
    perm = torch.randperm(len(tr_y), generator=torch.Generator().manual_seed(seed))
    if holdout >= len(tr_y):
        raise click.BadParameter(f"holdout must be below the {len(tr_y)} training images, got {holdout}")
    ho_x, ho_y = tr_x[perm[:holdout]], tr_y[perm[:holdout]]
    keep = perm[holdout:] if limit is None else perm[holdout : holdout + limit]
    tr_x, tr_y = tr_x[keep], tr_y[keep]
    counts = torch.bincount(tr_y, minlength=len(FER2013_LABELS)).float()
    class_weights = (counts.mean() / counts.clamp(min=1)).pow(class_weight_power)
    echo(f"data: train {len(tr_y)} val {len(va_y)} ({time.time() - t0:.1f}s); "
         f"class weights {[round(float(w), 2) for w in class_weights]}")

    config = VARIANTS[variant]
    model = ResMaskNet(config).to(memory_format=torch.channels_last)
    n_params = sum(p.numel() for p in model.parameters())
    if init_from is not None and not resume:
        _warm_start(model, Path(init_from), variant)
    if optimizer_name not in ("adamw", "sgd"):
        raise click.BadParameter(f"unknown optimizer {optimizer_name!r}; accepted: adamw, sgd")
    trainer = build_trainer(options, monitor="val_accuracy", mode="max")
    world = trainer.world_size
    steps_per_epoch = (len(tr_y) // world) // batch_size
    if steps_per_epoch == 0:
        raise click.BadParameter(f"{len(tr_y)} training faces over {world} process(es) make no batch of {batch_size}; "
                                 "lower it or use fewer --devices", param_hint="--batch-size")
    settings = {"data": str(data), "epochs": epochs, "batch_size": batch_size, "lr": lr,
                "optimizer": optimizer_name,
                "weight_decay": weight_decay, "label_smoothing": label_smoothing,
                "class_weight_power": class_weight_power, "variant": variant, "seed": seed, "bf16": options.bf16,
                "precision": options.resolved_precision(), "processes": world,
                "low_res": low_res, "low_res_fraction": low_res_fraction, "crop": crop, "holdout": holdout,
                "cutmix_p": cutmix_p, "init_from": None if init_from is None else str(init_from),
                "teachers": [str(t) for t in teachers], "kd_weight": kd_weight, "kd_temperature": kd_temperature,
                "params": n_params, "config": asdict(config)}
    from facevox_expression.lit import ExpressionModule  # imports lightning (seconds)

    module = ExpressionModule(
        model, (tr_x, tr_y), (va_x, va_y), class_weights, out, settings, batch_size=batch_size, lr=lr,
        weight_decay=weight_decay, optimizer_name=optimizer_name, label_smoothing=label_smoothing, cutmix_p=cutmix_p,
        low_res=low_res, low_res_fraction=low_res_fraction, crop=crop, seed=seed, bf16=options.bf16, teacher=teacher,
        kd_weight=kd_weight, kd_temperature=kd_temperature, deadline=deadline)
    echo(f"model {variant}: {n_params / 1e6:.2f} M parameters; {epochs} epochs x {steps_per_epoch} steps"
         f" x {world} process(es); {options.resolved_precision()}")
    trainer.fit(module, ckpt_path=ckpt_path)
    if not trainer.is_global_zero:
        return module.best
    if holdout:
        best = calibrate(out, ho_x, ho_y, variant, val=(va_x, va_y))
    else:
        best = json.loads((out / "best.json").read_text())
    finish(out)
    return best


def finish(out: str | os.PathLike[str]) -> None:
    """Write ``confusion.png`` and ``recall.json`` for ``out/best.safetensors`` (from ``best.json``)."""
    out = Path(out)
    best = json.loads((out / "best.json").read_text())
    recall = {"epoch": best["epoch"], "val_accuracy": best["accuracy"],
              "val_accuracy_noflip": best["accuracy_noflip"], "recall": best["recall"],
              "confusion": best["confusion"], "labels": list(FER2013_LABELS)}
    atomic_write_text(out / "recall.json", json.dumps(recall, indent=1))
    _plot_confusion(best["confusion"], FER2013_LABELS, out / "confusion.png",
                    f"FER2013 val (PublicTest), epoch {best['epoch']}: acc {best['accuracy']:.3f}")


def calibrate(out: str | os.PathLike[str], images: Tensor, labels: Tensor, variant: str = "resmasknet",
              data: str | os.PathLike[str] | None = None,
              val: tuple[Tensor, Tensor] | None = None) -> dict[str, Any]:
    """Fit the softmax temperature of ``out/best.safetensors`` on held-out training faces.

    ``images`` ``(N, 48, 48)`` uint8 and ``labels`` ``(N,)`` are the run's held-out slice of the
    training split. Adds ``temperature``, ``holdout_nll_before/after`` and ``ece_uncalibrated`` /
    ``ece`` on validation to ``best.json``; the validation split is ``val`` (``(N, 48, 48)`` uint8
    images, ``(N,)`` labels) if given, else read from ``data`` or the run's recorded data path.
    """
    out = Path(out)
    best = json.loads((out / "best.json").read_text())
    model = load_best(out, variant)
    logits = view_logits(model, images)
    temperature = fit_temperature(logits, labels)

    def nll(t: float) -> float:
        return float(-tta_probabilities(logits, t).clamp_min(1e-12).log().gather(1, labels.view(-1, 1)).mean())

    best.update(temperature=temperature, holdout_nll_before=round(nll(1.0), 4),
                holdout_nll_after=round(nll(temperature), 4), holdout_size=len(labels))
    if val is None and (data is not None or "settings" in best):
        val = tuple(torch.from_numpy(a) for a in load_fer2013(data or best["settings"]["data"], "val"))  # type: ignore[assignment]
    if val is not None:
        va_x, va_y = val
        val_logits = view_logits(model, va_x)
        best["ece_uncalibrated"] = round(expected_calibration_error(tta_probabilities(val_logits), va_y), 4)
        best["ece"] = round(expected_calibration_error(tta_probabilities(val_logits, temperature), va_y), 4)
    atomic_write_text(out / "best.json", json.dumps(best, indent=1))
    echo(f"temperature {temperature} (held-out NLL {best['holdout_nll_before']} -> "
         f"{best['holdout_nll_after']}); val ECE {best.get('ece_uncalibrated')} -> {best.get('ece')}")
    return best


def load_best(out: str | os.PathLike[str], variant: str = "resmasknet") -> ResMaskNet:
    """The model in ``out/best.safetensors`` (strict load), in eval mode."""
    model = ResMaskNet(VARIANTS[variant])
    model.load_state_dict(load_file(str(Path(out) / "best.safetensors")))
    return model.eval()


@training_command("expression", default_out="runs/expression", epochs=100)
@click.option("--data", required=True, type=click.Path(exists=True),
              help="FER2013 folder root (<split>/<class>/*.jpg) or fer2013.csv.")
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(min=2), help="Faces per step and process.")
@click.option("--lr", default=2e-3, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Peak learning rate of the one-cycle schedule.")
@click.option("--weight-decay", default=0.05, show_default=True, type=float)
@click.option("--optimizer", "optimizer_name", default="adamw", show_default=True, type=click.Choice(["adamw", "sgd"]),
              help="AdamW, or SGD with Nesterov momentum (then use e.g. --lr 0.05 --weight-decay 5e-4).")
@click.option("--label-smoothing", default=0.1, show_default=True, type=click.FloatRange(0, 1, max_open=True))
@click.option("--class-weight-power", default=0.3, show_default=True, type=click.FloatRange(0, 1),
              help="Class-imbalance loss weighting: 0 none, 1 fully balanced.")
@click.option("--variant", default="resmasknet", show_default=True, type=click.Choice(sorted(VARIANTS)))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**63 - 1))
@click.option("--threads", default=None, type=click.IntRange(min=1), help="CPU threads per process (default: torch's).")
@click.option("--bf16/--no-bf16", default=None,
              help="Shorthand for --precision bf16-mixed / 32-true (default: bfloat16 only where it is native).")
@click.option("--low-res", default=36, show_default=True, type=click.IntRange(16, 48),
              help="Side of the faces in the first (progressive-resizing) epochs.")
@click.option("--low-res-fraction", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Fraction of the epochs trained at --low-res (0 disables).")
@click.option("--crop", default=40, show_default=True, type=click.IntRange(16, 48),
              help="Train on random CROP x CROP windows of the 48 x 48 faces (48: whole faces).")
@click.option("--holdout", default=1000, show_default=True, type=click.IntRange(min=0),
              help="Training images held out to fit the softmax temperature (0: no calibration).")
@click.option("--cutmix", "cutmix_p", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Probability that a batch is mixed with CutMix (0: off).")
@click.option("--init", "init_from", default=None, type=click.Path(dir_okay=False),
              help="Warm start from a .safetensors state dict of the same variant (e.g. the shipped weights).")
@click.option("--teacher", "teachers", multiple=True, type=click.Path(dir_okay=False),
              help="Distil from these trained .safetensors weights (repeat for an ensemble).")
@click.option("--kd-weight", default=0.9, show_default=True, type=click.FloatRange(0, 1),
              help="With --teacher: weight of the distillation loss (the rest is cross-entropy).")
@click.option("--kd-temperature", default=2.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="With --teacher: softening temperature of the targets.")
@click.option("--limit", default=None, type=click.IntRange(min=1), hidden=True)
def command(training: TrainingOptions, data: str, batch_size: int, lr: float, weight_decay: float,
            optimizer_name: str, label_smoothing: float, class_weight_power: float, variant: str, seed: int,
            threads: int | None, bf16: bool | None, low_res: int, low_res_fraction: float, crop: int, holdout: int,
            limit: int | None, cutmix_p: float, init_from: str | None, teachers: tuple[str, ...], kd_weight: float,
            kd_temperature: float) -> None:
    """Train the expression CNN on FER2013 (train split), validating on val each epoch."""
    assert training.max_epochs is not None
    best = train(data, training.out, epochs=training.max_epochs, batch_size=batch_size, lr=lr,
                 weight_decay=weight_decay, optimizer_name=optimizer_name, label_smoothing=label_smoothing,
                 class_weight_power=class_weight_power, variant=variant, seed=seed, threads=threads,
                 resume=training.resume, bf16=bf16, low_res=low_res, low_res_fraction=low_res_fraction,
                 crop=None if crop == 48 else crop, holdout=holdout, deadline=training.deadline, limit=limit,
                 cutmix_p=cutmix_p, init_from=init_from, teachers=teachers, kd_weight=kd_weight,
                 kd_temperature=kd_temperature, devices=training.devices, num_nodes=training.num_nodes,
                 accelerator=training.accelerator, strategy=training.strategy, precision=training.precision,
                 gradient_clip=training.gradient_clip)
    if "epoch" in best and global_rank() == 0:
        click.echo(json.dumps({"best_epoch": best["epoch"], "val_accuracy": round(best["accuracy"], 4),
                               "temperature": best.get("temperature"), "ece": best.get("ece"),
                               "recall": best["recall"], "out": str(training.out)}))


if __name__ == "__main__":
    command()
