"""Benchmark the expression model: FER2013 accuracy, batched crop throughput, photo latency.

Prints (and optionally writes as JSON):

* validation accuracy (flip TTA, as the pipeline runs by default, and without) and per-class
  recall of the model on a FER2013 split (default ``val`` = PublicTest);
* crops/second classified in batches on CPU (the pipeline's ``classify``, TTA on and off);
* p50 / p90 latency of photo -> emotions (detect + crop + classify) on scikit-image's
  astronaut photo resized to 640x480, from the decoded array and from a JPEG file, and the
  p50 of detection alone for each detector in :data:`DETECTORS`;
* calibration: the 15-bin expected calibration error (ECE) of the pipeline's probabilities
  with the model's fitted temperature and with ``T = 1``;
* face alignment (``--align N``): N faces of the split, each enlarged to 120-200 px, turned by
  up to +-20 degrees and pasted into a 640x480 scene, then found and classified by the
  ``opencv.haar`` pipeline (box crop), the ``opencv.haar_eyes`` one (Haar eyes, aligned crop)
  and the ``mtcnn`` one (landmark eyes, aligned crop): detection rate and accuracy of each,
  plus each on the real photos that packages ship (scikit-image's astronaut, matplotlib's
  Grace Hopper);
* real photos you label (``--photo LABEL=PATH``, repeatable): per detector, the photos where a
  face was found and where the largest face got the label (e.g. the public-domain portraits in
  the ``face_recognition`` 1.3.0 sdist's ``tests/test_images/``, see docs/expression.md);
* parameters, multiply-accumulates per face and the process's peak resident memory.

Targets (issue 12): >= 72 % validation accuracy, >= 1,000 crops/s, <= 50 ms p50 latency.

Usage::

    python benchmarks/bench_expression.py --data ../shared/data/fer2013 [--model expression.resmasknet]
        [--weights run/best.safetensors] [--threads 2] [--align 600] [--photo happy=obama.jpg ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import facevox
import numpy as np
import torch
from facevox.datasets import FER2013_LABELS, load_fer2013
from facevox.images import load_image
from facevox.pipelines import FaceEmotionPipeline


def _accuracy(pipe: FaceEmotionPipeline, images: np.ndarray, labels: np.ndarray, batch: int) -> dict[str, object]:
    probs = np.concatenate([pipe.classify(images[i : i + batch]) for i in range(0, len(images), batch)])
    pred = probs.argmax(1)
    recall = {name: float((pred[labels == k] == k).mean()) if (labels == k).any() else float("nan")
              for k, name in enumerate(FER2013_LABELS)}
    return {"accuracy": float((pred == labels).mean()), "recall": recall, "n": int(len(labels))}


def _ece(pipe: FaceEmotionPipeline, images: np.ndarray, labels: np.ndarray, batch: int) -> dict[str, float]:
    from facevox_expression.calibration import expected_calibration_error

    fitted = pipe.model.temperature
    out = {}
    for key, t in (("ece", fitted), ("ece_t1", 1.0)):
        pipe.model.temperature = t
        probs = np.concatenate([pipe.classify(images[i : i + batch]) for i in range(0, len(images), batch)])
        out[key] = expected_calibration_error(torch.from_numpy(probs), torch.from_numpy(labels))
    pipe.model.temperature = fitted
    return {**out, "temperature": fitted}


def _macs(model: torch.nn.Module, size: tuple[int, int, int]) -> int:
    total = 0

    def hook(module: torch.nn.Module, inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += output[0].numel() * k
        elif isinstance(module, torch.nn.Linear):
            total += output[0].numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(torch.zeros(1, *size))
    for h in handles:
        h.remove()
    return total


DETECTORS = ("opencv.haar", "opencv.haar_eyes", "mtcnn")
"""Face detectors compared for alignment and detection latency."""


def _scene(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 640x480 RGB scene with ``face`` (48x48 uint8) enlarged, turned and pasted at random."""
    import cv2

    side = int(rng.integers(120, 201))
    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    angle = float(rng.uniform(-20, 20))
    pad = side // 2
    canvas = np.full((480, 640), int(rng.integers(40, 200)), np.uint8)
    canvas = cv2.GaussianBlur(canvas + rng.integers(0, 40, canvas.shape, dtype=np.uint8), (0, 0), 6)
    x0, y0 = int(rng.integers(pad, 640 - side - pad)), int(rng.integers(pad, 480 - side - pad))
    region = canvas[y0 - pad : y0 + side + pad, x0 - pad : x0 + side + pad].copy()
    region[pad : pad + side, pad : pad + side] = big
    mask = np.zeros_like(region)
    mask[pad : pad + side, pad : pad + side] = 255
    m = cv2.getRotationMatrix2D((region.shape[1] / 2, region.shape[0] / 2), angle, 1.0)
    turned = cv2.warpAffine(region, m, region.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    keep = cv2.warpAffine(mask, m, mask.shape[::-1]) > 127
    view = canvas[y0 - pad : y0 + side + pad, x0 - pad : x0 + side + pad]
    view[keep] = turned[keep]
    return np.stack([canvas] * 3, -1)


def _alignment(model: object, images: np.ndarray, labels: np.ndarray, n: int) -> dict[str, object]:
    import matplotlib
    from skimage import data

    rng = np.random.default_rng(0)
    pick = rng.choice(len(labels), size=min(n, len(labels)), replace=False)
    scenes = [_scene(images[i], rng) for i in pick]
    out: dict[str, object] = {"faces": len(pick)}
    photos = {"astronaut": data.astronaut(),
              "grace_hopper": np.asarray(load_image(
                  Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))}
    hits: dict[str, dict[int, bool]] = {}  # detector -> {scene index: classified right}
    for detector in DETECTORS:
        pipe = FaceEmotionPipeline(model, detector=detector)  # type: ignore[arg-type]
        found = right = aligned = 0
        hits[detector] = {}
        for k, (scene, i) in enumerate(zip(scenes, pick, strict=True)):
            boxes = pipe.detect(scene)
            if not boxes:
                continue
            found += 1
            aligned += boxes[0].left_eye is not None
            hits[detector][k] = bool(pipe.classify(pipe.crops(scene, boxes[:1]))[0].argmax() == labels[i])
            right += hits[detector][k]
        out[detector] = {"detected": found / len(pick), "accuracy_of_detected": right / max(found, 1),
                         "accuracy_of_all": right / len(pick), "eyes_found": aligned / max(found, 1),
                         "photos": {name: [f.to_dict() for f in pipe(img)] for name, img in photos.items()}}
        r = out[detector]
        print(f"alignment, {detector}: {len(pick)} turned faces in scenes, detected {r['detected']:.3f}, "  # type: ignore[index]
              f"accuracy {r['accuracy_of_detected']:.4f} of detected ({r['accuracy_of_all']:.4f} of all), "  # type: ignore[index]
              f"eyes found {r['eyes_found']:.3f}; photos: "  # type: ignore[index]
              + "; ".join(f"{k}: " + ", ".join(f"{f['emotion']} {f['scores'][f['emotion']]:.2f}" for f in v)
                          for k, v in r["photos"].items()))  # type: ignore[index]
    common = set.intersection(*(set(h) for h in hits.values()))  # faces every detector found
    out["common_faces"] = len(common)
    out["accuracy_on_common_faces"] = {d: sum(h[k] for k in common) / max(len(common), 1) for d, h in hits.items()}
    print(f"alignment, the {len(common)} faces every detector found: accuracy "
          + ", ".join(f"{d} {a:.4f}" for d, a in out["accuracy_on_common_faces"].items()))  # type: ignore[attr-defined]
    return out


def _labelled_photos(model: object, photos: list[str]) -> dict[str, object]:
    """Each detector's pipeline on ``LABEL=PATH`` photos: found / right counts and per-photo results."""
    pairs = []
    for item in photos:
        label, sep, where = item.partition("=")
        if not sep or label not in FER2013_LABELS:
            raise SystemExit(f"--photo takes LABEL=PATH with LABEL one of {', '.join(FER2013_LABELS)}; got {item!r}")
        pairs.append((label, Path(where)))
    out: dict[str, object] = {"photos": len(pairs)}
    for detector in DETECTORS:
        pipe = FaceEmotionPipeline(model, detector=detector)  # type: ignore[arg-type]
        rows = []
        for label, path in pairs:
            faces = pipe(path)
            face = max(faces, key=lambda f: f.area) if faces else None
            rows.append({"photo": path.name, "label": label, "emotion": face.emotion if face else None,
                         "score": round(face.scores[face.emotion], 3) if face else None})
        found = sum(r["emotion"] is not None for r in rows)
        right = sum(r["emotion"] == r["label"] for r in rows)
        out[detector] = {"found": found, "right": right, "rows": rows}
        print(f"labelled photos, {detector}: face found in {found}/{len(pairs)}, right in {right}/{len(pairs)}: "
              + ", ".join(f"{r['photo']} {r['label']}->{r['emotion']}" for r in rows))
    return out


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
    parser.add_argument("--align", type=int, default=0, metavar="N",
                        help="also measure face alignment on N split faces pasted into scenes (e.g. 600)")
    parser.add_argument("--photo", action="append", default=[], metavar="LABEL=PATH",
                        help="a real photo and the emotion you see in it (repeatable)")
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
    pipe = FaceEmotionPipeline(model if args.weights else args.model, tta="flip")
    plain = FaceEmotionPipeline(model if args.weights else args.model, tta=False)
    params = sum(p.numel() for p in model.parameters())
    macs = _macs(model, tuple(model.input_size))  # type: ignore[arg-type]
    results: dict[str, object] = {"model": args.model, "weights": args.weights or "shipped", "params": params,
                                  "macs": macs, "threads": torch.get_num_threads()}
    print(f"model {args.model} ({params / 1e6:.2f} M params, {macs / 1e6:.0f} M MACs per face), "
          f"weights: {results['weights']}, torch threads {torch.get_num_threads()}")

    if args.data:
        images, labels = load_fer2013(args.data, args.split)
        t = time.perf_counter()
        acc = _accuracy(pipe, images, labels, args.batch_size)
        acc_plain = _accuracy(plain, images, labels, args.batch_size)
        multi = FaceEmotionPipeline(model if args.weights else args.model, tta="crops")
        acc_crops = _accuracy(multi, images, labels, args.batch_size)
        results.update({"accuracy_crops_tta": acc_crops["accuracy"], "recall_crops_tta": acc_crops["recall"]})
        print(f"accuracy with 12-view crops TTA: {acc_crops['accuracy']:.4f}; recall: "
              + ", ".join(f"{k} {v:.3f}" for k, v in acc_crops["recall"].items()))
        results.update({"split": args.split, "accuracy_tta": acc["accuracy"], "accuracy_no_tta": acc_plain["accuracy"],
                        "recall": acc["recall"], "n": acc["n"]})
        print(f"FER2013 {args.split} ({acc['n']} images, {time.perf_counter() - t:.0f}s): "
              f"accuracy {acc['accuracy']:.4f} (flip TTA), {acc_plain['accuracy']:.4f} (no TTA)  [target >= 0.72]")
        print("per-class recall: " + ", ".join(f"{k} {v:.3f}" for k, v in acc["recall"].items()))
        cal = _ece(pipe, images, labels, args.batch_size)
        results.update(cal)
        print(f"calibration (15-bin ECE, flip TTA): {cal['ece']:.4f} at the fitted temperature "
              f"{cal['temperature']:.3f}, {cal['ece_t1']:.4f} at T = 1")
        if args.align:
            results["alignment"] = _alignment(model if args.weights else args.model, images, labels, args.align)
        crops = images[: args.batch_size]
    else:
        crops = np.random.default_rng(0).integers(0, 256, (args.batch_size, 48, 48), dtype=np.uint8)

    if args.photo:
        results["labelled_photos"] = _labelled_photos(model if args.weights else args.model, args.photo)
    cps_tta = _throughput(pipe, crops)
    cps = _throughput(plain, crops)
    plain.bf16 = not plain.bf16
    cps_other = _throughput(plain, crops)
    plain.bf16 = not plain.bf16
    results.update({"crops_per_s_tta": cps_tta, "crops_per_s_no_tta": cps, "bf16": pipe.bf16,
                    "crops_per_s_no_tta_other_precision": cps_other})
    print(f"throughput (batch {len(crops)}, {'bf16' if pipe.bf16 else 'fp32'}): {cps_tta:.0f} crops/s with flip TTA, "
          f"{cps:.0f} without  [target >= 1000]; {cps_other:.0f} without TTA in {'fp32' if pipe.bf16 else 'bf16'}")

    from PIL import Image
    from skimage import data

    photo = np.asarray(Image.fromarray(data.astronaut()).resize((640, 480), Image.Resampling.BILINEAR))
    default = FaceEmotionPipeline(model if args.weights else args.model)  # the pipeline's default TTA
    faces = default(photo)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "astronaut_640x480.jpg"
        Image.fromarray(photo).save(path, quality=92)
        p50, p90 = _latency(lambda: default(photo), args.runs)
        f50, f90 = _latency(lambda: default(path), args.runs)
        detect_ms = {}
        for name in DETECTORS:
            detector = facevox.create_face_detector(name)
            detect_ms[name] = _latency(lambda d=detector: d.detect(photo), args.runs)[0]
        d50 = detect_ms.get(pipe.detector.name) or _latency(lambda: pipe.detect(photo), args.runs)[0]
    results.update({"detect_ms_p50_by_detector": detect_ms, "latency_ms_p50": p50, "latency_ms_p90": p90, "latency_file_ms_p50": f50,
                    "latency_file_ms_p90": f90, "detect_ms_p50": d50,
                    "photo_faces": [f.to_dict() for f in faces]})
    print(f"photo -> emotions ({default.tta.value} TTA), 640x480 astronaut, {len(faces)} face(s) "
          f"({', '.join(f'{f.emotion} {f.scores[f.emotion]:.2f}' for f in faces)}): "
          f"p50 {p50:.1f} ms, p90 {p90:.1f} ms (array); p50 {f50:.1f} ms (JPEG file); detection alone "
          f"{d50:.1f} ms  [target <= 50]")
    print("detection alone, p50: " + ", ".join(f"{k} {v:.1f} ms" for k, v in detect_ms.items()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    results["peak_rss_mib"] = peak
    print(f"peak resident memory of this process: {peak:.0f} MiB")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
