"""Resumable, sharded batch inference: ``facevox emotion ... --output DIR [--engine ray]``.

A batch job turns a sorted list of inputs (image files) into JSON Lines results, one line per
input, in the input's order. The inputs are cut into fixed shards of ``shard_size``; shard
``k`` is written to ``DIR/part-0000k.jsonl`` in one atomic rename when all of its lines are
done, so a shard file on disk is always complete, and a rerun of the same job skips the
shards already written (a job killed after an hour loses at most the shards in flight).
``DIR/manifest.json`` records the inputs' digest and the shard size: rerunning with other
inputs or another shard size into the same folder is refused rather than mixed.

Two engines run the same per-input function:

* ``local`` (default): in this process, shard after shard.
* ``ray``: on `Ray Data <https://docs.ray.io/en/latest/data/data.html>`_ (the optional
  ``distributed`` extra, ``pip install 'facevox[distributed]'``): the pending inputs become a
  dataset, ``map_batches`` runs them on a pool of actors that each build the model once
  (stateful actors), and the driver writes each shard as soon as its last line arrives. On a
  laptop it starts a local Ray with ``num_cpus``; ``address`` joins a running cluster
  (``"auto"`` or ``"ray://host:10001"``), where the actors spread over its nodes.

A bad input (a corrupt image) is a result line with an ``"error"`` key; the job goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from facevox.io import atomic_write_text
from facevox.registry import FacevoxError

__all__ = ["BatchEngine", "BatchJobError", "ShardPlan", "plan_shards", "run_sharded"]

#: One worker's function: inputs (strings) -> one JSON-serialisable dict per input, in order.
Worker = Callable[[Sequence[str]], list[dict[str, Any]]]


class BatchEngine(str, Enum):
    """Where a batch job runs: ``local`` (this process) or ``ray`` (Ray Data actors)."""

    LOCAL = "local"
    RAY = "ray"


class BatchJobError(FacevoxError, RuntimeError):
    """A batch job that cannot start: a mismatched output folder, Ray missing or unreachable."""


@dataclass(frozen=True)
class ShardPlan:
    """The fixed cut of a job's inputs into shards.

    Attributes:
        inputs: all inputs, in output order.
        shard_size: inputs per shard (the last may be shorter).
        out: output folder; shard ``k`` is ``out / f"part-{k:05d}.jsonl"``.
    """

    inputs: tuple[str, ...]
    shard_size: int
    out: Path

    @property
    def num_shards(self) -> int:
        """Number of shards, ``ceil(len(inputs) / shard_size)``."""
        return -(-len(self.inputs) // self.shard_size)

    def shard(self, k: int) -> tuple[str, ...]:
        """Inputs of shard ``k``."""
        return self.inputs[k * self.shard_size : (k + 1) * self.shard_size]

    def path(self, k: int) -> Path:
        """Result file of shard ``k``."""
        return self.out / f"part-{k:05d}.jsonl"

    def pending(self) -> list[int]:
        """Shards whose result file is not on disk yet."""
        return [k for k in range(self.num_shards) if not self.path(k).is_file()]

    def write(self, k: int, rows: Sequence[dict[str, Any]]) -> None:
        """Write shard ``k`` atomically, one JSON object per line, in input order."""
        if len(rows) != len(self.shard(k)):
            raise ValueError(f"shard {k}: {len(rows)} results for {len(self.shard(k))} inputs")
        atomic_write_text(self.path(k), "".join(json.dumps(r) + "\n" for r in rows))

    def read(self) -> Iterator[dict[str, Any]]:
        """All results written so far, in input order (shards not on disk are skipped)."""
        for k in range(self.num_shards):
            if self.path(k).is_file():
                for line in self.path(k).read_text().splitlines():
                    yield json.loads(line)


def plan_shards(inputs: Iterable[str | os.PathLike[str]], out: str | os.PathLike[str], shard_size: int = 1000,
                job: str = "") -> ShardPlan:
    """Plan (or re-open, to resume) a sharded job writing to ``out``.

    Args:
        inputs: the job's inputs in output order (e.g. image paths from
            :func:`facevox.images.find_images`).
        out: output folder (created).
        shard_size: inputs per shard, ``>= 1``.
        job: a description of everything besides the inputs that changes results (model,
            options); stored in the manifest, so a rerun with other settings is refused.

    Raises:
        ValueError: ``shard_size < 1`` or no inputs.
        BatchJobError: ``out`` holds the manifest of a different job.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    items = tuple(str(p) for p in inputs)
    if not items:
        raise ValueError("a batch job needs at least one input")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256("\n".join(items).encode()).hexdigest()
    manifest = {"inputs": len(items), "inputs_sha256": digest, "shard_size": shard_size, "job": job}
    path = folder / "manifest.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old != manifest:
            diff = ", ".join(f"{k}: {old.get(k)!r} there, {v!r} now" for k, v in manifest.items() if old.get(k) != v)
            raise BatchJobError(f"{folder} holds the results of another job ({diff}); "
                                "choose another --output folder or delete it to start over")
    else:
        atomic_write_text(path, json.dumps(manifest, indent=1))
    return ShardPlan(items, shard_size, folder)


def run_sharded(plan: ShardPlan, make_worker: Callable[[], Worker], engine: BatchEngine | str = BatchEngine.LOCAL,
                *, batch_size: int = 64, address: str | None = None, num_cpus: int | None = None,
                num_actors: int | None = None, on_shard: Callable[[int, list[dict[str, Any]]], None] | None = None
                ) -> int:
    """Run the pending shards of ``plan`` and write each one as it completes.

    Args:
        plan: from :func:`plan_shards`.
        make_worker: builds the per-input function once per process or actor (it loads the
            model); must be picklable for Ray (a module-level function or a ``functools.partial``).
        engine: :class:`BatchEngine` or its value.
        batch_size: inputs handed to the worker per call.
        address: Ray only: cluster address (``None``: start a local Ray).
        num_cpus: Ray only, local Ray: CPUs it may use (``None``: all).
        num_actors: Ray only: worker actors (``None``: one per CPU of the cluster).
        on_shard: called with ``(k, rows)`` after shard ``k`` is written (progress, printing).

    Returns:
        the number of shards written by this call (0 when everything was already done).

    Raises:
        ValueError: an unknown engine or ``batch_size < 1``.
        BatchJobError: Ray is not installed or ``address`` cannot be reached.
    """
    try:
        engine = BatchEngine(engine)
    except ValueError:
        raise ValueError(f"unknown engine {engine!r}; accepted: {', '.join(e.value for e in BatchEngine)}") from None
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    pending = plan.pending()
    if not pending:
        return 0
    if engine is BatchEngine.RAY:
        from facevox._ray import run_on_ray

        return run_on_ray(plan, pending, make_worker, batch_size=batch_size, address=address, num_cpus=num_cpus,
                          num_actors=num_actors, on_shard=on_shard)
    worker = make_worker()
    for k in pending:
        inputs = plan.shard(k)
        rows: list[dict[str, Any]] = []
        for start in range(0, len(inputs), batch_size):
            rows.extend(worker(inputs[start : start + batch_size]))
        plan.write(k, rows)
        if on_shard is not None:
            on_shard(k, rows)
    return len(pending)
