"""English text front end: normalisation to spoken words, sentence splitting, character tokens.

The acoustic models of this plugin read lower-case characters and a little punctuation (no
phonemizer: espeak-ng is GPL and must not be in the default install). Numbers are spelled with
``num2words`` (LGPL-2.1, a well-kept library) rather than a home-made speller.

Pipeline, in :class:`EnglishCharacters`::

    normalize_text("Dr. Smith paid $42.50 on May 3rd, 1984.")
    -> "doctor smith paid forty-two dollars and fifty cents on may third, nineteen eighty-four."

Tokens: index 0 is padding, 1 is end-of-sequence (appended to every sequence), then space,
``a``-``z``, apostrophe and the punctuation marks ``, . ! ? -``.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Sequence

import torch
from facevox import TextProcessor
from num2words import num2words
from torch import Tensor

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

# Abbreviations that are expanded wherever they appear (case-insensitive, trailing dot optional
# only where listed without it).
_ABBREVIATIONS: dict[str, str] = {
    "mr": "mister",
    "mrs": "misses",
    "ms": "miss",
    "dr": "doctor",
    "prof": "professor",
    "jr": "junior",
    "sr": "senior",
    "gen": "general",
    "gov": "governor",
    "capt": "captain",
    "col": "colonel",
    "lt": "lieutenant",
    "sgt": "sergeant",
    "rev": "reverend",
    "hon": "honorable",
    "messrs": "messieurs",
    "co": "company",
    "corp": "corporation",
    "inc": "incorporated",
    "ltd": "limited",
    "dept": "department",
    "ave": "avenue",
    "rd": "road",
    "mt": "mount",
    "ft": "fort",
    "vs": "versus",
    "etc": "et cetera",
    "approx": "approximately",
    "no": "number",
}
_SYMBOL_WORDS: dict[str, str] = {
    "&": " and ",
    "%": " percent ",
    "+": " plus ",
    "=": " equals ",
    "@": " at ",
    "#": " number ",
    "°": " degrees ",
    "×": " times ",
    "/": " slash ",
    "*": " ",
    "_": " ",
    "~": " ",
}
_CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
}
# Characters that carry no sound and are dropped silently (not "unknown").
_SILENT = "\"“”«»()[]{}<>`´^|\\"
_SMALL_WORDS = {"a", "i", "o"}

#: Longest word after normalisation; a longer run of non-space characters (a 5,000-letter
#: "word", a URL, a hash) is cut into near-equal chunks of at most this many characters, split
#: at its hyphens first, so that no piece of text can ask the acoustic model for more than a
#: sentence's worth of tokens.
MAX_WORD_CHARS = 40
#: Integers with more digits than this are read digit by digit ("one two three ..."): num2words
#: names numbers up to about 10^300 only, and Python refuses to convert more than 4,300 digits.
MAX_NUMBER_DIGITS = 21
# How far around an abbreviation its context is read (keeps normalisation linear in the text).
_CONTEXT_CHARS = 64


def _words(n: int | float | str, **kwargs: object) -> str:
    return str(num2words(n, lang="en", **kwargs)).replace(",", "")


def _number(match: re.Match[str]) -> str:
    return _spell_number(match.group(0))


def _digits(digits: str) -> str:
    """``"123"`` -> ``"one two three"``."""
    return " ".join(_words(int(d)) for d in digits)


def _spell_integer(digits: str, **kwargs: object) -> str:
    """An integer written with ``digits`` (no separators); longer than :data:`MAX_NUMBER_DIGITS`: digit by digit."""
    if len(digits) > MAX_NUMBER_DIGITS:
        return f"{_digits(digits[:-1])} {_words(int(digits[-1]), **kwargs)}"  # the last one takes the ordinal
    return _words(int(digits), **kwargs)


def _spell_number(raw: str) -> str:
    text = raw.replace(",", "")
    if "." in text:
        whole, frac = text.split(".", 1)
        head = _spell_integer(whole) if whole else "zero"
        return f"{head} point {_digits(frac)}"
    if len(raw) == 4 and 1100 <= int(text) <= 2099 and not 2000 <= int(text) <= 2009:
        # A bare four-digit number reads as a year ("nineteen eighty-four").
        return _words(int(text), to="year")
    return _spell_integer(text)


def _currency(match: re.Match[str]) -> str:
    one, many, sub_one, sub_many = _CURRENCIES[match.group(1)]
    amount = match.group(2).replace(",", "")
    scale = match.group(3)
    if scale:
        return f"{_spell_number(amount)} {scale.lower()} {many}"
    whole, _, frac = amount.partition(".")
    whole = whole.lstrip("0") or "0"
    units = int(whole) if len(whole) <= MAX_NUMBER_DIGITS else -1  # -1: too long to name
    cents = int((frac + "00")[:2]) if frac else 0
    parts = []
    if units or not cents:
        parts.append(f"{_spell_integer(whole)} {one if units == 1 else many}")
    if cents:
        parts.append(f"{_words(cents)} {sub_one if cents == 1 else sub_many}")
    return " and ".join(parts)


def _ordinal(match: re.Match[str]) -> str:
    return _spell_integer(match.group(1).replace(",", ""), to="ordinal")


def _time(match: re.Match[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    suffix = match.group(3)
    if minutes == 0:
        spoken = f"{_words(hours)}" + ("" if suffix else " o'clock")
    elif minutes < 10:
        spoken = f"{_words(hours)} oh {_words(minutes)}"
    else:
        spoken = f"{_words(hours)} {_words(minutes)}"
    if suffix:
        spoken += " " + " ".join(suffix.replace(".", "").lower())
    return spoken


def _abbreviation(match: re.Match[str]) -> str:
    word = match.group(1)
    low = word.lower()
    if low == "st":
        # "St. Louis" -> saint; "Main St." -> street.
        following = match.string[match.end() : match.end() + _CONTEXT_CHARS].lstrip()
        before = match.string[max(0, match.start() - _CONTEXT_CHARS) : match.start()].rstrip().split(" ")[-1]
        return "saint" if following[:1].isupper() and not before[:1].isupper() else "street"
    if low == "no" and not re.match(r"\s*\d", match.string[match.end() : match.end() + _CONTEXT_CHARS]):
        return word  # "No." that is not followed by a number is the word "no".
    return _ABBREVIATIONS[low]


def _acronym(match: re.Match[str]) -> str:
    word = match.group(0)
    return " ".join(word.lower().replace(".", "").replace("", " ").split())


_ABBREV_RE = re.compile(r"\b(" + "|".join(sorted({*_ABBREVIATIONS, "st"}, key=len, reverse=True)) + r")\.", re.I)
_CURRENCY_RE = re.compile(r"([$£€])\s?(\d[\d,]*(?:\.\d+)?)(?:\s?(thousand|million|billion|trillion)\b)?", re.I)
# (?<![\d,]): start only at the first digit of a run (linear time on long digit runs)
_PERCENT_RE = re.compile(r"(?<![\d,])(\d[\d,]*(?:\.\d+)?)\s?%")
_TIME_RE = re.compile(r"\b(\d{1,2}):(\d{2})\s?([ap]\.?m\.?)?(?![\w])", re.I)
_ORDINAL_RE = re.compile(r"(?<![\d,])\b(\d[\d,]*)(st|nd|rd|th)\b", re.I)
_NUMBER_RE = re.compile(r"\d+(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+")
_ACRONYM_RE = re.compile(r"\b(?:[A-Z]\.){2,}|\b[A-Z]{2,5}\b")
_AMPM_RE = re.compile(r"\b([ap])\.m\.", re.I)
_LONG_WORD_RE = re.compile(rf"\S{{{MAX_WORD_CHARS + 1},}}")
_SPEAKABLE_RE = re.compile(r"[a-z]")


def _chunks(word: str, limit: int) -> list[str]:
    """``word`` cut into near-equal chunks of at most ``limit`` characters."""
    if len(word) <= limit:
        return [word]
    n = -(-len(word) // limit)
    size = -(-len(word) // n)
    return [word[i : i + size] for i in range(0, len(word), size)]


def _long_word(match: re.Match[str]) -> str:
    """A run of more than :data:`MAX_WORD_CHARS` non-space characters, split at hyphens, then chunked."""
    parts = [p for p in match.group(0).split("-") if p]
    return " ".join(chunk for part in parts for chunk in _chunks(part, MAX_WORD_CHARS))


def normalize_text(text: str) -> str:
    """Spoken, lower-case form of English ``text``.

    Expands currency (``$3.50``), percentages (``12%``), times (``10:30 am``), ordinals
    (``21st``), years (``1984``), other numbers (``1,234``, ``3.14``), abbreviations (``Dr.``,
    ``Mr.``, ``St.``...), all-capital acronyms (``FBI`` -> ``f b i``) and symbols (``&``,
    ``%``, ``+``...). Quotes and brackets are removed, dashes and ``; :`` become commas, runs
    of white space collapse to one space. Characters outside :data:`SYMBOLS` are kept here;
    :class:`EnglishCharacters` drops them (with a warning) when tokenizing.

    Work and output are bounded by the input's length: integers of more than
    :data:`MAX_NUMBER_DIGITS` digits are read digit by digit, and no word of the result is
    longer than :data:`MAX_WORD_CHARS` characters (longer ones are split at their hyphens, then
    cut into near-equal chunks).

    Args:
        text: any Unicode string.

    Returns:
        the normalised text (may be empty if ``text`` had no speakable content).
    """
    text = unicodedata.normalize("NFKC", text)
    # Strip accents (cafe for café); other non-ASCII letters stay and are dropped later.
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.replace("’", "'").replace("‘", "'").replace("—", ", ").replace("–", ", ")
    text = re.sub(r"\s--+\s|--+", ", ", text)
    text = _CURRENCY_RE.sub(lambda m: " " + _currency(m) + " ", text)
    text = _PERCENT_RE.sub(lambda m: _spell_number(m.group(1)) + " percent", text)
    text = _TIME_RE.sub(_time, text)
    text = _AMPM_RE.sub(lambda m: f"{m.group(1).lower()} m", text)
    text = _ORDINAL_RE.sub(_ordinal, text)
    text = _ABBREV_RE.sub(_abbreviation, text)
    text = re.sub(r"\be\.g\.", "for example", text, flags=re.I)
    text = re.sub(r"\bi\.e\.", "that is", text, flags=re.I)
    text = _ACRONYM_RE.sub(_acronym, text)
    text = re.sub(r"(?<=\d)-(?=\d)", " to ", text)
    text = _NUMBER_RE.sub(_number, text)
    for symbol, spoken in _SYMBOL_WORDS.items():
        text = text.replace(symbol, spoken)
    text = text.replace(";", ",").replace(":", ",")
    text = "".join(ch for ch in text if ch not in _SILENT)
    text = text.lower()
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.!?])", r"\1", text)
    text = re.sub(r",(\s*,)+", ",", text)
    text = re.sub(r"([.!?]),", r"\1", text)
    # last: the merges above glue punctuation (and words across ", ,") onto words
    text = _LONG_WORD_RE.sub(_long_word, text)
    return text.strip(" ,")


def split_sentences(text: str, max_chars: int = 180) -> list[str]:
    """Split normalised text into sentences of at most ``max_chars`` characters.

    Splits after ``. ! ?``; a sentence longer than ``max_chars`` is cut again at commas, then
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
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        pieces.extend(_cut(sentence.strip(), max_chars))
    return [p for p in pieces if p.strip(" ,.!?-")]


