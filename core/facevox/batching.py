"""Dynamic batching: calls made at the same time from many threads share one model forward pass.

A web server (the Gradio demo, an API behind a thread pool) answers each request in its own
thread; run one by one, a CPU model spends most of its time on small batches. A
:class:`DynamicBatcher` queues each thread's item, a worker thread takes whatever has arrived
(up to ``max_batch_size`` items, waiting at most ``max_wait_s`` after the first), runs the batch
function once, and hands every caller its own result. This is the "dynamic batching" of
NVIDIA Triton and Ray Serve's ``@serve.batch``, in-process and without a server.

Unlike Gradio's ``batch=True``, one bad request cannot fail the others: input checks happen in
each caller's thread before :meth:`DynamicBatcher.__call__`, and an exception of the batch
function reaches every caller of that batch (it is a bug, not an input problem).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

__all__ = ["DynamicBatcher"]

T = TypeVar("T")
R = TypeVar("R")


class DynamicBatcher(Generic[T, R]):
    """Run ``fn`` on batches of items submitted concurrently by many threads.

    Args:
        fn: batch function: a list of ``n`` items -> a sequence of ``n`` results, in order.
        max_batch_size: most items per call of ``fn`` (``>= 1``).
        max_wait_s: seconds (``>= 0``) the worker waits for more items after the first one of
            a batch arrives; ``0`` takes only what is already queued (no added latency).
        name: worker thread name (shows in stack dumps).

    Raises:
        ValueError: ``max_batch_size < 1`` or ``max_wait_s < 0``.

    Example::

        batcher = DynamicBatcher(lambda xs: [x * 2 for x in xs], max_batch_size=16)
        batcher(21)  # 42, computed in a batch with whatever other threads submitted
    """

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        max_batch_size: int = 16,
        max_wait_s: float = 0.005,
        name: str = "facevox-batcher",
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0 seconds, got {max_wait_s}")
        self.fn = fn
        self.max_batch_size = int(max_batch_size)
        self.max_wait_s = float(max_wait_s)
        self.name = name
        self.batch_sizes: list[int] = []
        """Size of every batch run so far (for tests and load reports)."""
        self._queue: queue.SimpleQueue[tuple[T, Future[R]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def __call__(self, item: T) -> R:
        """Submit ``item`` and wait for its result (re-raises the batch function's exception)."""
        future: Future[R] = Future()
        self._queue.put((item, future))
        self._ensure_worker()
        return future.result()

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._worker.start()

    def _take_batch(self) -> list[tuple[T, Future[R]]]:
        batch = [self._queue.get()]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch_size:
            left = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            futures = [f for _, f in batch if f.set_running_or_notify_cancel()]
            items = [item for item, f in batch if f.running()]
            if not items:
                continue
            self.batch_sizes.append(len(items))
            try:
                results = list(self.fn(items))
                if len(results) != len(items):
                    raise RuntimeError(
                        f"batch function returned {len(results)} results for {len(items)} items"
                    )
            except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets it
                for future in futures:
                    future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for future, result in zip(futures, results, strict=True):
                future.set_result(result)
