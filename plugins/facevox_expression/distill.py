"""Knowledge distillation for the expression recipe: ``facevox train expression --teacher W``.

A frozen ensemble of trained expression CNNs (the teachers) labels every training batch on
the *same* augmented (and CutMix-ed) images the student sees, and the student matches the
ensemble's temperature-softened class distribution (Hinton et al. 2015, "Distilling the
Knowledge in a Neural Network"; consistent views as in Beyer et al. 2022, "Knowledge
distillation: A good teacher is patient and consistent"). On noisy labels such as FER2013's
the soft targets also carry what the hard label misses (fear vs surprise, sad vs neutral).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click
import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import Tensor

from facevox_expression.model import ResMaskNet, ResMaskNetConfig

__all__ = ["TeacherEnsemble", "distillation_loss"]


class TeacherEnsemble(torch.nn.Module):
    """Frozen expression CNNs whose averaged softened probabilities are the distillation target.

    Args:
        paths: ``.safetensors`` state dicts of trained expression CNNs (``best.safetensors`` of
            a run, or the shipped ``weights/resmasknet.safetensors``); fp16 files are cast to
            float32.
        variants: architecture name -> config; a file's ``variant`` metadata picks its config,
            else ``default_variant``.
        default_variant: config for files without ``variant`` metadata.

    Raises:
        click.BadParameter: no paths, a path that is not a readable safetensors file, an
            unknown variant in its metadata, or tensors that do not fit the architecture.
    """

    def __init__(self, paths: Sequence[str | os.PathLike[str]], variants: dict[str, ResMaskNetConfig],
                 default_variant: str) -> None:
        super().__init__()
        if not paths:
            raise click.BadParameter("pass at least one teacher .safetensors file", param_hint="--teacher")
        self.members = torch.nn.ModuleList(_load_teacher(Path(p), variants, default_variant) for p in paths)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> TeacherEnsemble:
        """Teachers stay in eval mode (dropout off, batch-norm running statistics)."""
        return super().train(False)

    @torch.no_grad()
    def soft_targets(self, x: Tensor, temperature: float, bf16: bool = True) -> Tensor:
        """Mean over the teachers of ``softmax(logits / temperature)``.

        Args:
            x: normalised faces, float32 ``(N, 1, H, W)`` (what the student gets).
            temperature: softening temperature (> 0; 1 = the teachers' own probabilities).
            bf16: run the teachers under bfloat16 autocast.

        Returns:
            float32 ``(N, C)`` probabilities, rows summing to 1.
        """
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            probs = [F.softmax(m(x).float() / temperature, dim=-1) for m in self.members]
        return torch.stack(probs).mean(0)


def distillation_loss(student_logits: Tensor, targets: Tensor, temperature: float) -> Tensor:
    """``temperature² · KL(targets ‖ softmax(student_logits / temperature))``, batch mean.

    The ``temperature²`` factor keeps gradient magnitudes comparable across temperatures
    (Hinton et al. 2015). ``student_logits``: ``(N, C)``; ``targets``: ``(N, C)`` probabilities.
    Returns a scalar; 0 when the student's softened distribution equals the targets.
    """
    log_p = F.log_softmax(student_logits.float() / temperature, dim=-1)
    return F.kl_div(log_p, targets, reduction="batchmean") * temperature**2


def _load_teacher(path: Path, variants: dict[str, ResMaskNetConfig], default_variant: str) -> ResMaskNet:
    if not path.is_file():
        raise click.BadParameter(f"{path} is not a file; pass a .safetensors state dict", param_hint="--teacher")
    try:
        with safe_open(str(path), framework="pt") as f:
            variant = (f.metadata() or {}).get("variant", default_variant)
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as error:  # safetensors raises its own SafetensorError
        raise click.BadParameter(f"{path} is not a readable safetensors file: {error}", param_hint="--teacher") from None
    if variant not in variants:
        raise click.BadParameter(f"{path}: unknown variant {variant!r}; accepted: {', '.join(variants)}",
                                 param_hint="--teacher")
    model = ResMaskNet(variants[variant]).to(memory_format=torch.channels_last)
    own = model.state_dict()
    if set(own) != set(state) or any(own[k].shape != state[k].shape for k in own):
        raise click.BadParameter(f"{path} does not hold {variant!r} weights", param_hint="--teacher")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return model
