"""Spoken English for numbers: cardinals, ordinals, years, decades, money, fractions, Roman numerals.

Helpers of :mod:`facevox_tts.normalize`; every word comes from ``num2words`` (``lang="en"``),
and the conventions on top of it are:

* cardinals keep num2words' British "and" ("one hundred and one"); commas are dropped;
* years are read in pairs ("nineteen eighty-four", "nineteen oh five", "twenty twenty-four")
  but 2000-2009 as "two thousand five" (the usual American reading);
* decimals read their digits one by one ("three point one four");
* integers of more than :data:`MAX_NUMBER_DIGITS` digits are read digit by digit: num2words
  names numbers up to about 10^300 only, and Python refuses to convert more than 4,300 digits.
"""

from __future__ import annotations

import functools
import re

from num2words import num2words

__all__ = [
    "MAX_NUMBER_DIGITS",
    "cardinal",
    "decade",
    "digits",
    "fraction",
    "money",
    "number",
    "roman_value",
    "year",
    "words",
]

#: Integers with more digits than this are read digit by digit ("one two three ...").
MAX_NUMBER_DIGITS = 21

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "sen", "sen"),
}
# Denominators read as fractions ("5/16" -> "five sixteenths"); others ("12/25") keep the slash.
_DENOMINATORS = frozenset((*range(2, 11), 12, 16, 32, 64, 100))
_SCALES = {"k": "thousand", "m": "million", "mn": "million", "b": "billion", "bn": "billion"}
_ROMAN_RE = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")
_ROMAN_VALUES = {"M": 1000, "D": 500, "C": 100, "L": 50, "X": 10, "V": 5, "I": 1}


@functools.lru_cache(maxsize=4096)  # small numbers recur: num2words is the slowest step
def words(n: int, to: str = "cardinal") -> str:
    """``num2words(n, lang="en", to=to)`` without its commas."""
    return str(num2words(n, lang="en", to=to)).replace(",", "")


def digits(text: str) -> str:
    """``"123"`` -> ``"one two three"`` (any Unicode decimal digits)."""
    return " ".join(_DIGIT_WORDS[int(d)] for d in text)


def cardinal(text: str, ordinal: bool = False) -> str:
    """An integer written with decimal digits only; longer than :data:`MAX_NUMBER_DIGITS`: digit by digit."""
    to = "ordinal" if ordinal else "cardinal"
    if len(text) > MAX_NUMBER_DIGITS:  # the last digit takes the ordinal
        return f"{digits(text[:-1])} {words(int(text[-1]), to=to)}"
    return words(int(text), to=to)


def number(raw: str) -> str:
    """``"1,234"``, ``"3.14"``, ``".5"``, ``"1.2.3"`` (a version: "one point two point three")."""
    text = raw.replace(",", "")
    whole, *fracs = text.split(".")
    head = cardinal(whole) if whole else "zero"
    if len(fracs) > 1:  # a version or an address: each part is a number
        return " point ".join([head, *(cardinal(f) if f else "zero" for f in fracs)])
    return f"{head} point {digits(fracs[0])}" if fracs and fracs[0] else head


def year(value: int) -> str:
    """``1984`` -> "nineteen eighty-four", ``1905`` -> "nineteen oh five", ``2005`` -> "two thousand five"."""
    if 2000 <= value <= 2009:
        return "two thousand" + (f" {_DIGIT_WORDS[value - 2000]}" if value > 2000 else "")
    if not 1000 <= value <= 9999 or value % 1000 < 10 and value % 1000 != 0:
        return words(value)  # 1005 -> "one thousand and five"
    return words(value, to="year").replace("oh-", "oh ")


def _plural(spoken: str) -> str:
    """Plural of the last word of ``spoken``: "sixty" -> "sixties", "hundred" -> "hundreds"."""
    if spoken.endswith("y"):
        return spoken[:-1] + "ies"
    if spoken.endswith(("x", "s")):
        return spoken + "es"
    return spoken + "s"


def decade(raw: str) -> str:
    """``"1960"`` -> "nineteen sixties", ``"90"`` -> "nineties", ``"100"`` -> "hundreds" (written ``1960s``)."""
    value = int(raw)
    if raw in ("100", "1000"):
        spoken = "hundred" if value == 100 else "thousand"
    elif len(raw) == 4 and 1000 <= value <= 2999:
        spoken = year(value)
    else:
        spoken = cardinal(raw)
    return _plural(spoken)


def fraction(numerator: str, denominator: str) -> str | None:
    """``"3", "4"`` -> "three quarters"; ``None`` where a fraction reading does not fit (a date, a ratio).

    Denominators 2-10, 12, 16, 32, 64 and 100 only, and improper fractions ("5/3") only up to
    tenths: "12/25" or "9/30" are more likely dates or scores than twenty-fifths.
    """
    num, den = int(numerator), int(denominator)
    if not 0 < num <= 100 or den not in _DENOMINATORS or (num >= den and den > 10):
        return None
    head = words(num)
    if den == 2:
        tail = "half" if num == 1 else "halves"
    elif den == 4:
        tail = "quarter" if num == 1 else "quarters"
    else:
        tail = words(den, to="ordinal") + ("" if num == 1 else "s")
    return f"{head} {tail}"


def money(symbol: str, amount: str, scale: str | None = None) -> str:
    """``"$", "45.50"`` -> "forty-five dollars and fifty cents"; ``"$", "1.2", "million"`` -> "one point two million dollars"."""
    one, many, sub_one, sub_many = _CURRENCIES[symbol]
    amount = amount.replace(",", "")
    if scale:
        scale = _SCALES.get(scale.lower(), scale.lower())
        return f"{number(amount)} {scale} {many}"
    whole, _, frac = amount.partition(".")
    whole = whole.lstrip("0") or "0"
    units = int(whole) if len(whole) <= MAX_NUMBER_DIGITS else -1  # -1: too long to name
    if len(frac) > 2:  # $1.005: not cents, read as a decimal
        return f"{number(amount)} {many}"
    cents = int((frac + "00")[:2]) if frac else 0
    parts = []
    if units or not cents:
        parts.append(f"{cardinal(whole)} {one if units == 1 else many}")
    if cents:
        parts.append(f"{words(cents)} {sub_one if cents == 1 else sub_many}")
    return " and ".join(parts)


def roman_value(text: str) -> int | None:
    """Value of an upper-case Roman numeral in standard form (``"XIV"`` -> 14), else ``None``."""
    if not text or not _ROMAN_RE.fullmatch(text):
        return None
    values = [_ROMAN_VALUES[c] for c in text]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))
