"""Safe checkpoints: safetensors weights + a JSON config, never pickles.

A checkpoint directory holds::

    model.safetensors   # the state dict
    config.json         # {"format": "facevox-checkpoint", "version": 1, "model": name,
                        #  "config": {...}, "card": {...}, "sha256": hex digest of model.safetensors}

:func:`load_pretrained` verifies the digest before reading the tensors, rebuilds the model
through the registry with the saved config and loads the weights strictly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from facevox.card import config_from_dict, config_to_dict
from facevox.io import atomic_write_bytes
from facevox.registry import FacevoxError, get_model_spec

__all__ = [
    "CheckpointError",
    "load_pretrained",
    "load_weights",
    "save_pretrained",
    "save_weights",
]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
_FORMAT = "facevox-checkpoint"


class CheckpointError(FacevoxError, ValueError):
    """A checkpoint is missing, truncated, tampered with, or does not fit the model."""


def _state_dict(model: nn.Module, dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    state = {}
    for key, tensor in model.state_dict().items():
        t = tensor.detach().cpu()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        state[key] = t.contiguous()
    # safetensors refuses tensors that share memory: clone duplicates
    seen: set[int] = set()
    for key, t in state.items():
        ptr = t.untyped_storage().data_ptr() if t.numel() else -1
        if ptr in seen:
            state[key] = t.clone()
        seen.add(ptr)
    return state


def save_weights(model: nn.Module, path: str | os.PathLike[str], dtype: torch.dtype | None = torch.float16) -> Path:
    """Write ``model``'s state dict to one ``.safetensors`` file, atomically.

    Args:
        model: any module.
        path: destination file.
        dtype: cast floating tensors to this dtype (``float16`` halves shipped weights;
            ``None`` keeps them as they are).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    data = st_save(_state_dict(model, dtype), metadata={"format": "pt"})
    return atomic_write_bytes(path, data)


def _read_bytes(path: Traversable | Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {what} {path}: {exc}") from None


def _tensors_from(data: bytes, path: Any) -> dict[str, torch.Tensor]:
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is not a valid safetensors file (truncated or corrupt?): {exc}") from None


def load_weights(model: nn.Module, path: Traversable | str | os.PathLike[str], strict: bool = True) -> nn.Module:
    """Load a ``.safetensors`` state dict into ``model`` (in place), casting to its dtypes.

    Raises:
        CheckpointError: unreadable or corrupt file, or (``strict``) missing / unexpected keys
            or mismatched shapes, listed by name.
    """
    p = path if isinstance(path, Traversable) else Path(path)
    _load_state(model, _tensors_from(_read_bytes(p, "weights file"), p), p, strict)
    return model


def _load_state(model: nn.Module, tensors: dict[str, torch.Tensor], where: Any, strict: bool = True) -> None:
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    wrong = sorted(k for k in set(own) & set(tensors) if own[k].shape != tensors[k].shape)
    if wrong or (strict and (missing or unexpected)):
        parts = []
        if strict and missing:
            parts.append(f"missing keys {_few(missing)}")
        if strict and unexpected:
            parts.append(f"unexpected keys {_few(unexpected)}")
        if wrong:
            shapes = (f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(own[k].shape)}" for k in wrong[:8])
            parts.append("shape mismatch " + ", ".join(shapes))
        raise CheckpointError(f"weights {where} do not fit {type(model).__name__}: " + "; ".join(parts))
    cast = {k: v.to(own[k].dtype) if k in own and v.is_floating_point() else v for k, v in tensors.items()}
    model.load_state_dict(cast, strict=strict)


def _few(keys: list[str]) -> str:
    return str(keys[:8]) + ("..." if len(keys) > 8 else "")


def save_pretrained(model: nn.Module, directory: str | os.PathLike[str], name: str | None = None) -> Path:
    """Save ``model`` as a checkpoint directory (weights + config + card + sha256).

    The directory is written to a temporary sibling and renamed into place, so an existing
    checkpoint is never left half-replaced.

    Args:
        model: a model built by :func:`facevox.create_model` (it knows its registered name)
            or any registered model class instance with ``config``.
        directory: destination folder (created; replaced if it exists).
        name: registered model name, if ``model`` was not built by ``create_model``.

    Raises:
        CheckpointError: the model's name is unknown or it has no dataclass ``config``.
    """
    model_name = name or getattr(model, "facevox_name", None)
    if not model_name:
        raise CheckpointError("cannot tell the model's registered name: pass name=...")
    config = getattr(model, "config", None)
    if config is None or not dataclasses.is_dataclass(config):
        raise CheckpointError(f"{type(model).__name__} has no dataclass `config` attribute")
    spec = get_model_spec(model_name)
    weights = st_save(_state_dict(model, None), metadata={"format": "pt"})
    meta = {
        "format": _FORMAT,
        "version": 1,
        "model": model_name,
        "config": config_to_dict(config),
        "card": spec.card.to_dict(),
        "sha256": hashlib.sha256(weights).hexdigest(),
    }
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        (tmp / WEIGHTS_NAME).write_bytes(weights)
        (tmp / CONFIG_NAME).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_pretrained(directory: str | os.PathLike[str]) -> nn.Module:
    """Rebuild a model from a :func:`save_pretrained` directory, verified and in eval mode.

    ``directory`` may also be the path of its ``config.json`` or ``model.safetensors``.

    Raises:
        CheckpointError: missing files, bad JSON, unknown format, sha256 mismatch (tampered
            or truncated weights), unknown config keys, or weights that do not fit.
        facevox.UnknownModelError: the model's plugin is not installed.
    """
    root = Path(directory)
    if root.is_file():
        root = root.parent
    config_path = root / CONFIG_NAME
    try:
        meta = json.loads(_read_bytes(config_path, "checkpoint config").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{config_path} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise CheckpointError(f"{config_path} is not a facevox checkpoint config (format {_FORMAT!r})")
    for key in ("model", "config", "sha256"):
        if key not in meta:
            raise CheckpointError(f"{config_path} lacks the {key!r} entry")
    data = _read_bytes(root / WEIGHTS_NAME, "checkpoint weights")
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta["sha256"]:
        raise CheckpointError(
            f"{root / WEIGHTS_NAME} does not match its config's sha256 "
            f"(expected {meta['sha256'][:12]}..., got {digest[:12]}...): the file was changed or truncated"
        )
    spec = get_model_spec(meta["model"])
    try:
        config = config_from_dict(type(spec.config), meta["config"])
    except TypeError as exc:
        raise CheckpointError(f"{config_path}: {exc}") from None
    model = spec.factory(config)
    model.facevox_name = meta["model"]  # type: ignore[assignment]
    _load_state(model, _tensors_from(data, root / WEIGHTS_NAME), root / WEIGHTS_NAME)
    model.eval()
    return model
