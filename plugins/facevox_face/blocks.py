"""Convolutional building blocks shared by the face autoencoders (AE, VAE, CVAE).

All three models are built from :class:`ConvEncoder` (a :class:`facevox.Encoder`) and
:class:`ConvDecoder` (a :class:`facevox.Decoder`): a DCGAN-style strided-convolution pyramid
(Radford et al. 2016, "Unsupervised Representation Learning with Deep Convolutional GANs") with
batch normalisation, and one of two bottlenecks (:class:`Bottleneck`):

* ``dense``: flatten, ``Linear`` to ``latent_dim`` (and back): a global code. For 48x48 inputs
  and four stages the feature maps go 48 -> 24 -> 12 -> 6 -> 3 pixels.
* ``spatial``: a 1x1 convolution to ``latent_dim / (h * w)`` channels on the last ``h x w``
  feature map (and a 3x3 convolution back): the code is a small feature map, flattened to
  ``latent_dim`` values channel-major. With three stages, 6x6 x 8 channels = 288 values for a
  2,304-pixel face (8x smaller). Each code value describes one region of the face, which the
  decoder can render sharply after a few epochs; the dense code reached SSIM 0.59 on PublicTest
  after 8 epochs where the spatial one reached 0.73 after one (``benchmarks/bench_face.py``,
  same recipe).

Images are ``(B, 1, H, W)`` float32 in ``[0, 1]`` (0 black, 1 white); ``H`` and ``W`` must be
divisible by ``2 ** len(channels)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import torch
from facevox import Decoder, Encoder
from torch import Tensor, nn

__all__ = [
    "Bottleneck",
    "ConvBlock",
    "ConvDecoder",
    "ConvEncoder",
    "ConvNetConfig",
    "FittedLatentPrior",
    "UpBlock",
    "check_images",
    "fit_latent_gaussian",
    "lerp_latents",
]


class Bottleneck(str, Enum):
    """How the encoder's last feature map becomes the latent code (see the module docstring)."""

    DENSE = "dense"  # flatten -> Linear(latent_dim): one global code
    SPATIAL = "spatial"  # 1x1 conv to latent_dim / (h * w) channels: a small code map, flattened


@dataclass
class ConvNetConfig:
    """Architecture shared by the face autoencoder configs."""

    input_size: tuple[int, int, int] = (1, 48, 48)  # (channels, height, width) of the face crops
    channels: tuple[int, ...] = (32, 64, 128, 256)  # feature channels per stride-2 stage
    latent_dim: int = 128  # size of the latent code (spatial: a multiple of the last map's h * w)
    blocks_per_stage: int = 1  # extra stride-1 conv blocks after each stride-2 block
    bottleneck: Bottleneck = Bottleneck.DENSE  # dense (global) or spatial (code map) latent


class ConvBlock(nn.Sequential):
    """``Conv2d(3x3, stride) -> BatchNorm2d -> LeakyReLU(0.2)``.

    ``(B, C_in, H, W)`` -> ``(B, C_out, H / stride, W / stride)`` float32.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(0.2, inplace=True),
        )


class UpBlock(nn.Sequential):
    """``ConvTranspose2d(4x4, stride 2) -> BatchNorm2d -> LeakyReLU(0.2)``: doubles H and W.

    ``(B, C_in, H, W)`` -> ``(B, C_out, 2H, 2W)`` float32.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(0.2, inplace=True),
        )


def _check_geometry(config: ConvNetConfig) -> tuple[int, int]:
    c, h, w = config.input_size
    factor = 2 ** len(config.channels)
    if not config.channels:
        raise ValueError("channels must name at least one stage")
    if h % factor or w % factor:
        raise ValueError(
            f"input_size {config.input_size}: height and width must be divisible by 2**len(channels) = {factor}"
        )
    if config.latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1, got {config.latent_dim}")
    fh, fw = h // factor, w // factor
    if Bottleneck(config.bottleneck) is Bottleneck.SPATIAL and config.latent_dim % (fh * fw):
        raise ValueError(
            f"a spatial bottleneck needs latent_dim divisible by the last feature map's {fh}x{fw} = {fh * fw} "
            f"positions, got {config.latent_dim}; accepted: multiples of {fh * fw}"
        )
    return fh, fw


def _code_channels(config: ConvNetConfig, fh: int, fw: int) -> int:
    """Channels of a spatial code map (``latent_dim / (fh * fw)``)."""
    return config.latent_dim // (fh * fw)


