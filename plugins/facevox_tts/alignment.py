"""Attention targets for training: teacher durations mapped onto character tokens.

The joe-tts corpus ships, per utterance, the teacher's per-phoneme durations
(``alignments/<id>.tsv``: ``phoneme<TAB>frames``, espeak-ng IPA, a frame = one 256-sample mel
hop, a lone space = word boundary, ``^``/``$`` = sentence start/end). This module turns them
into a near-exact attention path over the *character* tokens of :mod:`facevox_tts.text`:

1. phonemes are grouped into words (split at spaces and at ``^``);
2. the groups are matched to the transcript's words by dynamic programming (espeak merges
   some function words, "in the" -> one group, and splits others, so counts differ);
3. each group's frames are spread over its characters; punctuation phonemes and ``$`` go to
   the punctuation characters, boundary (space) frames to the space tokens, trailing frames
   to the end-of-sequence token.

:func:`attention_target` then gives the ``(T_dec, L)`` decoder-step x token matrix used as an
attention-supervision target and prior. :func:`beta_binomial_prior` (Badlani et al. 2021, "One
TTS Alignment to Rule Them All") is the fallback when no durations are available.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.special import betaln, gammaln

__all__ = ["PhonemeGroup", "attention_target", "beta_binomial_prior", "char_durations", "read_durations"]

_PUNCT = set(",.;:?!")
_MODIFIERS = set("ˈˌːʲ\u0329")


@dataclass
class PhonemeGroup:
    """One teacher word: ``lead`` frames (sentence-start silence), ``body`` frames of its
    phonemes, ``punct`` frames of trailing punctuation/sentence end, ``after`` frames of the
    following boundary (space), and its phoneme count (modifiers excluded)."""

    lead: int = 0
    body: int = 0
    punct: int = 0
    after: int = 0
    n_phonemes: int = 0
    phonemes: list[str] = field(default_factory=list)


def read_durations(path: str | Path) -> list[tuple[str, int]]:
    """``(phoneme, frames)`` lines of a teacher ``.tsv``.

    Raises:
        ValueError: a malformed line (file and line number named).
    """
    out: list[tuple[str, int]] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").split("\n"), start=1):
        if not line:
            continue
        ph, sep, frames = line.rpartition("\t")
        if not sep or not frames.strip().lstrip("-").isdigit():
            raise ValueError(f"{path}:{n}: expected 'phoneme<TAB>frames', got {line!r}")
        out.append((ph, int(frames)))
    return out


def _groups(durations: list[tuple[str, int]]) -> tuple[list[PhonemeGroup], int]:
    """Phoneme words and the frames before the first one."""
    groups: list[PhonemeGroup] = []
    current = PhonemeGroup()
    pending_lead = 0
    for ph, f in durations:
        if ph == " ":
            if current.n_phonemes:
                current.after += f
                groups.append(current)
                current = PhonemeGroup()
            else:
                pending_lead += f
        elif ph == "^":
            if current.n_phonemes:
                groups.append(current)
                current = PhonemeGroup()
            pending_lead += f
        elif ph in _PUNCT or ph == "$":
            if current.n_phonemes:
                current.punct += f
            elif groups:
                groups[-1].punct += f
            else:
                pending_lead += f
        else:
            if not current.n_phonemes and not current.body:
                current.lead, pending_lead = pending_lead, 0
            current.body += f
            current.phonemes.append(ph)
            if ph not in _MODIFIERS:
                current.n_phonemes += 1
    if current.n_phonemes:
        groups.append(current)
    elif groups:
        groups[-1].after += current.body + pending_lead
        pending_lead = 0
    return groups, pending_lead


def _word_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` character spans of the space-separated words of ``text``."""
    spans = []
    i = 0
    for word in text.split(" "):
        if word:
            spans.append((i, i + len(word)))
        i += len(word) + 1
    return spans


