"""Speech styles: per-emotion prosody applied to synthesized speech.

A :class:`SpeechStyle` says how an emotion changes a neutral voice: speaking rate, pitch
shift, energy and pause length. Styles are registered through the ``register_speech_styles``
hook; a later registration for the same emotion replaces an earlier one, so plugins can
restyle the built-in voices. :func:`blend_styles` mixes styles by emotion probabilities.

The directions follow the acoustic correlates of vocal emotion summarised by Scherer (2003,
"Vocal communication of emotion", Speech Communication 40): happiness and anger raise rate and
loudness, sadness lowers rate, pitch and loudness, surprise raises pitch.

:func:`apply_style` renders a style on a waveform with library DSP (librosa's phase-vocoder
time stretch and soxr resampling, one vocoder pass for rate and pitch together), pause
rescaling of the silent gaps found by ``librosa.effects.split``, and gain with a soft peak
limiter. :func:`stretch_mel` applies the rate on a log-mel spectrogram instead, before a neural
vocoder, which then re-synthesises the phase (no phase-vocoder smearing); see docs/demo.md for
the measured comparison.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from facevox import plugins
from facevox.roles import ProsodyControl

__all__ = [
    "MIN_PAUSE_S",
    "SILENCE_TOP_DB",
    "SpeechStyle",
    "apply_style",
    "blend_styles",
    "get_speech_style",
    "list_speech_styles",
    "mel_rate",
    "resolve_style",
    "stretch_mel",
    "voiced_intervals",
]


@dataclass(frozen=True)
class SpeechStyle:
    """Prosody of one emotion, relative to neutral speech.

    Attributes:
        emotion: label it applies to, e.g. ``"happy"``.
        rate: speaking-rate factor, ``> 0`` (1.2 = 20 % faster, shorter audio).
        pitch_semitones: pitch shift in semitones, within ``[-12, 12]``.
        energy_db: loudness change in dB, within ``[-20, 20]`` (applied as gain, then
            peak-limited to avoid clipping).
        pause_scale: factor on pauses between sentences, ``>= 0``.
        pitch_range: factor on F0 movement around the speaker's mean, within ``[0, 3]``
            (1 = unchanged). Rendered only by acoustic models with prosody controls
            (:attr:`facevox.AcousticModel.supports_prosody`); the waveform DSP path ignores it.
    """

    emotion: str
    rate: float = 1.0
    pitch_semitones: float = 0.0
    energy_db: float = 0.0
    pause_scale: float = 1.0
    pitch_range: float = 1.0

    def __post_init__(self) -> None:
        if not self.emotion:
            raise ValueError("SpeechStyle.emotion must be a non-empty label")
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"SpeechStyle.rate must be a positive number, got {self.rate}")
        if not -12 <= self.pitch_semitones <= 12:
            raise ValueError(f"SpeechStyle.pitch_semitones must be within [-12, 12], got {self.pitch_semitones}")
        if not -20 <= self.energy_db <= 20:
            raise ValueError(f"SpeechStyle.energy_db must be within [-20, 20], got {self.energy_db}")
        if self.pause_scale < 0:
            raise ValueError(f"SpeechStyle.pause_scale must be >= 0, got {self.pause_scale}")
        if not 0 <= self.pitch_range <= 3:
            raise ValueError(f"SpeechStyle.pitch_range must be within [0, 3], got {self.pitch_range}")

    def prosody(self) -> ProsodyControl:
        """The style as the controls of an acoustic model with a variance adaptor (rate, pitch
        shift and range, energy); ``pause_scale`` is not among them (pauses stay the caller's)."""
        return ProsodyControl(rate=self.rate, pitch_semitones=self.pitch_semitones, pitch_range=self.pitch_range,
                              energy_db=self.energy_db)

    @property
    def pauses_only(self) -> SpeechStyle:
        """This style with everything but ``pause_scale`` neutral: what is left to do on the
        waveform after a model rendered :meth:`prosody`."""
        return SpeechStyle(self.emotion, pause_scale=self.pause_scale)


_lock = threading.RLock()
_styles: dict[str, SpeechStyle] | None = None


def _clear() -> None:
    global _styles
    with _lock:
        _styles = None


plugins.on_change(_clear)


def _collect() -> dict[str, SpeechStyle]:
    global _styles
    with _lock:
        if _styles is None:
            styles: dict[str, SpeechStyle] = {}
            for plugin, args in plugins.collect_hook("register_speech_styles"):
                style = args[0]
                if not isinstance(style, SpeechStyle):
                    raise TypeError(f"plugin {plugin!r}: register_speech_styles takes SpeechStyle, got {type(style).__name__}")
                styles[style.emotion] = style  # later plugins replace earlier ones
            _styles = styles
        return _styles


def list_speech_styles() -> list[str]:
    """Emotions that have a registered style, sorted."""
    return sorted(_collect())


def get_speech_style(emotion: str) -> SpeechStyle:
    """The style registered for ``emotion``.

    Raises:
        KeyError: no style for that emotion (the registered ones are listed).
    """
    styles = _collect()
    if emotion not in styles:
        raise KeyError(f"no speech style for emotion {emotion!r}; registered: {', '.join(sorted(styles)) or 'none'}")
    return styles[emotion]


def blend_styles(probabilities: Mapping[str, float], name: str = "blend") -> SpeechStyle:
    """Mix registered styles weighted by emotion probabilities.

    Rates and pitch ranges are mixed geometrically (in log space), energies in dB and pitch in
    semitones linearly. Emotions without a registered style count as neutral (no change).

    Args:
        probabilities: emotion -> probability (non-negative; normalised here).
        name: the ``emotion`` label of the result.

    Raises:
        ValueError: probabilities are negative or all zero.
    """
    total = sum(probabilities.values())
    if total <= 0 or any(p < 0 for p in probabilities.values()):
        raise ValueError("probabilities must be non-negative with a positive sum")
    styles = _collect()
    log_rate = pitch = energy = pause = log_range = 0.0
    for emotion, p in probabilities.items():
        w = p / total
        s = styles.get(emotion, SpeechStyle(emotion))
        log_rate += w * math.log(s.rate)
        pitch += w * s.pitch_semitones
        energy += w * s.energy_db
        pause += w * s.pause_scale
        log_range += w * math.log(max(s.pitch_range, 1e-3))
    return SpeechStyle(name, rate=math.exp(log_rate), pitch_semitones=pitch, energy_db=energy, pause_scale=pause,
                       pitch_range=min(math.exp(log_range), 3.0))


def resolve_style(style: SpeechStyle | str | Mapping[str, float]) -> SpeechStyle:
    """A :class:`SpeechStyle` from a style, an emotion label, or emotion probabilities.

    Args:
        style: a :class:`SpeechStyle` (returned as is), an emotion label (its registered
            style, see :func:`get_speech_style`), or ``{emotion: probability}`` (blended with
            :func:`blend_styles`, named after the most probable emotion).

    Raises:
        KeyError: an emotion label with no registered style.
        ValueError: probabilities that are negative or sum to zero.
        TypeError: anything else.
    """
    if isinstance(style, SpeechStyle):
        return style
    if isinstance(style, str):
        return get_speech_style(style)
    if isinstance(style, Mapping):
        if not style:
            raise ValueError("emotion probabilities are empty")
        top = max(style, key=lambda k: style[k])
        return blend_styles(style, name=top)
    raise TypeError(
        f"style must be a SpeechStyle, an emotion label or {{emotion: probability}}, got {type(style).__name__}"
    )


#: Gaps of silence shorter than this (seconds) are not pauses (stop closures, etc.).
MIN_PAUSE_S = 0.12
#: A frame is silent when it is this many dB below the loudest frame.
SILENCE_TOP_DB = 40.0


def voiced_intervals(y: np.ndarray) -> np.ndarray:
    """Sample ranges of ``y`` that are not silence, the pause detector of :func:`apply_style`.

    Args:
        y: mono float32 waveform, shape ``(S,)``, any sample rate.

    Returns:
        int64 array ``(N, 2)`` of ``[start, end)`` sample indices in increasing order; the gaps
        between consecutive rows are the silences (``librosa.effects.split`` with frames of
        1,024 samples, hop length 256, silent when :data:`SILENCE_TOP_DB` dB below the loudest
        frame). A gap is a pause when it lasts at least :data:`MIN_PAUSE_S` seconds.
    """
    import librosa

    return np.asarray(
        librosa.effects.split(y, top_db=SILENCE_TOP_DB, frame_length=1024, hop_length=256), dtype=np.int64
    )


def _as_mono_numpy(waveform: Tensor | np.ndarray) -> np.ndarray:
    if isinstance(waveform, Tensor):
        array = waveform.detach().float().cpu().numpy()
    else:
        array = np.asarray(waveform, dtype=np.float32)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise ValueError(f"waveform must be mono, shape (S,) or (1, S); got {tuple(array.shape)}")
    if not np.all(np.isfinite(array)):
        raise ValueError("waveform contains NaN or infinite samples")
    return np.ascontiguousarray(array, dtype=np.float32)


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0


def _rate_and_pitch(y: np.ndarray, sample_rate: int, rate: float, semitones: float) -> np.ndarray:
    """Time-scale by ``rate`` and shift pitch by ``semitones`` with one phase-vocoder pass.

    Pitch is shifted the way ``librosa.effects.pitch_shift`` does (stretch longer by the pitch
    factor, then resample shorter by it), with the rate folded into the same stretch. The
    phase vocoder loses a few dB (phase incoherence between overlapping frames), so the RMS
    level of the input is restored.
    """
    import librosa

    factor = 2.0 ** (semitones / 12.0)
    if rate == 1.0 and semitones == 0.0:
        return y
    target = max(1, round(len(y) / rate))
    # n_fft 1024 (46 ms at 22.05 kHz) keeps speech transients sharper than librosa's 2048.
    stretched = librosa.effects.time_stretch(y, rate=rate / factor, n_fft=1024)
    if semitones != 0.0:
        stretched = librosa.resample(
            stretched, orig_sr=float(sample_rate) * factor, target_sr=sample_rate, res_type="soxr_hq"
        )
    out = np.asarray(librosa.util.fix_length(stretched, size=target), dtype=np.float32)
    before, after = _rms(y), _rms(out)
    return out * np.float32(before / after) if after > 0 else out


def _pitch_by_resampling(y: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """Raise pitch by ``semitones`` (and shorten by the same factor) with a plain soxr resample."""
    import librosa

    if semitones == 0.0:
        return y
    factor = 2.0 ** (semitones / 12.0)
    out = librosa.resample(y, orig_sr=float(sample_rate), target_sr=float(sample_rate) / factor, res_type="soxr_hq")
    return np.asarray(out, dtype=np.float32)


def mel_rate(style: SpeechStyle | str | Mapping[str, float]) -> float:
    """The rate to give :func:`stretch_mel` before ``apply_style(..., mel_stretched=True)``.

    ``style.rate / 2 ** (pitch_semitones / 12)``: the mel is stretched by the pitch factor on
    top of the style's rate, so that the resample which then shifts the pitch (and shortens
    the audio by that factor) ends exactly at the style's rate, with no phase vocoder at all.
    """
    resolved = resolve_style(style)
    return resolved.rate / 2.0 ** (resolved.pitch_semitones / 12.0)


def _scale_pauses(y: np.ndarray, sample_rate: int, scale: float) -> np.ndarray:
    """Lengthen or shorten the inner silent gaps of ``y`` by ``scale`` (edges are kept)."""
    if scale == 1.0 or len(y) < 2048:
        return y
    voiced = voiced_intervals(y)
    if len(voiced) < 2:
        return y
    pieces: list[np.ndarray] = [y[: voiced[0][1]]]
    min_gap = int(MIN_PAUSE_S * sample_rate)
    for (_, prev_end), (start, end) in zip(voiced[:-1], voiced[1:], strict=True):
        gap = y[prev_end:start]
        if len(gap) >= min_gap:
            new_len = max(min_gap // 2, round(len(gap) * scale))
            half = len(gap) // 2
            if new_len <= len(gap):  # cut the middle out of the silence
                keep_head = new_len // 2
                gap = np.concatenate([gap[:keep_head], gap[len(gap) - (new_len - keep_head) :]])
            else:  # insert digital silence in the middle of the (already quiet) gap
                gap = np.concatenate([gap[:half], np.zeros(new_len - len(gap), np.float32), gap[half:]])
        pieces.append(gap)
        pieces.append(y[start:end])
    pieces.append(y[voiced[-1][1] :])
    return np.concatenate(pieces).astype(np.float32)


def _soft_limit(y: np.ndarray, ceiling: float) -> np.ndarray:
    """Soft-knee peak limiter: identity below ``0.8 * ceiling``, never above ``ceiling``."""
    knee = 0.8 * ceiling
    magnitude = np.abs(y)
    over = magnitude > knee
    if not over.any():
        return y
    out = y.copy()
    span = ceiling - knee
    out[over] = np.sign(y[over]) * (knee + span * np.tanh((magnitude[over] - knee) / span))
    return out


def apply_style(
    waveform: Tensor | np.ndarray,
    sample_rate: int,
    style: SpeechStyle | str | Mapping[str, float],
    *,
    mel_stretched: bool = False,
    ceiling: float = 0.98,
) -> Tensor:
    """Render a speech style on neutral speech.

    Steps: rate and pitch, pause rescaling (inner silent gaps of at least 120 ms, found 40 dB
    below the peak), then gain of ``energy_db`` followed by a soft peak limiter when the
    result would exceed ``ceiling``. Rate and pitch are done either on the waveform alone (one
    phase-vocoder time stretch plus a soxr resample, level restored), or, with
    ``mel_stretched``, after the caller stretched the mel by :func:`mel_rate` and vocoded it:
    then a plain resample shifts the pitch and brings the duration to the style's rate. The
    neutral style returns the input unchanged (as a new tensor).

    Args:
        waveform: ``(S,)`` or ``(1, S)`` float mono audio in ``[-1, 1]``.
        sample_rate: Hz, ``> 0``.
        style: a :class:`SpeechStyle`, an emotion label, or ``{emotion: probability}``
            (see :func:`resolve_style`).
        mel_stretched: the waveform was vocoded from ``stretch_mel(mel, mel_rate(style))``.
        ceiling: maximum absolute sample value after the gain, in ``(0, 1]``.

    Returns:
        ``(S',)`` float32 CPU tensor, ``S' ~= S / rate`` (plus or minus the pause change).

    Raises:
        ValueError: the waveform is not mono or not finite, or ``sample_rate``/``ceiling`` is
            out of range.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if not 0 < ceiling <= 1:
        raise ValueError(f"ceiling must be in (0, 1], got {ceiling}")
    resolved = resolve_style(style)
    y = _as_mono_numpy(waveform)
    if len(y) == 0:
        raise ValueError("waveform is empty")
    if mel_stretched:
        y = _pitch_by_resampling(y, sample_rate, resolved.pitch_semitones)
    else:
        y = _rate_and_pitch(y, sample_rate, resolved.rate, resolved.pitch_semitones)
    y = _scale_pauses(y, sample_rate, resolved.pause_scale)
    if resolved.energy_db != 0.0:
        y = y * np.float32(10.0 ** (resolved.energy_db / 20.0))
    if np.abs(y).max(initial=0.0) > ceiling:
        y = _soft_limit(y, ceiling)
    return torch.from_numpy(np.array(y, dtype=np.float32, copy=True))


def stretch_mel(mel: Tensor, rate: float) -> Tensor:
    """Change the speaking rate of a log-mel spectrogram by linear interpolation over time.

    A neural vocoder then synthesises ``round(T / rate)`` frames with the original pitch and
    fresh phase, avoiding the phase-vocoder artefacts of a waveform time stretch.

    Args:
        mel: ``(n_mels, T)`` or ``(B, n_mels, T)`` float log-mel (any scale), ``T >= 1``.
        rate: speaking-rate factor, ``> 0`` (``1.2``: 20 % faster, fewer frames).

    Returns:
        ``(n_mels, T')`` or ``(B, n_mels, T')``, ``T' = max(1, round(T / rate))``, same dtype
        and device.

    Raises:
        ValueError: ``mel`` is not 2-D or 3-D floating point, or ``rate`` is not positive.
    """
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be a positive number, got {rate}")
    if mel.dim() not in (2, 3) or not mel.is_floating_point() or mel.shape[-1] < 1:
        raise ValueError(f"mel must be float (n_mels, T) or (B, n_mels, T) with T >= 1, got {tuple(mel.shape)} {mel.dtype}")
    frames = mel.shape[-1]
    target = max(1, round(frames / rate))
    if target == frames:
        return mel.clone()
    batch = mel if mel.dim() == 3 else mel.unsqueeze(0)
    if frames == 1:
        out = batch.expand(-1, -1, target).clone()
    else:
        out = torch.nn.functional.interpolate(batch, size=target, mode="linear", align_corners=True)
    return out if mel.dim() == 3 else out[0]
