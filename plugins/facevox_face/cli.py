"""``facevox face``: reconstruct, sample, interpolate and morph faces from the command line.

Outputs are PNG files written atomically; an existing file is only replaced with
``--overwrite`` (all targets are checked before anything is written). Output paths are
checked before any model is loaded (empty, a folder where a file is wanted, not writable),
seeds are range-checked (``0 .. 2**63 - 1``), and a grid that Pillow would not open with its
default limits (``PIL.Image.MAX_IMAGE_PIXELS``) is refused before anything is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
import torch
from facevox import ConditionalFaceAutoencoder, FaceAutoencoder, VariationalFaceAutoencoder
from facevox.io import OutputPathError, check_output_path
from torch import Tensor

from .grid import grid_shape, make_grid, png_pixel_limit, save_png
from .pipeline import FaceCrop, collect_images, load_face, load_faces

__all__ = ["face_group"]

#: ``--seed``: any seed ``torch.Generator.manual_seed`` takes as a non-negative int64.
SEED = click.IntRange(0, 2**63 - 1)


def _model(name: str) -> FaceAutoencoder:
    import facevox

    model = facevox.create_model(name)
    if not isinstance(model, FaceAutoencoder):
        faces = ", ".join(facevox.list_models(task="face-autoencoder"))
        raise click.BadParameter(f"{name} is not a face autoencoder; face models: {faces}", param_hint="--model")
    if not facevox.model_info(name)["pretrained"]:
        click.echo(f"warning: {name} ships without trained weights; outputs are meaningless", err=True)
    return model.eval()


def _common(default_model: str | None, takes_images: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")(f)
        f = click.option("--overwrite", is_flag=True, help="Replace existing output files.")(f)
        if takes_images:
            f = click.option("--no-detect", is_flag=True, help="Inputs are face crops already: skip detection.")(f)
        help_text = "Face model (see `facevox models --task face-autoencoder`)."
        f = click.option("--model", "model_name", default=default_model, show_default=True, help=help_text)(f)
        return f
    return wrap


def _output(out: str, folder: bool | None) -> Path:
    """``-o`` checked before any work: a file (``folder=False``), a folder (``True``), or a
    folder unless it names a ``.png`` that is not an existing folder (``None``).

    Raises:
        click.BadParameter: empty, a folder where a file is wanted, a missing or read-only folder.
    """
    if folder is None:
        folder = Path(out).is_dir() or not out.lower().endswith(".png")
    try:
        return check_output_path(out, folder=folder)
    except OutputPathError as exc:
        raise click.BadParameter(str(exc), param_hint="'-o' / '--out'") from None


def _check_grid(n_rows: int, n_cols: int, tile: Sequence[int], pad: int, scale: int, fix: str) -> None:
    """Refuse a grid whose PNG Pillow would not open with its default limits.

    Raises:
        click.UsageError: the grid has more than :func:`png_pixel_limit` pixels (``fix`` says
            which options to lower).
    """
    limit = png_pixel_limit()
    h, w = grid_shape(n_rows, n_cols, tile, pad=pad, scale=scale)
    if limit is not None and h * w > limit:
        raise click.UsageError(
            f"the output would be a {w}x{h} PNG ({h * w:,} pixels), more than the {limit:,} pixels Pillow "
            f"opens with its default limits (PIL.Image.MAX_IMAGE_PIXELS); {fix}"
        )


def _sample_layout(n: int) -> tuple[int, int]:
    """``(rows, columns)`` of the grid of ``n`` sampled faces."""
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def _most_samples(tile: Sequence[int], scale: int, limit: int, most: int = 1024) -> int:
    """The largest ``--n`` (up to ``most``) whose grid fits in ``limit`` pixels at ``scale``; 0 if none."""
    fits = [n for n in range(1, most + 1) if math.prod(grid_shape(*_sample_layout(n), tile, scale=scale)) <= limit]
    return max(fits, default=0)


def _check_free(paths: Sequence[Path], overwrite: bool) -> None:
    folders = [str(p) for p in paths if p.is_dir()]
    if folders:
        raise click.ClickException(f"output {', '.join(folders[:5])} is a folder; it is never replaced by a PNG")
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise click.ClickException(f"output exists: {', '.join(existing[:5])}; pass --overwrite to replace it")


def _targets(inputs: Sequence[str], files: Sequence[Path], out: Path) -> list[Path]:
    """One PNG file for a single file input, else a folder of ``<stem>.png``."""
    if len(files) == 1 and len(inputs) == 1 and not Path(inputs[0]).is_dir():
        if out.is_dir():
            return [out / f"{files[0].stem}.png"]
        if out.suffix.lower() != ".png":
            raise click.BadParameter(f"{out}: for one input, -o must be a .png file (or an existing folder)",
                                     param_hint="-o")
        return [out]
    stems = [p.stem for p in files]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise click.ClickException(f"several inputs share the file name stem(s) {clashes}; outputs would collide")
    if out.suffix.lower() == ".png":
        raise click.BadParameter(f"{out}: several inputs need -o to name a folder, not a .png file", param_hint="-o")
    return [out / f"{s}.png" for s in stems]


def _faces(inputs: Sequence[str], no_detect: bool, size: Sequence[int]) -> tuple[list[FaceCrop], list[Path]]:
    files = collect_images(inputs)
    crops, failures = load_faces(files, size=size, detect=not no_detect)
    for path, reason in failures:
        click.echo(f"skipped {path}: {reason}", err=True)
    return crops, files


def _run_per_image(inputs: Sequence[str], out: Path, model: FaceAutoencoder, no_detect: bool, overwrite: bool,
                   render: Callable[[Tensor], Tensor], scale: int, steps: int = 1) -> None:
    files = collect_images(inputs)
    targets = _targets(inputs, files, out)
    _check_free(targets, overwrite)
    n_frames = max(steps, 1)
    _check_grid(1, n_frames, model.input_size[1:], 0 if n_frames == 1 else 2, scale, "lower --scale or --steps")
    if len(targets) > 1 or targets[0].parent != out.parent:
        (targets[0].parent).mkdir(parents=True, exist_ok=True)
    crops, failures = load_faces(files, size=model.input_size[1:], detect=not no_detect)
    target_of = dict(zip(files, targets, strict=False))
    for crop in crops:
        frames = render(crop.image)
        save_png(make_grid([frames], pad=0 if len(frames) == 1 else 2, scale=scale), target_of[crop.path],
                 overwrite=overwrite)
        click.echo(str(target_of[crop.path]))
    for path, reason in failures:
        click.echo(f"failed {path}: {reason}", err=True)
    if failures:
        raise click.ClickException(f"{len(failures)} of {len(files)} input(s) failed")



def _label_index(model: ConditionalFaceAutoencoder, label: str, option: str) -> int:
    """The class index of ``label`` for a conditional model, or a usage error naming ``option``."""
    try:
        return model.label_index(label)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None

@click.group("face")
def face_group() -> None:
    """Face autoencoders: reconstruct, sample, interpolate, and morph a face to another expression."""


@face_group.command("reconstruct")
@click.argument("images", nargs=-1, required=True)
@click.option("-o", "--out", type=click.Path(), required=True,
              help="A .png for one input; a folder for several inputs or a folder input.")
@click.option("--scale", type=click.IntRange(1, 16), default=1, show_default=True, help="Upscale the output.")
@_common("face.ae")
def reconstruct_command(images: tuple[str, ...], out: str, scale: int, model_name: str, no_detect: bool,
                        overwrite: bool, seed: int) -> None:
    """Encode and decode face IMAGE(s); writes the reconstructed 48x48 face per input."""
    target = _output(out, folder=None)
    torch.manual_seed(seed)
    model = _model(model_name)
    _run_per_image(images, target, model, no_detect, overwrite, lambda x: model.reconstruct(x), scale)


@face_group.command("sample")
@click.option("--n", "n", type=click.IntRange(1, 1024), default=16, show_default=True, help="Number of faces.")
@click.option("--emotion", default=None, help="Expression of the sampled faces (conditional models).")
@click.option("-o", "--out", type=click.Path(), required=True, help="Output .png grid.")
@click.option("--scale", type=click.IntRange(1, 16), default=2, show_default=True, help="Upscale the grid.")
@_common(None, takes_images=False)
def sample_command(n: int, emotion: str | None, out: str, scale: int, model_name: str | None,
                   overwrite: bool, seed: int) -> None:
    """Sample N new faces from the prior (default model: face.vae; face.cvae with --emotion).

    The grid must open in Pillow with its default limits (PIL.Image.MAX_IMAGE_PIXELS, about
    89 M pixels): at --scale 16, at most 132 faces of 48x48.
    """
    target = _output(out, folder=False)
    _check_free([target], overwrite)
    name = model_name or ("face.cvae" if emotion else "face.vae")
    model = _model(name)
    limit, tile = png_pixel_limit(), model.input_size[1:]
    if limit is not None:
        most = _most_samples(tile, scale, limit)
        _check_grid(*_sample_layout(n), tile, 2, scale,
                    f"lower --n or --scale (at --scale {scale}, --n {most} at most)" if most else "lower --scale")
    if not isinstance(model, VariationalFaceAutoencoder):
        raise click.BadParameter(f"{name} cannot sample (needs a variational model, e.g. face.vae)",
                                 param_hint="--model")
    labels = None
    if emotion is not None:
        if not isinstance(model, ConditionalFaceAutoencoder):
            raise click.BadParameter(f"{name} is not conditional; use --model face.cvae for --emotion")
        index = _label_index(model, emotion, "--emotion")
        labels = torch.full((n,), index, dtype=torch.long)
    faces = model.sample(n, labels=labels, generator=torch.Generator().manual_seed(seed))
    cols = _sample_layout(n)[1]
    save_png(make_grid([faces[i : i + cols] for i in range(0, n, cols)], scale=scale), target, overwrite=overwrite)
    click.echo(str(target))


@face_group.command("interpolate")
@click.argument("image_a")
@click.argument("image_b")
@click.option("--steps", type=click.IntRange(2, 64), default=8, show_default=True, help="Frames, ends included.")
@click.option("-o", "--out", type=click.Path(), required=True, help="Output .png (one row).")
@click.option("--scale", type=click.IntRange(1, 16), default=2, show_default=True, help="Upscale the grid.")
@_common("face.vae")
def interpolate_command(image_a: str, image_b: str, steps: int, out: str, scale: int, model_name: str,
                        no_detect: bool, overwrite: bool, seed: int) -> None:
    """Decode STEPS faces on the latent line from IMAGE_A to IMAGE_B."""
    target = _output(out, folder=False)
    _check_free([target], overwrite)
    model = _model(model_name)
    size = model.input_size[1:]
    _check_grid(1, steps, size, 2, scale, "lower --scale or --steps")
    a = load_face(image_a, size=size, detect=not no_detect).image
    b = load_face(image_b, size=size, detect=not no_detect).image
    if not isinstance(model, VariationalFaceAutoencoder):
        raise click.BadParameter(f"{model_name} cannot interpolate (needs a variational model, e.g. face.vae)",
                                 param_hint="--model")
    frames = model.interpolate(a, b, steps=steps)
    save_png(make_grid([frames], scale=scale), target, overwrite=overwrite)
    click.echo(str(target))


@face_group.command("morph")
@click.argument("images", nargs=-1, required=True)
@click.option("--to", "target", required=True, help="Target expression, e.g. happy.")
@click.option("--steps", type=click.IntRange(1, 64), default=5, show_default=True,
              help="Frames from the source to the target; 1: only the result.")
@click.option("--strength", type=click.FloatRange(0, 4), default=None, help="Condition scale (default: card).")
@click.option("-o", "--out", type=click.Path(), required=True,
              help="A .png for one input; a folder for several inputs or a folder input.")
@click.option("--scale", type=click.IntRange(1, 16), default=1, show_default=True, help="Upscale the output.")
@_common("face.cvae")
def morph_command(images: tuple[str, ...], target: str, steps: int, strength: float | None, out: str, scale: int,
                  model_name: str, no_detect: bool, overwrite: bool, seed: int) -> None:
    """Re-render face IMAGE(s) with expression --to (angry disgust fear happy neutral sad surprise)."""
    destination = _output(out, folder=None)
    model = _model(model_name)
    if not isinstance(model, ConditionalFaceAutoencoder):
        raise click.BadParameter(f"{model_name} cannot morph expressions; use face.cvae", param_hint="--model")
    _label_index(model, target, "--to")  # fail early on an unknown expression
    _run_per_image(images, destination, model, no_detect, overwrite,
                   lambda x: model.morph(x, target, steps=steps, strength=strength), scale, steps)
