"""Prosody targets for FastSpeech 2's variance adaptor: F0 and energy per mel frame and per token.

* **F0** (fundamental frequency, Hz) per mel frame from probabilistic YIN (``librosa.pyin``,
  Mauch & Dixon 2014), the estimator the FastSpeech 2 and FastPitch recipes' successors use on
  clean speech; unvoiced frames are 0. Its pitch grid is 0.2 semitones, not librosa's default
  0.1: pYIN's Viterbi pass costs the square of the grid size, and on a 6.8 s joe-tts utterance
  the coarser grid took 0.55 s of CPU instead of 4.9 s, with a median difference of 10 cents and
  the same voicing decision on 93 % of frames (2026-12-08). It is still slow (about 0.1 s of CPU
  per second of audio), so :func:`build_pitch_cache` computes each utterance once into
  ``cache/<uid>.npy`` and resumes.
* **Energy** (dB) per mel frame, from the natural-log mel itself: ``20 log10`` of the L2 norm of
  the frame's mel magnitudes (FastSpeech 2 takes the L2 norm of the STFT frame; the mel is the
  model's own target, so no second analysis is needed).
* :func:`token_means` averages a frame track over each token's frames (FastPitch, Łańcucki
  2021: one value per input symbol, so styles can move them token by token).
* :func:`pitch_warp_matrix` shifts a log-mel in frequency by a number of semitones (every band
  read at ``f / 2^(k/12)``, as vocal tract length perturbation does, Jaitly & Hinton 2013), the
  training augmentation that teaches a decoder to follow the pitch it is given.

Per-token F0 is the mean of ``log(F0)`` over the token's voiced frames, so shifting it by
``k * log(2) / 12`` raises the pitch by ``k`` semitones.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from facevox.audio import MelSettings, load_audio
from facevox.io import atomic_path
from torch import Tensor
from tqdm import tqdm

from .data import Utterance

__all__ = [
    "F0_MAX_HZ",
    "F0_MIN_HZ",
    "F0_RESOLUTION",
    "VOICED_MIN_DB",
    "build_pitch_cache",
    "frame_energy_db",
    "frame_f0",
    "load_pitch",
    "pitch_warp_matrix",
    "prosody_stats",
    "token_means",
    "token_targets",
    "voiced_frames",
]

F0_MIN_HZ = 60.0
"""Lowest F0 searched, Hz (below a low male voice's floor)."""
F0_MAX_HZ = 500.0
"""Highest F0 searched, Hz."""
F0_RESOLUTION = 0.2
"""pYIN's pitch grid, semitones (librosa's default is 0.1; see the module docstring)."""
VOICED_MIN_DB = -40.0
"""Frames quieter than this (dB, :func:`frame_energy_db`) count as unvoiced whatever their F0.

In the joe-tts corpus pYIN marks near-silent frames voiced at 85.8 Hz, the vocoder's frame rate
(22,050 / 256 = 86.1 Hz): over 200 utterances those frames had a median energy of -73.5 dB,
against a 10th percentile of -8.4 dB for the other voiced frames (2026-12-08)."""


def frame_f0(waveform: np.ndarray, n_frames: int, settings: MelSettings = MelSettings()) -> np.ndarray:
    """F0 per mel frame with ``librosa.pyin``.

    Args:
        waveform: ``(S,)`` float mono audio at ``settings.sample_rate`` Hz.
        n_frames: mel frames of the same audio (the track is cut or zero-padded to it).
        settings: the mel's settings (``hop_length`` and ``n_fft`` give the pYIN frames).

    Returns:
        ``(n_frames,)`` float32 F0 in Hz, 0 where a frame is unvoiced.

    Raises:
        ValueError: ``waveform`` is not 1-D or ``n_frames`` is negative.
    """
    import librosa

    y = np.asarray(waveform, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"waveform must be mono (S,), got shape {y.shape}")
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    if len(y) < settings.n_fft:
        return np.zeros(n_frames, dtype=np.float32)
    f0, voiced, _ = librosa.pyin(
        y, fmin=F0_MIN_HZ, fmax=F0_MAX_HZ, sr=settings.sample_rate, frame_length=settings.n_fft,
        hop_length=settings.hop_length, resolution=F0_RESOLUTION,
    )
    track = np.where(voiced & np.isfinite(f0), f0, 0.0).astype(np.float32)
    out = np.zeros(n_frames, dtype=np.float32)
    out[: min(n_frames, len(track))] = track[:n_frames]
    return out


def frame_energy_db(mel: Tensor) -> Tensor:
    """Energy per frame, dB: ``20 log10 ||exp(mel[:, t])||_2``.

    Args:
        mel: ``(..., n_mels, T)`` natural-log mel magnitudes (HiFi-GAN format).

    Returns:
        ``(..., T)`` float32; about -90 dB for an all-floor (silent) frame at clamp ``1e-5``.
    """
    power = torch.exp(2.0 * mel.float()).sum(-2)
    return 10.0 * torch.log10(power.clamp_min(1e-20))


def token_means(values: Tensor, durations: Sequence[int], weights: Tensor | None = None) -> Tensor:
    """Average a frame track over each token's frames.

    Args:
        values: ``(T,)`` float per-frame values.
        durations: frames per token, summing to ``T``.
        weights: ``(T,)`` ``{0, 1}`` float: frames that count (e.g. voiced ones); ``None``: all.

    Returns:
        ``(L,)`` float32, ``L = len(durations)``; a token with no counted frame gets 0.

    Raises:
        ValueError: the durations do not sum to ``T``, or one is negative.
    """
    d = torch.as_tensor(list(durations), dtype=torch.int64)
    if bool((d < 0).any()) or int(d.sum()) != values.shape[-1]:
        raise ValueError(f"durations must be >= 0 and sum to the {values.shape[-1]} frames, got sum {int(d.sum())}")
    w = torch.ones_like(values, dtype=torch.float32) if weights is None else weights.float()
    owner = torch.repeat_interleave(torch.arange(len(d)), d)
    total = torch.zeros(len(d)).index_add_(0, owner, values.float() * w)
    count = torch.zeros(len(d)).index_add_(0, owner, w)
    return torch.where(count > 0, total / count.clamp_min(1.0), torch.zeros_like(total))


def voiced_frames(f0: Tensor, energy_db: Tensor) -> Tensor:
    """Frames with an F0 that are loud enough to be voice: ``(T,)`` bool.

    Args:
        f0: ``(T,)`` Hz, 0 = unvoiced; energy_db: ``(T,)`` frame energy (:func:`frame_energy_db`).

    Returns:
        ``f0 > 0`` and ``energy_db`` of at least :data:`VOICED_MIN_DB`.
    """
    return (f0 > 0) & (energy_db >= VOICED_MIN_DB)


def pitch_warp_matrix(semitones: float, settings: MelSettings = MelSettings()) -> Tensor:
    """A linear map that shifts a log-mel spectrogram up or down in frequency.

    ``W @ mel`` reads every band at ``f / 2^(semitones / 12)`` (linear interpolation between
    neighbouring band centres, the edges held), so harmonics and formants move together, as in
    a resampled recording (``librosa.effects.pitch_shift``) or the styles' ``"mel"`` path.

    The voice the corpus was made with has a pitch that follows from the text, so a decoder
    trained on it learns to ignore a pitch input; warping a share of the training mels, with the
    pitch targets moved by the same interval, makes the pitch input the only way to tell.

    Args:
        semitones: shift, within ``[-12, 12]``.
        settings: the mel's settings (band centres of ``librosa.mel_frequencies``, Slaney scale).

    Returns:
        ``(n_mels, n_mels)`` float32; the identity for 0.

    Raises:
        ValueError: ``semitones`` outside ``[-12, 12]``.
    """
    import librosa

    if not -12 <= semitones <= 12:
        raise ValueError(f"semitones must be within [-12, 12], got {semitones}")
    n = settings.n_mels
    centres = librosa.mel_frequencies(n + 2, fmin=settings.f_min, fmax=settings.f_max)[1:-1]
    position = np.interp(centres / 2.0 ** (semitones / 12.0), centres, np.arange(n, dtype=np.float64))
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    frac = position - low
    warp = np.zeros((n, n), dtype=np.float64)
    np.add.at(warp, (np.arange(n), low), 1.0 - frac)
    np.add.at(warp, (np.arange(n), high), frac)
    return torch.from_numpy(warp.astype(np.float32))


def load_pitch(cache: str | Path, uid: str) -> Tensor:
    """Cached F0 track ``(T,)`` float32 Hz (0 = unvoiced) of :func:`build_pitch_cache`."""
    return torch.from_numpy(np.load(Path(cache) / f"{uid}.npy").astype(np.float32))


def build_pitch_cache(
    utterances: list[Utterance], frames: dict[str, int], cache: str | Path, settings: MelSettings = MelSettings(),
    progress: bool = True,
) -> None:
    """Compute each utterance's F0 track (:func:`frame_f0`) once into ``cache/<uid>.npy``.

    Args:
        utterances: the corpus; frames: ``uid -> T`` mel frames (from
            :func:`facevox_tts.data.build_mel_cache`), so tracks match the mels frame for frame.
        cache: output folder (created). Existing files are kept, so an interrupted build
            resumes; each file is written to a temporary name and renamed.

    Raises:
        KeyError: an utterance missing from ``frames``.
    """
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    for u in tqdm(utterances, desc="F0 cache", disable=not progress, mininterval=10):
        path = cache / f"{u.uid}.npy"
        if path.is_file():
            continue
        wav, _ = load_audio(u.audio, settings.sample_rate)
        f0 = frame_f0(wav.numpy().reshape(-1), frames[u.uid], settings)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, f0)


