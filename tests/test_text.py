"""English text front end of the TTS plugin: normalisation, tokens, sentence splitting."""

from __future__ import annotations

import warnings

import facevox
import pytest
import torch
from facevox_tts.normalize_words import spell_letters
from facevox_tts.text import SYMBOLS, EnglishCharacters, normalize_text, split_sentences


@pytest.mark.parametrize(
    ("raw", "spoken"),
    [
        ("I have 42 cats.", "i have forty-two cats."),
        ("It cost $3.50.", "it cost three dollars and fifty cents."),
        ("It cost $1.", "it cost one dollar."),
        ("A £2 coin.", "a two pounds coin."),
        ("$5 million", "five million dollars"),
        ("He came 21st.", "he came twenty-first."),
        ("On the 3rd of May", "on the third of may"),
        ("In 1984 and 1863.", "in nineteen eighty-four and eighteen sixty-three."),
        ("In 2005.", "in two thousand five."),  # years 2000-2009 as years are said (issue 15)
        ("1,234 people", "one thousand two hundred and thirty-four people"),
        ("pi is 3.14", "pi is three point one four"),
        ("50% off", "fifty percent off"),
        ("at 10:30 am", "at ten thirty a m"),
        ("at 7:00", "at seven o'clock"),
        ("at 9:05 p.m.", "at nine oh five p m."),  # the dot of "p.m." also ends the sentence
        ("Dr. Smith and Mr. Jones", "doctor smith and mister jones"),
        ("Mrs. Brown met Prof. Green", "misses brown met professor green"),
        ("St. Louis is on Main St.", "saint louis is on main street."),
        ("No. 5", "number five"),
        ("the FBI and the U.S.A.", "the f b i and the u s a."),
        ("salt & pepper", "salt and pepper"),
        ("pages 10-20", "pages ten to twenty"),
        ('He said "yes" (quietly); then -- nothing.', "he said yes quietly, then, nothing."),
        ("Café   déjà vu", "cafe deja vu"),
    ],
)
def test_normalize_text(raw: str, spoken: str) -> None:
    assert normalize_text(raw) == spoken


def test_tokens_are_padded_and_end_with_eos() -> None:
    proc = EnglishCharacters()
    tokens, lengths = proc(["Hi.", "Hello there"])
    assert tokens.dtype == torch.int64 and lengths.tolist() == [4, 12]
    assert tokens[0, 3].item() == proc.eos_id and tokens[0, 4:].eq(0).all()
    assert "".join(proc.symbols[i] for i in tokens[1, :11]) == "hello there"
    assert proc.symbols[0] == "_" and len(set(proc.symbols)) == len(proc.symbols)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_an_error(text: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        EnglishCharacters()([text])


def test_text_without_speakable_content_is_an_error() -> None:
    with pytest.raises(ValueError, match="nothing speakable"):
        EnglishCharacters().split("!!! ...")


def test_unknown_symbols_are_dropped_with_a_warning() -> None:
    proc = EnglishCharacters()
    with pytest.warns(UserWarning, match="unknown symbol"):
        ids = proc.encode("snow ☃ man")
    assert "".join(SYMBOLS[i] for i in ids[:-1]) == "snow  man"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proc.encode("plain text, no surprises!")


def test_long_text_is_split_into_short_sentences() -> None:
    text = "This is the first sentence. " + "and then it goes on, " * 40 + "until the end. Short one!"
    pieces = EnglishCharacters().split(text, max_chars=120)
    assert pieces[0] == "this is the first sentence."
    assert pieces[-1] == "short one!"
    assert len(pieces) >= 8
    assert all(len(p) <= 120 for p in pieces)
    joined = " ".join(pieces)
    assert joined.count("and then it goes on") == 40


def test_split_sentences_keeps_short_text_whole() -> None:
    assert split_sentences("one. two? three!") == ["one.", "two?", "three!"]
    with pytest.raises(ValueError):
        split_sentences("x", max_chars=5)


def test_split_sentences_keeps_initials_inside_a_sentence() -> None:
    # normalised text is lower case: an initial's full stop is not a sentence end
    text = normalize_text("President John F. Kennedy was shot in Dallas. V. T. Lee wrote to him.")
    assert split_sentences(text) == ["president john f. kennedy was shot in dallas.", "v. t. lee wrote to him."]
    assert split_sentences(normalize_text("Mr. T. F. Buxton spoke. Then he left.")) == [
        "mister t. f. buxton spoke.", "then he left."]
    assert split_sentences("it was over. i left.") == ["it was over.", "i left."]  # a word before the stop


def test_registered_text_processor() -> None:
    proc = facevox.create_text_processor("en.chars")
    assert isinstance(proc, facevox.TextProcessor)
    assert proc.normalize("Dr. Who") == "doctor who"
    # a character model reads lone letters by their names (normalize_text keeps "f b i")
    assert proc.normalize("The FBI met at 9 a.m. EDT.") == "the eff bee eye met at nine ay em, ee dee tee."


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ("the f b i and the c i a.", "the eff bee eye and the see eye ay."),
        ("nine a m, e d t", "nine ay em, ee dee tee"),
        ("a cat and i", "a cat and i"),  # the article and the pronoun stay
        ("vitamin a or vitamin d", "vitamin a or vitamin dee"),
        ("the f b i's files, two c d's", "the eff bee eye's files, two see dee's"),
        ("i'm here, it's fine", "i'm here, it's fine"),
        ("an x-ray and a t-shirt", "an ex-ray and a tee-shirt"),
        ("i d a-two", "eye dee ay-two"),
        ("w w w dot example dot com", "double you double you double you dot example dot com"),
        ("", ""),
        ("no letters alone here.", "no letters alone here."),
    ],
)
def test_spell_letters(text: str, spelled: str) -> None:
    assert spell_letters(text) == spelled
