"""The F0 measure of ``benchmarks/bench_styles.py`` (subharmonic summation) on known tones."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_styles  # noqa: E402

SR = 22050


def _voice(f0: float, seconds: float = 1.5, buzz: float = 0.0) -> np.ndarray:
    """A harmonic tone (10 harmonics, 1/h amplitudes) plus, optionally, a pulse train at the
    vocoders' frame rate (22,050 / 256 Hz), the periodicity the real cepstrum locked onto."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 11))
    if buzz:
        pulses = np.zeros_like(t)
        pulses[::256] = 1.0
        y = y + buzz * pulses * 10
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


@pytest.mark.parametrize("f0", [95.0, 120.0, 210.0])
def test_median_f0_finds_the_tone(f0: float) -> None:
    assert bench_styles.median_f0(_voice(f0), SR) == pytest.approx(f0, rel=0.01)


def test_median_f0_is_not_taken_by_a_frame_rate_buzz_and_sees_a_shift() -> None:
    base = bench_styles.median_f0(_voice(110.0, buzz=0.3), SR)
    assert base == pytest.approx(110.0, rel=0.01)
    up = bench_styles.median_f0(_voice(110.0 * 2 ** (3 / 12), buzz=0.3), SR)
    assert 12 * math.log2(up / base) == pytest.approx(3.0, abs=0.15)
    assert bench_styles.f0_range_semitones(_voice(110.0), SR) < 0.5  # a steady tone has no range
    assert math.isnan(bench_styles.median_f0(np.zeros(1000, dtype=np.float32), SR))  # too short: no frame
