"""Audio front end: reading and writing audio, and the mel spectrogram used by facevox TTS.

The mel spectrogram follows the original HiFi-GAN recipe (Kong et al. 2020,
``jik876/hifi-gan`` ``meldataset.mel_spectrogram``) in its LJSpeech format, so that the
HiFi-GAN generators trained on it can vocode facevox mels:

1. reflect-pad the waveform by ``(n_fft - hop_length) / 2`` samples on both sides;
2. STFT with a periodic Hann window of ``win_length``, ``center=False``;
3. magnitude ``sqrt(re^2 + im^2 + 1e-9)`` (not power);
4. project with librosa's Slaney-style mel filterbank (``librosa.filters.mel``, Slaney mel
   scale, Slaney area normalisation), as HiFi-GAN's ``librosa_mel_fn``;
5. natural log of ``clamp(mel, min=1e-5)``.

A waveform of ``S`` samples gives ``S // hop_length`` frames; silence gives ``log(1e-5)``
(about ``-11.51``) everywhere.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from facevox.io import atomic_path

__all__ = [
    "AUDIO_EXTENSIONS",
    "MelSettings",
    "load_audio",
    "mel_filterbank",
    "mel_spectrogram",
    "resample",
    "save_wav",
]

#: File name suffixes :func:`load_audio` reads (through libsndfile).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga")


@dataclass(frozen=True)
class MelSettings:
    """Mel spectrogram settings; the defaults are HiFi-GAN's LJSpeech format.

    Attributes:
        sample_rate: audio sample rate, Hz.
        n_fft: FFT size, samples.
        hop_length: frame shift, samples (one mel frame per ``hop_length`` samples).
        win_length: Hann window length, samples (``<= n_fft``).
        n_mels: number of mel bands.
        f_min: lowest filterbank frequency, Hz.
        f_max: highest filterbank frequency, Hz (``<= sample_rate / 2``).
        clamp: magnitudes below this are clamped before the log (so the floor is ``log(clamp)``).
    """

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float = 8000.0
    clamp: float = 1e-5

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.n_fft <= 0 or self.hop_length <= 0 or self.n_mels <= 0:
            raise ValueError(f"MelSettings sizes and rates must be positive, got {self}")
        if not 0 < self.win_length <= self.n_fft:
            raise ValueError(f"win_length must be in (0, n_fft={self.n_fft}], got {self.win_length}")
        if self.hop_length > self.n_fft:
            raise ValueError(f"hop_length {self.hop_length} must be <= n_fft {self.n_fft}")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise ValueError(
                f"need 0 <= f_min < f_max <= sample_rate / 2, got f_min={self.f_min}, "
                f"f_max={self.f_max}, sample_rate={self.sample_rate}"
            )
        if self.clamp <= 0:
            raise ValueError(f"clamp must be > 0, got {self.clamp}")

    @property
    def n_freqs(self) -> int:
        """Number of linear-frequency STFT bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def log_floor(self) -> float:
        """The log-mel value of silence, ``log(clamp)``."""
        return math.log(self.clamp)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (for :class:`facevox.Preprocessing` ``mel``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MelSettings:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`TypeError` listing the accepted ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise TypeError(f"unknown MelSettings field(s) {unknown}; accepted: {sorted(names)}")
        return cls(**dict(data))


@functools.lru_cache(maxsize=8)
def _mel_basis_np(settings: MelSettings) -> np.ndarray:
    import librosa

    return librosa.filters.mel(
        sr=settings.sample_rate,
        n_fft=settings.n_fft,
        n_mels=settings.n_mels,
        fmin=settings.f_min,
        fmax=settings.f_max,
    ).astype(np.float32)


def mel_filterbank(settings: MelSettings = MelSettings()) -> Tensor:
    """The mel filterbank ``(n_mels, n_fft // 2 + 1)`` float32 (librosa, Slaney scale and norm).

    ``mel = filterbank @ magnitude`` maps a linear magnitude spectrogram
    ``(n_fft // 2 + 1, T)`` to mel bands. A new tensor is returned on every call.
    """
    return torch.from_numpy(_mel_basis_np(settings).copy())


@functools.lru_cache(maxsize=16)
def _cached_tensors(settings: MelSettings, device: str) -> tuple[Tensor, Tensor]:
    basis = torch.from_numpy(_mel_basis_np(settings)).to(device)
    window = torch.hann_window(settings.win_length, device=device)
    return basis, window


def mel_spectrogram(waveform: Tensor, settings: MelSettings = MelSettings()) -> Tensor:
    """Natural-log mel spectrogram in HiFi-GAN's format (see the module docstring).

    Args:
        waveform: ``(S,)`` or ``(B, S)`` float audio in ``[-1, 1]`` at ``settings.sample_rate``
            Hz, with ``S > (n_fft - hop_length) / 2`` samples (more than 384 by default).
        settings: the mel settings.

    Returns:
        ``(n_mels, T)`` or ``(B, n_mels, T)`` float32 natural-log magnitude mel,
        ``T = S // hop_length``, values ``>= log(settings.clamp)``; on the input's device.

    Raises:
        ValueError: ``waveform`` is not 1-D or 2-D, not floating point, or too short.
    """
    if not isinstance(waveform, Tensor):
        raise TypeError(f"waveform must be a torch.Tensor, got {type(waveform).__name__}")
    if waveform.dim() not in (1, 2):
        raise ValueError(f"waveform must be (S,) or (B, S), got shape {tuple(waveform.shape)}")
    if not waveform.is_floating_point():
        raise ValueError(f"waveform must be floating point in [-1, 1], got dtype {waveform.dtype}")
    pad = (settings.n_fft - settings.hop_length) // 2
    length = waveform.shape[-1]
    if length <= pad:
        raise ValueError(
            f"waveform has {length} samples; the mel front end needs more than {pad} "
            f"((n_fft - hop_length) / 2) samples, i.e. at least {pad + 1}"
        )
    squeeze = waveform.dim() == 1
    y = waveform.float().reshape(-1, length)
    basis, window = _cached_tensors(settings, str(y.device))
    y = torch.nn.functional.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(
        y,
        settings.n_fft,
        hop_length=settings.hop_length,
        win_length=settings.win_length,
        window=window,
        center=False,
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
    mel = torch.log(torch.clamp(torch.matmul(basis, magnitude), min=settings.clamp))
    return mel[0] if squeeze else mel


def resample(waveform: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a ``(S,)`` float32 array from ``orig_sr`` to ``target_sr`` Hz (soxr, high quality)."""
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    if orig_sr == target_sr:
        return waveform
    import librosa

    return librosa.resample(waveform, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq").astype(
        np.float32
    )


def load_audio(path: str | os.PathLike[str], sample_rate: int | None = None) -> tuple[Tensor, int]:
    """Read an audio file as mono float32.

    Args:
        path: a file libsndfile reads (``.wav``, ``.flac``, ``.ogg`` Vorbis/Opus...).
        sample_rate: resample to this rate in Hz (soxr); ``None`` keeps the file's rate.

    Returns:
        ``(waveform, sr)``: ``waveform`` ``(S,)`` float32 in ``[-1, 1]`` (channels averaged),
        ``sr`` its sample rate in Hz.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file cannot be decoded (the message names it and the accepted formats).
    """
    import soundfile

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"audio file {file} does not exist")
    try:
        data, sr = soundfile.read(str(file), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, TypeError) as exc:
        raise ValueError(
            f"cannot read audio file {file}: {exc}; accepted: {', '.join(AUDIO_EXTENSIONS)} "
            "(anything libsndfile decodes)"
        ) from exc
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if sample_rate is not None and sample_rate != sr:
        mono = resample(mono, int(sr), int(sample_rate))
        sr = sample_rate
    return torch.from_numpy(mono), int(sr)


def save_wav(path: str | os.PathLike[str], waveform: Tensor | np.ndarray, sample_rate: int) -> Path:
    """Write a mono 16-bit PCM WAV file atomically (temp file + rename).

    Args:
        path: destination; its folder must exist.
        waveform: ``(S,)`` (or ``(1, S)``) float audio in ``[-1, 1]``; values outside are clipped.
        sample_rate: Hz.

    Returns:
        ``Path(path)``.

    Raises:
        ValueError: ``waveform`` is not mono or ``sample_rate`` is not positive.
    """
    import soundfile

    if isinstance(waveform, Tensor):
        waveform = waveform.detach().float().cpu().numpy()
    array = np.asarray(waveform, dtype=np.float32)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise ValueError(f"save_wav writes mono audio: waveform must be (S,) or (1, S), got {array.shape}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    array = np.clip(np.nan_to_num(array), -1.0, 1.0)
    with atomic_path(path) as tmp:
        soundfile.write(str(tmp), array, int(sample_rate), subtype="PCM_16", format="WAV")
    return Path(path)
