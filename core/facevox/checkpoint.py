"""Safe checkpoints: safetensors weights + a JSON config, never pickles.

A checkpoint directory holds::

    model.safetensors   # the state dict
    config.json         # {"format": "facevox-checkpoint", "version": 1, "model": name,
                        #  "config": {...}, "card": {...}, "sha256": hex digest of model.safetensors}

:func:`load_pretrained` verifies the digest before reading the tensors, rebuilds the model
through the registry with the saved config and loads the weights strictly.

A checkpoint is untrusted input. Before any tensor is built, :func:`load_pretrained` reads
only regular files (a FIFO or a device is refused without being opened), ``config.json`` of at
most :data:`MAX_CONFIG_BYTES` nested at most :data:`MAX_JSON_DEPTH` deep, checks each entry
(``sha256`` a 64-digit hex string, ``version`` 1...) and each config field against the annotations
of the model's config dataclass (:mod:`facevox.validation`), and counts the model's parameters on
the ``meta`` device (at most :data:`facevox.validation.MAX_PARAMETERS`). Every refusal is one
:class:`CheckpointError` naming the file, the field, the value and what is accepted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from facevox.card import config_to_dict
from facevox.io import atomic_write_bytes
from facevox.registry import FacevoxError, get_model_spec
from facevox.validation import MAX_PARAMETERS, ConfigError, check_model_size, parse_config

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_JSON_DEPTH",
    "CheckpointError",
    "load_pretrained",
    "load_weights",
    "save_pretrained",
    "save_weights",
]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
_FORMAT = "facevox-checkpoint"
_VERSION = 1
#: Largest ``config.json`` accepted: 1 MiB.
MAX_CONFIG_BYTES = 1 << 20
#: Deepest nesting of arrays and objects accepted in ``config.json``.
MAX_JSON_DEPTH = 64
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
#: Room for the safetensors header on top of 8 bytes per element.
_HEADER_BYTES = 64 << 20


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


def _read_bytes(path: Traversable | Path, what: str, limit: int | None = None) -> bytes:
    """The bytes of a regular file, at most ``limit`` of them (no FIFO, device or folder)."""
    if not isinstance(path, Path):  # a resource inside a package (a zip...): no stat()
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise CheckpointError(f"{what} not found: {path}") from None
        except OSError as exc:
            raise CheckpointError(f"cannot read {what} {path}: {exc}") from None
    try:
        _check_regular(os.stat(path).st_mode, path, what)
        # O_NONBLOCK: should the file be swapped for a FIFO after the stat, open() still returns
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            _check_regular(info.st_mode, path, what)
            if limit is not None and info.st_size > limit:
                raise CheckpointError(f"{what} {path} is {info.st_size:,} bytes; at most {limit:,} are accepted")
            data = f.read() if limit is None else f.read(limit + 1)
    except FileNotFoundError:
        raise CheckpointError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {what} {path}: {exc}") from None
    if limit is not None and len(data) > limit:
        raise CheckpointError(f"{what} {path} is more than {limit:,} bytes, the most accepted")
    return data


def _check_regular(mode: int, path: Path, what: str) -> None:
    if stat.S_ISREG(mode):
        return
    kinds = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    kind = next((name for test, name in kinds if test(mode)), "not a plain file")
    raise CheckpointError(f"{what} {path} is {kind}; a checkpoint holds regular files only")


def _tensors_from(data: bytes, path: Any) -> dict[str, torch.Tensor]:
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} is not a valid safetensors file (truncated or corrupt?): {exc}") from None


def load_weights(
    model: nn.Module,
    path: Traversable | str | os.PathLike[str],
    strict: bool = True,
    sha256: str | None = None,
) -> nn.Module:
    """Load a ``.safetensors`` state dict into ``model`` (in place), casting to its dtypes.

    Args:
        sha256: expected hex SHA-256 of the file (a model card's ``sha256``); ``None`` or
            ``""`` skips the check.

    Raises:
        CheckpointError: unreadable, corrupt or not a regular file, bigger than 8 bytes per
            element of ``model`` (+ 64 MiB of header), its SHA-256 is not ``sha256`` (both are
            named), or (``strict``) missing / unexpected keys or mismatched shapes, listed by name.
    """
    p = path if isinstance(path, Traversable) else Path(path)
    limit = 8 * sum(t.numel() for t in model.state_dict().values()) + _HEADER_BYTES
    data = _read_bytes(p, "weights file", limit)
    if sha256:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256.lower():
            raise CheckpointError(
                f"weights file {p} has SHA-256 {actual}, but its model card says {sha256}: the file is "
                "damaged or not the one the card describes; reinstall the package that ships it"
            )
    _load_state(model, _tensors_from(data, p), p, strict)
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
        directory: destination folder: created, or replaced whole if it is an empty folder or
            a facevox checkpoint (``config.json`` + ``model.safetensors`` and nothing else).
        name: registered model name, if ``model`` was not built by ``create_model``.

    Raises:
        CheckpointError: the model's name is unknown or it has no dataclass ``config``; or
            ``directory`` is empty, or exists and is a file, a folder that is not a facevox
            checkpoint, or a folder holding other files too (nothing is replaced).
    """
    model_name = name or getattr(model, "facevox_name", None)
    if not model_name:
        raise CheckpointError("cannot tell the model's registered name: pass name=...")
    config = getattr(model, "config", None)
    if config is None or not dataclasses.is_dataclass(config):
        raise CheckpointError(f"{type(model).__name__} has no dataclass `config` attribute")
    raw = os.fspath(directory)
    if not str(raw).strip():
        raise CheckpointError("save_pretrained: the directory is an empty path; name the checkpoint folder")
    target = Path(raw)
    _check_replaceable(target)
    spec = get_model_spec(model_name)
    weights = st_save(_state_dict(model, None), metadata={"format": "pt"})
    meta = {
        "format": _FORMAT,
        "version": _VERSION,
        "model": model_name,
        "config": config_to_dict(config),
        "card": spec.card.to_dict(),
        "sha256": hashlib.sha256(weights).hexdigest(),
    }
    place = Path(os.path.abspath(target))
    place.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{place.name}.", dir=place.parent))
    try:
        (tmp / WEIGHTS_NAME).write_bytes(weights)
        (tmp / CONFIG_NAME).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if place.exists():
            old = place.with_name(f".{place.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(place, old)
            os.replace(tmp, place)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, place)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _check_replaceable(target: Path) -> None:
    """Refuse to save over anything but nothing, an empty folder, or a facevox checkpoint folder."""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        if os.path.lexists(target):
            raise CheckpointError(f"{target} is a broken symbolic link; save_pretrained does not replace it") from None
        return
    if not stat.S_ISDIR(mode):
        raise CheckpointError(
            f"{target} exists and is not a folder; save_pretrained replaces only a facevox checkpoint "
            "folder: remove the file or choose another path"
        )
    entries = sorted(os.listdir(target))
    if not entries:
        return
    others = [e for e in entries if e not in (CONFIG_NAME, WEIGHTS_NAME)]
    if others:
        raise CheckpointError(
            f"{target} holds other files than a checkpoint ({_few(others)}); save_pretrained replaces a "
            "checkpoint folder whole, so it refuses: choose another path or move them"
        )
    try:
        meta = json.loads(_read_bytes(target / CONFIG_NAME, "checkpoint config", MAX_CONFIG_BYTES))
    except (CheckpointError, ValueError, RecursionError):
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise CheckpointError(
            f"{target} exists and is not a facevox checkpoint (no {CONFIG_NAME} of format {_FORMAT!r}); "
            "save_pretrained does not replace it: choose another path"
        )


def _read_meta(config_path: Path) -> dict[str, Any]:
    """``config.json`` parsed and its entries checked (the model's config fields are checked later)."""
    raw = _read_bytes(config_path, "checkpoint config", MAX_CONFIG_BYTES)
    try:
        meta = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise CheckpointError(f"{config_path} nests arrays or objects deeper than {MAX_JSON_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise CheckpointError(f"{config_path} is not valid JSON: {exc}") from None
    if _depth(meta) > MAX_JSON_DEPTH:
        raise CheckpointError(f"{config_path} nests arrays or objects deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise CheckpointError(f"{config_path} is not a facevox checkpoint config (format {_FORMAT!r})")
    for key in ("model", "config", "sha256"):
        if key not in meta:
            raise CheckpointError(f"{config_path} lacks the {key!r} entry")
    version = meta.get("version", _VERSION)
    checks = [
        ("version", type(version) is int and version == _VERSION, f"{_VERSION} (the only format version)"),
        ("model", isinstance(meta["model"], str), "a registered model name (a string)"),
        ("config", isinstance(meta["config"], dict), "an object of the model's config fields"),
        ("sha256", isinstance(meta["sha256"], str) and _SHA256.fullmatch(meta["sha256"]) is not None,
         f"a 64-digit hex string (the sha256 of {WEIGHTS_NAME})"),
        ("card", isinstance(meta.get("card", {}), dict), "an object (the model card)"),
    ]
    for key, ok, accepted in checks:
        if not ok:
            value = json.dumps(meta.get(key, version))
            value = value if len(value) <= 80 else value[:77] + "..."
            raise CheckpointError(f"{config_path}: entry {key!r} = {value} is not accepted; expected {accepted}")
    return meta


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """Nesting depth of arrays and objects, without recursion (stops past the limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def load_pretrained(directory: str | os.PathLike[str]) -> nn.Module:
    """Rebuild a model from a :func:`save_pretrained` directory, verified and in eval mode.

    ``directory`` may also be the path of its ``config.json`` or ``model.safetensors``. Nothing
    is allocated before the config has been checked (see the module docstring).

    Raises:
        CheckpointError: missing files or files that are not regular (a FIFO, a device...),
            ``config.json`` too big, too deep or not JSON, an unknown format or version, a
            malformed entry (``sha256`` not a 64-digit hex string...), unknown config keys or
            config fields of the wrong type or range (the file, the field, the value and what
            is accepted are named), a model above the parameter limit, sha256 mismatch
            (tampered or truncated weights), or weights that do not fit.
        facevox.UnknownModelError: the model's plugin is not installed.
    """
    root = Path(directory)
    if root.is_file():
        root = root.parent
    config_path = root / CONFIG_NAME
    meta = _read_meta(config_path)
    spec = get_model_spec(meta["model"])
    where = str(config_path)
    try:
        config = parse_config(type(spec.config), meta["config"], where=where, default=spec.config, prefix="config.")
        elements = check_model_size(spec.factory, config, where=where)
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None
    limit = 8 * (MAX_PARAMETERS if elements is None else elements) + _HEADER_BYTES
    data = _read_bytes(root / WEIGHTS_NAME, "checkpoint weights", limit)
    digest = hashlib.sha256(data).hexdigest()
    expected = meta["sha256"].lower()
    if digest != expected:
        raise CheckpointError(
            f"{root / WEIGHTS_NAME} does not match its config's sha256 "
            f"(expected {expected[:12]}..., got {digest[:12]}...): the file was changed or truncated"
        )
    model = spec.factory(config)
    model.facevox_name = meta["model"]  # type: ignore[assignment]
    _load_state(model, _tensors_from(data, root / WEIGHTS_NAME), root / WEIGHTS_NAME)
    model.eval()
    return model
