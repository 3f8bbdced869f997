"""Benchmark the expression model: FER2013 accuracy, batched crop throughput, photo latency.

Prints (and optionally writes as JSON):

* validation accuracy (flip TTA, as the pipeline runs by default, and without) and per-class
  recall of the model on a FER2013 split (default ``val`` = PublicTest);
* crops/second classified in batches on CPU (the pipeline's ``classify``, TTA on and off);
* p50 / p90 latency of photo -> emotions (detect + crop + classify) on scikit-image's
  astronaut photo resized to 640x480, from the decoded array and from a JPEG file.

Targets (issue 3): >= 72 % validation accuracy, >= 1,000 crops/s, <= 50 ms p50 latency.

Usage::

    python benchmarks/bench_expression.py --data ../shared/data/fer2013 [--model expression.resmasknet]
        [--weights run/best.safetensors] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import facevox
import numpy as np
import torch
from facevox.datasets import FER2013_LABELS, load_fer2013
from facevox.pipelines import FaceEmotionPipeline


def _accuracy(pipe: FaceEmotionPipeline, images: np.ndarray, labels: np.ndarray, batch: int) -> dict[str, object]:
    probs = np.concatenate([pipe.classify(images[i : i + batch]) for i in range(0, len(images), batch)])
    pred = probs.argmax(1)
    recall = {name: float((pred[labels == k] == k).mean()) if (labels == k).any() else float("nan")
              for k, name in enumerate(FER2013_LABELS)}
    return {"accuracy": float((pred == labels).mean()), "recall": recall, "n": int(len(labels))}


def _throughput(pipe: FaceEmotionPipeline, crops: np.ndarray, seconds: float = 5.0) -> float:
    pipe.classify(crops)  # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        pipe.classify(crops)
        n += len(crops)
    return n / (time.perf_counter() - start)


def _latency(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="FER2013 folder root or fer2013.csv (accuracy is skipped without it)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--model", default="expression.resmasknet")
    parser.add_argument("--weights", help="evaluate these .safetensors instead of the shipped weights")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--runs", type=int, default=30, help="latency repetitions")
    parser.add_argument("--json", dest="json_out", help="also write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import cv2

    cv2.setNumThreads(args.threads or cv2.getNumThreads())

    model = facevox.create_model(args.model, pretrained=args.weights is None)
    if args.weights:
        facevox.load_weights(model, args.weights)
    model.eval()
    pipe = FaceEmotionPipeline(model if args.weights else args.model, tta=True)
    plain = FaceEmotionPipeline(model if args.weights else args.model, tta=False)
    params = sum(p.numel() for p in model.parameters())
    results: dict[str, object] = {"model": args.model, "weights": args.weights or "shipped", "params": params,
                                  "threads": torch.get_num_threads()}
    print(f"model {args.model} ({params / 1e6:.2f} M params), weights: {results['weights']}, "
          f"torch threads {torch.get_num_threads()}")

    if args.data:
        images, labels = load_fer2013(args.data, args.split)
        t = time.perf_counter()
        acc = _accuracy(pipe, images, labels, args.batch_size)
        acc_plain = _accuracy(plain, images, labels, args.batch_size)
        results.update({"split": args.split, "accuracy_tta": acc["accuracy"], "accuracy_no_tta": acc_plain["accuracy"],
                        "recall": acc["recall"], "n": acc["n"]})
        print(f"FER2013 {args.split} ({acc['n']} images, {time.perf_counter() - t:.0f}s): "
              f"accuracy {acc['accuracy']:.4f} (flip TTA), {acc_plain['accuracy']:.4f} (no TTA)  [target >= 0.72]")
        print("per-class recall: " + ", ".join(f"{k} {v:.3f}" for k, v in acc["recall"].items()))
        crops = images[: args.batch_size]
    else:
        crops = np.random.default_rng(0).integers(0, 256, (args.batch_size, 48, 48), dtype=np.uint8)

    cps_tta = _throughput(pipe, crops)
    cps = _throughput(plain, crops)
    results.update({"crops_per_s_tta": cps_tta, "crops_per_s_no_tta": cps})
    print(f"throughput (batch {len(crops)}): {cps_tta:.0f} crops/s with flip TTA, {cps:.0f} without  [target >= 1000]")

    from PIL import Image
    from skimage import data

    photo = np.asarray(Image.fromarray(data.astronaut()).resize((640, 480), Image.Resampling.BILINEAR))
    faces = pipe(photo)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "astronaut_640x480.jpg"
        Image.fromarray(photo).save(path, quality=92)
        p50, p90 = _latency(lambda: pipe(photo), args.runs)
        f50, f90 = _latency(lambda: pipe(path), args.runs)
        d50, _ = _latency(lambda: pipe.detect(photo), args.runs)
    results.update({"latency_ms_p50": p50, "latency_ms_p90": p90, "latency_file_ms_p50": f50,
                    "latency_file_ms_p90": f90, "detect_ms_p50": d50,
                    "photo_faces": [f.to_dict() for f in faces]})
    print(f"photo -> emotions, 640x480 astronaut, {len(faces)} face(s) "
          f"({', '.join(f'{f.emotion} {f.scores[f.emotion]:.2f}' for f in faces)}): "
          f"p50 {p50:.1f} ms, p90 {p90:.1f} ms (array); p50 {f50:.1f} ms (JPEG file); detection alone "
          f"{d50:.1f} ms  [target <= 50]")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
