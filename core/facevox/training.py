"""The training engine every recipe shares: a PyTorch Lightning ``Trainer`` built from common options.

A recipe is a ``LightningModule`` beside its model plus a click command made with
:func:`training_command`, which adds the options every recipe has (listed once, under their
own heading in ``facevox train <recipe> --help``) and hands them to the command as one
:class:`TrainingOptions`. :func:`build_trainer` turns those into a ``lightning.Trainer``:

* ``--devices N --num-nodes M --accelerator {cpu,gpu,auto} --strategy ddp`` pass straight to
  Lightning (``torch.distributed`` underneath: gloo on CPU, NCCL on GPUs). Launched by
  ``torchrun`` or ``srun`` (SLURM), Lightning reads the ranks from the environment; started
  plainly, it starts the other processes itself (see docs/scaling.md).
* ``--precision``: default ``bf16-mixed`` on a CPU with native bfloat16
  (:func:`facevox.compat.cpu_has_bf16`) or a GPU that has it, else ``32-true`` (emulated
  bfloat16 is about 10x slower than float32).
* checkpoints ``OUT/checkpoints/last.ckpt`` (every validation, and every
  ``checkpoint_every_n_steps`` steps if the recipe asks) and ``OUT/checkpoints/best.ckpt``
  (best validation metric); ``--resume`` continues from ``last.ckpt``: weights, optimiser,
  scheduler, epoch and step counters, and what the recipe stores (loaded with
  ``weights_only=True``).
* ``--deadline``: Lightning's ``max_time`` timer, set to the time left until the deadline when
  the run starts (a resumed run does not count the time of the runs before it).
* metrics: one JSON object per line in ``OUT/metrics.jsonl`` (``{"step", "epoch", ...}``,
  appended to on resume; :class:`JsonlLogger`), Lightning's progress bar on stderr.
* with several processes, each writes ``OUT/rank<r>.sha256``, the digest of its weights at
  the end: equal files mean the replicas stayed in step.

Example (a recipe command)::

    @training_command("my-recipe", default_out="runs/my-recipe", epochs=10)
    @click.option("--data", required=True)
    def command(training: TrainingOptions, data: str) -> None:
        trainer = build_trainer(training, monitor="val_accuracy", mode="max")
        trainer.fit(MyModule(data), ckpt_path=resume_checkpoint(training))
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import torch

from facevox.compat import cpu_has_bf16

if TYPE_CHECKING:  # lightning is imported on first use: `facevox train --help` stays fast
    import lightning.pytorch as pl

__all__ = [
    "ACCELERATORS",
    "PRECISIONS",
    "Deadline",
    "Devices",
    "JsonlLogger",  # noqa: F822 - defined on first use (module __getattr__)
    "TrainingCommand",
    "TrainingOptions",
    "build_trainer",
    "checkpoint_dir",
    "default_precision",
    "echo",
    "global_rank",
    "read_checkpoint",
    "resume_checkpoint",
    "state_digest",
    "training_command",
]

ACCELERATORS = ("cpu", "gpu", "auto")
"""``--accelerator`` choices (Lightning's names)."""

PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "64-true")
"""``--precision`` choices (Lightning's names; ``32``, ``bf16``, ``16`` and ``64`` are accepted too)."""

_PRECISION_ALIASES = {"32": "32-true", "bf16": "bf16-mixed", "16": "16-mixed", "64": "64-true"}


