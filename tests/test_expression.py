"""Expression plugin: model, attention, training recipe, face detector, pipeline and CLI."""

from __future__ import annotations

import csv
import json
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import facevox
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from face_photos import ASTRONAUT_FACE, iou
from facevox.datasets import FER2013_LABELS
from facevox.images import FER2013_EYES, align_face
from facevox.pipelines import FaceEmotionPipeline, recognize_emotions
from facevox_expression.augment import augment, cutmix
from facevox_expression.calibration import (
    expected_calibration_error,
    fit_temperature,
    tta_probabilities,
)
from facevox_expression.detector import HaarEyeFaceDetector, HaarFaceDetector
from facevox_expression.model import ResidualMaskAttention, ResMaskNet, ResMaskNetConfig
from facevox_expression.train import _fit_epochs, lr_at, train
from PIL import Image
from safetensors.torch import load as safetensors_load


@pytest.fixture(scope="module")
def pipeline() -> FaceEmotionPipeline:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # untrained-weights warning before weights ship
        return FaceEmotionPipeline()


# ---------------------------------------------------------------- model


def test_registered_models_and_detector() -> None:
    assert {"expression.resmasknet", "expression.resmasknet_small"} <= set(
        facevox.list_models(task="expression-classification")
    )
    assert {"opencv.haar", "opencv.haar_eyes", "mtcnn"} <= set(facevox.list_face_detectors())
    info = facevox.model_info("expression.resmasknet")
    assert tuple(info["labels"]) == FER2013_LABELS and 2_000_000 < info["params"] < 10_000_000
    assert tuple(info["preprocessing"]["input_size"]) == (1, 48, 48)
    small = facevox.model_info("expression.resmasknet_small")
    assert small["params"] < info["params"] and small["pretrained"] is True


def test_model_forward_attention_and_errors() -> None:
    model = ResMaskNet(ResMaskNetConfig()).eval()
    assert isinstance(model, facevox.ExpressionClassifier)
    (x,) = model.example_inputs(3, torch.Generator().manual_seed(0))
    assert x.shape == (3, 1, 48, 48)
    probs = model.predict_proba(x)
    assert probs.shape == (3, 7) and torch.allclose(probs.sum(-1), torch.ones(3))
    attentions = [m for m in model.modules() if isinstance(m, ResidualMaskAttention)]
    assert len(attentions) == 3 and all(isinstance(a, facevox.SpatialAttention) for a in attentions)
    for a in attentions:
        assert a.last_mask is not None and a.last_mask.shape[1] == 1
        assert 0.0 <= float(a.last_mask.min()) and float(a.last_mask.max()) <= 1.0
    # the mask only re-weights: a zero feature map stays zero, shapes are kept
    att = attentions[0]
    c = att.gate[1].in_channels
    assert torch.equal(att(torch.zeros(2, c, 24, 24)), torch.zeros(2, c, 24, 24))
    feats = torch.randn(2, c, 12, 12)
    assert att(feats).shape == feats.shape and att.last_mask.shape == (2, 1, 12, 12)
    with pytest.raises(ValueError, match=r"images must be \(B, 1, H, W\)"):
        model(torch.zeros(1, 3, 48, 48))
    with pytest.raises(ValueError, match="same length"):
        ResMaskNet(ResMaskNetConfig(widths=(8, 16), blocks=(1,)))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        ResMaskNet(ResMaskNetConfig(temperature=0.0))


def test_predict_proba_applies_the_temperature() -> None:
    hot = ResMaskNet(ResMaskNetConfig(widths=(8, 16), blocks=(1, 1), temperature=3.0)).eval()
    cold = ResMaskNet(ResMaskNetConfig(widths=(8, 16), blocks=(1, 1))).eval()
    cold.load_state_dict(hot.state_dict())
    (x,) = hot.example_inputs(4, torch.Generator().manual_seed(0))
    logits = hot(x)
    torch.testing.assert_close(hot.predict_proba(x), torch.softmax(logits / 3.0, -1))
    torch.testing.assert_close(cold.predict_proba(x), torch.softmax(logits, -1))
    assert torch.equal(hot.predict_proba(x).argmax(-1), cold.predict_proba(x).argmax(-1))  # ranks unchanged
    assert float(hot.predict_proba(x).max()) < float(cold.predict_proba(x).max())  # softer