class ConvEncoder(Encoder):
    """Image -> vector: stride-2 conv pyramid, then flatten + linear (dense) or 1x1 conv (spatial).

    ``forward(images)``: ``images`` ``(B, C, H, W)`` float32 in ``[0, 1]`` -> ``(B, out_features)``
    float32 (spatial: ``out_features / latent_dim`` code maps, e.g. a VAE's mu and log-variance,
    each flattened channel-major). ``lengths`` is not used by image encoders and must be ``None``.
    """

    def __init__(self, config: ConvNetConfig, out_features: int) -> None:
        super().__init__()
        fh, fw = _check_geometry(config)
        self.spatial = Bottleneck(config.bottleneck) is Bottleneck.SPATIAL
        layers: list[nn.Module] = []
        previous = config.input_size[0]
        for ch in config.channels:
            layers.append(ConvBlock(previous, ch, stride=2))
            layers.extend(ConvBlock(ch, ch) for _ in range(config.blocks_per_stage))
            previous = ch
        self.features = nn.Sequential(*layers)
        if self.spatial:
            if out_features % (fh * fw):
                raise ValueError(f"out_features {out_features} is not a multiple of the {fh}x{fw} code map")
            self.head: nn.Module = nn.Conv2d(previous, out_features // (fh * fw), 1)
        else:
            self.head = nn.Linear(previous * fh * fw, out_features)
        self.input_size = tuple(config.input_size)

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        if lengths is not None:
            raise ValueError("ConvEncoder encodes images; lengths must be None")
        if inputs.dim() != 4 or tuple(inputs.shape[1:]) != self.input_size:
            raise ValueError(
                f"expected images (B, {', '.join(map(str, self.input_size))}), got {tuple(inputs.shape)}"
            )
        # Centre the [0, 1] pixels so the first layer sees zero-mean-ish inputs.
        features = self.features(inputs * 2.0 - 1.0)
        if self.spatial:
            return self.head(features).flatten(1)  # type: ignore[no-any-return]
        return self.head(features.flatten(1))  # type: ignore[no-any-return]


class ConvDecoder(Decoder):
    """Vector (+ optional condition) -> image: linear (dense) or 3x3 conv on the code map
    (spatial), transposed-conv pyramid, sigmoid.

    ``forward(latent, condition=None)``: ``latent`` ``(B, latent_dim)`` float32, ``condition``
    ``(B, condition_dim)`` float32 (e.g. a one-hot label; required iff ``condition_dim > 0``;
    with a spatial code it is broadcast as extra channels of the code map) -> images
    ``(B, C, H, W)`` float32 in ``[0, 1]``.
    """

    def __init__(self, config: ConvNetConfig, condition_dim: int = 0) -> None:
        super().__init__()
        fh, fw = _check_geometry(config)
        self.condition_dim = condition_dim
        self.latent_dim = config.latent_dim
        chans = list(reversed(config.channels))
        self.start_shape = (chans[0], fh, fw)
        self.spatial = Bottleneck(config.bottleneck) is Bottleneck.SPATIAL
        self.code_shape = (_code_channels(config, fh, fw), fh, fw)
        first: nn.Module
        if self.spatial:
            first = nn.Conv2d(self.code_shape[0] + condition_dim, chans[0], 3, padding=1)
        else:
            first = nn.Linear(config.latent_dim + condition_dim, chans[0] * fh * fw)
        self.fc = nn.Sequential(first, nn.LeakyReLU(0.2, inplace=True))
        layers: list[nn.Module] = []
        for cin, cout in zip(chans, chans[1:] + [chans[-1]], strict=False):
            layers.extend(ConvBlock(cin, cin) for _ in range(config.blocks_per_stage))
            layers.append(UpBlock(cin, cout))
        layers.append(nn.Conv2d(chans[-1], config.input_size[0], 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, latent: Tensor, condition: Tensor | None = None) -> Tensor:
        if latent.dim() != 2 or latent.shape[1] != self.latent_dim:
            raise ValueError(f"expected latent (B, {self.latent_dim}), got {tuple(latent.shape)}")
        if self.condition_dim:
            if condition is None or tuple(condition.shape) != (latent.shape[0], self.condition_dim):
                got = None if condition is None else tuple(condition.shape)
                raise ValueError(f"expected condition (B={latent.shape[0]}, {self.condition_dim}), got {got}")
        elif condition is not None:
            raise ValueError("this decoder is unconditional; condition must be None")
        b = latent.shape[0]
        if self.spatial:
            code = latent.view(b, *self.code_shape)
            if condition is not None:  # checked above: given iff condition_dim > 0
                maps = condition.to(latent.dtype)[:, :, None, None].expand(-1, -1, *self.code_shape[1:])
                code = torch.cat([code, maps], dim=1)
            x = self.fc(code)
        else:
            if condition is not None:
                latent = torch.cat([latent, condition.to(latent.dtype)], dim=1)
            x = self.fc(latent).view(b, *self.start_shape)
        return torch.sigmoid(self.net(x))


def check_images(images: Tensor, input_size: tuple[int, int, int]) -> Tensor:
    """Validate a batch of face crops: ``(B, C, H, W)`` floating point matching ``input_size``.

    Raises:
        ValueError: wrong rank, shape or dtype (the message says what is accepted).
    """
    if not isinstance(images, Tensor) or images.dim() != 4 or tuple(images.shape[1:]) != tuple(input_size):
        got = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"expected images (B, {', '.join(map(str, input_size))}) in [0, 1], got {got}")
    if not images.is_floating_point():
        raise ValueError(f"images must be a float tensor scaled to [0, 1], got dtype {images.dtype}")
    return images


def lerp_latents(za: Tensor, zb: Tensor, steps: int) -> Tensor:
    """``steps`` evenly spaced latents from ``za`` to ``zb`` (both ``(1, D)``): ``(steps, D)``.

    Raises:
        ValueError: ``steps < 2`` or the latents are not single ``(1, D)`` rows of one size.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    if za.shape != zb.shape or za.dim() != 2 or za.shape[0] != 1:
        raise ValueError(f"interpolate takes one image each for a and b, got latents {tuple(za.shape)}, {tuple(zb.shape)}")
    t = torch.linspace(0, 1, steps, device=za.device, dtype=za.dtype).unsqueeze(1)
    return (1 - t) * za + t * zb


@torch.no_grad()
def fit_latent_gaussian(
    encode: Callable[[Tensor], Tensor], images: Tensor, batch_size: int = 256
) -> tuple[Tensor, Tensor]:
    """Gaussian (mean, Cholesky factor of the full covariance) of the codes of ``images``.

    Ex-post density estimation (Ghosh et al. 2020, "From Variational to Deterministic
    Autoencoders"): sampling ``z = mean + scale @ eps`` follows the aggregate posterior.

    Args:
        encode: maps ``(b, 1, H, W)`` images in ``[0, 1]`` to ``(b, D)`` codes.
        images: ``(N, 1, H, W)`` in ``[0, 1]``, ``N >= 2``.

    Returns:
        ``mean`` ``(D,)`` and ``scale`` ``(D, D)`` lower-triangular, float32.

    Raises:
        ValueError: fewer than 2 images.
    """
    mu = torch.cat([encode(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
    if mu.shape[0] < 2:
        raise ValueError("fit_latent_prior needs at least 2 images")
    cov = torch.cov(mu.T.double()) + 1e-4 * torch.eye(mu.shape[1], dtype=torch.float64)
    return mu.mean(0), torch.linalg.cholesky(cov).float()


class FittedLatentPrior:
    """Mixin for the face VAEs: sample from a Gaussian fitted to the training codes.

    The model registers buffers ``latent_mean`` ``(D,)`` (zeros) and ``latent_scale``
    ``(D, D)`` (identity), so it samples from ``N(0, I)`` until :meth:`fit_latent_prior`.
    """

    latent_dim: int
    latent_mean: Tensor
    latent_scale: Tensor

    @torch.no_grad()
    def fit_latent_prior(self, images: Tensor, batch_size: int = 256) -> None:
        """Fit the sampling distribution of z to the posterior means of ``images``.

        A VAE with a small ``beta`` leaves its aggregate posterior far from ``N(0, I)``, and
        prior samples then decode to washed-out faces; see :func:`fit_latent_gaussian`.
        ``images``: ``(N, 1, H, W)`` in ``[0, 1]``.
        """
        model: Any = self
        was_training = model.training
        model.eval()
        mean, scale = fit_latent_gaussian(model.encode, images, batch_size)
        self.latent_mean.copy_(mean)
        self.latent_scale.copy_(scale)
        model.train(was_training)

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` new faces ``(n, 1, H, W)`` in ``[0, 1]``.

        ``z = latent_mean + latent_scale @ eps``, ``eps ~ N(0, I)`` drawn from ``generator`` (the
        standard prior until :meth:`fit_latent_prior` is called; shipped weights have it fitted).
        ``labels`` ``(n,)`` int64 sets the expression of conditional models (``None``: unconditioned).
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        eps = torch.randn(n, self.latent_dim, generator=generator).to(self.latent_mean.device)
        model: Any = self
        return model.decode(self.latent_mean + eps @ self.latent_scale.T, labels)  # type: ignore[no-any-return]
