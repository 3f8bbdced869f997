"""Many threads at once: dynamic batching (facevox.batching), the expression pipeline's use of
it, and the Haar face detectors (OpenCV cascades must not be shared between threads)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import facevox
import numpy as np
import pytest
from facevox.batching import DynamicBatcher
from facevox.images import load_image
from facevox.pipelines.emotion import FaceEmotionPipeline


def test_concurrent_calls_share_batches_and_get_their_own_results() -> None:
    calls: list[list[int]] = []
    gate = threading.Event()

    def double(items: list[int]) -> list[int]:
        gate.wait(5)  # hold the first batch until every thread has submitted
        calls.append(list(items))
        return [2 * x for x in items]

    batcher: DynamicBatcher[int, int] = DynamicBatcher(double, max_batch_size=8, max_wait_s=0.05)
    with ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(batcher, i) for i in range(20)]
        time.sleep(0.3)
        gate.set()
        results = [f.result(timeout=10) for f in futures]
    assert results == [2 * i for i in range(20)]
    assert sorted(x for batch in calls for x in batch) == list(range(20))
    assert max(len(b) for b in calls) <= 8
    assert len(calls) < 20  # batched, not one call per item
    assert batcher.batch_sizes == [len(b) for b in calls]


def test_a_failing_batch_reaches_its_callers_and_the_worker_survives() -> None:
    def picky(items: list[int]) -> list[int]:
        if any(x < 0 for x in items):
            raise ArithmeticError(f"negative in {items}")
        return items

    batcher: DynamicBatcher[int, int] = DynamicBatcher(picky, max_batch_size=4, max_wait_s=0.0)
    with pytest.raises(ArithmeticError, match="negative"):
        batcher(-1)
    assert batcher(3) == 3


def test_a_batch_function_returning_the_wrong_count_is_an_error() -> None:
    batcher: DynamicBatcher[int, int] = DynamicBatcher(lambda items: [], max_batch_size=2)
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        batcher(1)


@pytest.mark.parametrize(("size", "wait", "message"), [(0, 0.0, "max_batch_size"), (2, -1.0, "max_wait_s")])
def test_bad_settings_are_refused(size: int, wait: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DynamicBatcher(lambda items: items, max_batch_size=size, max_wait_s=wait)


def test_pipeline_batching_gives_the_unbatched_probabilities() -> None:
    rng = np.random.default_rng(0)
    faces = [rng.integers(0, 256, (48, 48, 3), dtype=np.uint8) for _ in range(12)]
    alone = FaceEmotionPipeline(tta="flip", bf16=False)
    batched = FaceEmotionPipeline(model=alone.model, tta="flip", bf16=False, max_batch_size=6, max_wait_s=0.05)
    expected = [alone(face, detect=False)[0].scores for face in faces]
    with ThreadPoolExecutor(12) as pool:
        got = [r[0].scores for r in pool.map(lambda f: batched(f, detect=False), faces)]
    assert batched._batcher is not None and len(batched._batcher.batch_sizes) < len(faces)
    for want, have in zip(expected, got, strict=True):
        assert want.keys() == have.keys()
        np.testing.assert_allclose(list(have.values()), list(want.values()), atol=1e-5)
    with pytest.raises(ValueError, match="max_batch_size"):
        FaceEmotionPipeline(model=alone.model, max_batch_size=0)


@pytest.mark.parametrize("name", ["opencv.haar", "opencv.haar_eyes", "mtcnn"])
def test_face_detectors_give_the_same_faces_from_many_threads(name: str) -> None:
    from facevox_demo import EXAMPLES_DIR

    photo = load_image(EXAMPLES_DIR / "astronaut.jpg")
    detector = facevox.create_face_detector(name)
    expected = detector.detect(photo)
    assert len(expected) == 1
    with ThreadPoolExecutor(8) as pool:  # one shared cascade here corrupted the heap (issue 18 load test)
        found = list(pool.map(lambda _: detector.detect(photo), range(48)))
    assert all(f == expected for f in found)
