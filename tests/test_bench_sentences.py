"""The TTS benchmark's sentence sets (benchmarks/sentences/*.txt) and its training-overlap check.

The check against the real training transcripts needs ../shared, so it is a step of the benchmark
(``bench_tts.py --check-overlap CSV... --check-only``); here it runs on small CSVs written by the test.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_tts  # noqa: E402

_LJ_ID = re.compile(r"LJ0(?P<chapter>\d\d)-(?P<row>\d{4})")
#: a digit, an upper-case acronym (NASA, EDT, SD) or an abbreviation with a full stop (Aug., Mr., a.m.)
_NUMERIC = re.compile(r"\d|\b[A-Z]{2,}\b|\b[A-Za-z][a-z]{0,3}\.")


def _check_sources(sentences: bench_tts.SentenceSet) -> None:
    assert sentences.sources, f"{sentences.path}: no '# source KEY: ...' line in the header"
    for key, text in sentences.sources.items():
        description, url, licence = (part.strip() for part in text.split(" | "))
        assert description and licence, key
        assert re.match(r"https?://", url), f"source {key}: the URL part is {url!r}"
    used = {sentences.source_of(i) for i in sentences.ids}
    assert None not in used
    assert used == set(sentences.sources), "a source no sentence comes from"


def test_lj040_050_set() -> None:
    sentences = bench_tts.load_sentence_set("lj040-050")
    assert sentences.path == bench_tts.SENTENCE_DIR / "lj040-050.txt"
    assert len(sentences.ids) >= 60
    chapters = set()
    for sentence_id, text in zip(sentences.ids, sentences.texts, strict=True):
        match = _LJ_ID.fullmatch(sentence_id)
        assert match, sentence_id
        assert 40 <= int(match["chapter"]) <= 50, f"{sentence_id} is not in the held-out chapters LJ040-LJ050"
        assert 6 <= len(text.split()) <= 30, (sentence_id, text)
        chapters.add(match["chapter"])
    assert len(chapters) == 11, f"spread over LJ040-LJ050, got chapters {sorted(chapters)}"
    assert list(sentences.ids) == sorted(sentences.ids), "rows are in file order"
    assert len(set(sentences.ids)) == len(sentences.ids)
    assert len(set(sentences.texts)) == len(sentences.texts)
    _check_sources(sentences)
    assert "LJ" in sentences.sources and "public domain" in sentences.sources["LJ"]


def test_numeric_set() -> None:
    sentences = bench_tts.load_sentence_set("numeric")
    assert len(sentences.ids) >= 20
    assert len(set(sentences.texts)) == len(sentences.texts)
    for sentence_id, text in zip(sentences.ids, sentences.texts, strict=True):
        assert _NUMERIC.search(text), f"{sentence_id} has no number or abbreviation: {text!r}"
        assert not _LJ_ID.search(sentence_id), "the numeric set is not from LJSpeech"
    assert sum(bool(re.search(r"\d", t)) for t in sentences.texts) >= 20
    _check_sources(sentences)


def test_sets_share_no_sentence() -> None:
    seen: dict[str, str] = {}
    for name in bench_tts.SETS:
        for text in bench_tts.load_sentence_set(name).texts:
            assert text not in seen, f"{text!r} is in both {seen[text]} and {name}"
            seen[text] = name
    with pytest.raises(KeyError, match="lj040-050"):
        bench_tts.load_sentence_set("lj")


def test_set_options() -> None:
    assert bench_tts._parse_args([]).sentence_set == "bench"
    assert bench_tts._parse_args(["--long"]).sentence_set == "long"
    assert bench_tts._parse_args(["--long", "--set", "long"]).sentence_set == "long"
    assert bench_tts._parse_args(["--set", "numeric"]).sentence_set == "numeric"
    for bad in (["--long", "--set", "numeric"], ["--set", "nope"], ["--check-only"]):
        with pytest.raises(SystemExit):
            bench_tts._parse_args(bad)


def test_overlap_check_finds_training_sentences(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sentences = bench_tts.load_sentence_set("lj040-050")
    inside, equal = sentences.texts[3], sentences.texts[7]
    csv = tmp_path / "metadata.csv"
    csv.write_text(
        "LJ001-0001|Printing, in the only sense with which we are at present concerned.|same\n"
        f"LJ001-0002|Before it: {inside} And after it.|normalised\n"  # a training row that contains a sentence
        f"LJ001-0003|x|{equal.upper().replace(',', '')}\n"  # the normalised column, other case and punctuation
        "LJ001-0004|of the|of the\n",  # too short to count as contained in a sentence
        encoding="utf-8",
    )
    hits = bench_tts.find_training_overlap(sentences, [csv])
    assert [(h["id"], h["row"]) for h in hits] == [(sentences.ids[3], "LJ001-0002"), (sentences.ids[7], "LJ001-0003")]
    # the benchmark stops before loading a model, with exit status 1, and names the sentence
    assert bench_tts.main(["--set", "lj040-050", "--check-overlap", str(csv), "--check-only"]) == 1
    assert sentences.ids[3] in capsys.readouterr().err
    clean = tmp_path / "clean.csv"
    clean.write_text("LJ001-0001|Printing, in the only sense with which we are at present concerned.|x\n", encoding="utf-8")
    assert bench_tts.main(["--set", "numeric", "--check-overlap", str(clean), "--check-only"]) == 0
    assert "0 in the training transcripts" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("S1.1 no tab here\n", "ID<TAB>sentence"),
        ("S1.1\tOne sentence.\nS1.1\tAnother sentence.\n", "repeats"),
        ("S1.1\tOne sentence.\nS1.2\tOne sentence.\n", "repeats S1.1"),
        ("X.1\tOne sentence.\n", "no source key"),
        ("", "no sentences"),
    ],
)
def test_sentence_file_errors(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "set.txt"
    path.write_text("# source S1: a page\n#   that wraps | https://example.gov/x | public domain\n" + body, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        bench_tts.read_sentence_file(path)


def test_sentence_file_source_needs_three_parts(tmp_path: Path) -> None:
    path = tmp_path / "set.txt"
    path.write_text("# source S1: a page without a URL\nS1.1\tOne sentence.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="description \\| URL \\| licence"):
        bench_tts.read_sentence_file(path)
    path.write_text("# source S1: a page\n#   that wraps | https://example.gov/x | public domain\nS1.1\tOne.\n")
    parsed = bench_tts.read_sentence_file(path)
    assert parsed.sources == {"S1": "a page that wraps | https://example.gov/x | public domain"}
    assert parsed.name == "set" and parsed.ids == ("S1.1",)


def test_spoken_form_reads_both_sides_the_same_way() -> None:
    import asr

    # a reference as written and Whisper's way of writing what it heard
    pairs = [("at 6:45 a.m. EDT", "at 6.45am EDT"), ("10 mph", "10 miles per hour"), ("Nov. 2", "November 2nd"),
             ("Williams’ career", "Williams career"), ("the 15th", "the fifteenth"), ("six-and-a-half", "six and a half"),
             ("at 281-483-5111", "at 2-8-1-4-8-3-5-1-1-1")]
    for ref, hyp in pairs:
        assert asr.spoken_form(ref) == asr.spoken_form(hyp), (ref, hyp)
    assert asr.spoken_form("at 6:45 a.m. EDT") == "at six forty five a m e d t"
    # words that sound different stay different
    assert asr.spoken_form("wind speeds") != asr.spoken_form("one speeds")
    assert asr.spoken_form("1:45 p.m.") != asr.spoken_form("145 p.m.")
    assert asr.spoken_form("1-2 inches") == "one to two inches"  # two digits: a range
