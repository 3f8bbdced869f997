"""English text normalisation: written English to the spoken, lower-case words the models read.

:func:`normalize_text` rewrites text in ordered regular-expression passes; each pass turns one
kind of written token into words. Numbers are spelled by ``num2words`` (in
:mod:`facevox_tts.normalize_numbers`), phone numbers, dates, ranges and times are read in
:mod:`facevox_tts.normalize_dates`, and the word lists (abbreviations, acronyms, units, names
that take a Roman numeral) live in :mod:`facevox_tts.normalize_words`. The order: URLs and
e-mail addresses, hashtags and handles, signs, phone numbers, dates, ranges, times, money,
percentages, temperatures and units, multiplication, fractions, ordinals, Roman numerals,
abbreviations, acronyms, years and other numbers, symbols, then clean-up. Each pass is skipped
when a cheap test shows it cannot match (no digit, no ``@``...), which keeps plain prose fast.

Conventions follow common TTS practice (Sproat et al., "Normalization of non-standard words",
Computer Speech and Language 15, 2001; the English grammars of NVIDIA NeMo text processing):
"9:30 a.m." -> "nine thirty a m", "$45.50" -> "forty-five dollars and fifty cents",
"March 3rd, 2024" -> "march third, twenty twenty-four", "Henry VIII" -> "henry the eighth",
"FBI" -> "f b i", "NASA" -> "nasa". American unit spellings (meters, liters).

Ambiguous cases are read as written rather than guessed: a numeric date whose day and month
could swap (``3/4/2024``, US or UK?) is read "three slash four slash twenty twenty-four"; one
that cannot (``13/4/2024``, ``4/13/2024``) is read as a date. A bare ``3/4`` is a fraction.

Why not NVIDIA's ``nemo-text-processing`` (WFST grammars, Apache-2.0)? Measured on this project's
2-core development machine (version 1.2.0, Python 3.11, in a throwaway virtual environment): it
installs from PyPI without a compiler (a pynini wheel) and works offline, but the environment
grows to 1.1 GB (pynini's libraries alone 413 MB, plus transformers and pandas); building its
grammars on first use took 25 s (0.4-1 s from its cache folder afterwards); it then took 24 ms
of CPU per sentence (15-48 ms of wall time, as the shared machine was more or less busy) over 24
sentences of the kinds tested here, where this module takes 0.1 ms of CPU (0.2 ms of wall time)
on the same sentences; and it left much as written (FBI, NASA,
Henry VIII, Main St., No. 5, capital letters) and read 555-1234 as "five hundred and fifty five -
twelve thirty four". So this module keeps its own rules.

Output: lower-case words, space, apostrophe and ``, . ! ? -`` for any text in Latin script.
Characters with no English reading (other scripts, emoji) are kept for
:class:`facevox_tts.text.EnglishCharacters`, which drops them with a warning.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from facevox_tts import normalize_dates as dates
from facevox_tts import normalize_numbers as nums
from facevox_tts import normalize_words as lex
from facevox_tts.normalize_numbers import MAX_NUMBER_DIGITS

__all__ = ["MAX_NUMBER_DIGITS", "MAX_WORD_CHARS", "chunk_word", "normalize_text"]

#: Longest word after normalisation; a longer run of non-space characters (a 5,000-letter
#: "word", a hash) is cut into near-equal chunks of at most this many characters, split at its
#: hyphens first, so that no piece of text can ask the acoustic model for more than a
#: sentence's worth of tokens.
MAX_WORD_CHARS = 40

_Sub = Callable[[re.Match[str]], str]
_N = r"\d[\d,]*(?:\.\d+)?"  # a number as written: 1,234.5
_ROMAN = r"(?=[LXVI])(?:XL|L?X{0,3})(?:IX|IV|V?I{0,3})"  # 1-89: enough for kings, wars and chapters
_SPECIAL_FRACTIONS = {"24/7": "twenty-four seven", "9/11": "nine eleven", "50/50": "fifty fifty",
                      "20/20": "twenty twenty"}
_WAR_ACRONYMS = {"WWI": "world war one", "WWII": "world war two", "WW1": "world war one", "WW2": "world war two"}
_SYMBOL_WORDS: dict[str, str] = {
    "&": " and ", "%": " percent ", "+": " plus ", "=": " equals ", "@": " at ", "#": " number ",
    "°": " degrees ", "×": " times ", "÷": " divided by ", "±": " plus or minus ", "/": " slash ",
    "$": " dollars ", "£": " pounds ", "€": " euros ", "¥": " yen ", "¢": " cents ", "§": " section ",
    "`": "'", "*": " ", "_": " ", "~": " ", "•": ", ", "·": ", ", ";": ",", ":": ",",
}
_SILENT = "\"“”„«»‹›()[]{}<>^|\\¡¿"
_PRE_TRANSLATE = str.maketrans({
    "’": "'", "‘": "'", "ʼ": "'", "´": "'", "−": "-", "‐": "-", "‑": "-", "™": " ", "®": " ", "©": " copyright ",
    "½": " 1/2", "¼": " 1/4", "¾": " 3/4", "⅓": " 1/3", "⅔": " 2/3", "⅛": " 1/8", "⅜": " 3/8",
    "⅝": " 5/8", "⅞": " 7/8", "⅕": " 1/5", "⅖": " 2/5", "⅗": " 3/5", "⅘": " 4/5", "⅙": " 1/6", "⅚": " 5/6",
})


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


# Every pattern that can start inside a run of digits or letters has a look-behind that lets it
# start only at the run's first character, so that work stays linear in the text's length.
_SQUARE_RE = _rx(r"(?<=[^\W_])([²³])")
_CONTROL_RE = _rx(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_EMAIL_RE = _rx(r"(?<![\w.+-])[\w.+-]*\w@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
_URL_RE = _rx(r"(?<![\w@.-])(?:(?:https?|ftp)://[^\s<>\"]+|www\.[^\s<>\"]+|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
              r"\.(?:com|org|net|edu|gov|io|uk|de|fr|info|ai|dev|app|tv|ly|ca)(?:/[^\s<>\"]*)?(?![\w-]))", re.I)
_NEGATIVE_RE = _rx(r"(?<![\w.,)\]-])-(?=[$£€¥]?\.?\d)")
_ABOUT_RE = _rx(r"~\s?(?=[$£€¥]?\d)")
_MONEY_RE = _rx(rf"(?<![\w$£€¥])([$£€¥])\s?({_N})(?:\s?((?i:thousand|million|billion|trillion|bn|mn)|[kKmMbB])\b)?")
_CENTS_RE = _rx(r"(?<![\w.,])(\d+)\s?¢")
_PENCE_RE = _rx(r"(?<![\w.,])(\d{1,2})p\b")
_PERCENT_RE = _rx(rf"(?<![\d,.])({_N})\s?%")
_DEGREES_RE = _rx(rf"(?<![\w.,])({_N})\s?°(?:\s?([CFK])(?!\w))?")
_UNIT_RE = _rx(rf"(?<![\w.,])({_N})\s?(" + "|".join(re.escape(u) for u in sorted(lex.UNITS, key=len, reverse=True))
               + r")(\.)?(?![\w/°])")
_FEET_RE = _rx(r"(?<![\w.,'])(\d)'\s?(\d{1,2})(?:\"|'')")
_GLUED_RE = _rx(r"(?<=\d)(?=[A-Za-z])(?!s\b)|(?<=[A-Za-z])(?=\d)")
_BY_RE = _rx(r"(?<=\d)\s?x\s?(?=\d)")
_TIMES_RE = _rx(r"(?<![\w.,])(\d+(?:\.\d+)?)x(?![\w])")
_MIXED_RE = _rx(r"(?<![\w/.,])(\d+)\s(\d{1,3})/(\d{1,3})(?![\w/]|[.,]\d)")
_FRACTION_RE = _rx(r"(?<![\w/.,])(\d{1,3})/(\d{1,3})(?![\w/]|[.,]\d)")
_DECADE_RE = _rx(r"(?<![\w.,'])(')?(\d{2,4})'?s\b")
_ORDINAL_RE = _rx(r"(?<![\d,])\b(\d[\d,]*)(st|nd|rd|th)\b", re.I)
_ROMAN_RE = _rx(rf"\b([A-Za-z]+)(\s+)({_ROMAN})(?![\w'])")
_DOTTED_RE = _rx(r"(?<![\w.])((?:[A-Za-z]{1,2}\.){2,})")
_CIRCA_RE = _rx(r"\b[Cc](?:a|irc)?\.\s?(?=\d{3,4}\b)")
_NO_RE = _rx(r"\b([Nn]o|NO)\.(?=\s?\d|\s+of\b)")
_ST_DR_RE = _rx(r"\b((?i:st|dr))\.|\b(St|Dr)\b(?=\s+[A-Z])")
_TITLE_RE = _rx(r"\b((?i:" + "|".join(sorted(lex.TITLES, key=len, reverse=True)) + r"))\.|\b(Mrs|Mr|Ms)\b(?=\s+[A-Z])")
_POST_RE = _rx(r"\b((?i:" + "|".join(sorted(lex.ABBREVIATIONS, key=len, reverse=True)) + r"))\.")
_VS_RE = _rx(r"(?<= )vs(?= [A-Z\d])")
_LETTER_DIGITS_RE = _rx(r"(?<![\w.-])([A-Z]{1,5})(\d{1,4})(?![\w])")
_DIGIT_LETTERS_RE = _rx(r"(?<![\w.,-])(\d{1,3})([A-Z]{1,2})(?![\w])")
_CAPS_RE = _rx(r"(?<![\w'])([A-Z]{2,})('s|s)?(?![\w'])")
_HASHTAG_RE = _rx(r"(?<![\w#&])#([A-Za-z][A-Za-z0-9_]*)")
_HANDLE_RE = _rx(r"(?<![\w@])@([A-Za-z_][A-Za-z0-9_]*)")
_UNDERSCORE_RE = _rx(r"_+")
_NUMBER_RE = _rx(r"\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+){2,}|\d*\.\d+|\d+")
_LONG_WORD_RE = _rx(rf"\S{{{MAX_WORD_CHARS + 1},}}")
_CAPS_WORD_RE = _rx(r"\b[A-Z]{2,}\b")


# --- addresses ---------------------------------------------------------------------------------


def _url(match: re.Match[str]) -> str:
    url = match.group(0)
    bare = url.rstrip(".,!?;:'\")]}")
    return f" {lex.address(bare)} {url[len(bare):]}"


# --- money, percentages, units, fractions, decades ----------------------------------------------


def _money(match: re.Match[str]) -> str:
    return f" {nums.money(match.group(1), match.group(2), match.group(3))} "


def _unit(match: re.Match[str]) -> str:
    raw, unit, dot = match.groups()
    if unit == "s" and raw.isdigit() and len(raw) > 2 and match.string[match.end(1)] == "s":
        return match.group(0)  # "747s": a plural, not seconds
    one, many = lex.UNITS[unit]
    spoken = f"{nums.number(raw)} {one if raw == '1' else many}"
    return spoken + (lex.sentence_end(match.string, match.end()) if dot else "")


def _degrees(match: re.Match[str]) -> str:
    raw, scale = match.groups()
    name = {"C": " celsius", "F": " fahrenheit", "K": " kelvin"}.get(scale or "", "")
    return f"{nums.number(raw)} degree{'' if raw == '1' else 's'}{name}"


def _mixed(match: re.Match[str]) -> str:
    whole, num, den = match.groups()
    part = nums.fraction(num, den)
    if part is None:
        return match.group(0)
    part = {"one half": "a half", "one quarter": "a quarter"}.get(part, part)
    return f"{whole} and {part}"


def _fraction(match: re.Match[str]) -> str:
    special = _SPECIAL_FRACTIONS.get(match.group(0))
    return special or nums.fraction(match.group(1), match.group(2)) or match.group(0)


def _decade(match: re.Match[str]) -> str:
    apostrophe, raw = match.groups()
    if len(raw) == 4 and raw.endswith("0"):
        return nums.decade(raw)
    if raw in ("100", "1000"):  # "100s of people": hundreds
        return nums.decade(raw)
    if len(raw) == 2 and raw.endswith("0") and raw != "00":
        word, _ = lex.previous_word(match.string, match.start())
        if apostrophe or word.lower() in ("the", "their", "his", "her", "my", "our", "your", "early", "mid", "late"):
            return nums.decade(raw)
    return match.group(0)


# --- Roman numerals, abbreviations, acronyms ------------------------------------------------------


def _roman(match: re.Match[str]) -> str:
    word, space, numeral = match.groups()
    value = nums.roman_value(numeral)
    low = word.lower()
    if value is None:
        return match.group(0)
    if low in lex.REGNAL_NAMES:
        if numeral == "I" and re.match(r"\s+(?!of\b|and\b)[a-z]", match.string[match.end() : match.end() + 8]):
            return match.group(0)  # "Henry I went": more likely the pronoun
        return f"{word}{space}the {nums.words(value, to='ordinal')}"
    if low in lex.CARDINAL_NUMERAL_WORDS or (lex.is_name(word) and len(numeral) > 1 and "L" not in numeral):
        return f"{word}{space}{nums.words(value)}"
    return match.group(0)


def _dotted(match: re.Match[str]) -> str:
    token = match.group(1)
    spoken = lex.dotted(token)
    if spoken is not None:
        return spoken
    letters = token.replace(".", "")
    if letters.isupper() and len(letters) == token.count("."):  # U.S.A.
        return " ".join(letters.lower()) + lex.sentence_end(match.string, match.end(), after_capital=False)
    return token


def _st_dr(match: re.Match[str]) -> str:
    word = (match.group(1) or match.group(2)).lower()
    text = match.string
    following = text[match.end() : match.end() + lex.CONTEXT_CHARS].lstrip()[:1]
    before, initial = lex.previous_word(text, match.start())
    after_street_name = lex.is_name(before) and not initial
    if following.isupper() and not after_street_name:
        return "saint" if word == "st" else "doctor"
    if word == "dr" and not lex.is_name(before):  # "Dr." before a name or alone: doctor; "Elm Dr.": drive
        return "doctor"
    spoken = "street" if word == "st" else "drive"
    return spoken + (lex.sentence_end(text, match.end()) if match.group(1) else "")


def _title(match: re.Match[str]) -> str:
    return lex.TITLES[(match.group(1) or match.group(2)).lower()]


def _post(match: re.Match[str]) -> str:
    spoken, may_end = lex.ABBREVIATIONS[match.group(1).lower()]
    return spoken + lex.sentence_end(match.string, match.end(), after_capital=may_end)


def _vs(match: re.Match[str]) -> str:
    """Bare "vs" between capitalised words or numbers ("Ali vs Frazier"), not in lower-case text."""
    before = match.string[max(0, match.start() - 2) : match.start()].strip()[-1:]
    return "versus" if before.isupper() or before.isdigit() or before.islower() and lex.previous_word(
        match.string, match.start())[0][:1].isupper() else match.group(0)


def _caps(shouting: bool) -> _Sub:
    def sub(match: re.Match[str]) -> str:
        stem, suffix = match.groups()
        if stem + (suffix or "") in _WAR_ACRONYMS:
            return _WAR_ACRONYMS[stem + (suffix or "")]
        return lex.acronym(stem, suffix or "", shouting=shouting)

    return sub


def _letter_digits(match: re.Match[str]) -> str:
    letters, digits = match.groups()
    if letters + digits in _WAR_ACRONYMS:
        return _WAR_ACRONYMS[letters + digits]
    return f"{lex.acronym(letters) if len(letters) > 1 else letters.lower()} {nums.cardinal(digits)}"


def _hashtag(match: re.Match[str]) -> str:
    words = re.sub(r"(?<=[a-z])(?=[A-Z0-9])|_", " ", match.group(1))
    return f"hashtag {words}"


def _handle(match: re.Match[str]) -> str:
    return "at " + re.sub(r"(?<=[a-z])(?=[A-Z0-9])|_", " ", match.group(1))


# --- numbers --------------------------------------------------------------------------------------


def _number(match: re.Match[str]) -> str:
    raw = match.group(0)
    if len(raw) == 4 and raw.isdigit() and 1000 <= int(raw) <= 2099:
        word, initial = lex.previous_word(match.string, match.start())
        after = match.string[match.end() : match.end() + 5]
        if not word or word.lower() in lex.YEAR_CONTEXT or re.match(r"\s?(AD|BC|BCE|CE)\b", after):
            return nums.year(int(raw))
    return nums.number(raw)


def _long_word(match: re.Match[str]) -> str:
    """A run of more than :data:`MAX_WORD_CHARS` non-space characters, split at hyphens, then chunked."""
    parts = [p for p in match.group(0).split("-") if p]
    return " ".join(chunk for part in parts for chunk in chunk_word(part, MAX_WORD_CHARS))


def chunk_word(word: str, limit: int) -> list[str]:
    """``word`` cut into near-equal chunks of at most ``limit`` characters."""
    if len(word) <= limit:
        return [word]
    n = -(-len(word) // limit)
    size = -(-len(word) // n)
    return [word[i : i + size] for i in range(0, len(word), size)]


_DASH_DIGITS_RE = _rx(r"(?<=\d)\s?[–—]\s?(?=\d)|(?<![\w])–(?=\d)")
_DASH_RE = _rx(r"(?<!\s)\s*[–—]\s*|\s--+\s|--+")  # (?<!\s): linear on runs of spaces
_CLEAN_SUBS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (_rx(pattern), repl)
    for pattern, repl in (
        (r"(?<=\w)\.(?=[A-Z])", ". "),  # "end.Next": a missing space
        (r"(?<=\w)\.(?=[a-z])", " dot "),  # "node.js"
    )
)
_SILENT_TABLE = str.maketrans(dict.fromkeys(_SILENT, " "))
_SPACING_SUBS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (_rx(pattern), repl)
    for pattern, repl in (
        (r"-{2,}|(?:(?<=\s)|^)-+(?=\s|$)", ","),  # a dash between words: a pause
        (r"\s+", " "),
        (r"\s+([,.!?])", r"\1"),
        (r",(\s*,)+", ","),
        (r"([.!?]),", r"\1"),
        (r"([,.!?])(?=[a-z])", r"\1 "),
    )
)


def _prepare(text: str) -> str:
    """Unicode clean-up: NFKC, accents stripped (café -> cafe), dashes, vulgar fractions, controls."""
    if not text.isascii():  # ASCII is its own NFKC form
        text = _SQUARE_RE.sub(lambda m: " squared" if m.group(1) == "²" else " cubed", text.translate(_PRE_TRANSLATE))
        text = unicodedata.normalize("NFKC", text)
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        text = _DASH_DIGITS_RE.sub("-", text)
    text = _CONTROL_RE.sub("", text)
    if "-" in text or not text.isascii():
        text = _DASH_RE.sub(", ", text)
    return _ABOUT_RE.sub("about ", text) if "~" in text else text


def _clean(text: str) -> str:
    for symbol, spoken in _SYMBOL_WORDS.items():
        if symbol in text:
            text = text.replace(symbol, spoken)
    for pattern, repl in _CLEAN_SUBS:
        text = pattern.sub(repl, text)
    text = text.translate(_SILENT_TABLE).lower()
    for pattern, repl in _SPACING_SUBS:
        text = pattern.sub(repl, text)
    # last: the merges above glue punctuation (and words across ", ,") onto words
    text = _LONG_WORD_RE.sub(_long_word, text)
    return text.strip(" ,-")


_DIGIT = _rx(r"\d")
_DOT = _rx(r"\.")
#: The passes, in order: (a cheap test for whether the pass can match, its pattern, its replacement).
_PASSES: tuple[tuple[re.Pattern[str], re.Pattern[str], str | _Sub], ...] = (
    (_rx("@"), _EMAIL_RE, lambda m: f" {lex.address(m.group(0))} "),
    (_rx(r"\.[A-Za-z]|://"), _URL_RE, _url),
    (_rx("#"), _HASHTAG_RE, _hashtag),
    (_rx("@"), _HANDLE_RE, _handle),
    (_rx("_"), _UNDERSCORE_RE, " "),  # after addresses and handles: "__init__" is no word
    (_DIGIT, _NEGATIVE_RE, "minus "),
    *dates.PASSES,  # phone numbers, dates, ranges, times
    (_rx("[$£€¥]"), _MONEY_RE, _money),
    (_rx("¢"), _CENTS_RE, lambda m: f"{nums.number(m.group(1))} cent{'' if m.group(1) == '1' else 's'}"),
    (_DIGIT, _PENCE_RE, lambda m: f"{nums.number(m.group(1))} {'penny' if m.group(1) == '1' else 'pence'}"),
    (_rx("%"), _PERCENT_RE, lambda m: f"{nums.number(m.group(1))} percent"),
    (_rx("°"), _DEGREES_RE, _degrees),
    (_DIGIT, _DECADE_RE, _decade),
    (_DIGIT, _UNIT_RE, _unit),
    (_rx(r"\d'"), _FEET_RE, lambda m: f"{m.group(1)} foot {m.group(2)}"),
    (_rx(r"\d\s?x"), _BY_RE, " by "),
    (_rx(r"\dx"), _TIMES_RE, lambda m: f"{m.group(1)} times"),
    (_rx("/"), _MIXED_RE, _mixed),
    (_rx("/"), _FRACTION_RE, _fraction),
    (_DIGIT, _ORDINAL_RE, lambda m: nums.cardinal(m.group(1).replace(",", ""), ordinal=True)),
    (_rx(r"\s[LXVI]"), _ROMAN_RE, _roman),
    (_DIGIT, _LETTER_DIGITS_RE, _letter_digits),
    (_DIGIT, _DIGIT_LETTERS_RE, lambda m: f"{nums.cardinal(m.group(1))} {' '.join(m.group(2).lower())}"),
    (_DIGIT, _GLUED_RE, " "),  # "1080p", "abc123": the number apart
    (_DOT, _DOTTED_RE, _dotted),
    (_DOT, _CIRCA_RE, "circa "),
    (_DOT, _NO_RE, "number"),
    (_rx(r"(?i:st|dr)\b"), _ST_DR_RE, _st_dr),
    (_rx(r"\.|M[rs]"), _TITLE_RE, _title),
    (_DOT, _POST_RE, _post),
    (_rx(" vs "), _VS_RE, _vs),
)
_CAPS_SUBS = (_caps(False), _caps(True))
_TWO_CAPITALS = _rx("[A-Z]{2}")


def normalize_text(text: str) -> str:
    """Spoken, lower-case form of English ``text``.

    Reads times (``9:30 a.m.``, ``14:05``, ``12:00 noon``), money (``$45.50``, ``$1.2 million``,
    ``£3``, ``€20``, ``5¢``, ``50p``), dates (``March 3rd, 2024``, ``3 March 2024``,
    ``2024-03-03``, ``13/4/2024``; ``3/4/2024`` is read as written, "three slash four slash
    ..."), years (``1984``, ``2005``, ``1960s``, ``'90s``), ordinals, decimals, negative numbers,
    percentages, ranges (``1990-95``, ``10-20``), temperatures and units (``-3°C``, ``60 km/h``),
    phone numbers (digit by digit in groups), fractions (``3/4``, ``1 1/2``), multiplication
    (``3x``, ``2×4``), Roman numerals after names and words such as Chapter (``Henry VIII``,
    ``World War II``), abbreviations (``Mr. Dr. St. No. etc. e.g. vs.`` ...), acronyms (``FBI``
    -> "f b i", ``NASA`` -> "nasa"), URLs and e-mail addresses, hashtags, ``@`` handles and
    symbols (``& + = #1``). Quotes and brackets are silent; dashes and ``; :`` become commas.

    Work and output are bounded by the input's length: integers of more than
    :data:`MAX_NUMBER_DIGITS` digits are read digit by digit, and no word of the result is
    longer than :data:`MAX_WORD_CHARS` characters (longer ones are split at their hyphens, then
    cut into near-equal chunks).

    Args:
        text: any Unicode string.

    Returns:
        the normalised text (may be empty if ``text`` had no speakable content). Characters of
        other scripts, and symbols with no English reading, are kept: :class:`EnglishCharacters`
        drops them with a warning when tokenizing.
    """
    text = _prepare(text)
    shouting = not re.search("[a-z]", text) and len(_CAPS_WORD_RE.findall(text[:10_000])) >= 3
    for trigger, pattern, replacement in _PASSES:
        if trigger.search(text):
            text = pattern.sub(replacement, text)
    if _TWO_CAPITALS.search(text):
        text = _CAPS_RE.sub(_CAPS_SUBS[shouting], text)
    if _DIGIT.search(text):
        text = _NUMBER_RE.sub(_number, text)
    return _clean(text)
