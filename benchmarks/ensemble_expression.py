"""Accuracy of expression-classifier weights alone and averaged as an ensemble, on FER2013.

Each weights file is classified with the pipeline's default 12-view crops TTA
(``FaceEmotionPipeline(tta="crops")``, faces already cropped as FER2013's are); an ensemble
averages the members' calibrated probabilities. This sizes the teacher of a distilled student
(issue 12): a student rarely beats its ensemble.

Usage::

    python benchmarks/ensemble_expression.py --data ../shared/data/fer2013 \\
        --weights plugins/facevox_expression/weights/resmasknet.safetensors run1/best.safetensors run2/best.safetensors
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import facevox
import numpy as np
import torch
from facevox.datasets import load_fer2013
from facevox.pipelines import FaceEmotionPipeline


def _probabilities(model_name: str, weights: str, images: np.ndarray, batch: int) -> np.ndarray:
    model = facevox.create_model(model_name, pretrained=False)
    facevox.load_weights(model, weights)
    pipe = FaceEmotionPipeline(model.eval(), tta="crops")
    return np.concatenate([pipe.classify(images[i : i + batch]) for i in range(0, len(images), batch)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="FER2013 folder root or fer2013.csv")
    parser.add_argument("--split", default="val", help="split to score (val = PublicTest)")
    parser.add_argument("--model", default="expression.resmasknet", help="registered architecture of every file")
    parser.add_argument("--weights", nargs="+", required=True, help=".safetensors files of that architecture")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--json", dest="json_out", help="also write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    images, labels = load_fer2013(args.data, args.split)
    probs = {}
    for path in args.weights:
        start = time.perf_counter()
        probs[path] = _probabilities(args.model, path, images, args.batch_size)
        accuracy = float((probs[path].argmax(1) == labels).mean())
        print(f"{accuracy:.4f}  {path}  ({time.perf_counter() - start:.0f} s)")
    results = []
    for size in range(1, len(args.weights) + 1):
        for members in itertools.combinations(args.weights, size):
            mean = np.mean([probs[m] for m in members], axis=0)
            results.append({"members": list(members), "accuracy": round(float((mean.argmax(1) == labels).mean()), 4)})
    for r in sorted(results, key=lambda r: -r["accuracy"]):
        print(f"{r['accuracy']:.4f}  ensemble of {len(r['members'])}: {', '.join(r['members'])}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"split": args.split, "n": len(labels), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
