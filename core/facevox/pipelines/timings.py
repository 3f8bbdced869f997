"""Word and token timings of synthesized speech, read from the acoustic model's alignment.

An acoustic model's :attr:`facevox.AcousticOutput.alignments` says which input token every
decoder step reads: the one-hot path of a duration model's length regulator (FastSpeech), or
soft attention weights (Tacotron). Each step is assigned to its argmax token and the token
index is made monotonic (a running maximum), so that every token owns one contiguous run of
steps (a skipped token owns none); a step is ``reduction_factor`` mel frames, and a frame is
``hop_length / sample_rate`` seconds of the vocoded waveform. A *word* is a run of tokens
between white-space tokens, less the tokens at its edges that hold no letter or digit
(punctuation, the end-of-sequence token), so ``"smith."`` times the letters of ``smith``.

:class:`facevox.pipelines.speech.TextToSpeechPipeline` fills :attr:`SpeechResult.words`
with these functions; :func:`follow_style` carries the timings onto speech that a
:class:`facevox.SpeechStyle` re-timed afterwards (rate, pitch and pause changes)::

    result = TextToSpeechPipeline()("Hello there. How are you?")
    for w in result.words:
        print(f"{w.start:6.3f} {w.end:6.3f} {w.word}")
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    from facevox.styles import SpeechStyle

__all__ = [
    "TokenTiming",
    "WordTiming",
    "follow_style",
    "retime",
    "style_time_map",
    "token_boundaries",
    "token_timings",
    "word_spans",
    "word_timings",
]


@dataclass(frozen=True)
class WordTiming:
    """When one word is spoken.

    Attributes:
        word: the spoken, normalised word (``"doctor"`` for ``"Dr."``), without punctuation.
        start: seconds from the start of the waveform it was timed on, ``>= 0``.
        end: seconds, ``>= start``.
        sentence: index of the sentence (piece) it belongs to, in speaking order.
    """

    word: str
    start: float
    end: float
    sentence: int = 0

    def as_dict(self) -> dict[str, Any]:
        """``{"word", "start", "end"}`` with the times rounded to milliseconds (what ``facevox speak --json`` prints)."""
        return {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3)}


@dataclass(frozen=True)
class TokenTiming:
    """When one input token (a character, a phoneme, the end token) is spoken.

    Attributes:
        symbol: the token's symbol in the text processor's vocabulary.
        start: seconds from the start of the waveform it was timed on, ``>= 0``.
        end: seconds, ``>= start`` (``== start``: the model gave the token no frame).
        sentence: index of the sentence (piece) it belongs to.
    """

    symbol: str
    start: float
    end: float
    sentence: int = 0


_Timing = TypeVar("_Timing", WordTiming, TokenTiming)


def token_boundaries(alignment: Tensor, n_frames: int, reduction_factor: int = 1) -> Tensor:
    """Mel-frame boundaries of every token of one sequence.

    Every decoder step goes to its argmax token; the token indices are then made monotonic
    with a running maximum (attention that glances back does not reorder the tokens), and token
    ``i`` starts at the first step whose index is ``>= i``. A step is ``reduction_factor``
    frames; the last step may be cut by ``n_frames`` (a stop in the middle of a step).

    Args:
        alignment: ``(T_dec, L)`` float weights of one item: a one-hot path (duration models)
            or attention weights (rows summing to 1). Steps past ``ceil(n_frames / r)`` are
            ignored (batch padding); all-zero steps belong to the token before them.
        n_frames: valid mel frames of the item, ``1 <= n_frames <= T_dec * r``.
        reduction_factor: mel frames per decoder step ``r >= 1`` (the model's ``reduction_factor``).

    Returns:
        ``(L + 1,)`` int64, non-decreasing, from ``0`` to ``n_frames``: token ``i`` spans frames
        ``[b[i], b[i + 1])``.

    Raises:
        ValueError: ``alignment`` is not 2-D with ``L >= 1``, or ``n_frames`` / ``reduction_factor``
            is out of range.
    """
    if alignment.dim() != 2 or alignment.shape[1] < 1:
        raise ValueError(f"alignment must be (T_dec, L) with L >= 1, got shape {tuple(alignment.shape)}")
    if reduction_factor < 1:
        raise ValueError(f"reduction_factor must be >= 1, got {reduction_factor}")
    steps = -(-n_frames // reduction_factor)
    if not 1 <= steps <= alignment.shape[0]:
        raise ValueError(
            f"n_frames must be in [1, {alignment.shape[0] * reduction_factor}] for {alignment.shape[0]} decoder "
            f"steps of {reduction_factor} frame(s), got {n_frames}"
        )
    path = alignment[:steps].detach().float().cpu().argmax(dim=1).cummax(dim=0).values
    starts = torch.searchsorted(path, torch.arange(alignment.shape[1] + 1, dtype=path.dtype))
    return (starts * reduction_factor).clamp(max=n_frames)


def word_spans(symbols: Sequence[str]) -> list[tuple[int, int]]:
    """Token ranges ``[first, stop)`` of the words of a token sequence, in order.

    Words are runs of tokens between tokens that are white space (or empty); the tokens at the
    edges of a run that hold no letter or digit (``,``, ``.``, ``-``, an end token ``~``) are
    left out, and a run with nothing left is no word. ``'`` and ``-`` inside a word stay
    (``don't``, ``forty-two`` are one word each, as ``str.split`` counts them).

    Args:
        symbols: the symbol of every token, e.g. ``[processor.symbols[i] for i in ids]``.
    """
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for i, symbol in enumerate([*symbols, " "]):
        if symbol.strip():
            start = i if start is None else start
            continue
        if start is not None:
            voiced = [j for j in range(start, i) if any(c.isalnum() for c in symbols[j])]
            if voiced:
                spans.append((voiced[0], voiced[-1] + 1))
            start = None
    return spans


def _text_words(text: str) -> list[str]:
    """The words of ``text`` by the rule of :func:`word_spans`: white-space runs, edges without letters or digits cut."""
    words = []
    for chunk in text.split():
        keep = [i for i, c in enumerate(chunk) if c.isalnum()]
        if keep:
            words.append(chunk[keep[0] : keep[-1] + 1])
    return words


def token_timings(
    alignment: Tensor,
    symbols: Sequence[str],
    *,
    n_frames: int,
    frame_s: float,
    reduction_factor: int = 1,
    offset_s: float = 0.0,
    sentence: int = 0,
) -> list[TokenTiming]:
    """Start and end of every token of one sequence, in seconds.

    Args:
        alignment: ``(T_dec, L)`` alignment of the item (see :func:`token_boundaries`).
        symbols: ``L`` symbols, one per token (the end token included).
        n_frames: valid mel frames of the item.
        frame_s: seconds per mel frame (``hop_length / sample_rate``), ``> 0``.
        reduction_factor: mel frames per decoder step.
        offset_s: seconds added to every time (where the item starts in the whole waveform).
        sentence: the :attr:`TokenTiming.sentence` of the results.

    Raises:
        ValueError: ``len(symbols) != L``, ``frame_s <= 0``, or what :func:`token_boundaries` raises.
    """
    bounds = _bounds(alignment, symbols, n_frames, frame_s, reduction_factor)
    times = [offset_s + float(b) * frame_s for b in bounds.tolist()]
    return [TokenTiming(s, times[i], times[i + 1], sentence) for i, s in enumerate(symbols)]


def word_timings(
    alignment: Tensor,
    symbols: Sequence[str],
    *,
    n_frames: int,
    frame_s: float,
    reduction_factor: int = 1,
    offset_s: float = 0.0,
    sentence: int = 0,
    text: str | None = None,
) -> list[WordTiming]:
    """Start and end of every word of one sequence, in seconds.

    A word spans its tokens (:func:`word_spans`): from the first frame of its first letter to
    the last frame of its last; the white space and punctuation between words belong to none.

    Args:
        alignment, symbols, n_frames, frame_s, reduction_factor, offset_s, sentence: as for
            :func:`token_timings`.
        text: the normalised text the tokens were made from: its words name the timings (the
            spelling of a phoneme-based processor's words). When the tokens have fewer or more
            words (a phoneme front end writes "of the" as one word), runs of text words are
            matched to runs of token words by size, and a run's time is shared among its words
            in proportion to their letters (a lone letter counts two: its name). ``None``: the
            tokens' symbols are joined.

    Returns:
        one :class:`WordTiming` per word of ``text`` (per token word without it), in order;
        starts and ends are non-decreasing.

    Raises:
        ValueError: as :func:`token_timings`.
    """
    bounds = _bounds(alignment, symbols, n_frames, frame_s, reduction_factor).tolist()
    spans = word_spans(symbols)
    names = _text_words(text) if text is not None else []
    if not names or not spans:
        names = ["".join(symbols[a:b]) for a, b in spans]
    if len(names) == len(spans):
        return [
            WordTiming(name, offset_s + bounds[a] * frame_s, offset_s + bounds[b] * frame_s, sentence)
            for name, (a, b) in zip(names, spans, strict=True)
        ]
    out = []
    sizes = [_text_size(n) for n in names]
    for (w0, w1), (s0, s1) in _match_words(sizes, [_letters(symbols, a, b) for a, b in spans]):
        start, end = float(bounds[spans[s0][0]]), float(bounds[spans[s1 - 1][1]])
        weights = np.cumsum([0, *sizes[w0:w1]], dtype=np.float64)
        cuts = start + (end - start) * weights / weights[-1]
        out += [WordTiming(names[w0 + k], offset_s + float(cuts[k]) * frame_s,
                           offset_s + float(cuts[k + 1]) * frame_s, sentence) for k in range(w1 - w0)]
    return out


def _letters(symbols: Sequence[str], a: int, b: int) -> int:
    """Sounds of a token word: its letters and digits, less modifier letters (IPA stress and
    length marks ``ˈ ˌ ː``)."""
    return max(1, sum(1 for s in symbols[a:b] for c in s if c.isalnum() and unicodedata.category(c) != "Lm"))


def _text_size(word: str) -> int:
    """Sounds of a text word, roughly: its letters; a lone letter is said as its name (two sounds)."""
    letters = sum(1 for c in word if c.isalnum())
    return 2 if letters == 1 and word.isalpha() else max(1, letters)


def _match_words(text_sizes: Sequence[int], token_sizes: Sequence[int]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Pair runs of text words with runs of token words, in order, when their counts differ.

    A phoneme front end writes some word pairs as one ("did not" -> ``dɪdnˌɑːt``, "of the" ->
    ``ʌvðə``), so the text's words and the tokens' words do not pair one to one. A monotonic
    alignment (dynamic programming) groups 1-6 text words with one token word (a spelled acronym,
    "f b i", is one phoneme word), or one text word with 2-3 token words, minimising the size
    mismatch (sounds on each side, each side scaled to its total) plus a small cost per group that
    is not 1:1, larger when a merged word is long (espeak-ng merges function words and letters,
    not content words).

    Returns:
        ``((first_word, stop_word), (first_span, stop_span))`` groups covering both lists.
    """
    n, m = len(text_sizes), len(token_sizes)
    tw = np.cumsum([0, *text_sizes], dtype=np.float64) / max(sum(text_sizes), 1)
    sw = np.cumsum([0, *token_sizes], dtype=np.float64) / max(sum(token_sizes), 1)
    moves = [(k, 1) for k in range(1, 7)] + [(1, k) for k in (2, 3)]
    cost = np.full((n + 1, m + 1), np.inf)
    back: dict[tuple[int, int], tuple[int, int]] = {}
    cost[0, 0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if not np.isfinite(cost[i, j]):
                continue
            for di, dj in moves:
                a, b = i + di, j + dj
                if a > n or b > m:
                    continue
                c = cost[i, j] + abs((tw[a] - tw[i]) - (sw[b] - sw[j])) + (0.0 if di == dj else 0.01)
                if di > 1:  # merged words are short ("of the", "f b i"), rarely a content word
                    c += 0.02 * sum(size > 4 for size in text_sizes[i:a])
                if c < cost[a, b]:
                    cost[a, b], back[(a, b)] = c, (i, j)
    if not np.isfinite(cost[n, m]):  # too lopsided for these groups: one group
        return [((0, n), (0, m))]
    groups, at = [], (n, m)
    while at != (0, 0):
        prev = back[at]
        groups.append(((prev[0], at[0]), (prev[1], at[1])))
        at = prev
    return groups[::-1]


def _bounds(alignment: Tensor, symbols: Sequence[str], n_frames: int, frame_s: float, r: int) -> Tensor:
    if alignment.dim() == 2 and len(symbols) != alignment.shape[1]:
        raise ValueError(f"{len(symbols)} symbols for an alignment of {alignment.shape[1]} tokens; give one per token")
    if not frame_s > 0:
        raise ValueError(f"frame_s must be > 0 seconds, got {frame_s}")
    return token_boundaries(alignment, n_frames, r)


def retime(
    timings: Sequence[_Timing], source_s: Sequence[float] | np.ndarray, target_s: Sequence[float] | np.ndarray
) -> list[_Timing]:
    """Timings carried through a piecewise-linear time map.

    Args:
        timings: :class:`WordTiming` or :class:`TokenTiming` items.
        source_s: increasing anchor times of the map, seconds of the timings' waveform.
        target_s: non-decreasing times the anchors go to, seconds of the new waveform; times
            between anchors are interpolated, times outside are clamped to the ends.

    Returns:
        copies of ``timings`` with new ``start`` and ``end``.

    Raises:
        ValueError: the anchors differ in number, are fewer than 2, or are not increasing.
    """
    xp, fp = np.asarray(source_s, dtype=np.float64), np.asarray(target_s, dtype=np.float64)
    if xp.shape != fp.shape or xp.ndim != 1 or len(xp) < 2:
        raise ValueError(f"need two equal lists of >= 2 anchors, got {len(xp)} and {len(fp)}")
    if np.any(np.diff(xp) <= 0) or np.any(np.diff(fp) < 0):
        raise ValueError("source anchors must increase and target anchors must not decrease")
    starts = np.interp([t.start for t in timings], xp, fp)
    ends = np.interp([t.end for t in timings], xp, fp)
    return [replace(t, start=float(s), end=float(e)) for t, s, e in zip(timings, starts, ends, strict=True)]


def style_time_map(
    neutral_duration_s: float,
    waveform: Tensor | np.ndarray,
    sample_rate: int,
    style: SpeechStyle | str | Mapping[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """How :func:`facevox.styles.apply_style` moved time: anchors from neutral to styled seconds.

    A style re-times speech in two steps: its rate (and the duration side of its pitch shift)
    stretches all of it evenly, then ``pause_scale`` lengthens or shortens the inner silent
    gaps of at least 120 ms, leaving the voiced parts and the edges as they are. The gaps are
    found again on the styled ``waveform`` the way ``apply_style`` found them (librosa's
    ``effects.split``, 40 dB below the peak); a gap's length before the pause change is
    ``length / pause_scale`` (a gap that would then be under 120 ms was left alone), and, as in
    ``apply_style``, the change happened in its middle: the first and last halves of the shorter
    of the two lengths keep their places next to the voice, and a time in a cut-out middle goes
    to the cut. The even stretch is whatever makes the rest fill the styled duration exactly. A
    gap whose detection differs between the two signals (a borderline 120 ms silence) moves the
    times after it by at most a few tens of ms. ``apply_style`` never shortens a gap below 60 ms,
    so under ``pause_scale < 0.5`` the shortest gaps are mapped approximately, and ``pause_scale
    == 0`` (every gap cut to 60 ms) cannot be undone at all: the map is then one even stretch.

    Args:
        neutral_duration_s: duration of the unstyled speech the timings refer to, seconds, ``> 0``.
        waveform: ``(S,)`` (or ``(1, S)``) styled speech.
        sample_rate: Hz of ``waveform``.
        style: the style that was applied (a :class:`facevox.SpeechStyle`, an emotion label or
            ``{emotion: probability}``, see :func:`facevox.styles.resolve_style`).

    Returns:
        ``(source_s, target_s)``, float64 arrays of equal length ``>= 2``: neutral seconds and
        the styled seconds they went to, from ``(0, 0)`` to ``(neutral, styled duration)``;
        give them to :func:`retime`.

    Raises:
        ValueError: ``neutral_duration_s <= 0``, ``sample_rate <= 0`` or an empty / non-mono waveform.
    """
    from facevox.styles import MIN_PAUSE_S, resolve_style, voiced_intervals

    if not neutral_duration_s > 0 or sample_rate <= 0:
        raise ValueError(f"need neutral_duration_s > 0 and sample_rate > 0, got {neutral_duration_s}, {sample_rate}")
    y = waveform.detach().float().cpu().numpy() if isinstance(waveform, Tensor) else np.asarray(waveform, np.float32)
    y = y.reshape(-1) if y.ndim == 2 and y.shape[0] == 1 else y
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"waveform must be non-empty mono (S,), got shape {tuple(y.shape)}")
    scale = resolve_style(style).pause_scale
    before, after = [0.0], [0.0]  # anchors in samples: after the even stretch, and after the pause change
    added = 0.0  # samples the pause change added so far
    if scale > 0 and scale != 1.0 and len(y) >= 2048:  # apply_style leaves shorter audio as it is
        voiced = voiced_intervals(y)
        min_gap = int(MIN_PAUSE_S * sample_rate)
        for (_, gap_start), (gap_end, _) in zip(voiced[:-1], voiced[1:], strict=True):
            styled = float(gap_end - gap_start)
            original = styled / scale
            if original < min_gap:
                continue
            kept = min(original, styled) / 2  # samples kept at each edge of the gap
            start = gap_start - added  # the gap's start before the pause change
            jump = 1e-3 if styled > original else 0.0  # a lengthened gap's middle point jumps over the insert
            before += [start, start + kept, start + original - kept + jump, start + original]
            after += [float(gap_start), gap_start + kept, gap_end - kept, float(gap_end)]
            added += styled - original
    stretched = len(y) - added  # samples after the even stretch, before the pause change
    source = np.array([*before, stretched]) * (neutral_duration_s / stretched)
    target = np.array([*after, float(len(y))]) / sample_rate
    keep = np.concatenate([[True], np.diff(source) > 0])  # drop anchors a rounding made coincide
    return source[keep], target[keep]


def follow_style(
    timings: Sequence[_Timing],
    neutral_duration_s: float,
    waveform: Tensor | np.ndarray,
    sample_rate: int,
    style: SpeechStyle | str | Mapping[str, float],
) -> list[_Timing]:
    """Timings of neutral speech moved onto the same speech after a style re-timed it.

    ``retime(timings, *style_time_map(...))``: see :func:`style_time_map` for the arguments
    and how the map is found. For :class:`facevox.pipelines.face_to_voice.FaceToVoiceResult`
    ``r``: ``follow_style(r.extra["speech"].words, r.neutral_duration_s, r.waveform,
    r.sample_rate, r.style)``.

    Returns:
        copies of ``timings`` in seconds of ``waveform``, within ``[0, its duration]``.
    """
    if not timings:
        return []
    return retime(timings, *style_time_map(neutral_duration_s, waveform, sample_rate, style))