@dataclass(frozen=True)
class TrainingOptions:
    """The options every recipe has (``facevox train <recipe> --help`` lists them once).

    Attributes:
        out: output folder (checkpoints, metrics, exported weights).
        max_epochs: epochs to train (epoch-based recipes), else ``None``.
        max_steps: optimiser steps to train (step-based recipes), else ``None``.
        resume: continue from ``OUT/checkpoints/last.ckpt``.
        deadline: finish by this aware time (``None``: no limit).
        devices: processes (CPU) or devices per node: a count, ``"auto"``, ``-1`` (all) or
            GPU indices.
        num_nodes: machines.
        accelerator: ``"cpu"``, ``"gpu"`` or ``"auto"``.
        strategy: Lightning strategy name (``"auto"``, ``"ddp"``, ``"ddp_spawn"``...).
        precision: Lightning precision (one of :data:`PRECISIONS`); ``None``: see
            :func:`default_precision`.
        gradient_clip: clip the gradient norm to this (``None`` or 0: no clipping).
    """

    out: Path
    max_epochs: int | None = None
    max_steps: int | None = None
    resume: bool = False
    deadline: datetime | None = None
    devices: int | str | list[int] = 1
    num_nodes: int = 1
    accelerator: str = "auto"
    strategy: str = "auto"
    precision: str | None = None
    gradient_clip: float | None = None

    def resolved_precision(self) -> str:
        """:attr:`precision`, or the default for :attr:`accelerator`, as Lightning's name."""
        if self.precision is None:
            return default_precision(self.accelerator)
        return _PRECISION_ALIASES.get(self.precision, self.precision)

    @property
    def bf16(self) -> bool:
        """Whether the run computes in bfloat16 (mixed or true)."""
        return self.resolved_precision().startswith("bf16")


def default_precision(accelerator: str = "auto") -> str:
    """``"bf16-mixed"`` where bfloat16 is native (a CPU with AVX-512 BF16 or AMX, or a GPU with
    bfloat16 when ``accelerator`` is ``"gpu"``, or ``"auto"`` and a GPU is present), else ``"32-true"``."""
    if accelerator in ("gpu", "auto") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    return "bf16-mixed" if cpu_has_bf16() else "32-true"


# ---------------------------------------------------------------- option types


class Devices(click.ParamType):
    """``--devices``: a positive count (``2``), ``auto``, ``-1`` (all) or GPU indices (``0,1``)."""

    name = "devices"
    _FORMS = "a positive number of processes or devices (e.g. 2), 'auto', -1 (all available), or GPU indices (e.g. 0,1)"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str | list[int]:
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        elif isinstance(value, list):
            text = ",".join(map(str, value))
        else:
            text = str(value).strip()
        if text == "auto":
            return "auto"
        try:
            if "," in text:
                indices = [int(part) for part in text.split(",") if part.strip()]
                if not indices or min(indices) < 0 or len(set(indices)) != len(indices):
                    raise ValueError(text)
                return indices
            count = int(text)
        except ValueError:
            self.fail(f"{value!r} is not a device count; accepted: {self._FORMS}", param, ctx)
        if count == 0 or count < -1:
            self.fail(f"{count} devices is not possible; accepted: {self._FORMS}", param, ctx)
        return count


class Deadline(click.ParamType):
    """``--deadline``: an ISO 8601 time (UTC unless it has an offset) or ``HH:MM`` today, UTC."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        text = str(value).strip()
        try:
            if len(text) <= 5 and ":" in text:
                hh, mm = (int(v) for v in text.split(":"))
                return datetime.now(timezone.utc).replace(hour=hh, minute=mm, second=0, microsecond=0)
            when = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is not HH:MM or an ISO 8601 time", param, ctx)
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


class _Strategy(click.ParamType):
    name = "strategy"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from lightning.pytorch.strategies import StrategyRegistry

        known = ["auto", *StrategyRegistry.available_strategies()]
        if value not in known:
            self.fail(f"unknown strategy {value!r}; accepted: {', '.join(known)}", param, ctx)
        return str(value)


# ---------------------------------------------------------------- the command decorator

_COMMON = ("out", "epochs", "steps", "resume", "deadline", "devices", "num_nodes", "accelerator", "strategy",
           "precision", "gradient_clip")


class TrainingCommand(click.Command):
    """A click command whose help lists the recipe's options, then the common training options."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        own: list[tuple[str, str]] = []
        common: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                (common if getattr(param, "facevox_common", False) else own).append(record)
        if own:
            with formatter.section("Options"):
                formatter.write_dl(own)
        if common:
            with formatter.section("Training options (every recipe)"):
                formatter.write_dl(common)