def token_targets(
    mel: Tensor, f0: Tensor, durations: Sequence[int], pitch_stats: tuple[float, float],
    energy_stats: tuple[float, float],
) -> tuple[Tensor, Tensor]:
    """Normalised per-token pitch and energy of one utterance (the variance adaptor's targets).

    Args:
        mel: ``(n_mels, T)`` natural-log mel; f0: ``(T,)`` Hz, 0 = unvoiced (:func:`frame_f0`).
        durations: frames per token, summing to ``T``.
        pitch_stats: ``(mean, std)`` of ``log F0``; energy_stats: ``(mean, std)`` of token
            energy, dB (:func:`prosody_stats`).

    Returns:
        ``(pitch, energy)`` ``(L,)`` float32: ``(mean log F0 of the token's voiced frames
        (:func:`voiced_frames`) - mean) / std``, 0 for a token without voiced frames;
        ``(mean frame energy - mean) / std``, 0 for a token of 0 frames.

    Raises:
        ValueError: the durations do not sum to ``T``, or ``f0`` and ``mel`` differ in length.
    """
    if f0.shape[-1] != mel.shape[-1]:
        raise ValueError(f"f0 has {f0.shape[-1]} frames but the mel {mel.shape[-1]}")
    frame_db = frame_energy_db(mel)
    is_voiced = voiced_frames(f0, frame_db)
    voiced = is_voiced.float()
    log_f0 = torch.where(is_voiced, torch.log(f0.clamp_min(1.0)), torch.zeros_like(f0))
    has_voice = token_means(voiced, durations) > 0
    pitch = torch.where(has_voice, (token_means(log_f0, durations, voiced) - pitch_stats[0]) / pitch_stats[1], 0.0)
    has_frames = torch.as_tensor(list(durations)) > 0
    energy_db = token_means(frame_db, durations)
    energy = torch.where(has_frames, (energy_db - energy_stats[0]) / energy_stats[1], 0.0)
    return pitch.float(), energy.float()


