"""English text front end: normalisation to spoken words, sentence splitting, character tokens.

The acoustic models of this plugin read lower-case characters and a little punctuation (no
phonemizer: espeak-ng is GPL and must not be in the default install). :func:`normalize_text`
(from :mod:`facevox_tts.normalize`) turns written English into those spoken words; numbers are
spelled with ``num2words`` (LGPL-2.1, a well-kept library) rather than a home-made speller.

Pipeline, in :class:`EnglishCharacters`::

    normalize_text("Dr. Smith paid $42.50 on May 3rd, 1984.")
    -> "doctor smith paid forty-two dollars and fifty cents on may third, nineteen eighty-four."

then lone letters are spelled by name (:func:`facevox_tts.normalize_words.spell_letters`:
"the f b i at nine a m" -> "the eff bee eye at nine ay em"), because a character model has
hardly ever seen a letter alone: on the 33 sentences of ``benchmarks/bench_tts.py --set numeric``
this lowered the Whisper WER of ``tts.fastspeech_joe`` from 27.3 % to 24.8 %.

Tokens: index 0 is padding, 1 is end-of-sequence (appended to every sequence), then space,
``a``-``z``, apostrophe and the punctuation marks ``, . ! ? -``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import torch
from facevox import TextProcessor
from torch import Tensor

from facevox_tts.normalize import MAX_NUMBER_DIGITS, MAX_WORD_CHARS, chunk_word, normalize_text
from facevox_tts.normalize_words import spell_letters

__all__ = [
    "EOS",
    "MAX_NUMBER_DIGITS",
    "MAX_WORD_CHARS",
    "PAD",
    "SYMBOLS",
    "EnglishCharacters",
    "normalize_text",
    "split_sentences",
]

PAD = "_"
EOS = "~"
_PUNCTUATION = ",.!?-"
SYMBOLS: tuple[str, ...] = (PAD, EOS, " ", *"abcdefghijklmnopqrstuvwxyz", "'", *_PUNCTUATION)
_SPEAKABLE_RE = re.compile(r"[a-z]")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])(?<!\b[a-z]\.)\s+")
"""Where normalised text splits into sentences: after ``. ! ?``, but not after a lone letter's full
stop ("john f. kennedy", "mr. t. f. buxton": normalised text is lower case, so an initial cannot be
told from a sentence end by the capital after it; the training transcripts keep such initials
inside one utterance)."""


def split_sentences(text: str, max_chars: int = 180) -> list[str]:
    """Split normalised text into sentences of at most ``max_chars`` characters.

    Splits after ``. ! ?`` (not after an initial such as ``f.``); a sentence longer than ``max_chars`` is cut again at commas, then
    at spaces, and a word longer than ``max_chars`` into near-equal chunks, so that every piece
    stays within what the model was trained on (and its memory is bounded).

    Args:
        text: normalised text (see :func:`normalize_text`).
        max_chars: upper bound on a piece's length, ``>= 20``.

    Returns:
        non-empty pieces, in order.
    """
    if max_chars < 20:
        raise ValueError(f"max_chars must be >= 20, got {max_chars}")
    pieces: list[str] = []
    for sentence in _SENTENCE_END_RE.split(text.strip()):
        pieces.extend(_cut(sentence.strip(), max_chars))
    return [p for p in pieces if p.strip(" ,.!?-")]


def _cut(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    out: list[str] = []
    current = ""
    for clause in re.split(r"(?<=,)\s+", sentence):
        words = clause.split(" ") if len(clause) > max_chars else [clause]
        for word in (chunk for w in words for chunk in chunk_word(w, max_chars)):
            candidate = f"{current} {word}".strip()
            if len(candidate) > max_chars and current:
                out.append(current)
                current = word
            else:
                current = candidate
    if current:
        out.append(current)
    return out


class _SymbolProcessor(TextProcessor):
    """A text processor over a fixed symbol table (index 0 padding): the symbol table, the
    end-of-sequence id and the padded batch of :meth:`encode` results. Subclasses set
    ``_SYMBOL_TABLE`` and ``_EOS_SYMBOL`` and implement ``normalize``, ``split`` and ``encode``."""

    _SYMBOL_TABLE: tuple[str, ...] = SYMBOLS
    _EOS_SYMBOL: str = EOS

    def __init__(self) -> None:
        self._index = {s: i for i, s in enumerate(self._SYMBOL_TABLE)}

    @property
    def symbols(self) -> Sequence[str]:
        return self._SYMBOL_TABLE

    @property
    def eos_id(self) -> int:
        """Index of the end-of-sequence token."""
        return self._index[self._EOS_SYMBOL]

    def __call__(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        if isinstance(texts, str):
            texts = [texts]
        if not texts:
            raise ValueError("texts is empty; pass a list of one or more strings")
        encoded = [self.encode(t) for t in texts]
        lengths = torch.tensor([len(e) for e in encoded], dtype=torch.int64)
        tokens = torch.zeros(len(encoded), int(lengths.max()), dtype=torch.int64)
        for i, ids in enumerate(encoded):
            tokens[i, : len(ids)] = torch.tensor(ids, dtype=torch.int64)
        return tokens, lengths


class EnglishCharacters(_SymbolProcessor):
    """English text -> character token ids (registered as ``en.chars``).

    ``processor(texts) -> (tokens, lengths)``: each text is normalised
    (:func:`normalize_text`), mapped to :data:`SYMBOLS` indices and ends with the
    end-of-sequence token; ``tokens`` ``(B, L_max)`` int64 padded with 0, ``lengths`` ``(B,)``.

    Raises:
        ValueError: a text is empty, only white space, or has nothing speakable.
    """

    name = "en.chars"

    def normalize(self, text: str) -> str:
        """Spoken, lower-case form of ``text``: :func:`normalize_text`, then lone letters by name."""
        return spell_letters(normalize_text(text))

    def split(self, text: str, max_chars: int = 180) -> list[str]:
        """Normalise ``text`` and split it into sentences (see :func:`split_sentences`).

        Every piece has at most ``max_chars`` characters. Pieces with no speakable letter
        (only symbols outside :data:`SYMBOLS`, e.g. another script) are dropped with a
        ``UserWarning`` when other pieces remain.

        Raises:
            ValueError: ``text`` is empty or has nothing speakable.
        """
        _check_text(text)
        pieces = split_sentences(self.normalize(text), max_chars=max_chars)
        speakable = [p for p in pieces if _SPEAKABLE_RE.search(p)]
        if not speakable:
            raise ValueError(f"text {text[:60]!r} has nothing speakable after normalisation")
        if len(speakable) < len(pieces):
            silent = [p for p in pieces if not _SPEAKABLE_RE.search(p)]
            warnings.warn(
                f"dropped {len(silent)} piece(s) with nothing speakable, e.g. {silent[0][:40]!r}; "
                f"accepted after normalisation: {''.join(SYMBOLS[2:])!r}",
                UserWarning,
                stacklevel=2,
            )
        return speakable

    def encode(self, text: str) -> list[int]:
        """Token ids of one text, end-of-sequence included; unknown symbols dropped with a warning."""
        _check_text(text)
        normalized = self.normalize(text)
        ids: list[int] = []
        unknown: list[str] = []
        for ch in normalized:
            idx = self._index.get(ch)
            if idx is None or idx < 2:
                unknown.append(ch)
            else:
                ids.append(idx)
        if unknown:
            shown = "".join(sorted(set(unknown)))
            warnings.warn(
                f"dropped {len(unknown)} unknown symbol(s) {shown!r} from {text[:40]!r}; "
                f"accepted after normalisation: {''.join(SYMBOLS[2:])!r}",
                UserWarning,
                stacklevel=3,
            )
        if not any(SYMBOLS[i].isalpha() for i in ids):
            raise ValueError(f"text {text[:60]!r} has nothing speakable after normalisation ({normalized!r})")
        return ids + [self.eos_id]


def _check_text(text: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty or only white space; pass some English text to speak")