def _common_params(default_out: str, epochs: int | None, steps: int | None,
                   gradient_clip: float | None) -> list[click.Option]:
    folder = click.Path(file_okay=False, path_type=Path)
    params = [
        click.Option(["--out"], default=Path(default_out), show_default=True, type=folder,
                     help="Output folder: checkpoints/, metrics.jsonl and the exported weights."),
    ]
    if epochs is not None:
        params.append(click.Option(["--epochs"], default=epochs, show_default=True, type=click.IntRange(min=1),
                                   help="Epochs to train."))
    if steps is not None:
        params.append(click.Option(["--steps"], default=steps, show_default=True, type=click.IntRange(min=1),
                                   help="Optimiser steps to train."))
    params += [
        click.Option(["--resume/--no-resume"], default=False,
                     help="Continue from OUT/checkpoints/last.ckpt (epoch and step counters continue)."),
        click.Option(["--deadline"], default=None, type=Deadline(), metavar="TIME",
                     help="Stop by this UTC time (ISO 8601, or HH:MM today); epoch-based recipes also "
                          "shorten their schedule to fit."),
        click.Option(["--devices"], default="1", show_default=True, type=Devices(), metavar="N",
                     help="Processes (CPU) or devices per node: a count, auto, -1 (all) or GPU indices 0,1."),
        click.Option(["--num-nodes"], default=1, show_default=True, type=click.IntRange(min=1), help="Machines."),
        click.Option(["--accelerator"], default="auto", show_default=True, type=click.Choice(ACCELERATORS)),
        click.Option(["--strategy"], default="auto", show_default=True, type=_Strategy(),
                     help="Lightning strategy: auto, ddp (several processes), ddp_spawn, fsdp..."),
        click.Option(["--precision"], default=None, type=click.Choice([*PRECISIONS, *_PRECISION_ALIASES]),
                     help="Numeric precision [default: bf16-mixed where bfloat16 is native, else 32-true]."),
        click.Option(["--gradient-clip"], default=gradient_clip, show_default=True,
                     type=click.FloatRange(min=0), help="Clip the gradient norm to this (0: off)."),
    ]
    for param in params:
        param.facevox_common = True  # type: ignore[attr-defined]
    return params


def training_command(name: str, *, default_out: str, epochs: int | None = None, steps: int | None = None,
                     gradient_clip: float | None = None) -> Callable[[Callable[..., Any]], TrainingCommand]:
    """Make a ``facevox train <name>`` command with the common options (:class:`TrainingOptions`).

    Use it in place of ``@click.command``; the recipe's own ``@click.option`` decorators go
    below it. The callback receives ``training=TrainingOptions(...)`` plus its own options.

    Args:
        name: the command name.
        default_out: default ``--out``.
        epochs: default of ``--epochs`` (an epoch-based recipe), or ``None`` for no such option.
        steps: default of ``--steps`` (a step-based recipe), or ``None``.
        gradient_clip: default of ``--gradient-clip`` (``None``: off).
    """
    if (epochs is None) == (steps is None):
        raise ValueError("training_command: pass exactly one of epochs= or steps=")

    def decorator(callback: Callable[..., Any]) -> TrainingCommand:
        @functools.wraps(callback)
        def run(**kwargs: Any) -> Any:
            common = {k: kwargs.pop(k) for k in _COMMON if k in kwargs}
            clip = common.get("gradient_clip")
            options = TrainingOptions(
                out=common["out"], max_epochs=common.get("epochs"), max_steps=common.get("steps"),
                resume=common["resume"], deadline=common["deadline"], devices=common["devices"],
                num_nodes=common["num_nodes"], accelerator=common["accelerator"], strategy=common["strategy"],
                precision=common["precision"], gradient_clip=clip or None)
            return callback(training=options, **kwargs)

        command = click.command(name, cls=TrainingCommand)(run)
        command.params.extend(_common_params(default_out, epochs, steps, gradient_clip))
        return command  # type: ignore[return-value]

    return decorator