# ---------------------------------------------------------------- calibration


def test_fit_temperature_recovers_the_generating_temperature() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 7, generator=g) * 3
    labels = torch.multinomial(torch.softmax(logits / 2.0, -1), 1, generator=g).squeeze(1)
    assert fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.08)
    # the fitted temperature makes the over-confident logits calibrated
    before = expected_calibration_error(tta_probabilities(logits), labels)
    after = expected_calibration_error(tta_probabilities(logits, fit_temperature(logits, labels)), labels)
    assert before > 0.1 and after < 0.03
    # two views: probabilities are averaged after the temperature
    views = torch.stack([logits, logits.flip(-1)])
    torch.testing.assert_close(tta_probabilities(views, 2.0),
                               (torch.softmax(logits / 2, -1) + torch.softmax(logits.flip(-1) / 2, -1)) / 2)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        tta_probabilities(logits, 0.0)
    with pytest.raises(ValueError, match=r"\(N,\) labels"):
        fit_temperature(logits, labels[:10])


def test_expected_calibration_error_by_hand() -> None:
    # two confident right answers (0.9) and two confident wrong ones: |0.5 - 0.9| = 0.4
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 0, 0])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4)
    assert expected_calibration_error(probs, torch.tensor([0, 0, 1, 1])) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="bins >= 1"):
        expected_calibration_error(probs, labels, bins=0)


# ---------------------------------------------------------------- training recipe


