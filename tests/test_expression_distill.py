"""Knowledge distillation in the expression recipe (``facevox train expression --teacher``)."""

from __future__ import annotations

import csv
from pathlib import Path

import click
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from facevox_expression.distill import TeacherEnsemble, distillation_loss
from facevox_expression.model import ResMaskNet
from facevox_expression.train import VARIANTS, train
from safetensors.torch import load_file, save_file

SMALL = "resmasknet_small"


def _save(model: torch.nn.Module, path: Path, variant: str | None = SMALL) -> Path:
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"variant": variant} if variant else None)
    return path


def _small(seed: int) -> ResMaskNet:
    torch.manual_seed(seed)
    return ResMaskNet(VARIANTS[SMALL]).eval()


def _write_csv(path: Path, rng: np.random.Generator, shuffle_labels: bool = False) -> Path:
    rows = []
    for usage, n in (("Training", 8), ("PublicTest", 2)):
        for emotion in range(7):
            for _ in range(n):
                img = rng.integers(0, 60, (48, 48)) + emotion * 25  # brightness encodes the class
                rows.append([emotion, " ".join(map(str, img.ravel())), usage])
    if shuffle_labels:  # same images, training labels permuted
        train_idx = [i for i, r in enumerate(rows) if r[2] == "Training"]
        labels = [rows[i][0] for i in train_idx]
        for i, label in zip(train_idx, rng.permutation(labels), strict=True):
            rows[i][0] = int(label)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        writer.writerows(rows)
    return path


def test_distillation_loss_is_zero_at_the_targets_and_pulls_towards_them() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    for t in (1.0, 2.0, 4.0):
        targets = F.softmax(logits / t, dim=-1)
        assert float(distillation_loss(logits, targets, t)) == pytest.approx(0.0, abs=1e-6)
    targets = torch.tensor([[0.1, 0.8, 0.1], [0.6, 0.2, 0.2]])
    student = logits.clone().requires_grad_(True)
    loss = distillation_loss(student, targets, 2.0)
    assert float(loss.detach()) > 0.1
    loss.backward()
    with torch.no_grad():
        moved = student - 0.5 * student.grad
    assert float(distillation_loss(moved, targets, 2.0)) < float(loss.detach())
    # KL(p || q) * T^2 by hand for the first row
    q = F.softmax(logits[0] / 2.0, dim=-1)
    by_hand = float((targets[0] * (targets[0] / q).log()).sum()) * 4.0
    one_row = float(distillation_loss(logits[:1], targets[:1], 2.0))
    assert one_row == pytest.approx(by_hand, rel=1e-5)


def test_teacher_ensemble_averages_its_members_softened_probabilities(tmp_path: Path) -> None:
    a, b = _small(0), _small(1)
    ensemble = TeacherEnsemble([_save(a, tmp_path / "a.safetensors"), _save(b, tmp_path / "b.safetensors")],
                               VARIANTS, "resmasknet")
    x = torch.randn(5, 1, 40, 40)
    got = ensemble.soft_targets(x, 3.0, bf16=False)
    with torch.no_grad():
        want = (F.softmax(a(x) / 3.0, -1) + F.softmax(b(x) / 3.0, -1)) / 2
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got.sum(-1), torch.ones(5))
    ensemble.train()  # a student's .train() must not switch the teachers' dropout on
    assert not ensemble.training and all(not m.training for m in ensemble.modules())
    assert all(not p.requires_grad for p in ensemble.parameters())
    # a higher temperature gives flatter targets
    assert float(ensemble.soft_targets(x, 8.0, bf16=False).max()) < float(got.max())


def test_teacher_ensemble_rejects_bad_files(tmp_path: Path) -> None:
    with pytest.raises(click.BadParameter, match="at least one teacher"):
        TeacherEnsemble([], VARIANTS, SMALL)
    with pytest.raises(click.BadParameter, match="is not a file"):
        TeacherEnsemble([tmp_path / "missing.safetensors"], VARIANTS, SMALL)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(click.BadParameter, match="not a readable safetensors"):
        TeacherEnsemble([junk], VARIANTS, SMALL)
    small = _save(_small(0), tmp_path / "small.safetensors", variant=None)
    with pytest.raises(click.BadParameter, match="does not hold 'resmasknet' weights"):
        TeacherEnsemble([small], VARIANTS, "resmasknet")  # no metadata: read as the default variant
    odd = _save(_small(0), tmp_path / "odd.safetensors", variant="vgg_face")
    with pytest.raises(click.BadParameter, match="unknown variant 'vgg_face'"):
        TeacherEnsemble([odd], VARIANTS, SMALL)


def test_training_with_a_teacher_follows_the_teacher_not_the_labels(tmp_path: Path) -> None:
    teacher = _save(_small(5), tmp_path / "teacher.safetensors")
    right = _write_csv(tmp_path / "right.csv", np.random.default_rng(0))
    wrong = _write_csv(tmp_path / "wrong.csv", np.random.default_rng(0), shuffle_labels=True)
    kwargs = {"epochs": 1, "batch_size": 14, "lr": 0.01, "variant": SMALL, "seed": 0, "threads": 1,
              "holdout": 14, "crop": 40, "bf16": False}

    def weights(data: Path, out: str, **extra: object) -> dict[str, torch.Tensor]:
        best = train(data, tmp_path / out, **kwargs, **extra)  # type: ignore[arg-type]
        assert best["epoch"] == 1
        return load_file(str(tmp_path / out / "best.safetensors"))

    def same(x: dict[str, torch.Tensor], y: dict[str, torch.Tensor]) -> bool:
        return all(torch.allclose(x[k], y[k], atol=1e-6) for k in x)

    # pure distillation: the hard labels do not enter the loss, so permuting them changes nothing
    kd_right = weights(right, "kd_right", teachers=[teacher], kd_weight=1.0)
    kd_wrong = weights(wrong, "kd_wrong", teachers=[teacher], kd_weight=1.0)
    assert same(kd_right, kd_wrong)
    # plain training does depend on the labels, and so does a mixed loss
    plain_right = weights(right, "plain_right")
    assert not same(plain_right, weights(wrong, "plain_wrong"))
    assert not same(kd_right, plain_right)
    # kd_weight 0 is plain training even with a teacher loaded
    assert same(weights(right, "kd_zero", teachers=[teacher], kd_weight=0.0), plain_right)
    with pytest.raises(click.BadParameter, match="kd_weight must be in"):
        train(right, tmp_path / "bad", teachers=[teacher], kd_weight=1.5, **kwargs)  # type: ignore[arg-type]
