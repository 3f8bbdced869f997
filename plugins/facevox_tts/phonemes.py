"""English text -> espeak-ng IPA phoneme tokens (the ``en.ipa`` text processor).

A character model must learn English spelling from its training transcripts: words it never saw
("NASA", "media", "wind" in LJSpeech's 1960s prose) come out wrong. A phoneme model reads the
pronunciation instead. The phonemes are espeak-ng's IPA as Piper computes them (the same
inventory as the joe-tts teacher alignments, so the training targets need no mapping), from
``piper-tts``'s bundled espeak-ng (``piper.phonemize_espeak``). espeak-ng and ``piper-tts`` are
GPL-3.0-or-later, so they are an optional extra, not part of facevox's MIT default install::

    pip install "facevox[phonemes]"

Pipeline, in :class:`EnglishPhonemes`: :func:`facevox_tts.normalize.normalize_text` (times,
money, dates, abbreviations to spoken words), as ``en.chars`` does; runs of lone letters are
written as dotted capitals ("the F.B.I", :func:`letters_for_espeak`); then espeak-ng (voice
``en-us``) phonemises each sentence; every sentence becomes
``^ phonemes $`` (Piper's sentence start and end tokens), so a sequence ends with ``$``, the
end-of-sequence token.

Tokens: index 0 is padding, then :data:`IPA_SYMBOLS` (the 57 symbols of the joe-tts alignments:
``^ $``, word space, punctuation ``, . ; : ? !``, stress marks and the IPA letters, one Unicode
code point each, as Piper splits them). A phoneme outside them (rare: espeak-ng's ``ɬ``, ``ç``)
is dropped with a warning.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Sequence
from typing import Any

from facevox_tts.normalize_words import LETTER_NAMES, spell_letters
from facevox_tts.text import (
    _SENTENCE_END_RE,
    SYMBOLS,
    _check_text,
    _SymbolProcessor,
    normalize_text,
    split_sentences,
)

__all__ = ["BOS", "EOS", "IPA_SYMBOLS", "PAD", "EnglishPhonemes", "letters_for_espeak", "phonemize",
           "tokens_from_alignment"]

PAD = "_"
BOS = "^"
EOS = "$"
IPA_SYMBOLS: tuple[str, ...] = (
    PAD, BOS, EOS, " ", ",", ".", ";", ":", "?", "!", "ˈ", "ˌ", "ː", "\u0329", "ʲ",
    "a", "b", "d", "e", "f", "h", "i", "j", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u", "v", "w",
    "x", "z", "æ", "ð", "ŋ", "ɐ", "ɑ", "ɔ", "ə", "ɚ", "ɛ", "ɜ", "ɡ", "ɪ", "ɹ", "ɾ", "ʃ", "ʊ", "ʌ", "ʒ",
    "ʔ", "θ", "ᵻ",
)
"""Padding, then the 57 symbols of the joe-tts teacher alignments (espeak-ng en-us IPA)."""
_IPA_INDEX = {s: i for i, s in enumerate(IPA_SYMBOLS)}

_MARKED = {c: f"\x00{c.upper()}" for c in LETTER_NAMES}  # spell_letters marks each lone letter
_MARKED_RUN_RE = re.compile(r"\x00[A-Z](?: \x00[A-Z])*('s)?")

_ACCEPTED = frozenset(SYMBOLS[2:])  # what en.chars reads: a-z, space, apostrophe, ", . ! ? -"
_PHONEMIZER: Any = None
_LOCK = threading.Lock()  # espeak-ng is one C library with global state


def _espeak() -> Any:
    global _PHONEMIZER
    if _PHONEMIZER is None:
        try:
            from piper.phonemize_espeak import EspeakPhonemizer
        except ImportError as exc:
            raise ImportError(
                f"the en.ipa text processor needs espeak-ng from piper-tts ({exc}); install it with "
                'pip install "facevox[phonemes]" (GPL-3.0-or-later), or use a character model such as '
                "tts.fastspeech_joe (text processor en.chars)"
            ) from exc
        _PHONEMIZER = EspeakPhonemizer()
    return _PHONEMIZER


def phonemize(text: str, voice: str = "en-us") -> list[list[str]]:
    """espeak-ng IPA of ``text``, one list of symbols (code points) per sentence.

    Args:
        text: spoken-form text (see :func:`normalize_text`); espeak-ng reads digits itself.
        voice: espeak-ng voice name.

    Raises:
        ImportError: ``piper-tts`` is not installed (the message says how to install it).
    """
    phonemizer = _espeak()
    with _LOCK:
        sentences: list[list[str]] = phonemizer.phonemize(voice, text)
    return [s for s in sentences if any(p.strip() for p in s)]


def letters_for_espeak(text: str) -> str:
    """Runs of lone letters in normalised text written as dotted capitals: "the f b i" -> "the F.B.I".

    espeak-ng reads "F.B.I" as one acronym (``ˌɛfbˌiːʲˈaɪ``, as the teacher said "FBI" in the
    corpus) but "FBI"-like capitals that spell a word as that word ("AM" -> ``æm``), "a" alone as
    the article and a spelled name such as "eff" as the letters E, F, F. Which single letters are
    letters follows :func:`facevox_tts.normalize_words.spell_letters` ("a" and "i" only inside a
    run of letters).
    """

    def dotted(match: re.Match[str]) -> str:  # no final dot: "A.M., E.D.T." would end a sentence
        letters = match.group(0).removesuffix("'s").replace("\x00", "").split(" ")
        return ".".join(letters) + (".'s" if match.group(1) else "")  # "C.D's" would be "C dot D's"

    return _MARKED_RUN_RE.sub(dotted, spell_letters(text, _MARKED))


def tokens_from_alignment(rows: Sequence[tuple[str, int]]) -> tuple[list[int], list[int]]:
    """Token ids and frames of a teacher alignment (``alignments/<id>.tsv`` rows, in order).

    The alignment's phonemes are the tokens, so its frames are the duration targets as they are.

    Raises:
        ValueError: a phoneme outside :data:`IPA_SYMBOLS` (named), or no rows.
    """
    if not rows:
        raise ValueError("the alignment has no rows")
    ids, frames = [], []
    for ph, f in rows:
        if ph not in _IPA_INDEX or ph == PAD:
            raise ValueError(f"phoneme {ph!r} is not in the en.ipa inventory {''.join(IPA_SYMBOLS[1:])!r}")
        ids.append(_IPA_INDEX[ph])
        frames.append(f)
    return ids, frames


class EnglishPhonemes(_SymbolProcessor):
    """English text -> espeak-ng IPA token ids (registered as ``en.ipa``).

    ``processor(texts) -> (tokens, lengths)``: each text is normalised as ``en.chars`` does,
    phonemised and framed as ``^ ... $`` per sentence; ``tokens`` ``(B, L_max)`` int64 padded
    with 0, ``lengths`` ``(B,)``. Needs ``piper-tts`` (``pip install "facevox[phonemes]"``).

    Raises:
        ValueError: a text is empty, only white space, or has nothing speakable.
        ImportError: ``piper-tts`` is missing (raised by the first text, not by construction, so
            that ``facevox info`` works without it).
    """

    name = "en.ipa"
    _SYMBOL_TABLE = IPA_SYMBOLS
    _EOS_SYMBOL = EOS  # "$"

    def normalize(self, text: str) -> str:
        """Spoken, lower-case form of ``text`` (:func:`normalize_text`): the words the timings
        name; lone letters stay letters ("f b i") and are written for espeak-ng at encoding
        (:func:`letters_for_espeak`)."""
        return normalize_text(text)

    def split(self, text: str, max_chars: int = 180) -> list[str]:
        """Normalise ``text`` and split it into sentences of at most ``max_chars`` characters.

        Raises:
            ValueError: ``text`` is empty or has no letters after normalisation.
        """
        _check_text(text)
        pieces = [p for p in split_sentences(self.normalize(text), max_chars=max_chars) if any(c.isalpha() for c in p)]
        if not pieces:
            raise ValueError(f"text {text[:60]!r} has nothing speakable after normalisation")
        return pieces

    def encode(self, text: str) -> list[int]:
        """Token ids of one text: ``^ phonemes $`` per sentence; unknown phonemes dropped with a warning."""
        _check_text(text)
        normalized = self.normalize(text)
        # what en.chars cannot read (another script, emoji) is dropped here too, rather than
        # read out by espeak-ng ("chinese letter", "slightly smiling face")
        foreign = sorted({c for c in normalized if c not in _ACCEPTED})
        if foreign:
            warnings.warn(
                f"dropped symbol(s) {''.join(foreign)!r} from {text[:40]!r}; accepted after normalisation: "
                f"{''.join(sorted(_ACCEPTED))!r}",
                UserWarning,
                stacklevel=3,
            )
            normalized = "".join(c for c in normalized if c in _ACCEPTED)
        ids: list[int] = []
        unknown: list[str] = []
        # normalised text is lower case, and espeak-ng ends a sentence at "." only before a capital:
        # phonemise sentence by sentence, as the teacher's alignments are framed
        parts = _SENTENCE_END_RE.split(normalized)
        sentences = [p for part in parts for p in phonemize(letters_for_espeak(part))]
        for sentence in sentences:
            body = [self._index.get(p, -1) for p in sentence]
            unknown += [p for p, i in zip(sentence, body, strict=True) if i < 3]
            body = [i for i in body if i >= 3]
            while body and IPA_SYMBOLS[body[-1]] == " ":
                body.pop()
            if body:
                ids += [self._index[BOS], *body, self._index[EOS]]
        if unknown:
            warnings.warn(
                f"dropped {len(unknown)} phoneme(s) {''.join(sorted(set(unknown)))!r} outside the en.ipa inventory "
                f"from {text[:40]!r}",
                UserWarning,
                stacklevel=3,
            )
        if not any(IPA_SYMBOLS[i].isalpha() for i in ids):
            raise ValueError(f"text {text[:60]!r} has nothing speakable after normalisation ({normalized!r})")
        return ids
