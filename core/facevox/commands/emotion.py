"""``facevox emotion PATH... [--model NAME] [--no-detect] [--batch-size N] [--json] [--output DIR --engine ray]``.

Recognises facial expressions in photos. PATHs are files, folders (recursed, image suffixes
only) or quoted glob patterns (``'photos/**/*.jpg'``). With ``--json`` it prints one JSON object
per image per line::

    {"path": "photo.jpg", "faces": [{"box": [x, y, w, h], "emotion": "happy", "scores": {...}}]}

Otherwise one human-readable line per face. A file that cannot be read is reported on stderr
(naming the file) and the others are still processed; the exit code is then 1. A progress bar
goes to stderr when there are many files.

With ``--output DIR`` the same JSON lines go to resumable shards ``DIR/part-*.jsonl`` instead
(:mod:`facevox.batch`): a rerun skips the shards already written. ``--engine ray`` runs the
job on Ray Data actors (local Ray, or ``--ray-address`` for a cluster).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Sequence
from typing import Any

import click

__all__ = ["command", "emotion_worker"]

_PROGRESS_MIN_FILES = 10


@click.command("emotion")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--model", "model_name", default=None, metavar="NAME",
              help="Expression model (see `facevox models --task expression-classification`); "
                   "default: the registry's (FACEVOX_DEFAULT_EXPRESSION_CLASSIFICATION overrides it).")
@click.option("--detector", default=None, metavar="NAME", help="Face detector (default: the registry's; FACEVOX_DEFAULT_FACE_DETECTOR overrides it).")
@click.option("--no-detect", is_flag=True,
              help="Treat each image as an already-cropped face (as FER2013 images are).")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1),
              help="Face crops classified per batch.")
@click.option("--tta", "tta", type=click.Choice(["none", "flip", "crops"]), default="crops", show_default=True,
              help="Test-time augmentation: crop alone, + mirror, or + 5 sub-crops and mirrors (12 views).")
@click.option("--no-tta", is_flag=True, help="Same as --tta none (fastest).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image per line.")
@click.option("--output", "output", default=None, type=click.Path(file_okay=False), metavar="DIR",
              help="Write the JSON lines to resumable shards DIR/part-*.jsonl (a rerun skips finished shards).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="With --output: run here, or on Ray Data actors (pip install 'facevox[distributed]').")
@click.option("--shard-size", default=1000, show_default=True, type=click.IntRange(min=1),
              help="With --output: images per output shard.")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="With --engine ray: join this Ray cluster ('auto', 'ray://host:10001'); default: a local Ray.")
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="With --engine ray: model actors (default: one per CPU of the cluster).")
def command(paths: tuple[str, ...], model_name: str | None, detector: str | None, no_detect: bool,
            batch_size: int, tta: str, no_tta: bool, as_json: bool, output: str | None, engine: str,
            shard_size: int, ray_address: str | None, workers: int | None) -> None:
    """Recognise facial expressions in photos (files, folders or glob patterns)."""
    from tqdm import tqdm

    from facevox.images import find_images
    from facevox.pipelines.emotion import FaceEmotionPipeline
    from facevox.registry import FacevoxError

    files = find_images(paths)
    if not files:
        raise click.UsageError(f"no image files found in {', '.join(paths)}")
    try:
        pipe = FaceEmotionPipeline(model_name, detector=detector,
                                   tta="none" if no_tta else tta)
        if not no_detect:
            _ = pipe.detector  # fail early on an unknown detector
    except (FacevoxError, TypeError) as exc:  # an unknown name; a model that is not an expression classifier
        raise click.ClickException(str(exc)) from exc
    if engine == "ray" and output is None:
        raise click.UsageError("--engine ray writes shards: pass --output DIR")
    if output is not None:
        settings = {"model": model_name, "detector": detector, "tta": "none" if no_tta else tta,
                    "detect": not no_detect}
        _run_batch_job([str(f) for f in files], output, settings, engine, shard_size, batch_size,
                       ray_address, workers)
        return

    failures = 0
    show_bar = len(files) >= _PROGRESS_MIN_FILES
    with tqdm(total=len(files), desc="images", unit="img", file=sys.stderr, disable=not show_bar,
              leave=False, dynamic_ncols=True) as bar:
        for result in pipe.iter_many(files, batch_size=batch_size, detect=not no_detect):
            bar.update(1)
            if result.error is not None:
                failures += 1
                bar.clear()
                click.echo(f"facevox emotion: error: {result.error}", err=True)
                if not as_json:
                    continue
            if as_json:
                line = json.dumps(_payload(result))
            elif not result.faces:
                line = f"{result.path}: no face found"
            else:
                line = "\n".join(
                    f"{result.path}: face {i} at {face.box}: {face.emotion} ({face.scores[face.emotion]:.0%})"
                    for i, face in enumerate(result.faces)
                )
            if show_bar:
                bar.clear()
            click.echo(line)
    if failures:
        click.echo(f"facevox emotion: {failures} of {len(files)} file(s) could not be read", err=True)
        sys.exit(1)


def _payload(result: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"path": result.path, "faces": [f.to_dict() for f in result.faces]}
    if result.error is not None:
        payload["error"] = result.error
    return payload


def emotion_worker(settings: dict[str, Any], batch_size: int) -> Any:
    """Build the per-shard function of a batch job (runs once per process or Ray actor)."""
    from facevox.pipelines.emotion import FaceEmotionPipeline

    pipe = FaceEmotionPipeline(settings["model"], detector=settings["detector"], tta=settings["tta"])

    def work(paths: Sequence[str]) -> list[dict[str, Any]]:
        return [_payload(r) for r in pipe.iter_many(paths, batch_size=batch_size, detect=settings["detect"])]

    return work


def _run_batch_job(files: list[str], output: str, settings: dict[str, Any], engine: str, shard_size: int,
                   batch_size: int, ray_address: str | None, workers: int | None) -> None:
    from facevox.batch import BatchJobError, plan_shards, run_sharded

    try:
        plan = plan_shards(files, output, shard_size=shard_size, job=json.dumps(settings, sort_keys=True))
    except BatchJobError as exc:
        raise click.ClickException(str(exc)) from None
    done_before = plan.num_shards - len(plan.pending())
    errors = 0

    def on_shard(k: int, rows: list[dict[str, Any]]) -> None:
        nonlocal errors
        bad = sum("error" in r for r in rows)
        errors += bad
        click.echo(f"facevox emotion: wrote {plan.path(k)} ({len(rows)} images, {bad} unreadable)", err=True)

    try:
        written = run_sharded(plan, functools.partial(emotion_worker, settings, batch_size), engine,
                              batch_size=batch_size, address=ray_address, num_actors=workers, on_shard=on_shard)
    except BatchJobError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"facevox emotion: {len(files)} images in {plan.num_shards} shard(s) under {output}: "
               f"{written} written now, {done_before} already done; {errors} unreadable in the new shards",
               err=True)
    if errors:
        sys.exit(1)
