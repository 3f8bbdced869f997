"""Training recipe shared by ``facevox train face-ae | face-vae | face-cvae``.

One loop for the three models: in-memory FER2013 (either layout, via
:func:`facevox.datasets.load_fer2013`), batch augmentation (horizontal flip, +-2 px shift),
Adam with linear warm-up and cosine decay, bf16 autocast on CPUs that support it, a tqdm
progress bar, validation MSE/SSIM (:func:`facevox_face.metrics.ssim`, plain torch) every epoch, a
PNG grid of reconstructions and samples per epoch, and a resumable checkpoint (safetensors
weights + JSON config + ``state.pt`` optimizer state, loaded with ``weights_only=True``) in
``--out``.

Losses (per image, averaged over the batch):

* ``face-ae``: ``sum((x - x_hat)**2) + aux_weight * CE(linear(z), y)``, the auxiliary linear
  classifier on the latent (supervised autoencoder, Le et al. 2018, NeurIPS) makes the code
  linearly separable by expression; the head is discarded after training.
* ``face-vae``: ``sum((x - x_hat)**2) + w_kl * beta * KL`` (+ the same auxiliary term on
  ``mu``), ``w_kl`` warmed up linearly from 0 to 1 over ``--kl-warmup`` epochs.
* ``face-cvae``: the VAE loss with the label dropped to the null condition with probability
  ``label_dropout``, plus classifier guidance: a face decoded with a random target label must
  be classified as that label by a small CNN trained alongside on real faces
  (``guide_weight * CE``), and stay close to the source (``identity_weight * sum sq``).

All three add ``ssim_weight * (1 - SSIM(x, x_hat))`` when ``--ssim-weight`` is set (a structural
loss beside the squared error, Zhao et al. 2017, "Loss Functions for Image Restoration with
Neural Networks"; SSIM of :func:`facevox_face.metrics.ssim`): squared error alone averages
uncertain detail into blur, SSIM rewards local contrast and structure.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import torch
import torch.nn.functional as F
from facevox import CheckpointError, config_from_dict, config_to_dict
from facevox.compat import cpu_has_bf16
from facevox.io import atomic_path, atomic_write_text
from torch import Tensor, nn

from .ae import AEConfig, ConvAutoencoder
from .blocks import Bottleneck
from .cvae import ConditionalVAE, CVAEConfig
from .grid import make_grid, save_png
from .guide import GuideCNN, GuideEnsemble, PretrainedGuide
from .metrics import ssim
from .vae import ConvVAE, VAEConfig

__all__ = ["TrainSettings", "evaluate_reconstruction", "train", "train_commands"]

_KINDS: dict[str, tuple[type[nn.Module], type]] = {
    "face-ae": (ConvAutoencoder, AEConfig),
    "face-vae": (ConvVAE, VAEConfig),
    "face-cvae": (ConditionalVAE, CVAEConfig),
}


@dataclass
class TrainSettings:
    """Recipe of one training run (saved as ``settings.json`` next to the checkpoint)."""

    kind: str  # "face-ae", "face-vae" or "face-cvae"
    epochs: int = 10  # total epochs (a resumed run continues up to this number)
    batch_size: int = 128  # images per step
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
    max_minutes: float = 0.0  # wall-clock budget of this invocation (0: none); the lr schedule follows
    # max(step / total_steps, elapsed / budget) and training stops at the budget after saving


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


# ---------------------------------------------------------------------------- checkpoint


def _save_checkpoint(out: Path, model: nn.Module, extra: dict[str, Any], settings: TrainSettings) -> None:
    from safetensors.torch import save_file

    with atomic_path(out / "model.safetensors") as tmp:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    atomic_write_text(out / "config.json", json.dumps(config_to_dict(model.config), indent=2))
    atomic_write_text(out / "settings.json", json.dumps(settings.__dict__, indent=2))
    with atomic_path(out / "state.pt") as tmp:
        torch.save(extra, tmp)


def _load_checkpoint(out: Path, model: nn.Module) -> dict[str, Any]:
    from safetensors.torch import load_file

    result = model.load_state_dict(load_file(str(out / "model.safetensors")), strict=False)
    bad = [k for k in [*result.missing_keys, *result.unexpected_keys] if not k.startswith("latent_")]
    if bad:  # only the refittable sampling buffers may differ between versions
        raise CheckpointError(f"checkpoint {out} does not fit {type(model).__name__}: {bad[:8]}")
    return torch.load(out / "state.pt", weights_only=True)


def _init_from(model: nn.Module, path: Path) -> None:
    """Copy matching weights from another run's ``model.safetensors`` (e.g. VAE -> CVAE).

    The CVAE decoder's first layer (linear, or a convolution with a spatial code) has extra
    condition inputs: the latent inputs are copied and the condition inputs start at zero, so
    training starts from the VAE.
    """
    from safetensors.torch import load_file

    source = load_file(str(path))
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


# ---------------------------------------------------------------------------- loop


def _lr_at(step: int, total: int, settings: TrainSettings, time_progress: float = 0.0) -> float:
    warm = min(1.0, (step + 1) / max(1, settings.warmup_steps))
    progress = min(1.0, max(step / max(1, total), time_progress))
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


def train(data: Path, out: Path, settings: TrainSettings, resume: bool = False, init: Path | None = None,
          threads: int | None = None, overrides: dict[str, Any] | None = None) -> dict[str, float]:
    """Train one face model; see the module docstring. Returns the last validation metrics."""
    from tqdm import tqdm

    if threads:
        torch.set_num_threads(threads)
    if settings.bf16 is None:
        settings = replace(settings, bf16=cpu_has_bf16())
    model_cls, config_cls = _KINDS[settings.kind]
    out.mkdir(parents=True, exist_ok=True)
    if (out / "state.pt").exists() and not resume:
        raise click.UsageError(f"{out} already holds a checkpoint; pass --resume to continue it or choose another --out")
    if resume and (out / "config.json").exists():
        config = config_from_dict(config_cls, json.loads((out / "config.json").read_text()))
    else:
        config = config_cls(**(overrides or {}))
    torch.manual_seed(settings.seed)
    try:
        model = model_cls(config)
    except ValueError as exc:  # e.g. a latent size the spatial code map cannot hold
        raise click.UsageError(f"{settings.kind}: {exc}") from exc
    is_vae = settings.kind != "face-ae"
    conditional = settings.kind == "face-cvae"
    aux = _aux_head(config.latent_dim) if settings.aux_weight > 0 and not conditional else None
    guide = _make_guide(settings, model) if conditional else None
    params = list(model.parameters()) + (list(aux.parameters()) if aux else [])
    opt = torch.optim.Adam(params, lr=settings.lr)
    guide_opt = torch.optim.Adam(guide.parameters(), lr=1e-3) if guide is not None and guide.trainable else None

    click.echo(f"loading {data} ...", err=True)
    x_train, y_train = _load(data, "train", settings.limit, settings.seed)
    x_val, y_val = _load(data, "val", settings.val_limit, settings.seed)
    val = _to_float(x_val)
    steps_per_epoch = math.ceil(len(y_train) / settings.batch_size)
    total = steps_per_epoch * settings.epochs

    start_epoch, step, history = 0, 0, []
    if resume and (out / "state.pt").exists():
        state = _load_checkpoint(out, model)
        try:
            opt.load_state_dict(state["opt"])
        except ValueError:
            click.echo("optimizer state does not fit (auxiliary head changed); model weights resumed", err=True)
        if aux is not None and "aux" in state:
            try:
                aux.load_state_dict(state["aux"])
            except RuntimeError:
                click.echo("auxiliary head changed; starting it afresh", err=True)
        if guide is not None and guide_opt is not None and "guide" in state:
            guide.load_state_dict(state["guide"])
            guide_opt.load_state_dict(state["guide_opt"])
        start_epoch, step, history = state["epoch"], state["step"], json.loads(state["history"])
        click.echo(f"resumed {out} at epoch {start_epoch}", err=True)
    elif init is not None:
        _init_from(model, init)
        click.echo(f"initialised from {init}", err=True)

    if guide is not None and guide_opt is not None and start_epoch == 0:
        _pretrain_guide(guide, guide_opt, x_train, y_train, settings)
    n_params = sum(p.numel() for p in model.parameters())
    click.echo(f"{settings.kind}: {n_params:,} parameters, {len(y_train)} train / {len(y_val)} val images", err=True)
    metrics: dict[str, float] = history[-1] if history else {}
    started = time.time()
    budget = settings.max_minutes * 60.0
    time_progress = float(history[-1].get("time_progress", 0.0)) if history and resume else 0.0
    base_progress = time_progress
    for epoch in range(start_epoch, settings.epochs):
        if budget and time_progress >= 1.0:
            click.echo("time budget used up; stopping", err=True)
            break
        model.train()
        gen = torch.Generator().manual_seed(settings.seed * 1000 + epoch)
        order = torch.randperm(len(y_train), generator=gen)
        sums: dict[str, float] = {}
        t0 = time.time()
        bar = tqdm(range(steps_per_epoch), desc=f"{settings.kind} epoch {epoch + 1}/{settings.epochs}",
                   mininterval=30, ascii=True)
        for i in bar:
            idx = order[i * settings.batch_size : (i + 1) * settings.batch_size]
            x, y = _augment(_to_float(x_train[idx]), gen), y_train[idx]
            if budget:
                time_progress = base_progress + (time.time() - started) / budget
                if time_progress >= 1.0:
                    steps_per_epoch = i  # partial last epoch: metrics below average over the steps done
                    break
            for group in opt.param_groups:
                group["lr"] = _lr_at(step, total, settings, time_progress)
            kl_w = min(1.0, (step + 1) / max(1.0, settings.kl_warmup * steps_per_epoch))
            logs: dict[str, float] = {}
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
                if not is_vae:
                    z = model.encode(x)
                    recon = model.decode(z)
                    loss = (recon.float() - x).pow(2).flatten(1).sum(1).mean()
                    logs["sq"] = loss.item()
                else:
                    labels = None
                    if conditional:
                        drop = torch.rand(len(y), generator=gen) < config.label_dropout
                        cond = model.condition(y, len(y)) * (~drop)[:, None].float()
                        mu, logvar = model.encode_distribution(x)
                        z = model.reparameterize(mu, logvar, generator=gen)
                        recon = model.decode_condition(z, cond)
                    else:
                        recon, mu, logvar = model(x, labels)
                    loss = model.loss(x, recon, mu, logvar, kl_weight=kl_w)
                    logs["sq"] = (recon.float() - x).pow(2).flatten(1).sum(1).mean().item()
                    logs["kl"] = model.kl_divergence(mu.float(), logvar.float()).item()
                    z = mu
                if settings.ssim_weight:
                    structural = (1.0 - ssim(recon.float(), x)).mean()
                    loss = loss + settings.ssim_weight * structural
                    logs["1-ssim"] = structural.item()
                if aux is not None:
                    ce = F.cross_entropy(aux(z.float()), y)
                    loss = loss + settings.aux_weight * ce
                    logs["aux_ce"] = ce.item()
                if guide is not None:
                    ramp = min(1.0, step / max(1, steps_per_epoch // 2))
                    target = torch.randint(0, config.num_labels, (len(y),), generator=gen)
                    morphed = model.decode(z, target)
                    guide.train(not guide.trainable)  # trained guide: no dropout; frozen guide: random views
                    guide.requires_grad_(False)
                    g_ce = F.cross_entropy(guide(morphed.float()).float(), target)
                    ident = (morphed.float() - x).pow(2).flatten(1).sum(1).mean()
                    guide.requires_grad_(guide.trainable)
                    loss = loss + ramp * (settings.guide_weight * g_ce + settings.identity_weight * ident)
                    logs["guide_ce"], logs["ident"] = g_ce.item(), ident.item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 50.0)
            opt.step()
            if guide is not None and guide_opt is not None:
                guide.train()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
                    c_loss = F.cross_entropy(guide(x).float(), y, label_smoothing=0.1)
                guide_opt.zero_grad(set_to_none=True)
                c_loss.backward()
                guide_opt.step()
                logs["guide_train_ce"] = c_loss.item()
            logs["loss"] = loss.item()
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v
            step += 1
            if i % 20 == 0:
                bar.set_postfix({k: f"{v / (i + 1):.3g}" for k, v in sums.items()}, refresh=False)
        if isinstance(model, (ConvVAE, ConditionalVAE)):  # sampling distribution for samples and grids
            model.fit_latent_prior(_to_float(x_train[order[:2048]]))
        metrics = {k: v / max(1, steps_per_epoch) for k, v in sums.items()}
        steps_per_epoch = math.ceil(len(y_train) / settings.batch_size)
        metrics["time_progress"] = time_progress
        metrics.update({f"val_{k}": v for k, v in evaluate_reconstruction(model, val).items()})
        if guide is not None:
            metrics.update(_guide_metrics(model, guide, val, y_val))
        metrics["epoch"] = epoch + 1
        metrics["seconds"] = time.time() - t0
        history.append(metrics)
        extra: dict[str, Any] = {"opt": opt.state_dict(), "epoch": epoch + 1, "step": step,
                                 "history": json.dumps(history)}
        if aux is not None:
            extra["aux"] = aux.state_dict()
        if guide is not None and guide_opt is not None:  # a frozen pretrained guide is not saved
            extra["guide"], extra["guide_opt"] = guide.state_dict(), guide_opt.state_dict()
        _save_checkpoint(out, model, extra, settings)
        atomic_write_text(out / "history.json", json.dumps(history, indent=2))
        _epoch_grid(model, settings.kind, val, out / f"grid_epoch{epoch + 1:03d}.png", settings.seed)
        click.echo(json.dumps({k: round(v, 4) for k, v in metrics.items()}), err=True)
    return metrics


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


def _pretrain_guide(guide: GuideCNN, opt: torch.optim.Optimizer, x_train: Tensor, y_train: Tensor,
                    settings: TrainSettings) -> None:
    """Train the guide classifier alone for ``guide_pretrain_steps`` steps on real faces."""
    from tqdm import tqdm

    gen = torch.Generator().manual_seed(settings.seed + 12345)
    guide.train()
    for _ in tqdm(range(settings.guide_pretrain_steps), desc="guide CNN", mininterval=30, ascii=True):
        idx = torch.randint(0, len(y_train), (settings.batch_size,), generator=gen)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
            loss = F.cross_entropy(guide(_augment(_to_float(x_train[idx]), gen)).float(), y_train[idx],
                                   label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


@torch.no_grad()
def _guide_metrics(model: ConditionalVAE, guide: GuideCNN, val: Tensor, y_val: Tensor) -> dict[str, float]:
    """Guide accuracy on real val faces and the rate at which it recognises random-target morphs."""
    guide.eval()
    model.eval()
    n = min(len(val), 1024)
    pick = torch.linspace(0, len(val) - 1, n).long()  # spread over the split (folder layouts are sorted by class)
    val, y_val = val[pick], y_val[pick]
    acc = float((guide(val).argmax(1) == y_val).float().mean())
    target = torch.arange(n) % model.num_labels
    morphed = torch.cat([model.decode(model.encode(val[i : i + 256]), target[i : i + 256]) for i in range(0, n, 256)])
    rate = float((guide(morphed).argmax(1) == target).float().mean())
    return {"guide_val_acc": acc, "guide_morph_rate": rate}


# ---------------------------------------------------------------------------- CLI


def _make_command(kind: str) -> click.Command:
    defaults = TrainSettings(kind=kind)

    @click.command(name=kind, help=f"Train {kind.replace('face-', 'face.')} on FER2013 (folder layout or fer2013.csv).")
    @click.option("--data", type=click.Path(exists=True, path_type=Path), required=True,
                  help="FER2013 root (train/ and val/ folders) or fer2013.csv.")
    @click.option("--epochs", type=click.IntRange(1), default=defaults.epochs, show_default=True)
    @click.option("--out", type=click.Path(path_type=Path), default=Path("runs") / kind, show_default=True,
                  help="Checkpoint folder (keep it outside the repository).")
    @click.option("--resume", is_flag=True, help="Continue the checkpoint in --out.")
    @click.option("--threads", type=click.IntRange(1), default=None, help="torch CPU threads.")
    @click.option("--batch-size", type=click.IntRange(1), default=defaults.batch_size, show_default=True)
    @click.option("--lr", type=float, default=defaults.lr, show_default=True)
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
                  help="Start from another run's model.safetensors (e.g. a face-vae run for face-cvae).")
    @click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
                  help="Random seed, 0 .. 2**63 - 1.")
    @click.option("--bf16/--no-bf16", default=None,
                  help="bf16 autocast (default: only on CPUs with native bfloat16, else float32).")
    @click.option("--limit", type=click.IntRange(0), default=0, help="Use only N training images (smoke tests).")
    @click.option("--val-limit", type=click.IntRange(0), default=0, help="Use only N validation images.")
    @click.option("--max-minutes", type=click.FloatRange(0), default=0.0,
                  help="Wall-clock budget: the lr schedule follows it and training stops when it is spent.")
    def command(data: Path, epochs: int, out: Path, resume: bool, threads: int | None, batch_size: int, lr: float,
                latent_dim: int | None, beta: float | None, bottleneck: str | None, channels: str | None,
                ssim_weight: float, aux_weight: float, guide_weight: float,
                identity_weight: float, guide_pretrain_steps: int, guide_model: tuple[str, ...],
                guide_weights: tuple[Path, ...],
                init: Path | None, seed: int, bf16: bool | None, limit: int, val_limit: int,
                max_minutes: float) -> None:
        settings = TrainSettings(kind=kind, epochs=epochs, batch_size=batch_size, lr=lr, aux_weight=aux_weight,
                                 guide_weight=guide_weight, identity_weight=identity_weight, ssim_weight=ssim_weight,
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
        train(data, out, settings, resume=resume, init=init, threads=threads, overrides=overrides)

    return command


def train_commands() -> list[click.Command]:
    """The ``facevox train`` commands of this plugin: face-ae, face-vae, face-cvae."""
    return [_make_command(kind) for kind in _KINDS]


if __name__ == "__main__":  # python -m facevox_face.training face-ae --data ... (same as `facevox train`)
    click.Group(commands=train_commands())()
