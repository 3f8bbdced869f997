"""face plugin: the torch SSIM (Wang et al. 2004) matches scikit-image and trains without it."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from facevox_face.metrics import ssim


def _structured(size: int = 48) -> np.ndarray:
    """A face-like drawing (oval head, eyes, mouth) with a shading gradient, float64 in [0, 1]."""
    yy, xx = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    img = 0.15 + 0.1 * xx
    img = np.where((xx / 0.7) ** 2 + (yy / 0.9) ** 2 < 1, 0.7 - 0.2 * yy, img)
    for cx in (-0.3, 0.3):
        img = np.where(((xx - cx) / 0.12) ** 2 + ((yy + 0.2) / 0.07) ** 2 < 1, 0.1, img)
    img = np.where((xx / 0.3) ** 2 + ((yy - 0.45) / 0.06) ** 2 < 1, 0.25, img)
    return np.clip(img, 0.0, 1.0)


def _pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    face = _structured()
    r = rng.random((32, 40))
    blurred = face.copy()
    for axis in (0, 1):  # a 3-tap box blur: same structure, lower contrast at the edges
        blurred = (np.roll(blurred, 1, axis) + blurred + np.roll(blurred, -1, axis)) / 3
    return [
        ("random vs random", rng.random((48, 48)), rng.random((48, 48))),
        ("random vs noisy copy", r, np.clip(r + 0.1 * rng.standard_normal(r.shape), 0, 1)),
        ("face vs noisy face", face, np.clip(face + 0.05 * rng.standard_normal(face.shape), 0, 1)),
        ("face vs blurred face", face, blurred),
        ("face vs shifted face", face, np.roll(face, (2, -1), (0, 1))),
        ("face vs darker face", face, 0.6 * face),
        ("face vs flat grey", face, np.full_like(face, 0.5)),
    ]


def test_matches_scikit_image_gaussian_ssim() -> None:
    from skimage import metrics  # dev extra: always installed in CI
    for name, a, b in _pairs():
        expected = metrics.structural_similarity(
            a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1
        )
        got = ssim(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None], data_range=1.0)
        assert got.shape == (1,) and got.dtype == torch.float64
        assert abs(float(got[0]) - expected) < 1e-10, name
        got32 = ssim(torch.from_numpy(a).float()[None, None], torch.from_numpy(b).float()[None, None])
        assert abs(float(got32[0]) - expected) < 1e-4, name

    # a batch of pairs at once, several channels (skimage: per channel, then the mean), data range 255
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (3, 2, 24, 30)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 30, x.shape), 0, 255)
    got = ssim(torch.from_numpy(x), torch.from_numpy(y), data_range=255)
    expected = [
        metrics.structural_similarity(xi, yi, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                      data_range=255, channel_axis=0)
        for xi, yi in zip(x, y, strict=True)
    ]
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-10)


def test_properties() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 48, 48, generator=gen)
    np.testing.assert_allclose(ssim(x, x).numpy(), 1.0, atol=1e-6)
    flat = torch.full((1, 1, 16, 16), 0.3)
    assert float(ssim(flat, flat)[0]) == pytest.approx(1.0, abs=1e-6)
    y = (x + 0.1 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    assert torch.allclose(ssim(x, y), ssim(y, x), atol=1e-6)  # symmetric
    assert torch.allclose(ssim(x, y)[1:2], ssim(x[1:2], y[1:2]), atol=1e-6)  # per image, independent of the batch
    noisier = (x + 0.3 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    assert bool((ssim(x, noisier) < ssim(x, y)).all()) and bool((ssim(x, y) < 1).all())
    assert ssim(x.to(torch.bfloat16), y.to(torch.bfloat16)).dtype == torch.float32
    assert ssim(x[:0], y[:0]).shape == (0,)
    # differentiable: 1 - ssim works as a loss
    z = y.clone().requires_grad_(True)
    (1 - ssim(x, z)).sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_shape_errors_are_clear() -> None:
    x = torch.rand(2, 1, 48, 48)
    with pytest.raises(ValueError, match=r"same shape, got \(2, 1, 48, 48\) and \(2, 1, 48, 47\)"):
        ssim(x, x[..., :47])
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) image batches, got shape \(48, 48\)"):
        ssim(x[0, 0], x[0, 0])
    with pytest.raises(ValueError, match=r"at least 11x11 pixels .* got 10x48"):
        ssim(x[:, :, :10], x[:, :, :10])
    with pytest.raises(ValueError, match="data_range must be positive"):
        ssim(x, x, data_range=0)
    with pytest.raises(TypeError, match="two torch tensors"):
        ssim(x.numpy(), x)  # type: ignore[arg-type]


def test_training_metrics_need_no_scikit_image(monkeypatch: pytest.MonkeyPatch) -> None:
    from facevox_face import AEConfig, ConvAutoencoder
    from facevox_face.training import evaluate_reconstruction

    monkeypatch.setitem(sys.modules, "skimage", None)  # `import skimage...` now raises ImportError
    monkeypatch.setitem(sys.modules, "skimage.metrics", None)
    torch.manual_seed(0)
    images = torch.rand(6, 1, 48, 48)
    metrics = evaluate_reconstruction(ConvAutoencoder(AEConfig(latent_dim=8)), images, batch_size=4)
    assert set(metrics) == {"mse", "ssim"} and -1 <= metrics["ssim"] < 1 and metrics["mse"] > 0