def _cut(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    out: list[str] = []
    current = ""
    for clause in re.split(r"(?<=,)\s+", sentence):
        words = clause.split(" ") if len(clause) > max_chars else [clause]
        for word in (chunk for w in words for chunk in _chunks(w, max_chars)):
            candidate = f"{current} {word}".strip()
            if len(candidate) > max_chars and current:
                out.append(current)
                current = word
            else:
                current = candidate
    if current:
        out.append(current)
    return out


class EnglishCharacters(TextProcessor):
    """English text -> character token ids (registered as ``en.chars``).

    ``processor(texts) -> (tokens, lengths)``: each text is normalised
    (:func:`normalize_text`), mapped to :data:`SYMBOLS` indices and ends with the
    end-of-sequence token; ``tokens`` ``(B, L_max)`` int64 padded with 0, ``lengths`` ``(B,)``.

    Raises:
        ValueError: a text is empty, only white space, or has nothing speakable.
    """

    name = "en.chars"

    def __init__(self) -> None:
        self._index = {s: i for i, s in enumerate(SYMBOLS)}

    @property
    def symbols(self) -> Sequence[str]:
        return SYMBOLS

    @property
    def eos_id(self) -> int:
        """Index of the end-of-sequence token."""
        return self._index[EOS]

    def normalize(self, text: str) -> str:
        return normalize_text(text)

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


def _check_text(text: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty or only white space; pass some English text to speak")