def test_augment_is_seeded_and_well_formed() -> None:
    images = torch.randint(0, 256, (8, 48, 48), dtype=torch.uint8)
    a = augment(images, torch.Generator().manual_seed(1))
    b = augment(images, torch.Generator().manual_seed(1))
    c = augment(images, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (8, 1, 48, 48) and a.dtype == torch.float32
    assert float(a.min()) >= -2.0 - 1e-6 and float(a.max()) <= 2.0 + 1e-6  # (x - 0.5) / 0.25 of [0, 1]
    assert augment(images, torch.Generator().manual_seed(1), size=36).shape == (8, 1, 36, 36)
    # a crop keeps the pixel scale: a disc of radius 10 keeps its area (pi * 100 = 314 pixels,
    # up to the +-12 % scale jitter) in a 40-pixel crop; resampling the face to 40 pixels
    # (``size``) shrinks it by (40 / 48) ** 2
    yy, xx = torch.meshgrid(torch.arange(48), torch.arange(48), indexing="ij")
    disc = (((yy - 23.5) ** 2 + (xx - 23.5) ** 2) < 100).to(torch.uint8).mul(255).expand(64, 48, 48)
    cropped = augment(disc, torch.Generator().manual_seed(3), crop=40, erase_p=0.0)
    resized = augment(disc, torch.Generator().manual_seed(3), size=40, erase_p=0.0)
    assert cropped.shape == resized.shape == (64, 1, 40, 40)
    assert float((cropped > 0).sum((1, 2, 3)).float().mean()) == pytest.approx(314, rel=0.12)
    assert float((resized > 0).sum((1, 2, 3)).float().mean()) == pytest.approx(314 * (40 / 48) ** 2, rel=0.12)


def test_lr_schedule_and_deadline_fit() -> None:
    peak, total = 0.04, 1000
    assert lr_at(0, total, peak) == pytest.approx(peak / 20)
    assert lr_at(150, total, peak) == pytest.approx(peak)
    assert lr_at(total, total, peak) == pytest.approx(peak / 500)
    lrs = [lr_at(s, total, peak) for s in range(150, total)]
    assert all(x >= y for x, y in zip(lrs, lrs[1:], strict=False))  # monotone decay after warm-up
    # 100 s per full-size epoch, 10 epochs done, 350 s left: 3 full epochs fit, not 4
    history = [{"seconds": 100.0, "side": 48}] * 2
    deadline = datetime.now(timezone.utc) + timedelta(seconds=350)
    assert _fit_epochs(history, 10, 30, deadline, low_res=36, low_res_fraction=0.0, full=48) == 13
    assert _fit_epochs(history, 10, 12, deadline, low_res=36, low_res_fraction=0.0, full=48) == 12


def _write_csv(path: Path, n_per_class: int, rng: np.random.Generator) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for usage, n in (("Training", n_per_class), ("PublicTest", 2)):
            for emotion in range(7):
                for _ in range(n):
                    img = rng.integers(0, 60, (48, 48)) + emotion * 25  # brightness encodes the class
                    writer.writerow([emotion, " ".join(map(str, img.ravel())), usage])
    return path


def test_train_writes_outputs_and_resumes(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "fer2013.csv", 10, np.random.default_rng(0))
    out = tmp_path / "run"
    kwargs = {"batch_size": 28, "lr": 0.05, "variant": "resmasknet_small", "seed": 0, "threads": 1, "holdout": 14}
    best = train(data, out, epochs=2, low_res_fraction=0.5, crop=40, **kwargs)
    for name in ["checkpoints/last.ckpt", "checkpoints/best.ckpt", "best.safetensors", "best.json", "history.json",
                 "metrics.jsonl", "confusion.png", "recall.json"]:
        assert (out / name).is_file(), name
    recall = json.loads((out / "recall.json").read_text())
    assert set(recall["recall"]) == set(FER2013_LABELS) and len(recall["confusion"]) == 7
    assert sum(map(sum, recall["confusion"])) == 14 and best["epoch"] in (1, 2)
    # calibrated on the 14 held-out training faces, the validation ECE reported before and after
    assert 0.2 <= best["temperature"] <= 5.0 and best["holdout_size"] == 14
    assert best["holdout_nll_after"] <= best["holdout_nll_before"]
    assert 0.0 <= best["ece"] <= 1.0 and 0.0 <= best["ece_uncalibrated"] <= 1.0
    history = json.loads((out / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in history] == [1, 2] and history[0]["side"] == 36 and history[1]["side"] == 40
    train(data, out, epochs=3, low_res_fraction=0.5, crop=40, resume=True, **kwargs)
    history = json.loads((out / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in history] == [1, 2, 3]  # continued, not restarted
    model = ResMaskNet(facevox.get_model_spec("expression.resmasknet_small").config)
    facevox.load_weights(model, out / "best.safetensors")  # strict: key names match the model
    with pytest.raises(Exception, match="holdout must be below"):
        train(data, tmp_path / "other", epochs=1, **{**kwargs, "holdout": 70})


# ---------------------------------------------------------------- detection and pipeline


def test_align_face_puts_the_eyes_where_fer2013_has_them() -> None:
    # a grey image with two bright dots (the "eyes") on a line tilted by 20 degrees
    image = np.full((300, 400), 60, np.uint8)
    left, right = np.array([150.0, 140.0]), np.array([150.0, 140.0]) + 80 * np.array([np.cos(0.35), np.sin(0.35)])
    for x, y in (left, right):
        image[int(round(y)) - 2 : int(round(y)) + 3, int(round(x)) - 2 : int(round(x)) + 3] = 255
    crop = align_face(image, tuple(left), tuple(right), size=(96, 96))
    assert crop.shape == (96, 96) and crop.dtype == np.uint8
    ys, xs = np.nonzero(crop > 150)
    found = sorted({(round(float(x) / 4), round(float(y) / 4)) for x, y in zip(xs, ys, strict=True)})
    want = [(round(fx * 96 / 4), round(fy * 96 / 4)) for fx, fy in FER2013_EYES]
    assert all(any(abs(a - c) <= 1 and abs(b - d) <= 1 for a, b in found) for c, d in want), (found, want)
    # the eye line is level: both bright blobs on the same rows
    left_rows = ys[xs < 48]
    right_rows = ys[xs >= 48]
    assert abs(float(left_rows.mean()) - float(right_rows.mean())) < 1.5
    rgb = align_face(np.stack([image] * 3, -1), tuple(left), tuple(right), grayscale=False)
    assert rgb.shape == (48, 48, 3)
    with pytest.raises(ValueError, match="at least one pixel apart"):
        align_face(image, (10, 10), (10.2, 10))
    with pytest.raises(ValueError, match=r"two \(x, y\) points"):
        align_face(image, (10, 10, 3), (20, 10))


def test_haar_eyes_finds_both_eyes_and_the_pipeline_aligns(astronaut: np.ndarray) -> None:
    detector = facevox.create_face_detector("opencv.haar_eyes")
    assert isinstance(detector, HaarEyeFaceDetector)
    (box,) = detector.detect(astronaut)
    assert iou(box.as_list(), ASTRONAUT_FACE) > 0.6
    assert box.left_eye is not None and box.right_eye is not None
    (lx, ly), (rx, ry) = box.left_eye, box.right_eye
    assert box.x < lx < box.x + box.w / 2 < rx < box.x + box.w  # one eye in each half of the face
    assert box.y < ly < box.y + box.h / 2 and box.y < ry < box.y + box.h / 2  # in the upper half
    assert detector.detect(np.full((300, 400, 3), 128, np.uint8)) == []
    plain = FaceEmotionPipeline(detector="opencv.haar")
    aligned = FaceEmotionPipeline(detector="opencv.haar_eyes")
    crop_plain = plain.crops(astronaut, plain.detect(astronaut))[0]
    crop_aligned = aligned.crops(astronaut, aligned.detect(astronaut))[0]
    assert crop_aligned.shape == crop_plain.shape == (48, 48) and not np.array_equal(crop_aligned, crop_plain)
    assert aligned(astronaut)[0].emotion == "happy"


def test_haar_detects_the_astronaut_and_not_noise(astronaut: np.ndarray) -> None:
    detector = facevox.create_face_detector("opencv.haar")
    assert isinstance(detector, HaarFaceDetector)
    boxes = detector.detect(astronaut)
    assert len(boxes) == 1 and iou(boxes[0].as_list(), ASTRONAUT_FACE) > 0.6
    assert detector.detect(np.full((300, 400, 3), 128, np.uint8)) == []
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert detector.detect(noise) == []
    # two faces of different sizes: largest first
    face = astronaut[40:200, 150:300]
    small = np.asarray(Image.fromarray(face).resize((90, 96)))
    canvas = np.full((260, 500, 3), 200, np.uint8)
    canvas[50:146, 20:110] = small
    canvas[20:180, 250:400] = face
    two = detector.detect(canvas)
    assert len(two) == 2 and two[0].w * two[0].h > two[1].w * two[1].h and two[0].x > 200


def test_pipeline_tta_views_are_averaged() -> None:
    model = ResMaskNet(ResMaskNetConfig(widths=(8, 16), blocks=(1, 1), temperature=1.5)).eval()
    crops = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    x = (torch.from_numpy(crops).float().div(255).unsqueeze(1) - 0.5) / 0.25

    def p(v: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.softmax(model(v) / 1.5, -1)

    views = [x] + [x[..., y : y + 40, c : c + 40] for y, c in [(0, 0), (0, 8), (8, 0), (8, 8), (4, 4)]]
    views += [v.flip(-1) for v in views]
    want = {"none": p(x), "flip": (p(x) + p(x.flip(-1))) / 2, "crops": sum(p(v) for v in views) / 12}
    for tta, expected in want.items():
        pipe = FaceEmotionPipeline(model, tta=tta, bf16=False, mean=(0.5,), std=(0.25,))
        np.testing.assert_allclose(pipe.classify(crops), expected.numpy(), atol=1e-5)
    assert FaceEmotionPipeline(model, tta=True, mean=(0.5,), std=(0.25,)).tta.value == "flip"
    with pytest.raises(ValueError, match="tta must be True, False or one of"):
        FaceEmotionPipeline(model, tta="ten-crop")


def _with_random_batchnorm(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BatchNorm non-trivial statistics and affine terms (a fresh one is near identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g))
                m.running_var.copy_(torch.rand(n, generator=g) * 2 + 0.2)
                m.weight.copy_(torch.randn(n, generator=g))
                m.bias.copy_(torch.randn(n, generator=g))
    return model.eval()


def test_for_inference_folds_every_batchnorm_and_keeps_the_logits() -> None:
    model = _with_random_batchnorm(ResMaskNet(ResMaskNetConfig(stem_convs=2, widths=(8, 16), blocks=(2, 1))))
    fused = model.for_inference()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 12  # the original is untouched
    conv = fused.stages[1][0].conv2.weight  # (16, 16, 3, 3): the two memory formats differ
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert model.stages[1][0].conv2.weight.is_contiguous()
    x = torch.randn(4, 1, 48, 48, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = model(x), fused(x)
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-4)
        assert torch.allclose(fused(x[..., 4:44, 4:44]), model(x[..., 4:44, 4:44]), rtol=1e-4, atol=1e-4)
        assert (want - model.head(model.features(x * 0.5))).abs().max() > 1e-2  # the check can fail
    with pytest.raises(ValueError, match="eval mode"):
        facevox.fold_batchnorm(ResMaskNet(ResMaskNetConfig(widths=(8,), blocks=(1,))))  # training mode


def test_fold_batchnorm_only_folds_a_conv_followed_by_its_batchnorm() -> None:
    nn = torch.nn
    net = _with_random_batchnorm(nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3)),  # conv then BN: folded
        nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3)),  # BN before the conv: kept
    ))
    x = torch.randn(2, 3, 9, 9, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = net(x)
        assert facevox.fold_batchnorm(net) is net
        leaves = [type(m).__name__ for m in net.modules() if not isinstance(m, nn.Sequential)]
        assert leaves == ["Conv2d", "Identity", "BatchNorm2d", "Conv2d"]
        assert torch.allclose(net(x), want, rtol=1e-4, atol=1e-5)


def test_pipeline_classifies_with_the_folded_copy_and_reads_the_live_temperature() -> None:
    model = _with_random_batchnorm(ResMaskNet(ResMaskNetConfig(widths=(8, 16), blocks=(1, 1))))
    crops = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    pipe = FaceEmotionPipeline(model, tta=False, bf16=False, mean=(0.5,), std=(0.25,))
    assert pipe.model is model and not any(isinstance(m, torch.nn.BatchNorm2d) for m in pipe._net.modules())
    x = (torch.from_numpy(crops).float().div(255).unsqueeze(1) - 0.5) / 0.25
    np.testing.assert_allclose(pipe.classify(crops), model.predict_proba(x).numpy(), atol=1e-5)
    model.temperature = 3.0  # a fitted temperature set later is used without re-assigning the model
    np.testing.assert_allclose(pipe.classify(crops), model.predict_proba(x).numpy(), atol=1e-5)
    with torch.no_grad():
        model.head.bias.add_(5.0)  # in-place weight edits need the model assigned again
    pipe.model = model
    np.testing.assert_allclose(pipe.classify(crops), model.predict_proba(x).numpy(), atol=1e-5)


def test_pipeline_warns_when_an_unregistered_model_has_no_normalisation() -> None:
    model = ResMaskNet(ResMaskNetConfig(widths=(8, 16), blocks=(1, 1))).eval()
    with pytest.warns(UserWarning, match="no registered name.*pass mean= and std="):
        pipe = FaceEmotionPipeline(model, tta=False)
    assert (pipe.mean, pipe.std) == ((0.0,), (1.0,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # given normalisation, or a registered model: no warning
        FaceEmotionPipeline(model, tta=False, mean=(0.5,), std=(0.25,))
        named = FaceEmotionPipeline(facevox.create_model("expression.resmasknet", pretrained=False), tta=False)
    assert (named.mean, named.std) == ((0.5,), (0.25,))


def test_pipeline_on_a_photo(pipeline: FaceEmotionPipeline, astronaut: np.ndarray) -> None:
    faces = pipeline(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert iou(face.box, ASTRONAUT_FACE) > 0.6
    assert set(face.scores) == set(FER2013_LABELS)
    assert sum(face.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert face.emotion == max(face.scores, key=face.scores.get)
    whole = pipeline(astronaut, detect=False)
    assert len(whole) == 1 and whole[0].box == [0, 0, 512, 512]
    assert pipeline(np.full((200, 200, 3), 90, np.uint8)) == []  # no face: empty, not an error


@pytest.mark.parametrize("mode", ["RGBA", "P", "L"])
def test_pipeline_accepts_any_mode(pipeline: FaceEmotionPipeline, astronaut: np.ndarray, mode: str,
                                   tmp_path: Path) -> None:
    path = tmp_path / f"astronaut_{mode}.png"
    Image.fromarray(astronaut).convert(mode).save(path)
    faces = pipeline(path)
    assert len(faces) == 1 and iou(faces[0].box, ASTRONAUT_FACE) > 0.5


def test_pipeline_respects_exif_rotation(pipeline: FaceEmotionPipeline, astronaut: np.ndarray,
                                         tmp_path: Path) -> None:
    # store the photo rotated on its side with an EXIF tag saying how to turn it upright
    stored = Image.fromarray(astronaut).transpose(Image.Transpose.ROTATE_90)  # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # display: rotate 90 clockwise
    path = tmp_path / "sideways.jpg"
    stored.save(path, exif=exif, quality=95)
    faces = pipeline(path)
    assert len(faces) == 1 and iou(faces[0].box, ASTRONAUT_FACE) > 0.5


def test_run_many_reports_bad_files_and_continues(pipeline: FaceEmotionPipeline, astronaut: np.ndarray,
                                                  tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    Image.fromarray(astronaut).save(good)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 definitely not a jpeg")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(blank)
    results = pipeline.run_many([bad, good, tmp_path / "missing.png", blank, good], batch_size=1)
    assert [r.path for r in results] == [str(bad), str(good), str(tmp_path / "missing.png"), str(blank), str(good)]
    assert "broken.jpg" in results[0].error and results[0].faces == []
    assert "missing.png" in results[2].error
    assert results[1].error is None and len(results[1].faces) == 1
    assert results[3].error is None and results[3].faces == []
    assert results[4].faces[0].scores == pytest.approx(results[1].faces[0].scores, abs=1e-5)  # batching-invariant


def test_recognize_emotions_one_call(astronaut: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        faces = recognize_emotions(astronaut)
    assert len(faces) == 1 and faces[0].emotion in FER2013_LABELS


# ---------------------------------------------------------------- CLI


def _emotion_command():  # type: ignore[no-untyped-def]
    from facevox.commands.emotion import command

    return command


def test_cli_json_lines_and_failures(astronaut: np.ndarray, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(astronaut).save(folder / "sub" / "astronaut.jpg")
    Image.fromarray(np.full((80, 80, 3), 120, np.uint8)).save(folder / "empty.png")
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    result = CliRunner().invoke(_emotion_command(), [str(folder), str(bad), "--json"])
    assert result.exit_code == 1
    boxed = CliRunner().invoke(_emotion_command(), [str(folder / "sub"), "--json", "--detector", "opencv.haar"])
    assert set(json.loads(boxed.stdout)["faces"][0]) == {"box", "emotion", "scores"}  # no eyes: none reported
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    by_name = {Path(o["path"]).name: o for o in lines}
    assert set(by_name) == {"astronaut.jpg", "empty.png", "bad.jpg"}
    face = by_name["astronaut.jpg"]["faces"][0]
    assert set(face) == {"box", "emotion", "scores", "left_eye", "right_eye"} and len(face["box"]) == 4
    (lx, ly), (rx, ry) = face["left_eye"], face["right_eye"]  # the default detector finds the eyes
    x, y, w, h = face["box"]
    assert x < lx < rx < x + w and y < ly < y + h / 2 and y < ry < y + h / 2
    assert set(face["scores"]) == set(FER2013_LABELS) and face["emotion"] in FER2013_LABELS
    assert by_name["empty.png"]["faces"] == []
    assert "bad.jpg" in by_name["bad.jpg"]["error"] and "bad.jpg" in result.stderr


def test_cli_no_detect_and_unknown_model(tmp_path: Path) -> None:
    crop = tmp_path / "crop.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)).save(crop)
    result = CliRunner().invoke(_emotion_command(), [str(crop), "--no-detect", "--json"])
    assert result.exit_code == 0, result.output
    (line,) = [json.loads(x) for x in result.stdout.strip().splitlines()]
    assert line["faces"][0]["box"] == [0, 0, 48, 48]
    result = CliRunner().invoke(_emotion_command(), [str(crop), "--model", "expression.nope"])
    assert result.exit_code != 0 and "expression.nope" in result.output


# ---------------------------------------------------------------- shipped weights


def test_shipped_weights_are_the_files_tensors() -> None:
    """create_model loads every tensor of the shipped file, cast to the model's dtype, and nothing else."""
    spec = facevox.get_model_spec("expression.resmasknet")
    assert spec.has_weights and spec.weights is not None
    shipped = safetensors_load(spec.weights.read_bytes())
    model = facevox.create_model("expression.resmasknet")
    assert not model.training
    state = model.state_dict()
    assert set(state) == set(shipped)
    for key, tensor in shipped.items():
        expected = tensor.to(state[key].dtype) if tensor.is_floating_point() else tensor
        assert torch.equal(state[key], expected), f"{key} differs from the shipped file"
    assert set(spec.card.metrics) >= {"val_accuracy", "val_recall_happy"}


@pytest.mark.parametrize("name", ["expression.resmasknet", "expression.resmasknet_small"])
def test_shipped_weights_see_a_smile(astronaut: np.ndarray, name: str) -> None:
    faces = FaceEmotionPipeline(name)(astronaut)
    assert faces[0].emotion == "happy" and faces[0].scores["happy"] > 0.5


def test_cutmix_pastes_a_box_whose_area_is_one_minus_lam() -> None:
    x = torch.arange(4, dtype=torch.float32).view(4, 1, 1, 1).expand(4, 1, 40, 40).contiguous()
    gen = torch.Generator().manual_seed(3)
    mixed, perm, lam = cutmix(x, gen, p=1.0)
    assert 0.0 <= lam < 1.0 and sorted(perm.tolist()) == [0, 1, 2, 3]
    for i in range(4):
        if int(perm[i]) != i:  # the share of pixels that came from the partner is 1 - lam
            assert float((mixed[i] == x[int(perm[i])]).float().mean()) == pytest.approx(1.0 - lam)
    same, ident, one = cutmix(x, gen, p=0.0)
    assert same is x and one == 1.0 and ident.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="alpha"):
        cutmix(x, gen, alpha=0.0)