def prosody_stats(
    items: Sequence[tuple[Tensor, Tensor, Sequence[int]]],
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Corpus statistics for :func:`token_targets`.

    Args:
        items: ``(mel (n_mels, T), f0 (T,), durations)`` per training utterance.

    Returns:
        ``((mean, std) of log F0 over voiced frames (:func:`voiced_frames`), (mean, std) of token energy in dB over
        tokens of at least one frame)``; standard deviations are at least ``1e-3``.

    Raises:
        ValueError: no item, or no voiced frame at all.
    """
    if not items:
        raise ValueError("prosody_stats needs at least one utterance")
    log_f0s, energies = [], []
    for mel, f0, d in items:
        frame_db = frame_energy_db(mel)
        log_f0s.append(torch.log(f0[voiced_frames(f0, frame_db)]))
        energies.append(token_means(frame_db, d)[torch.as_tensor(list(d)) > 0])
    log_f0 = torch.cat(log_f0s)
    if log_f0.numel() < 2:
        raise ValueError("no voiced frames in the F0 tracks: check the pitch cache (all zeros?)")
    energy = torch.cat(energies)
    pitch_stats = (float(log_f0.mean()), max(float(log_f0.std()), 1e-3))
    energy_stats = (float(energy.mean()), max(float(energy.std()), 1e-3))
    return pitch_stats, energy_stats


def _main() -> None:  # pragma: no cover - background cache builder: python -m facevox_tts.prosody CORPUS MELS OUT
    import sys

    from .data import build_mel_cache, read_corpus

    torch.set_num_threads(1)
    utts = read_corpus(sys.argv[1])
    frames = build_mel_cache(utts, sys.argv[2])
    build_pitch_cache(utts, frames, sys.argv[3])


if __name__ == "__main__":  # pragma: no cover
    _main()
