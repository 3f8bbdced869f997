"""Ray Data engine of :mod:`facevox.batch` (private: imported only when ``--engine ray`` runs)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from facevox.batch import BatchJobError

if TYPE_CHECKING:
    from facevox.batch import ShardPlan, Worker

__all__ = ["run_on_ray"]


class _Actor:
    """A Ray Data actor: builds the worker (and its model) once, then maps batches of inputs."""

    def __init__(self, make_worker: Callable[[], Worker]) -> None:
        import torch

        torch.set_num_threads(1)  # one CPU per actor: more actors, not more threads
        self.worker = make_worker()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        inputs = [str(x) for x in batch["input"]]
        rows = self.worker(inputs)
        if len(rows) != len(inputs):
            raise RuntimeError(f"worker returned {len(rows)} results for {len(inputs)} inputs")
        return {"shard": batch["shard"], "index": batch["index"],
                "result": np.array([json.dumps(r) for r in rows], dtype=object)}


def run_on_ray(plan: ShardPlan, pending: list[int], make_worker: Callable[[], Worker], *, batch_size: int,
               address: str | None, num_cpus: int | None, num_actors: int | None,
               on_shard: Callable[[int, list[dict[str, Any]]], None] | None) -> int:
    """Run ``pending`` shards of ``plan`` on Ray Data actors; see :func:`facevox.batch.run_sharded`."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise BatchJobError(f"--engine ray needs Ray ({exc}): pip install 'facevox[distributed]'") from None
    started = False
    if address and not ray.is_initialized():
        _check_reachable(address)
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        except Exception as exc:  # ConnectionError, RuntimeError, TimeoutError... depending on the address
            where = f"the Ray cluster at {address!r}" if address else "a local Ray"
            raise BatchJobError(f"cannot start or reach {where}: {exc}") from None
        started = True
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        rows = [{"shard": k, "index": i, "input": x} for k in pending for i, x in enumerate(plan.shard(k))]
        actors = num_actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        results = ray.data.from_items(rows).map_batches(
            _Actor, fn_constructor_args=(make_worker,), batch_size=batch_size, batch_format="numpy",
            num_cpus=1, compute=ray.data.ActorPoolStrategy(size=min(actors, len(rows))))
        buffers: dict[int, list[dict[str, Any] | None]] = {k: [None] * len(plan.shard(k)) for k in pending}
        left = {k: len(plan.shard(k)) for k in pending}
        written = 0
        for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
            for k, i, line in zip(batch["shard"], batch["index"], batch["result"], strict=True):
                k, i = int(k), int(i)
                if buffers[k][i] is None:
                    left[k] -= 1
                buffers[k][i] = json.loads(line)
                if left[k] == 0:
                    done = [r for r in buffers.pop(k) if r is not None]
                    plan.write(k, done)
                    written += 1
                    if on_shard is not None:
                        on_shard(k, done)
        if buffers:
            raise RuntimeError(f"Ray returned no results for {sum(left[k] for k in buffers)} inputs "
                               f"of shard(s) {sorted(buffers)}")
        return written
    finally:
        if started:
            ray.shutdown()


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a ``host:port`` / ``ray://host:port`` that accepts no TCP connection.

    ``ray.init`` itself retries an unreachable address for minutes; ``"auto"`` and other
    forms without a port are left to Ray.
    """
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise BatchJobError(f"cannot reach the Ray cluster at {address!r}: {exc}; start one with "
                            "`ray start --head` or pass its address (ray://HEAD:10001 or HEAD:6379)") from None
