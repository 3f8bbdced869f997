"""DNSMOS P.835 (Reddy et al., ICASSP 2022) for speech-quality benchmarks, offline on CPU.

Uses the ONNX models that ship inside the ``speechmos`` wheel (``bench`` extra); no network.
DNSMOS predicts, per clip, the mean opinion scores a P.835 listening test would give (1 to 5):
``sig`` (speech signal), ``bak`` (background), ``ovrl`` (overall). It was trained on noisy and
enhanced speech, so it judges artifacts (buzz, metallic phase, noise) rather than voice or
prosody; compare vocoders on the same mels, not absolute numbers across data sets.

Python::

    from mos import dnsmos             # with benchmarks/ on sys.path
    scores = dnsmos(waveform, 22050)   # {"sig": ..., "bak": ..., "ovrl": ...}
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["dnsmos"]

_RATE = 16000


def dnsmos(waveform: torch.Tensor | np.ndarray, sample_rate: int) -> dict[str, float]:
    """DNSMOS of one mono clip ``(S,)`` float in ``[-1, 1]`` at ``sample_rate`` Hz.

    Raises:
        ImportError: the ``bench`` extra (``speechmos``) is not installed.
        ValueError: not a 1-D waveform, or values outside ``[-1, 1]``.
    """
    try:
        from speechmos import dnsmos as _dnsmos
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('DNSMOS needs the bench extra: pip install -e ".[bench]" (speechmos)') from exc
    import librosa

    audio = waveform.detach().cpu().float().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
    if audio.ndim != 1:
        raise ValueError(f"dnsmos takes a mono waveform (S,), got shape {audio.shape}")
    audio = librosa.resample(audio.astype(np.float32), orig_sr=sample_rate, target_sr=_RATE)
    audio = np.clip(audio, -1.0, 1.0)
    result = _dnsmos.run(audio, _RATE)
    return {"sig": float(result["sig_mos"]), "bak": float(result["bak_mos"]), "ovrl": float(result["ovrl_mos"])}