def _match(words: list[str], groups: list[PhonemeGroup]) -> list[tuple[int, int, int, int]] | None:
    """Monotonic matching of words to groups: ``(w0, w1, g0, g1)`` spans, or ``None``."""
    n, m = len(words), len(groups)
    letters = [max(1, sum(c.isalpha() for c in w)) for w in words]
    phones = [max(1, g.n_phonemes) for g in groups]
    moves = [(1, 1, 0.0), (2, 1, 0.6), (3, 1, 1.2), (1, 2, 0.6), (1, 3, 1.2), (2, 2, 1.0)]
    inf = float("inf")
    cost = np.full((n + 1, m + 1), inf)
    back: dict[tuple[int, int], tuple[int, int]] = {}
    cost[0, 0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if cost[i, j] == inf:
                continue
            for dw, dg, penalty in moves:
                a, b = i + dw, j + dg
                if a > n or b > m:
                    continue
                ratio = math.log(sum(phones[j:b]) / sum(letters[i:a]))
                c = cost[i, j] + penalty + abs(ratio + 0.1) * 2.0
                if c < cost[a, b]:
                    cost[a, b] = c
                    back[(a, b)] = (i, j)
    if cost[n, m] == inf or cost[n, m] > 1.5 * max(n, 1) + 2:
        return None
    spans = []
    a, b = n, m
    while (a, b) != (0, 0):
        i, j = back[(a, b)]
        spans.append((i, a, j, b))
        a, b = i, j
    return spans[::-1]


def _spread(total: int, weights: list[float]) -> list[int]:
    """Integer split of ``total`` proportional to ``weights`` (cumulative rounding)."""
    if not weights:
        return []
    s = sum(weights) or 1.0
    cum = np.round(np.cumsum(np.asarray(weights) / s) * total).astype(int)
    return list(np.diff(np.concatenate([[0], cum])))


def char_durations(text: str, durations: list[tuple[str, int]]) -> list[int] | None:
    """Frames per character of ``text`` plus one end-of-sequence slot.

    Args:
        text: the normalised text whose characters are the tokens (see
            :func:`facevox_tts.text.normalize_text`), without the end token.
        durations: teacher ``(phoneme, frames)`` lines (:func:`read_durations`).

    Returns:
        ``len(text) + 1`` non-negative ints summing to the total teacher frames, or ``None``
        when the words cannot be matched (then use :func:`beta_binomial_prior`).
    """
    groups, lead = _groups(durations)
    spans = _word_spans(text)
    words = [text[a:b] for a, b in spans]
    if not groups or not words:
        return None
    matched = _match(words, groups)
    if matched is None:
        return None
    out = [0] * (len(text) + 1)
    for w0, w1, g0, g1 in matched:
        gs = groups[g0:g1]
        start, end = spans[w0][0], spans[w1 - 1][1]
        chars = list(range(start, end))
        body_chars = [k for k in chars if text[k] not in _PUNCT and text[k] not in "!?"]
        punct_chars = [k for k in chars if k not in body_chars]
        body = sum(g.lead + g.body for g in gs) + sum(g.after for g in gs[:-1])
        punct = sum(g.punct for g in gs)
        if punct_chars:
            for k, f in zip(punct_chars, _spread(punct, [1.0] * len(punct_chars)), strict=False):
                out[k] += f
        else:
            out[end] += punct  # an unwritten pause: the following space (or the end token)
        targets = body_chars or chars
        weights = [0.5 if text[k] in " '-" else 1.0 for k in targets]
        for k, f in zip(targets, _spread(body, weights), strict=False):
            out[k] += f
        after = gs[-1].after
        out[end] += after
    out[spans[0][0]] += lead
    return out


def attention_target(durations: list[int], reduction_factor: int, n_frames: int) -> np.ndarray:
    """Decoder-step x token attention target from per-token frame counts.

    Args:
        durations: frames per token (the end token last); their sum may differ from
            ``n_frames`` by a few frames (the remainder goes to / is cut from the end token).
        reduction_factor: frames per decoder step ``r``.
        n_frames: mel frames ``T`` of the utterance.

    Returns:
        ``(ceil(T / r), L)`` float32, rows summing to 1: the fraction of each decoder step's
        frames spent on each token (padding frames of the last step count for the end token).
    """
    d = np.asarray(durations, dtype=np.int64).copy()
    d[-1] += max(0, n_frames - int(d.sum()))
    owner = np.repeat(np.arange(len(d)), d)[:n_frames]
    t_dec = math.ceil(n_frames / reduction_factor)
    owner = np.concatenate([owner, np.full(t_dec * reduction_factor - len(owner), len(d) - 1)])
    target = np.zeros((t_dec, len(d)), dtype=np.float32)
    steps = np.arange(len(owner)) // reduction_factor
    np.add.at(target, (steps, owner), 1.0 / reduction_factor)
    return target


def beta_binomial_prior(n_tokens: int, n_steps: int, scaling: float = 1.0) -> np.ndarray:
    """Beta-binomial alignment prior (Badlani et al. 2021): ``(n_steps, n_tokens)`` float32.

    Row ``i`` is the beta-binomial pmf over tokens with ``alpha = scaling * (i + 1)``,
    ``beta = scaling * (n_steps - i)``: a soft diagonal, rows summing to 1.
    """
    k = np.arange(n_tokens)
    n = n_tokens - 1
    rows = []
    for i in range(1, n_steps + 1):
        a, b = scaling * i, scaling * (n_steps + 1 - i)
        log_pmf = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + betaln(k + a, n - k + b) - betaln(a, b)
        rows.append(np.exp(log_pmf))
    prior = np.asarray(rows, dtype=np.float32)
    return prior / prior.sum(1, keepdims=True)
