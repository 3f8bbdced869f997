"""Training recipe shared by ``facevox train face-ae | face-vae | face-cvae``.

One recipe for the three models: in-memory FER2013 (either layout, via
:func:`facevox.datasets.load_fer2013`), batch augmentation (horizontal flip, +-2 px shift),
Adam with linear warm-up and cosine decay, validation MSE/SSIM
(:func:`facevox_face.metrics.ssim`, plain torch) every epoch and a PNG grid of reconstructions
and samples per epoch.

Losses (per image, averaged over the batch):

* ``face-ae``: ``sum((x - x_hat)**2) + aux_weight * CE(linear(z), y)``, the auxiliary linear
  classifier on the latent (supervised autoencoder, Le et al. 2018, NeurIPS) makes the code
  linearly separable by expression; the head is discarded after training.
* ``face-vae``: ``sum((x - x_hat)**2) + w_kl * beta * KL`` (+ the same auxiliary term on
  ``mu``), ``w_kl`` warmed up linearly from 0 to 1 over ``--kl-warmup`` epochs.
* ``face-cvae``: the VAE loss with the label dropped to the null condition with probability
  ``label_dropout``, plus classifier guidance: a face decoded with a random target label must
  be classified as that label by the guide (``guide_weight * CE``: a small CNN trained alongside
  on real faces, or frozen registered classifiers, ``--guide-model``), and stay close to the
  source (``identity_weight * sum sq``); both ramp up linearly over the first half epoch.

All three add ``ssim_weight * (1 - SSIM(x, x_hat))`` when ``--ssim-weight`` is set (a structural
loss beside the squared error, Zhao et al. 2017, "Loss Functions for Image Restoration with
Neural Networks"; SSIM of :func:`facevox_face.metrics.ssim`): squared error alone averages
uncertain detail into blur, SSIM rewards local contrast and structure.

The loop is PyTorch Lightning's (:mod:`facevox.training`; the module is
:class:`facevox_face.lit_face.FaceModule`), so ``--devices``, ``--precision`` (``--bf16`` /
``--no-bf16`` are shorthands for ``bf16-mixed`` / ``32-true``), ``--gradient-clip`` (default 50)
and ``--deadline`` work as for every recipe. The learning rate is a function of the optimiser
step: linear warm-up over ``--warmup-steps``, then a cosine from ``--lr`` down to ``0.05 * lr``
at the last planned step (``--epochs`` x steps per epoch). ``--max-minutes M`` is a deadline M
minutes from the start (the earlier one wins with ``--deadline``): after the first 10 steps, and
then before every epoch, the number of epochs (and with it the schedule) is lowered to the
whole epochs that fit at the measured pace, and Lightning's ``max_time`` stops the run at the
first epoch end past the deadline (an epoch is never cut short). Under ``--out``:

* ``checkpoints/last.ckpt`` (every epoch; ``--resume`` continues from it: weights, optimiser,
  schedule, epoch counter, history and a trained guide CNN with its optimiser) and
  ``checkpoints/best.ckpt`` (highest validation SSIM): Lightning checkpoints, loaded with
  ``weights_only=True``; a frozen ``--guide-model`` is never in them;
* ``best/``: the best weights as a :func:`facevox.save_pretrained` folder
  (``facevox.load_pretrained(OUT / "best")``; ``--init OUT/best`` starts another run from it;
  ``benchmarks/bench_face.py --weights face.cvae=OUT/best`` scores it), written at the end;
* ``history.json``: one record per epoch (the training losses' epoch means, ``val_mse``,
  ``val_ssim``, for the CVAE ``guide_val_acc`` and ``guide_morph_rate``, ``lr``, ``epoch``,
  ``seconds``); ``metrics.jsonl``: the logged values, one JSON object per line;
* ``grid_epochNNN.png``: validation faces, their reconstructions, samples, and for the CVAE
  three faces morphed to the 7 expressions; ``settings.json``: the recipe.

Runs started before the move to Lightning wrote ``model.safetensors``, ``config.json`` and
``state.pt`` into ``--out``; they cannot be resumed and restart: ``--resume`` on such a folder
says so; start a new run in another ``--out``, from the old weights if wanted
(``--init OLD/model.safetensors``).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click
import torch
import torch.nn.functional as F
from facevox import config_from_dict
from facevox.io import atomic_write_text
from facevox.training import (
    TrainingOptions,
    build_trainer,
    checkpoint_dir,
    echo,
    read_checkpoint,
    resume_checkpoint,
    training_command,
)
from torch import Tensor, nn

from .ae import AEConfig, ConvAutoencoder
from .blocks import Bottleneck
from .cvae import ConditionalVAE, CVAEConfig
from .grid import make_grid, save_png
from .guide import GuideCNN, GuideEnsemble, PretrainedGuide
from .metrics import ssim
from .vae import ConvVAE, VAEConfig

__all__ = ["TrainSettings", "evaluate_reconstruction", "model_from_checkpoint", "train", "train_commands"]

_KINDS: dict[str, tuple[type[nn.Module], type]] = {
    "face-ae": (ConvAutoencoder, AEConfig),
    "face-vae": (ConvVAE, VAEConfig),
    "face-cvae": (ConditionalVAE, CVAEConfig),
}
_NAMES = {"face-ae": "face.ae", "face-vae": "face.vae", "face-cvae": "face.cvae"}
"""The registered model each recipe trains (the name ``best/`` is saved under)."""


@dataclass
class TrainSettings:
    """Recipe of one training run (saved as ``settings.json`` and in the checkpoints)."""

    kind: str  # "face-ae", "face-vae" or "face-cvae"
    epochs: int = 10  # total epochs (a resumed run continues up to this number)
    batch_size: int = 128  # images per step (per process)
    lr: float = 2e-3  # peak Adam learning rate
    warmup_steps: int = 200  # linear learning-rate warm-up
    kl_warmup: float = 1.0  # epochs over which the KL weight rises from 0 to 1 (VAE/CVAE)
    aux_weight: float = 3.0  # weight of the auxiliary latent expression classifier (AE/VAE)
    guide_weight: float = 8.0  # CVAE: weight of the classifier-guidance cross-entropy
    identity_weight: float = 0.1  # CVAE: weight of sum((x_target - x)**2)
    ssim_weight: float = 0.0  # weight of (1 - SSIM(x, x_hat)) per image beside the summed squared error
    guide_pretrain_steps: int = 300  # CVAE: steps training the guide CNN alone before the CVAE starts
    guide_model: str = ""  # CVAE: frozen registered expression classifier(s) as the guide, comma-separated ("": GuideCNN)
    guide_weights: str = ""  # CVAE: their .safetensors weights, comma-separated, one per model ("": shipped weights)
    seed: int = 0  # seed of initialisation, shuffling and augmentation
    bf16: bool | None = None  # bf16 autocast; None: only where native (facevox.compat.cpu_has_bf16)
    limit: int = 0  # use only the first N shuffled training images (0: all); for smoke tests
    val_limit: int = 0  # use only N validation images for per-epoch metrics (0: all)
    max_minutes: float = 0.0  # wall-clock budget of this invocation (0: none): a deadline, see the module docstring


def _aux_head(latent_dim: int) -> nn.Module:
    """Auxiliary linear expression classifier on the (batch-standardised) latent: ``(B, D) -> (B, 7)``."""
    return nn.Sequential(nn.BatchNorm1d(latent_dim, affine=False), nn.Linear(latent_dim, 7))


# ---------------------------------------------------------------------------- data


def _load(data: Path, split: str, limit: int, seed: int) -> tuple[Tensor, Tensor]:
    from facevox.datasets import load_fer2013

    try:
        images, labels = load_fer2013(data, split)
    except ValueError as exc:  # a malformed data set is the user's to fix: one line, not a traceback
        raise click.BadParameter(str(exc), param_hint="--data") from exc
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    if limit:
        keep = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:limit]
        x, y = x[keep], y[keep]
    return x, y


def _augment(batch: Tensor, gen: torch.Generator) -> Tensor:
    """Random horizontal flip per image and one random +-2 px shift per batch: ``(B,1,H,W)``."""
    flip = torch.rand(batch.shape[0], generator=gen) < 0.5
    batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
    dy, dx = (int(v) for v in torch.randint(-2, 3, (2,), generator=gen))
    if dy or dx:
        h, w = batch.shape[-2:]
        padded = F.pad(batch, (2, 2, 2, 2), mode="replicate")
        batch = padded[..., 2 + dy : 2 + dy + h, 2 + dx : 2 + dx + w]
    return batch


def _to_float(images: Tensor) -> Tensor:
    return images.unsqueeze(1).float().div_(255.0)


# ---------------------------------------------------------------------------- metrics


@torch.no_grad()
def evaluate_reconstruction(model: nn.Module, images: Tensor, batch_size: int = 256) -> dict[str, float]:
    """Reconstruction MSE and SSIM (:func:`facevox_face.metrics.ssim`: Wang et al. 2004, data range 1).

    The SSIM is the Gaussian-window one (11x11, sigma 1.5), not scikit-image's default
    7x7 uniform window, so it can differ a little from figures made with the latter.

    Args:
        model: a face autoencoder (eval mode is set here).
        images: ``(N, 1, H, W)`` float32 in ``[0, 1]``.

    Returns:
        ``{"mse": ..., "ssim": ...}`` means over the images.
    """
    model.eval()
    recon = torch.cat([model.reconstruct(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
    mse = float((recon - images).pow(2).mean())
    scores = [ssim(images[i : i + batch_size].double(), recon[i : i + batch_size].double(), data_range=1.0)
              for i in range(0, len(images), batch_size)]
    return {"mse": mse, "ssim": float(torch.cat(scores).mean())}



def _lr_at(step: int, total: int, settings: TrainSettings) -> float:
    """Learning rate of optimiser step ``step`` of ``total``: linear warm-up, then cosine to 5 % of the peak."""
    warm = min(1.0, (step + 1) / max(1, settings.warmup_steps))
    progress = min(1.0, step / max(1, total))
    return settings.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def _epoch_grid(model: nn.Module, kind: str, val: Tensor, path: Path, seed: int) -> None:
    model.eval()
    src = val[:8]
    rows = [src, model.reconstruct(src)]
    gen = torch.Generator().manual_seed(seed)
    if kind != "face-ae":
        rows.append(model.sample(8, generator=gen))
    if isinstance(model, ConditionalVAE):
        for face in src[:3]:
            rows.append(torch.cat([face[None]] + [model.morph(face[None], k) for k in range(model.num_labels)]))
    save_png(make_grid(rows, scale=2), path)


# ---------------------------------------------------------------------------- weights


def model_from_checkpoint(path: str | Path) -> tuple[str, nn.Module]:
    """``(recipe, model)`` of a Lightning checkpoint of ``facevox train face-*``, in eval mode.

    Raises:
        click.UsageError: not such a checkpoint (the file is named).
    """
    state = read_checkpoint(path)
    recipe = state.get("facevox", {}).get("recipe")
    if "state_dict" not in state or recipe not in _KINDS:
        raise click.UsageError(f"{path} is not a checkpoint of `facevox train face-ae | face-vae | face-cvae`")
    model_cls, config_cls = _KINDS[recipe]
    model = model_cls(config_from_dict(config_cls, json.loads(state["facevox"]["config"])))
    prefix = "model."
    model.load_state_dict({k[len(prefix) :]: v for k, v in state["state_dict"].items() if k.startswith(prefix)})
    return recipe, model.eval()


def _init_weights(path: Path) -> dict[str, Tensor]:
    """The state dict ``--init`` names: a ``.safetensors`` file (an old run's ``model.safetensors``,
    shipped weights), a :func:`facevox.save_pretrained` folder (a run's ``best/``), a run folder
    (its ``best/``) or a Lightning checkpoint (``.ckpt``)."""
    from safetensors.torch import load_file

    if path.is_dir():
        found = [f for f in (path / "best" / "model.safetensors", path / "model.safetensors") if f.is_file()]
        if not found:
            raise click.BadParameter(f"{path} holds neither model.safetensors nor best/model.safetensors",
                                     param_hint="--init")
        path = found[0]
    if path.suffix == ".ckpt":
        try:
            return model_from_checkpoint(path)[1].state_dict()
        except click.UsageError as exc:
            raise click.BadParameter(exc.message, param_hint="--init") from None
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise click.BadParameter(f"{path} is not a .safetensors state dict ({exc})", param_hint="--init") from None


def _init_from(model: nn.Module, path: Path) -> None:
    """Copy matching weights from another run (e.g. VAE -> CVAE; see :func:`_init_weights`).

    The CVAE decoder's first layer (linear, or a convolution with a spatial code) has extra
    condition inputs: the latent inputs are copied and the condition inputs start at zero, so
    training starts from the VAE.
    """
    source = _init_weights(path)
    own = model.state_dict()
    for name, tensor in source.items():
        if name not in own:
            continue
        if own[name].shape == tensor.shape:
            own[name] = tensor
        elif (own[name].dim() == tensor.dim() >= 2 and own[name].shape[0] == tensor.shape[0]
              and own[name].shape[2:] == tensor.shape[2:] and own[name].shape[1] > tensor.shape[1]):
            own[name] = torch.zeros_like(own[name])
            own[name][:, : tensor.shape[1]] = tensor
    model.load_state_dict(own)


def _make_guide(settings: TrainSettings, model: ConditionalVAE) -> GuideCNN | PretrainedGuide | GuideEnsemble:
    """The CVAE's guide: ``settings.guide_model`` frozen (one, or an ensemble: see :mod:`facevox_face.guide`),
    else a GuideCNN trained alongside."""
    names = [n for n in settings.guide_model.split(",") if n]
    weights = [Path(w) for w in settings.guide_weights.split(",") if w]
    if not names:
        if weights:
            raise click.BadParameter("--guide-weights needs --guide-model (the registered name of those weights)",
                                     param_hint="--guide-weights")
        return GuideCNN(model.num_labels)
    if weights and len(weights) != len(names):
        raise click.BadParameter(f"{len(weights)} --guide-weights for {len(names)} --guide-model: give one per "
                                 "model, in the same order, or none (their shipped weights)",
                                 param_hint="--guide-weights")
    members = [PretrainedGuide(n, weights[i] if weights else None, tuple(model.labels)) for i, n in enumerate(names)]
    return members[0] if len(members) == 1 else GuideEnsemble(members)


# ---------------------------------------------------------------------------- driver


def _check_out(out: Path, resume: bool) -> None:
    """Refuse (``click.UsageError``) to train over a run without ``--resume``, and
    (``click.ClickException``) to resume a run from before Lightning (``state.pt``)."""
    old = out / "state.pt"
    if old.is_file():
        hint = f"start a new run (another --out), from its weights if wanted: --init {out / 'model.safetensors'}"
        if resume:
            raise click.ClickException(f"--resume: {old} was written by the training code before facevox moved to "
                                       f"Lightning and cannot be resumed; {hint}")
        raise click.UsageError(f"{out} holds a run from before facevox moved to Lightning; {hint}")
    if (checkpoint_dir(out) / "last.ckpt").is_file() and not resume:
        raise click.UsageError(f"{out} already holds a checkpoint; pass --resume to continue it or choose another --out")


def _options(training: TrainingOptions, settings: TrainSettings) -> TrainingOptions:
    """``training`` with ``--epochs``, ``--bf16`` and ``--max-minutes`` folded in.

    Raises:
        click.BadParameter: ``--bf16`` / ``--no-bf16`` contradicts ``--precision``.
    """
    precision = training.precision
    if settings.bf16 is not None:
        wanted = "bf16-mixed" if settings.bf16 else "32-true"
        if precision is not None and training.bf16 != settings.bf16:
            raise click.BadParameter(f"--{'' if settings.bf16 else 'no-'}bf16 contradicts --precision {precision}")
        precision = precision or wanted
    deadline = training.deadline
    if settings.max_minutes:
        budget = datetime.now(timezone.utc) + timedelta(minutes=settings.max_minutes)
        deadline = budget if deadline is None else min(deadline, budget)
    return replace(training, max_epochs=settings.epochs, precision=precision, deadline=deadline)


def train(data: Path, settings: TrainSettings, training: TrainingOptions, init: Path | None = None,
          threads: int | None = None, overrides: dict[str, Any] | None = None) -> dict[str, float]:
    """Train one face model; see the module docstring.

    Args:
        data: FER2013 root or ``fer2013.csv``.
        settings: the recipe (``settings.epochs`` is the total, a resumed run included).
        training: the common options (``training.out`` is the run folder; its ``max_epochs``
            is replaced by ``settings.epochs``).
        init: start from these weights (see :func:`_init_weights`); ignored when resuming.
        threads: torch CPU threads.
        overrides: architecture fields of a new run (a resumed run keeps its checkpoint's).

    Returns:
        the last epoch's record of ``history.json`` (``{}`` if no epoch ran).

    Raises:
        click.UsageError: a run in ``out`` without ``--resume``, an architecture the model refuses.
        click.ClickException: ``--resume`` without a checkpoint, on another recipe's or an old
            run, or with ``--epochs`` not above the epochs done.
    """
    if threads:
        torch.set_num_threads(threads)
    options = _options(training, settings)
    settings = replace(settings, bf16=options.bf16)
    out = Path(options.out)
    kind = settings.kind
    model_cls, config_cls = _KINDS[kind]
    _check_out(out, options.resume)
    ckpt = resume_checkpoint(options)
    if ckpt is not None:
        state = read_checkpoint(ckpt).get("facevox", {})
        if state.get("recipe") != kind:
            raise click.ClickException(f"--resume: {ckpt} is a {state.get('recipe', 'foreign')} checkpoint, not {kind}")
        done = int(state.get("epochs_done", 0))
        if done >= settings.epochs:
            raise click.ClickException(f"--resume: {ckpt} already has {done} epochs; pass --epochs > {done}")
        config = config_from_dict(config_cls, json.loads(state["config"]))
        echo(f"resuming {ckpt} at epoch {done}")
    else:
        config = config_cls(**(overrides or {}))
    torch.manual_seed(settings.seed)
    try:
        model = model_cls(config)
    except ValueError as exc:  # e.g. a latent size the spatial code map cannot hold
        raise click.UsageError(f"{kind}: {exc}") from exc
    if init is not None and ckpt is None:
        _init_from(model, init)
        echo(f"initialised from {init}")
    guide = _make_guide(settings, model) if kind == "face-cvae" else None

    echo(f"loading {data} ...")
    x_train, y_train = _load(data, "train", settings.limit, settings.seed)
    x_val, y_val = _load(data, "val", settings.val_limit, settings.seed)
    from .lit_face import MONITOR, FaceModule  # imports lightning (seconds)

    trainer = build_trainer(options, monitor=MONITOR, mode="max", inference_mode=False, log_every_n_steps=20)
    if math.ceil(len(y_train) / settings.batch_size) < trainer.world_size:
        raise click.BadParameter(f"{len(y_train)} training faces make fewer batches of {settings.batch_size} than the "
                                 f"{trainer.world_size} processes; lower it or use fewer --devices",
                                 param_hint="--batch-size")
    out.mkdir(parents=True, exist_ok=True)
    if trainer.is_global_zero:
        atomic_write_text(out / "settings.json", json.dumps(asdict(settings), indent=2))
    module = FaceModule(model, settings, (x_train, y_train), (x_val, y_val), out, guide=guide,
                        deadline=options.deadline)
    n_params = sum(p.numel() for p in model.parameters())
    echo(f"{kind}: {n_params:,} parameters, {len(y_train)} train / {len(y_val)} val images, "
         f"{options.resolved_precision()}")
    with warnings.catch_warnings():  # a resume from an epoch's end re-runs its end without validation metrics
        warnings.filterwarnings("ignore", ".*could not find the monitored key.*")
        trainer.fit(module, ckpt_path=ckpt)
    best = checkpoint_dir(out) / "best.ckpt"
    if trainer.is_global_zero and best.is_file():
        from facevox import save_pretrained

        save_pretrained(model_from_checkpoint(best)[1], out / "best", name=_NAMES[kind])
        echo(f"best weights: {out / 'best'} (facevox.load_pretrained)")
    return module.history[-1] if module.history else {}


# ---------------------------------------------------------------------------- CLI


def _make_command(kind: str) -> click.Command:
    defaults = TrainSettings(kind=kind)

    @training_command(kind, default_out=f"runs/{kind}", epochs=defaults.epochs, gradient_clip=50.0)
    @click.option("--data", type=click.Path(exists=True, path_type=Path), required=True,
                  help="FER2013 root (train/ and val/ folders) or fer2013.csv.")
    @click.option("--threads", type=click.IntRange(1), default=None, help="torch CPU threads.")
    @click.option("--batch-size", type=click.IntRange(1), default=defaults.batch_size, show_default=True)
    @click.option("--lr", type=float, default=defaults.lr, show_default=True, help="Peak Adam learning rate.")
    @click.option("--warmup-steps", type=click.IntRange(1), default=defaults.warmup_steps, show_default=True,
                  help="Steps of linear learning-rate warm-up before the cosine decay.")
    @click.option("--latent-dim", type=click.IntRange(1), default=None, help="Override the latent size.")
    @click.option("--beta", type=float, default=None, help="KL weight (VAE/CVAE).")
    @click.option("--bottleneck", type=click.Choice([b.value for b in Bottleneck]), default=None,
                  help="Override the bottleneck: dense (global code) or spatial (code map).")
    @click.option("--channels", default=None, metavar="C1,C2,...",
                  help="Override the feature channels per stride-2 stage, e.g. 64,128,256.")
    @click.option("--ssim-weight", type=click.FloatRange(0), default=defaults.ssim_weight, show_default=True,
                  help="Weight of (1 - SSIM) per image beside the summed squared error.")
    @click.option("--aux-weight", type=float, default=defaults.aux_weight, show_default=True,
                  help="Auxiliary latent classifier weight (AE/VAE; 0 disables).")
    @click.option("--guide-weight", type=float, default=defaults.guide_weight, show_default=True)
    @click.option("--identity-weight", type=float, default=defaults.identity_weight, show_default=True)
    @click.option("--guide-pretrain-steps", type=click.IntRange(0), default=defaults.guide_pretrain_steps,
                  show_default=True, help="CVAE: steps training the guide CNN alone first.")
    @click.option("--guide-model", multiple=True, metavar="NAME",
                  help="CVAE: a registered expression classifier used frozen as the guide, e.g. "
                  "expression.resmasknet_small; repeat for an ensemble (default: a small CNN trained alongside).")
    @click.option("--guide-weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True,
                  help="CVAE: .safetensors weights of --guide-model (e.g. a facevox train expression run's "
                  "best.safetensors), one per --guide-model in the same order; default: their shipped weights.")
    @click.option("--init", type=click.Path(exists=True, path_type=Path), default=None,
                  help="Start from other weights: a run's best/ folder (e.g. a face-vae run for face-cvae), "
                  "shipped or old-run .safetensors, or a .ckpt.")
    @click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
                  help="Random seed, 0 .. 2**63 - 1.")
    @click.option("--bf16/--no-bf16", default=None,
                  help="Shorthand for --precision bf16-mixed / 32-true (default: bfloat16 only where it is native).")
    @click.option("--limit", type=click.IntRange(0), default=0, help="Use only N training images (smoke tests).")
    @click.option("--val-limit", type=click.IntRange(0), default=0, help="Use only N validation images.")
    @click.option("--max-minutes", type=click.FloatRange(0), default=0.0,
                  help="Wall-clock budget: a deadline M minutes from now; the epochs (and the lr schedule) "
                  "shrink to what fits.")
    def command(training: TrainingOptions, data: Path, threads: int | None, batch_size: int, lr: float,
                warmup_steps: int, latent_dim: int | None, beta: float | None, bottleneck: str | None,
                channels: str | None, ssim_weight: float, aux_weight: float, guide_weight: float,
                identity_weight: float, guide_pretrain_steps: int, guide_model: tuple[str, ...],
                guide_weights: tuple[Path, ...], init: Path | None, seed: int, bf16: bool | None, limit: int,
                val_limit: int, max_minutes: float) -> None:
        assert training.max_epochs is not None
        settings = TrainSettings(kind=kind, epochs=training.max_epochs, batch_size=batch_size, lr=lr,
                                 warmup_steps=warmup_steps, aux_weight=aux_weight, guide_weight=guide_weight,
                                 identity_weight=identity_weight, ssim_weight=ssim_weight,
                                 guide_pretrain_steps=guide_pretrain_steps, guide_model=",".join(guide_model),
                                 guide_weights=",".join(str(w) for w in guide_weights), seed=seed, bf16=bf16,
                                 limit=limit, val_limit=val_limit, max_minutes=max_minutes)
        overrides: dict[str, Any] = {}
        if latent_dim is not None:
            overrides["latent_dim"] = latent_dim
        if bottleneck is not None:
            overrides["bottleneck"] = Bottleneck(bottleneck)
        if channels is not None:
            try:
                overrides["channels"] = tuple(int(c) for c in channels.split(","))
            except ValueError:
                raise click.BadParameter(f"{channels!r}: expected comma-separated integers, e.g. 64,128,256",
                                         param_hint="--channels") from None
            if not overrides["channels"] or min(overrides["channels"]) < 1:
                raise click.BadParameter("channels must be positive integers", param_hint="--channels")
        if beta is not None:
            if kind == "face-ae":
                raise click.BadParameter("--beta applies to face-vae and face-cvae only")
            overrides["beta"] = beta
        train(data, settings, training, init=init, threads=threads, overrides=overrides)

    command.help = f"Train {_NAMES[kind]} on FER2013 (folder layout or fer2013.csv)."
    return command


def train_commands() -> list[click.Command]:
    """The ``facevox train`` commands of this plugin: face-ae, face-vae, face-cvae."""
    return [_make_command(kind) for kind in _KINDS]


if __name__ == "__main__":  # python -m facevox_face.training face-ae --data ... (same as `facevox train`)
    click.Group(commands=train_commands())()
