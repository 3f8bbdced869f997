"""Batch inference throughput: ``facevox emotion --output`` on the local engine against Ray Data.

Runs the same sharded job (:mod:`facevox.batch`) twice over the same images, once in this
process (torch using ``--threads``) and once on a local Ray with ``--workers`` single-threaded
model actors, checks that both wrote the same results, and prints images/s for each, the Ray
start-up time included (it is part of what a user waits for).

    python benchmarks/bench_batch.py --images ../shared/data/fer2013/val --limit 1000 --no-detect
    python benchmarks/bench_batch.py --images photos/ --workers 2 --threads 2

On one machine Ray can only split the same cores into processes; on a cluster the actors
spread over every node's CPUs (``--ray-address``), and the local engine cannot follow.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from facevox.batch import plan_shards, run_sharded
from facevox.commands.emotion import emotion_worker
from facevox.images import find_images


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, nargs="+", help="image files, folders or glob patterns")
    ap.add_argument("--limit", type=int, default=None, help="first N images only")
    ap.add_argument("--no-detect", action="store_true", help="images are face crops (FER2013)")
    ap.add_argument("--tta", default="flip", choices=["none", "flip", "crops"])
    ap.add_argument("--shard-size", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the local engine")
    ap.add_argument("--workers", type=int, default=2, help="Ray actors (one CPU each)")
    ap.add_argument("--ray-address", default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    a = ap.parse_args(argv)

    files = [str(f) for f in find_images(a.images)][: a.limit]
    settings = {"model": None, "detector": None, "tta": a.tta, "detect": not a.no_detect}
    make = functools.partial(emotion_worker, settings, a.batch_size)
    root = Path(tempfile.mkdtemp(prefix="facevox-bench-batch-"))
    results: dict[str, object] = {"images": len(files), "tta": a.tta, "detect": not a.no_detect,
                                  "threads_local": a.threads, "ray_workers": a.workers}
    try:
        outputs = {}
        for engine in ("local", "ray"):
            torch.set_num_threads(a.threads)
            plan = plan_shards(files, root / engine, shard_size=a.shard_size)
            t0 = time.perf_counter()
            run_sharded(plan, make, engine, batch_size=a.batch_size, address=a.ray_address,
                        num_cpus=None if a.ray_address else a.workers, num_actors=a.workers)
            seconds = time.perf_counter() - t0
            outputs[engine] = [(r["path"], [f["emotion"] for f in r["faces"]]) for r in plan.read()]
            results[f"{engine}_seconds"] = round(seconds, 2)
            results[f"{engine}_images_per_s"] = round(len(files) / seconds, 1)
            print(f"{engine:>5}: {len(files)} images in {seconds:.1f} s = {len(files) / seconds:.1f} images/s",
                  flush=True)
        results["same_results"] = outputs["local"] == outputs["ray"]
        print(f"same paths and emotions on both engines: {results['same_results']}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(results))
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))
    return 0 if results["same_results"] else 1


if __name__ == "__main__":
    sys.exit(main())
