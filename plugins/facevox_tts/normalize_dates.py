"""Spoken English for phone numbers, dates, ranges and times; passes of :mod:`facevox_tts.normalize`.

Readings: phone numbers digit by digit in their groups ("five five five, one two three four");
dates month first when written so ("march third, twenty twenty-four") and day first when written
so ("the third of march twenty twenty-four"); a numeric date whose day and month could swap
(``3/4/2024``: US or UK?) is read as written, "three slash four slash twenty twenty-four", while
``13/4/2024`` and ``4/13/2024`` can only be one date each and are read as dates. Ranges read
"to" ("1990-95" -> "nineteen ninety to ninety-five"); times "nine thirty a m", "fourteen oh five",
"seven o'clock", "eighteen hundred", "twelve noon", and the British "6.45 pm" (only before am/pm:
"6.45 kg" stays a decimal).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from facevox_tts import normalize_numbers as nums
from facevox_tts import normalize_words as lex

__all__ = ["PASSES"]

_MONTH = (r"(Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
          r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# Each pattern that can start inside a run of digits has a look-behind that lets it start only at
# the run's first character, so that work stays linear in the text's length.
_PHONE_RE = _rx(r"(?<![\w+(-])(\+\d{1,3}[\s.-]?|1[\s.-])?(\(\d{3}\)\s?|\d{3}[\s.-])(\d{3})[\s.-](\d{4})(?![\w-]|[.,]\d)")
_SHORT_PHONE_RE = _rx(r"(?<![\w.,/-])(\d{3})-(\d{4})(?![\w-]|[.,]\d)")
_ISO_DATE_RE = _rx(r"(?<![\w.-])(\d{4})-(\d{2})-(\d{2})(?![\w-]|\.\d)")
_NUMERIC_DATE_RE = _rx(r"(?<![\w/.-])(\d{1,2})([/-])(\d{1,2})\2(\d{4}|\d{2})(?![\w/-]|\.\d)")
_MDY_RE = _rx(rf"\b{_MONTH}\b(\.)?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?![\w:])(?:(,)?\s+(\d{{4}})(?![\w:]))?")
_DMY_RE = _rx(rf"(?<![\w.,])(\d{{1,2}})(?:st|nd|rd|th)?\s+(of\s+)?{_MONTH}\b(\.(?!\d))?(?:(,)?\s+(\d{{4}})(?![\w:]))?")
_YEAR_RANGE_RE = _rx(r"(?<![\w.,-])(\d{4})-(\d{2})(?![\w-]|[.,]\d)")
_RANGE_RE = _rx(r"(?<=\d)-(?=\.?\d)")
_SPACED_RANGE_RE = _rx(r"(?<=\d) - (?=\d)")
_TIME_RE = _rx(r"(?<![\w:.])(\d{1,2}):([0-5]\d)(?::([0-5]\d))?(?![\d:])"
               r"(?:\s?(?:([AaPp])\.?\s?[Mm]\b(\.)?|(noon|midnight)\b))?")
_DOT_TIME_RE = _rx(r"(?<![\w:.,])(\d{1,2})\.([0-5]\d)\s?([AaPp])\.?\s?[Mm]\b(\.)?")  # British "6.45 pm"
_HOUR_RE = _rx(r"(?<![\w:.,])(\d{1,2})\s?([AaPp])\.?\s?[Mm]\b(\.)?")
_AMPM_RE = _rx(r"\b([AaPp])\.[Mm]\.")


def _phone(match: re.Match[str]) -> str:
    prefix, area, mid, last = match.groups()
    groups = [nums.digits(re.sub(r"\D", "", g)) for g in (area, mid, last)]
    if prefix:
        code = re.sub(r"\D", "", prefix)
        groups.insert(0, ("plus " if "+" in prefix else "") + nums.digits(code))
    return ", ".join(groups)


def _short_phone(match: re.Match[str]) -> str:
    word, _ = lex.previous_word(match.string, match.start())
    if word.lower() in ("pages", "pp", "from", "between", "years", "numbers"):
        return match.group(0)  # a range
    return f"{nums.digits(match.group(1))}, {nums.digits(match.group(2))}"


def _the(text: str, start: int) -> str:
    """``"the "`` unless the text before ``start`` already ends with "the"."""
    return "" if text[max(0, start - 4) : start].lower().rstrip().endswith("the") else "the "


def _month(name: str) -> str:
    return lex.MONTHS[name[:4].lower()] if name[:4].lower() == "sept" else lex.MONTHS[name[:3].lower()]


def _year_part(raw: str) -> str:
    if len(raw) == 2:
        return f"oh {nums.digits(raw[1])}" if raw[0] == "0" else nums.cardinal(raw)
    return nums.year(int(raw))


def _iso_date(match: re.Match[str]) -> str:
    y, m, d = (int(g) for g in match.groups())
    if not (1 <= m <= 12 and 1 <= d <= 31):
        return match.group(0)
    return f"{_month(list(lex.MONTHS)[m - 1])} {nums.cardinal(str(d), ordinal=True)}, {nums.year(y)}"


def _numeric_date(match: re.Match[str]) -> str:
    a, sep, b, y = match.groups()
    first, second = int(a), int(b)
    months = list(lex.MONTHS)
    if 1 <= first <= 12 and 1 <= second <= 12:  # US or UK? read it as written
        said = " slash " if sep == "/" else " dash "
        parts = [f"oh {nums.digits(p[1])}" if p[0] == "0" else nums.cardinal(p) for p in (a, b)]
        return said.join([*parts, _year_part(y)])
    if 13 <= first <= 31 and 1 <= second <= 12:
        the = _the(match.string, match.start())
        return f"{the}{nums.cardinal(str(first), ordinal=True)} of {_month(months[second - 1])}, {_year_part(y)}"
    if 13 <= second <= 31 and 1 <= first <= 12:
        return f"{_month(months[first - 1])} {nums.cardinal(str(second), ordinal=True)}, {_year_part(y)}"
    return match.group(0)


def _mdy(match: re.Match[str]) -> str:
    name, _, day, comma, y = match.groups()
    if not 1 <= int(day) <= 31:
        return match.group(0)
    spoken = f"{_month(name)} {nums.cardinal(day, ordinal=True)}"
    return spoken + (f"{comma or ''} {nums.year(int(y))}" if y else "")


def _dmy(match: re.Match[str]) -> str:
    day, _, name, dot, comma, y = match.groups()
    if not 1 <= int(day) <= 31:
        return match.group(0)
    spoken = f"{_the(match.string, match.start())}{nums.cardinal(day, ordinal=True)} of {_month(name)}"
    if y:
        return spoken + f"{comma or ''} {nums.year(int(y))}"
    return spoken + (lex.sentence_end(match.string, match.end()) if dot else "")


def _year_range(match: re.Match[str]) -> str:
    first, suffix = match.groups()
    if not 1000 <= int(first) <= 2099:
        return f"{first} to {suffix}"
    if suffix[0] == "0":  # 2001-05: "two thousand one to two thousand five"
        return f"{first} to {int(first) // 100 * 100 + int(suffix)}"
    return f"{first} to {suffix}"


def _spaced_range(match: re.Match[str]) -> str:
    return " minus " if "=" in match.string[match.end() : match.end() + 24] else " to "


def _clock(hours: int, minutes: int, suffix: str) -> str:
    spoken = nums.words(hours)
    if minutes == 0:
        if suffix:
            return f"{spoken} {suffix}"
        return f"{spoken} hundred" if hours == 0 or hours > 12 else f"{spoken} o'clock"
    spoken += f" oh {nums.words(minutes)}" if minutes < 10 else f" {nums.words(minutes)}"
    return f"{spoken} {suffix}" if suffix else spoken


_TIME_ZONE_RE = re.compile(r"[ \t]+(?:[ECMPA][SD]T|[ECMP]T|UTC|GMT|BST|CES?T)\b")


def _clock_end(match: re.Match[str]) -> str:
    """``lex.sentence_end`` after an "a.m." / "p.m." dot; before a time zone ("8 a.m. EDT, ...") a comma,
    the short pause a reader makes there, instead of a sentence end."""
    if _TIME_ZONE_RE.match(match.string, match.end()):
        return ","
    return lex.sentence_end(match.string, match.end())


def _time(match: re.Match[str]) -> str:
    h, m, s, ampm, dot, word = match.groups()
    hours, minutes = int(h), int(m)
    if hours > 24 or (ampm and not 1 <= hours <= 12):
        return match.group(0)
    spoken = _clock(hours, minutes, f"{ampm.lower()} m" if ampm else (word or ""))
    if s and int(s):
        spoken += f" and {nums.words(int(s))} second{'s' if int(s) != 1 else ''}"
    return spoken + (_clock_end(match) if dot else "")


def _dot_time(match: re.Match[str]) -> str:
    h, m, ampm, dot = match.groups()
    if not 1 <= int(h) <= 12:
        return match.group(0)
    return _clock(int(h), int(m), f"{ampm.lower()} m") + (_clock_end(match) if dot else "")


def _hour(match: re.Match[str]) -> str:
    h, ampm, dot = match.groups()
    if not 1 <= int(h) <= 12:
        return match.group(0)
    return f"{nums.words(int(h))} {ampm.lower()} m" + (_clock_end(match) if dot else "")


_DIGIT = _rx(r"\d")
#: (a cheap test for whether the pass can match, its pattern, its replacement), in order.
PASSES: tuple[tuple[re.Pattern[str], re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (_DIGIT, _PHONE_RE, _phone),
    (_DIGIT, _SHORT_PHONE_RE, _short_phone),
    (_DIGIT, _ISO_DATE_RE, _iso_date),
    (_DIGIT, _NUMERIC_DATE_RE, _numeric_date),
    (_DIGIT, _MDY_RE, _mdy),
    (_DIGIT, _DMY_RE, _dmy),
    (_DIGIT, _YEAR_RANGE_RE, _year_range),
    (_DIGIT, _RANGE_RE, " to "),
    (_DIGIT, _SPACED_RANGE_RE, _spaced_range),
    (_rx(":"), _TIME_RE, _time),
    (_rx(r"\d\.\d"), _DOT_TIME_RE, _dot_time),
    (_DIGIT, _HOUR_RE, _hour),
    (_rx(r"[AaPp]\.[Mm]"), _AMPM_RE, lambda m: f"{m.group(1).lower()} m" + _clock_end(m)),
)