# ---------------------------------------------------------------- output and checkpoints


def global_rank() -> int:
    """This process's rank among all training processes (0 when there is only one).

    Read from the launcher's environment (Lightning's ``RANK``/``LOCAL_RANK``, torchrun's
    ``RANK``, SLURM's ``SLURM_PROCID``), so it is right before the ``Trainer`` exists too.
    """
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return int(getattr(rank_zero_only, "rank", 0) or 0)


def echo(message: str) -> None:
    """Print a progress message to stderr, once (on rank 0) however many processes train, above
    the progress bar (``tqdm.write``) rather than through it."""
    if global_rank() == 0:
        from tqdm import tqdm

        tqdm.write(message, file=sys.stderr)


def checkpoint_dir(out: str | os.PathLike[str]) -> Path:
    """``OUT/checkpoints``: ``last.ckpt`` and ``best.ckpt`` (Lightning checkpoints)."""
    return Path(out) / "checkpoints"


def resume_checkpoint(options: TrainingOptions, hint: str = "") -> str | None:
    """The checkpoint ``--resume`` continues from (``None`` without ``--resume``).

    Args:
        options: the run's options.
        hint: added to the error for a run started before the Lightning engine.

    Raises:
        click.ClickException: ``--resume`` but no ``OUT/checkpoints/last.ckpt``; a ``last.pt``
            from the old training code is named (it cannot be resumed).
    """
    if not options.resume:
        return None
    last = checkpoint_dir(options.out) / "last.ckpt"
    if last.is_file():
        return str(last)
    old = Path(options.out) / "last.pt"
    if old.is_file():
        raise click.ClickException(
            f"--resume: {old} was written by the training code before facevox moved to Lightning and cannot "
            f"be resumed; start a new run (another --out){hint}")
    raise click.ClickException(f"--resume: no checkpoint at {last}; run without --resume to start")


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A Lightning checkpoint as a dict, loaded with ``weights_only=True`` on the CPU."""
    return torch.load(path, map_location="cpu", weights_only=True)


def state_digest(state: torch.nn.Module | Mapping[str, torch.Tensor]) -> str:
    """sha256 over the names, dtypes, shapes and bytes of a module's ``state_dict()`` (or of a
    state dict), sorted by name: equal digests mean bit-identical weights and buffers."""
    tensors = state.state_dict() if isinstance(state, torch.nn.Module) else state
    digest = hashlib.sha256()
    for name, tensor in sorted(tensors.items()):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------- the Trainer


_LIGHTNING_CLASSES = ("JsonlLogger", "DeadlineTimer", "StderrProgressBar", "SyncBuffers", "BestAndLastCheckpoint")


def __getattr__(name: str) -> Any:
    """The Lightning-based classes, defined on first use (importing lightning takes seconds).

    They live in this module's namespace once defined, so pickling them by name works (the
    ``ddp_spawn`` strategy pickles the trainer with its callbacks into fresh processes).
    """
    if name in _LIGHTNING_CLASSES:
        classes = _define()
        globals().update(classes)
        return classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _define() -> dict[str, type]:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint, Timer, TQDMProgressBar
    from lightning.pytorch.loggers import Logger
    from lightning.pytorch.utilities import rank_zero_only

    class JsonlLogger(Logger):
        """A Lightning logger appending each logged dict to ``OUT/metrics.jsonl`` as one JSON
        line, ``{"step": s, ...}`` (rank 0 only).

        Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when a run starts, so a
        resumed run would lose its history; this one appends (a resumed run may repeat steps:
        the last record of a step wins), and ``benchmarks/plot_tts_training.py`` reads it.
        """

        def __init__(self, out: str | os.PathLike[str]) -> None:
            super().__init__()
            self.path = Path(out) / "metrics.jsonl"

        @property
        def name(self) -> str:
            return "jsonl"

        @property
        def version(self) -> str:
            return "0"

        @property
        def save_dir(self) -> str:
            return str(self.path.parent)

        @rank_zero_only
        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            pass

        @rank_zero_only
        def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
            record: dict[str, Any] = {"step": step}
            for key, value in metrics.items():
                value = float(value.item() if isinstance(value, torch.Tensor) else value)
                record[key] = int(value) if key == "epoch" else round(value, 6)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")

    class DeadlineTimer(Timer):
        """``max_time`` counted from this launch: a resumed run does not add the time of earlier runs."""

        def load_state_dict(self, state_dict: dict[str, Any]) -> None:
            self._offset = 0

    class StderrProgressBar(TQDMProgressBar):
        """Lightning's progress bar on stderr (stdout stays for results), calm when not a terminal."""

        def _on_stderr(self, make: Callable[[], Any]) -> Any:
            with contextlib.redirect_stdout(sys.stderr):
                bar = make()
            if not sys.stderr.isatty():
                bar.mininterval = 60.0
            return bar

        def init_sanity_tqdm(self) -> Any:
            return self._on_stderr(super().init_sanity_tqdm)

        def init_train_tqdm(self) -> Any:
            return self._on_stderr(super().init_train_tqdm)

        def init_validation_tqdm(self) -> Any:
            return self._on_stderr(super().init_validation_tqdm)

        def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
            items = super().get_metrics(trainer, pl_module)
            items.pop("v_num", None)
            return items

    class SyncBuffers(pl.Callback):
        """Copy rank 0's buffers (batch-norm running statistics) to every process before validation
        and at the end (DDP syncs them at the start of each forward, so after a training step
        each replica holds statistics updated with its own batch until the next forward); then,
        with several processes, write ``OUT/rank<r>.sha256`` (:func:`state_digest`)."""

        def _sync(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
                for buffer in module.buffers():
                    torch.distributed.broadcast(buffer.data, src=0)

        def on_validation_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self._sync(trainer, module)

        def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self._sync(trainer, module)
            if trainer.world_size > 1:
                out = Path(trainer.default_root_dir)
                (out / f"rank{trainer.global_rank}.sha256").write_text(state_digest(module) + "\n")

    class BestAndLastCheckpoint(ModelCheckpoint):
        """``best.ckpt`` by the monitored metric, and ``last.ckpt`` after *every* validation.

        Lightning 2.6's ``ModelCheckpoint(save_last=True)`` rewrites ``last.ckpt`` at validation
        end only when it also saved a top-k checkpoint (the metric improved), so a resumed run
        repeated every epoch since the best one. ``last.ckpt`` is written after the top-k update,
        so it holds the current best score.
        """

        def _also_last(self, trainer: pl.Trainer) -> None:
            # skipped when the top-k update already saved at this step (the metric improved)
            if not self._should_skip_saving_checkpoint(trainer):
                self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

        def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            super().on_validation_end(trainer, pl_module)
            if not self._should_save_on_train_epoch_end(trainer):  # validation inside the epoch
                self._also_last(trainer)

        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            super().on_train_epoch_end(trainer, pl_module)
            if self._should_save_on_train_epoch_end(trainer):  # once per epoch, after its validation
                self._also_last(trainer)

    classes = {"JsonlLogger": JsonlLogger, "DeadlineTimer": DeadlineTimer, "StderrProgressBar": StderrProgressBar,
               "SyncBuffers": SyncBuffers, "BestAndLastCheckpoint": BestAndLastCheckpoint}
    for cls in classes.values():
        cls.__qualname__ = cls.__name__
    return classes


class _NoTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


_QUIET = (
    ".*does not have many workers.*",
    ".*smaller than the logging interval.*",
    ".*exists and is not empty.*",
    ".*Consider setting `persistent_workers=True`.*",
    ".*`isinstance\\(treespec, LeafSpec\\)` is deprecated.*",
    # the recipes validate the whole split on every process: the values agree without a sync
    ".*when logging on epoch level in distributed setting.*",
)


def build_trainer(
    options: TrainingOptions,
    *,
    monitor: str,
    mode: str,
    val_check_interval: int | float | None = None,
    checkpoint_every_n_steps: int | None = None,
    callbacks: Sequence[Any] = (),
    **trainer_kwargs: Any,
) -> pl.Trainer:
    """A ``lightning.Trainer`` for ``options``.

    Args:
        options: the common options.
        monitor: validation metric that picks ``best.ckpt`` (logged by the recipe).
        mode: ``"max"`` or ``"min"`` for ``monitor``.
        val_check_interval: validate every this many training steps (an int; counted over
            epochs, for step-based recipes) or fraction of an epoch; ``None``: once per epoch.
        checkpoint_every_n_steps: also write ``last.ckpt`` every this many steps.
        callbacks: extra Lightning callbacks.
        trainer_kwargs: passed to ``Trainer`` last (override anything).

    Raises:
        click.BadParameter: the deadline has already passed, or GPU indices with a CPU accelerator.
    """
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint

    for pattern in _QUIET:
        warnings.filterwarnings("ignore", pattern)
    for handler in logging.getLogger("lightning.pytorch").handlers:  # its advertisement for a cloud service
        if not any(isinstance(f, _NoTips) for f in handler.filters):
            handler.addFilter(_NoTips())
    import facevox.training as engine

    deadline_timer, progress_bar, sync_buffers = engine.DeadlineTimer, engine.StderrProgressBar, engine.SyncBuffers
    best_and_last = engine.BestAndLastCheckpoint
    if isinstance(options.devices, list) and options.accelerator == "cpu":
        raise click.BadParameter(f"GPU indices {options.devices} need --accelerator gpu; on CPUs pass a count",
                                 param_hint="--devices")
    if "spawn" in options.strategy or "fork" in options.strategy:
        # the module (with its in-memory dataset) is pickled into the new processes; sharing its
        # tensors by file descriptor failed here ("unable to resize file"), by file it works
        torch.multiprocessing.set_sharing_strategy("file_system")
    out = Path(options.out)
    ckpt_dir = checkpoint_dir(out)
    extra: list[Any] = [
        *([progress_bar()] if trainer_kwargs.get("enable_progress_bar", True) else []),
        sync_buffers(),
        best_and_last(dirpath=ckpt_dir, filename="best", monitor=monitor, mode=mode, save_top_k=1,
                      save_last=True, auto_insert_metric_name=False, enable_version_counter=False),
    ]
    if checkpoint_every_n_steps:
        extra.append(ModelCheckpoint(dirpath=ckpt_dir, save_top_k=0, save_last=True,
                                     every_n_train_steps=checkpoint_every_n_steps, enable_version_counter=False))
    if options.deadline is not None:
        left = options.deadline - datetime.now(timezone.utc)
        if left <= timedelta(0):
            raise click.BadParameter(f"{options.deadline:%Y-%m-%d %H:%M %Z} has already passed", param_hint="--deadline")
        interval = "epoch" if options.max_epochs is not None else "step"
        extra.append(deadline_timer(duration=left, interval=interval, verbose=False))
    kwargs: dict[str, Any] = {
        "default_root_dir": str(out),
        "accelerator": options.accelerator,
        "devices": options.devices,
        "num_nodes": options.num_nodes,
        "strategy": options.strategy,
        "precision": options.resolved_precision(),
        "max_epochs": options.max_epochs if options.max_epochs is not None else -1,
        "max_steps": options.max_steps if options.max_steps is not None else -1,
        "gradient_clip_val": options.gradient_clip or None,
        "callbacks": [*extra, *callbacks],
        "logger": engine.JsonlLogger(out),
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        # each recipe shards its own data (per-rank samplers), so Lightning leaves the loaders alone
        "use_distributed_sampler": False,
        "log_every_n_steps": 50,
    }
    if isinstance(val_check_interval, int):
        kwargs.update(val_check_interval=val_check_interval, check_val_every_n_epoch=None)
    elif val_check_interval is not None:
        kwargs["val_check_interval"] = val_check_interval
    kwargs.update(trainer_kwargs)
    return pl.Trainer(**kwargs)

