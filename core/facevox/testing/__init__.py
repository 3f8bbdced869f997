"""Conformance checks for registered models: run them on your plugin's model names.

Usage in a plugin's own tests::

    import pytest
    from facevox.testing import run_conformance

    @pytest.mark.parametrize("name", ["myfamily.small"])
    def test_conformance(name, tmp_path):
        run_conformance(name, tmp_path)

or, with the pytest plugin that facevox installs (``pytest11`` entry point), the fixture
``facevox_conformance`` (``facevox_conformance("myfamily.small")``).

Each check raises :class:`ConformanceError` (an ``AssertionError``) naming the model and the
fault. The checks follow timm's registry-wide tests and torchvision's weight-metadata tests:

* card: summary, licence, labels of classifiers, finite numeric metrics, JSON-serialisable;
* role: the model is an instance of its task's role interface;
* forward on ``example_inputs`` (shapes from the config / card), finite outputs;
* backward: the sum of every floating output is backpropagated and every parameter that
  requires a gradient receives a finite one;
* determinism in eval mode (same seed, same inputs -> identical outputs);
* save / load round trip (``save_pretrained`` -> ``load_pretrained``) with identical outputs;
* weights (torchvision's ``test_schema_meta_validation`` in spirit): a model with parameters
  whose card reports metrics declares weights; a shipped file exists and its SHA-256 equals the
  card's ``sha256``; a card's ``params`` / ``params_millions`` equal the parameter count;
* default weights, when shipped, load strictly and give finite outputs.

Face detectors are not models; :func:`check_face_detector` checks a registered detector's
contract (role, sorted in-bounds boxes, both-or-no eyes, no face in a flat image, a clear
error for a float image).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from facevox.card import ModelSpec, Task, task_value
from facevox.checkpoint import load_pretrained, save_pretrained
from facevox.registry import create_face_detector, create_model, get_model_spec, task_info
from facevox.roles import (
    AcousticModel,
    AcousticOutput,
    ConditionalFaceAutoencoder,
    DecoderCapWarning,
    ExpressionClassifier,
    FaceBox,
    FaceDetector,
    FacevoxModel,
    Vocoder,
)

__all__ = [
    "ARCHITECTURE_METRICS",
    "CHECKS",
    "ConformanceError",
    "check_backward",
    "check_card",
    "check_weights",
    "check_determinism",
    "check_face_detector",
    "check_forward",
    "check_pretrained",
    "check_role",
    "check_save_load",
    "float_tensors",
    "run_conformance",
]


#: Card metrics that describe the architecture, not trained weights (allowed without weights).
ARCHITECTURE_METRICS: tuple[str, ...] = ("params", "params_millions", "macs")


class ConformanceError(AssertionError):
    """A model does not meet the facevox model contract."""


def _fail(name: str, check: str, message: str) -> ConformanceError:
    return ConformanceError(f"{name}: {check}: {message}")


def float_tensors(output: Any) -> Iterator[Tensor]:
    """Every floating-point tensor in a (nested) output: tensors, tuples, lists, dicts, dataclasses."""
    if isinstance(output, Tensor):
        if output.is_floating_point():
            yield output
    elif dataclasses.is_dataclass(output) and not isinstance(output, type):
        for f in dataclasses.fields(output):
            yield from float_tensors(getattr(output, f.name))
    elif isinstance(output, dict):
        for value in output.values():
            yield from float_tensors(value)
    elif isinstance(output, (list, tuple)):
        for value in output:
            yield from float_tensors(value)


def _run(model: nn.Module, seed: int = 0, batch_size: int = 2) -> tuple[Any, list[Tensor]]:
    assert isinstance(model, FacevoxModel)
    inputs = model.example_inputs(batch_size, torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    output = model(*inputs)
    return output, list(float_tensors(output))


def check_card(name: str) -> None:
    """The registration record and card are complete and consistent."""
    spec: ModelSpec = get_model_spec(name)
    card = spec.card
    if not card.summary.strip():
        raise _fail(name, "card", "summary is empty")
    if not card.licence.strip():
        raise _fail(name, "card", "licence is empty")
    for key, value in card.metrics.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise _fail(name, "card", f"metric {key!r} must be a finite number, got {value!r}")
    if spec.task == Task.EXPRESSION_CLASSIFICATION and not card.labels:
        raise _fail(name, "card", "classifiers must list their labels")
    if spec.weights is not None:
        if not spec.weights.is_file():
            raise _fail(name, "card", f"declared weights file {spec.weights} does not exist")
        digest = hashlib.sha256(spec.weights.read_bytes()).hexdigest()
        if not card.sha256:
            raise _fail(name, "card", f"ships weights file {spec.weights} but its card has no sha256 "
                                      f"(the file's is {digest})")
        if card.sha256 != digest:
            raise _fail(name, "card", f"card sha256 {card.sha256} != {digest} of {spec.weights}")
    elif card.sha256:
        raise _fail(name, "card", "card has a sha256 but the model declares no weights file")
    try:
        json.dumps(card.to_dict(), allow_nan=False)  # what `facevox info` prints
    except (TypeError, ValueError) as exc:
        raise _fail(name, "card", f"card does not serialise to JSON: {exc}") from None


def check_role(name: str, model: nn.Module) -> None:
    """The model implements the role of its task and stores its config."""
    spec = get_model_spec(name)
    role = task_info(spec.task).role
    if not isinstance(model, role):
        raise _fail(name, "role", f"task {task_value(spec.task)!r} needs a {role.__name__}, got {type(model).__name__}")
    if getattr(model, "config", None) != spec.config:
        raise _fail(name, "role", "model.config must equal the config it was built from")
    pre = spec.card.preprocessing
    model_size = getattr(model, "input_size", None)
    if pre.input_size is not None and model_size is not None and tuple(model_size) != tuple(pre.input_size):
        raise _fail(name, "role", f"card input_size {pre.input_size} != model input_size {model_size}")
    if isinstance(model, (ExpressionClassifier, ConditionalFaceAutoencoder)) and tuple(model.labels) != tuple(spec.card.labels):
        raise _fail(name, "role", f"model labels {model.labels} != card labels {spec.card.labels}")
    if isinstance(model, AcousticModel) and (int(model.reduction_factor) < 1 or int(model.n_mels) < 1):
        raise _fail(name, "role", f"reduction_factor ({model.reduction_factor}) and n_mels ({model.n_mels}) must be >= 1")
    if isinstance(model, Vocoder) and pre.sample_rate is not None and model.sample_rate != pre.sample_rate:
        raise _fail(name, "role", f"card sample_rate {pre.sample_rate} != model sample_rate {model.sample_rate}")


def check_forward(name: str, model: nn.Module) -> None:
    """Forward on example inputs gives finite floating outputs (and sized logits for classifiers)."""
    model.eval()
    with torch.no_grad():
        output, tensors = _run(model)
    if not tensors:
        raise _fail(name, "forward", "produced no floating-point tensor")
    for t in tensors:
        if not torch.isfinite(t).all():
            raise _fail(name, "forward", f"output of shape {tuple(t.shape)} has NaN or inf")
    if isinstance(model, ExpressionClassifier):
        if not isinstance(output, Tensor) or output.shape != (2, len(model.labels)):
            shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
            raise _fail(name, "forward", f"logits must be (B, {len(model.labels)}), got {shape}")
        inference = model.for_inference()
        if inference is model or inference.training:
            raise _fail(name, "forward", "for_inference() must return an eval-mode copy, not the model itself")
        with torch.no_grad():
            fast = inference(*model.example_inputs(2, torch.Generator().manual_seed(0)))
        if not torch.allclose(fast, output, rtol=1e-3, atol=1e-4):
            raise _fail(name, "forward", f"for_inference() changes the logits by up to "
                        f"{float((fast - output).abs().max()):.2e} (allowed: float32 rounding)")
    if isinstance(model, AcousticModel):
        _check_acoustic(name, model, output, "forward")
        if output.reached_cap is not None:
            raise _fail(name, "forward", "reached_cap is set by infer() only; forward() must leave it None")
        inputs = model.example_inputs(2, torch.Generator().manual_seed(0))
        with warnings.catch_warnings():  # a 2-step cap is meant to be hit here
            warnings.simplefilter("ignore", DecoderCapWarning)
            inferred = model.infer(inputs[0], inputs[1], max_decoder_steps=2)
        _check_acoustic(name, model, inferred, "infer")
    if isinstance(model, Vocoder):
        waves, lengths = output
        mels, mel_lengths = model.example_inputs(2)
        if waves.dim() != 2 or lengths.tolist() != [int(n) * (waves.shape[1] // mels.shape[-1]) for n in mel_lengths]:
            raise _fail(name, "forward", "vocoder wave lengths must be frame lengths x hop length")


def _check_acoustic(name: str, model: AcousticModel, out: Any, where: str) -> None:
    """Shapes and dtypes of every field of an :class:`facevox.AcousticOutput` that is set."""
    if not isinstance(out, AcousticOutput):
        raise _fail(name, where, f"an acoustic model returns a facevox.AcousticOutput, got {type(out).__name__}")
    if out.mel.dim() != 3 or out.mel.shape[1] != model.n_mels or out.mel.dtype != torch.float32:
        raise _fail(name, where, f"mel must be (B, {model.n_mels}, T) float32, got {tuple(out.mel.shape)} {out.mel.dtype}")
    b, _, t = out.mel.shape
    if out.mel_lengths.shape != (b,) or out.mel_lengths.dtype != torch.int64 or int(out.mel_lengths.max()) > t:
        raise _fail(name, where, f"mel_lengths must be (B={b},) int64 <= T={t}")
    if out.mel_before_postnet is not None and out.mel_before_postnet.shape != out.mel.shape:
        raise _fail(name, where, "mel_before_postnet must have the shape of mel")
    if out.stop_logits is not None and out.stop_logits.shape != (b, t):
        raise _fail(name, where, f"stop_logits must be (B, T) = {(b, t)}, got {tuple(out.stop_logits.shape)}")
    if out.alignments is not None and (out.alignments.dim() != 3 or out.alignments.shape[:2] != (b, -(-t // model.reduction_factor))):
        raise _fail(name, where, f"alignments must be (B, ceil(T / r), L), got {tuple(out.alignments.shape)}")
    if out.reached_cap is not None and (out.reached_cap.shape != (b,) or out.reached_cap.dtype != torch.bool):
        raise _fail(name, where, "reached_cap must be (B,) bool")


def check_backward(name: str, model: nn.Module) -> None:
    """Every trainable parameter receives a finite gradient from the sum of the outputs."""
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        return
    model.train()
    model.zero_grad(set_to_none=True)
    _, tensors = _run(model)
    loss = sum(t.float().sum() for t in tensors)
    assert isinstance(loss, Tensor)
    loss.backward()
    missing = [n for n, p in params if p.grad is None]
    if missing:
        raise _fail(name, "backward", f"parameters got no gradient: {missing[:10]}")
    bad = [n for n, p in params if p.grad is not None and not torch.isfinite(p.grad).all()]
    if bad:
        raise _fail(name, "backward", f"non-finite gradients in {bad[:10]}")
    model.zero_grad(set_to_none=True)


def _same(a: list[Tensor], b: list[Tensor]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b, strict=False))


def check_determinism(name: str, model: nn.Module) -> None:
    """In eval mode, the same seed and inputs give identical outputs."""
    model.eval()
    with torch.no_grad():
        _, first = _run(model, seed=1)
        _, second = _run(model, seed=1)
    if not _same(first, second):
        raise _fail(name, "determinism", "two eval-mode runs with the same seed differ")


def check_save_load(name: str, model: nn.Module, directory: str | Path | None = None) -> None:
    """``save_pretrained`` then ``load_pretrained`` gives a model with identical outputs."""
    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(directory or tmp) / "checkpoint"
        save_pretrained(model, target, name=name)
        loaded = load_pretrained(target)
    if type(loaded) is not type(model):
        raise _fail(name, "save/load", f"reloaded a {type(loaded).__name__}, saved a {type(model).__name__}")
    with torch.no_grad():
        _, before = _run(model, seed=2)
        _, after = _run(loaded, seed=2)
    if not _same(before, after):
        raise _fail(name, "save/load", "outputs differ after a save/load round trip")


def check_weights(name: str, model: nn.Module) -> None:
    """What the card states about the weights holds for the model ``create_model`` builds."""
    spec = get_model_spec(name)
    metrics = spec.card.metrics
    count = sum(p.numel() for p in model.parameters())
    measured = sorted(set(metrics) - set(ARCHITECTURE_METRICS))
    if count and measured and not spec.has_weights:
        raise _fail(name, "weights", f"card reports measured metrics ({', '.join(measured[:4])}) but the model "
                                     "declares no weights: it would serve an untrained model under them")
    if "params" in metrics and int(metrics["params"]) != count:
        raise _fail(name, "weights", f"card params {metrics['params']} != {count} parameters of the model")
    if "params_millions" in metrics and abs(float(metrics["params_millions"]) - count / 1e6) > 0.05:
        raise _fail(name, "weights", f"card params_millions {metrics['params_millions']} != {count / 1e6:.3f}")


def check_pretrained(name: str) -> None:
    """Shipped default weights load strictly and give finite outputs."""
    if not get_model_spec(name).has_weights:
        return
    model = create_model(name, pretrained=True)
    if model.training:
        raise _fail(name, "pretrained", "create_model(pretrained=True) must return an eval-mode model")
    with torch.no_grad():
        _, tensors = _run(model)
    if not all(torch.isfinite(t).all() for t in tensors):
        raise _fail(name, "pretrained", "shipped weights give NaN or inf")


CHECKS: dict[str, Callable[..., None]] = {
    "card": check_card,
    "role": check_role,
    "weights": check_weights,
    "forward": check_forward,
    "backward": check_backward,
    "determinism": check_determinism,
    "save_load": check_save_load,
    "pretrained": check_pretrained,
}


def run_conformance(name: str, directory: str | Path | None = None) -> None:
    """Run every check on registered model ``name`` (untrained instance, then shipped weights).

    Raises:
        ConformanceError: the first failing check, naming the model and the fault.
    """
    check_card(name)
    torch.manual_seed(0)
    model = create_model(name, pretrained=False)
    check_role(name, model)
    check_weights(name, model)
    check_forward(name, model)
    check_backward(name, model)
    check_determinism(name, model)
    check_save_load(name, model, directory)
    check_pretrained(name)


def check_face_detector(name: str, image: Any = None) -> None:
    """Check registered face detector ``name`` against the :class:`facevox.FaceDetector` contract.

    On ``image`` (an ``(H, W, 3)`` uint8 RGB photo; default: seeded noise) the detector must
    return a list of :class:`facevox.FaceBox` sorted by decreasing area, each with a positive
    size, overlapping the image, a ``score`` in ``[0, 1]`` and either both eyes (inside the
    image's bounds grown by the box size) or none; a flat grey image must give ``[]``; a float
    image must raise ``ValueError``.

    Raises:
        ConformanceError: the first fault, naming the detector.
    """
    import numpy as np

    detector = create_face_detector(name)
    if not isinstance(detector, FaceDetector):
        raise _fail(name, "role", f"factory returned {type(detector).__name__}, not a facevox.FaceDetector")
    if image is None:
        image = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    h, w = image.shape[:2]
    boxes = detector.detect(image)
    if not isinstance(boxes, list) or not all(isinstance(b, FaceBox) for b in boxes):
        raise _fail(name, "detect", f"must return a list of FaceBox, got {type(boxes).__name__}")
    if [b.area for b in boxes] != sorted((b.area for b in boxes), reverse=True):
        raise _fail(name, "detect", "boxes must be sorted by decreasing area")
    for b in boxes:
        if b.w <= 0 or b.h <= 0 or b.x >= w or b.y >= h or b.x + b.w <= 0 or b.y + b.h <= 0:
            raise _fail(name, "detect", f"box {b.as_list()} is empty or outside the {w}x{h} image")
        if not 0.0 <= b.score <= 1.0:
            raise _fail(name, "detect", f"score {b.score} is outside [0, 1]")
        if (b.left_eye is None) != (b.right_eye is None):
            raise _fail(name, "detect", "a box must carry both eyes or none")
        for eye in (b.left_eye, b.right_eye):
            if eye is not None and not (-b.w <= eye[0] <= w + b.w and -b.h <= eye[1] <= h + b.h):
                raise _fail(name, "detect", f"eye {eye} is far outside the {w}x{h} image")
    if detector.detect(np.full((120, 160, 3), 128, np.uint8)):
        raise _fail(name, "detect", "found a face in a flat grey image")
    try:
        detector.detect(np.zeros((64, 64, 3), np.float32))
    except ValueError:
        pass
    else:
        raise _fail(name, "errors", "a float32 image must raise ValueError (uint8 is the contract)")
