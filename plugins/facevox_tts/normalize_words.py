"""Spoken English for written words: abbreviations, acronyms, Roman numerals in names, addresses.

Helpers of :mod:`facevox_tts.normalize`. Word lists are small and hand-kept; an all-capital word
not in them is read as a word when it looks pronounceable (a vowel, and consonant clusters that
can begin or end an English syllable: NASA, NATO, UNESCO) and letter by letter otherwise (FBI,
FPCC, HTML). The cluster lists follow the usual English phonotactics tables (e.g. the onset
and coda inventories in Giegerich, *English Phonology*, 1992), trimmed to spellings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from facevox_tts.normalize_numbers import digits

__all__ = [
    "ABBREVIATIONS",
    "CARDINAL_NUMERAL_WORDS",
    "CONTEXT_CHARS",
    "LETTER_NAMES",
    "MONTHS",
    "REGNAL_NAMES",
    "TITLES",
    "UNITS",
    "YEAR_CONTEXT",
    "acronym",
    "address",
    "dotted",
    "is_name",
    "previous_word",
    "pronounceable",
    "sentence_end",
    "spell_letters",
]

#: How far around a token its context is read (keeps normalisation linear in the text).
CONTEXT_CHARS = 64
#: Units read after a number: symbol -> (singular, plural).
UNITS: dict[str, tuple[str, str]] = {
    "km/h": ("kilometer per hour", "kilometers per hour"), "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"), "m/s": ("meter per second", "meters per second"),
    "km": ("kilometer", "kilometers"), "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
    "m": ("meter", "meters"), "mi": ("mile", "miles"), "ft": ("foot", "feet"), "yd": ("yard", "yards"),
    "kg": ("kilogram", "kilograms"), "mg": ("milligram", "milligrams"), "g": ("gram", "grams"),
    "lbs": ("pound", "pounds"), "lb": ("pound", "pounds"), "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"), "mL": ("milliliter", "milliliters"), "l": ("liter", "liters"),
    "L": ("liter", "liters"), "gal": ("gallon", "gallons"), "GHz": ("gigahertz", "gigahertz"),
    "MHz": ("megahertz", "megahertz"), "kHz": ("kilohertz", "kilohertz"), "Hz": ("hertz", "hertz"),
    "kW": ("kilowatt", "kilowatts"), "MW": ("megawatt", "megawatts"), "W": ("watt", "watts"),
    "V": ("volt", "volts"), "mAh": ("milliamp hour", "milliamp hours"), "kWh": ("kilowatt hour", "kilowatt hours"),
    "KB": ("kilobyte", "kilobytes"), "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"), "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"), "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"), "s": ("second", "seconds"), "min": ("minute", "minutes"),
    "hrs": ("hour", "hours"), "hr": ("hour", "hours"), "h": ("hour", "hours"), "dB": ("decibel", "decibels"),
    "kcal": ("kilocalorie", "kilocalories"), "cal": ("calorie", "calories"), "px": ("pixel", "pixels"),
}
#: Titles read before a name ("Mr. Smith"); "St." and "Dr." are decided by their context.
TITLES: dict[str, str] = {
    "mr": "mister", "mrs": "misses", "ms": "miss", "prof": "professor",
    "rev": "reverend", "hon": "honorable", "gen": "general", "gov": "governor", "capt": "captain",
    "col": "colonel", "lt": "lieutenant", "sgt": "sergeant", "sen": "senator", "rep": "representative",
    "pres": "president", "messrs": "messieurs", "mt": "mount", "ft": "fort", "fr": "father",
}
#: Abbreviations read after a word; the value's second item says whether the dot may also end a
#: sentence (then a following capital letter keeps a full stop: "on Main St. Then ...").
ABBREVIATIONS: dict[str, tuple[str, bool]] = {
    "jr": ("junior", False), "sr": ("senior", False), "esq": ("esquire", False),
    "co": ("company", True), "corp": ("corporation", True), "inc": ("incorporated", True),
    "ltd": ("limited", True), "bros": ("brothers", True), "dept": ("department", True),
    "ave": ("avenue", True), "rd": ("road", True), "blvd": ("boulevard", True), "ln": ("lane", True),
    "etc": ("et cetera", True), "vs": ("versus", False), "approx": ("approximately", False),
    "fig": ("figure", False), "vol": ("volume", False), "ch": ("chapter", False), "pp": ("pages", False),
    "est": ("established", False),
}
_DOTTED: dict[str, str] = {
    "e.g.": "for example", "i.e.": "that is", "a.k.a.": "also known as", "ph.d.": "p h d",
    "r.i.p.": "rest in peace", "p.s.": "p s", "n.b.": "note",
}
MONTHS: dict[str, str] = {
    name[:3]: name for name in (
        "january", "february", "march", "april", "may", "june", "july", "august", "september",
        "october", "november", "december",
    )
} | {"sept": "september"}
#: Words after which a four-digit number reads as a year ("in 1984"), not a count ("were 1500").
YEAR_CONTEXT = frozenset(
    "in of since by from until till to and or through circa ca c year years early late mid before "
    "after during around the 'til between spring summer autumn fall winter christmas easter "
    "class vintage model born died".split()
    + list(MONTHS.values())
)
#: Names that take a regnal ordinal: "Henry VIII" -> "henry the eighth".
REGNAL_NAMES = frozenset(
    "henry louis elizabeth george edward charles william james richard john mary anne victoria "
    "pope pius benedict gregory leo innocent clement paul urban boniface alexander nicholas peter "
    "ivan frederick philip catherine napoleon ferdinand francis gustav gustavus harold david "
    "constantine alfonso juan carlos ludwig otto rudolf wilhelm sixtus stephen felipe umberto "
    "vittorio christian frederik haakon olaf oscar rama".split()
)
#: Words after which a Roman numeral is a plain number: "Chapter IV" -> "chapter four".
CARDINAL_NUMERAL_WORDS = frozenset(
    "war chapter part volume vol book act scene section article phase stage level round season "
    "episode title type class grade bowl apollo appendix canto psalm tier unit schedule league".split()
)
#: All-capital words read as words whatever the heuristic says, with their spoken spelling.
_AS_WORDS: dict[str, str] = {
    "NASA": "nasa", "NATO": "nato", "UNESCO": "unesco", "UNICEF": "unicef", "OPEC": "opec",
    "LASER": "laser", "RADAR": "radar", "SCUBA": "scuba", "SONAR": "sonar", "AIDS": "aids",
    "COVID": "covid", "FIFA": "fifa", "NASDAQ": "nasdaq", "CAPTCHA": "captcha", "JPEG": "jay peg",
    "JSON": "jason", "NOAA": "noah", "ASCII": "askey", "GIF": "gif", "PIN": "pin", "RAM": "ram",
    "ROM": "rom", "SIM": "sim", "OK": "okay", "WASP": "wasp", "SWAT": "swat", "PETA": "peta",
    "ISIS": "isis", "ICANN": "eye can", "IKEA": "ikea", "NAFTA": "nafta", "DARPA": "darpa",
}
#: All-capital words always read letter by letter (the heuristic would read them as words).
_AS_LETTERS = frozenset(
    "USA UCLA USDA CEO CFO CTO COO IOU AOL UAE ISO IRA URL API GPU CPU AI TV FBI CIA NSA BBC CNN "
    "IBM ATM DNA RNA HIV EU UK UN US PC ID IT OECD EPA ETA FAQ IQ EQ VIP UFO NGO MIT NYU OSU AOC "
    "OMG IMO EST PST CET GMT UTC ASAP".split()
)
# Spellings of consonant clusters that may begin or end an English syllable.
_ONSETS = frozenset(
    "bl br ch cl cr dr dw fl fr gh gl gn gr kl kn kr ph pl pr ps qu rh sc sch scr sh shr sk sl sm "
    "sn sp sph spl spr squ st str sv sw th thr tr ts tw wh wr".split()
)
_CODAS = frozenset(
    "ch ck ct dge ds ft gh ght ld lf lk ll lm ln lp ls lt mb mn mp mps ms nc nch nd nds ng ngs nk "
    "ns nt nth nts nx ph pt rb rc rch rd rds rf rg rk rl rm rn rp rs rsh rst rt rth sh sk sp ss st "
    "sts tch th ts tz wn ws xt".split()
)
_VOWELS = frozenset("aeiou")
_SHORT_WORDS = frozenset("org com net edu gov info".split())
_URL_SPOKEN = {".": " dot ", "/": " slash ", "-": " dash ", "_": " underscore ", "@": " at ",
               "+": " plus ", "=": " equals ", "&": " and ", "?": " question mark ", "#": " hash ",
               ":": " colon ", "~": " tilde ", "%": " percent "}
_ABBREVIATION_KEYS = frozenset([*TITLES, *ABBREVIATIONS, "st", "dr", "no", "vs"])
_URL_PART_RE = re.compile(r"[a-z]+|\d+|.", re.S)


def _clusters(word: str) -> list[str]:
    """``"unesco"`` -> ``["", "u", "n", "e", "sc", "o", ""]``: consonant and vowel runs, consonants first."""
    runs: list[str] = [""]
    vowel = False
    for i, ch in enumerate(word):
        is_vowel = ch in _VOWELS or (ch == "y" and i > 0 and word[i - 1] not in _VOWELS)
        if is_vowel != vowel:
            runs.append("")
            vowel = is_vowel
        runs[-1] += ch
    if vowel:
        runs.append("")
    return runs


def pronounceable(word: str, min_len: int = 4) -> bool:
    """Whether a letter string reads as a word: a vowel, and clusters an English syllable can have.

    Words shorter than ``min_len`` are spelled (``"CIA"``) but for a few address parts (``com``,
    ``org``...); six letters or more only need a vowel and no run of five consonants.
    """
    word = word.lower()
    runs = _clusters(word)
    consonants, vowels = runs[0::2], runs[1::2]
    if not vowels:
        return False
    if len(word) < min_len:
        return word in _SHORT_WORDS
    if len(word) >= 6:  # long capital words are shouted words or acronyms said as words
        return all(len(c) <= 4 for c in consonants)
    if any(len(v) > 2 for v in vowels) or word[:2] in ("aa", "ee", "ii", "oo", "uu"):
        return False  # "IEEE", "AARP"
    onset, coda, inner = consonants[0], consonants[-1], consonants[1:-1]
    if (len(onset) > 1 and onset not in _ONSETS) or (len(coda) > 1 and coda not in _CODAS):
        return False
    return all(len(c) <= 2 or c[1:] in _ONSETS or c[:-1] in _CODAS for c in inner)


def acronym(stem: str, suffix: str = "", shouting: bool = False) -> str:
    """Spoken form of an all-capital word: "FBI" -> "f b i", "NASA" -> "nasa"; ``suffix`` ("s", "'s") -> "'s".

    ``shouting``: the whole text is in capitals, so only known letter acronyms and words with no
    vowel are spelled out.
    """
    plural = "'s" if suffix else ""
    if stem in _AS_WORDS:
        return _AS_WORDS[stem] + plural
    if stem in _AS_LETTERS:
        spoken = " ".join(stem.lower())
    elif shouting:
        spoken = stem.lower() if re.search("[AEIOUY]", stem) else " ".join(stem.lower())
    elif pronounceable(stem):
        spoken = stem.lower()
    else:
        spoken = " ".join(stem.lower())
    return spoken + plural


def _address_word(part: str) -> str:
    if part.isdigit():
        return digits(part)
    if not pronounceable(part, min_len=3) or part in _ABBREVIATION_KEYS:  # "est" would read "established"
        return " ".join(part)
    return part


def address(text: str) -> str:
    """A URL or e-mail address, spoken: "www.example.com/a-b" -> "w w w dot example dot com slash a dash b".

    The scheme (``https://``) is dropped; letter runs read as words when pronounceable, else
    letter by letter; digit runs digit by digit.
    """
    text = re.sub(r"^[a-z]+://", "", text.lower())
    spoken = []
    for part in _URL_PART_RE.findall(text):
        if part[0].isalnum():
            spoken.append(_address_word(part))
        else:
            spoken.append(_URL_SPOKEN.get(part, " "))
    return " ".join("".join(f" {s} " for s in spoken).split())


def dotted(word: str) -> str | None:
    """Spoken form of a dotted abbreviation such as ``e.g.``, else ``None``."""
    return _DOTTED.get(word.lower())


def sentence_end(text: str, end: int, after_capital: bool = True) -> str:
    """``"."`` when a dot eaten at ``end`` (an abbreviation's) also ended the sentence, else ``""``.

    The end of the text or of a line always counts; a following capital only if ``after_capital``.
    """
    rest = text[end : end + CONTEXT_CHARS]
    if not rest.strip(" \t") or rest.lstrip(" \t")[:1] in ("\n", "\r"):
        return "."
    return "." if after_capital and re.match(r"\s+[A-Z]", rest) else ""


def previous_word(text: str, start: int) -> tuple[str, bool]:
    """The word before ``start`` and whether it begins a sentence (``("", True)`` if none)."""
    before = text[max(0, start - CONTEXT_CHARS) : start].rstrip()
    word = re.search(r"[A-Za-z']+$", before)
    if not word:
        return "", True
    head = before[: word.start()].rstrip()
    return word.group(0), (not head and start <= CONTEXT_CHARS) or head[-1:] in (".", "!", "?", "\n")


def is_name(word: str) -> bool:
    """A capitalised word: "Main", not "MAIN" or "main"."""
    return len(word) > 1 and word[0].isupper() and word[1:].islower()


LETTER_NAMES: dict[str, str] = dict(
    a="ay", b="bee", c="see", d="dee", e="ee", f="eff", g="gee", h="aitch", i="eye", j="jay", k="kay", l="el",
    m="em", n="en", o="oh", p="pee", q="cue", r="are", s="ess", t="tee", u="you", v="vee", w="double you",
    x="ex", y="why", z="zee",
)
"""The English name of each letter, spelled as words (the usual dictionary respellings)."""

_SPELL_WORD_RE = re.compile(r"[a-z0-9']+")


def spell_letters(text: str, names: Mapping[str, str] | None = None) -> str:
    """Spell the lone letters of normalised text by their names: "the f b i" -> "the eff bee eye".

    For acoustic models that read characters: they learn to say a letter inside words and
    have almost never seen one alone, so "a m" came out as "and", "e d t" as "8". A word that
    is one letter (or a letter with ``'s``: "c d's") is replaced by :data:`LETTER_NAMES`;
    "a" and "i" only inside a run of lone letters ("u s a", "c i a"), since alone they are
    the article and the pronoun. Everything else, punctuation included, is kept.

    Args:
        text: lower-case text as :func:`facevox_tts.normalize.normalize_text` returns it.
        names: letter -> replacement for ``a``-``z`` (``None``: :data:`LETTER_NAMES`; the
            ``en.ipa`` processor passes markers, to write letter runs for espeak-ng).
    """
    names = LETTER_NAMES if names is None else names
    words = list(_SPELL_WORD_RE.finditer(text))
    lone = [  # one letter, not joined by a hyphen ("t-shirt" is no run that makes "a t-shirt" a letter)
        len(m.group(0)) == 1 and m.group(0).isalpha() and "-" not in text[max(m.start() - 1, 0) : m.end() + 1]
        for m in words
    ]
    out: list[str] = []
    last = 0
    for k, m in enumerate(words):
        word = m.group(0)
        if not (word[0].isalpha() and (len(word) == 1 or word[1:] == "'s")):
            continue
        in_run = (k > 0 and lone[k - 1]) or (k + 1 < len(words) and lone[k + 1])
        if word[0] in "ai" and not in_run:
            continue
        out += [text[last : m.start()], names[word[0]] + word[1:]]
        last = m.end()
    out.append(text[last:])
    return "".join(out)
