"""``facevox emotion PATH... [--model NAME] [--no-detect] [--batch-size N] [--json]``.

Recognises facial expressions in photos. PATHs are files or folders (recursed, image suffixes
only). With ``--json`` it prints one JSON object per image per line::

    {"path": "photo.jpg", "faces": [{"box": [x, y, w, h], "emotion": "happy", "scores": {...}}]}

Otherwise one human-readable line per face. A file that cannot be read is reported on stderr
(naming the file) and the others are still processed; the exit code is then 1. A progress bar
goes to stderr when there are many files.
"""

from __future__ import annotations

import json
import sys

import click

__all__ = ["command"]

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
def command(paths: tuple[str, ...], model_name: str | None, detector: str | None, no_detect: bool,
            batch_size: int, tta: str, no_tta: bool, as_json: bool) -> None:
    """Recognise facial expressions in photos (files or folders)."""
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
                payload = {"path": result.path, "faces": [f.to_dict() for f in result.faces]}
                if result.error is not None:
                    payload["error"] = result.error
                line = json.dumps(payload)
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
