"""Bounded work for untrusted text (issue 18, item 3): long words, long sentences, ``facevox speak`` inputs.

The text front end and :func:`bound_pieces` are tested directly; the 5,000-letter word runs
through the real acoustic model (mel only) and its batch shapes are recorded; the CLI cases use
a stand-in pipeline, so that they load no model.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import soundfile
import torch
from facevox import AcousticOutput, FacevoxError, TextProcessor
from facevox.cli import main
from facevox.commands import speak
from facevox.pipelines import speech
from facevox.pipelines.speech import SpeechResult, TextToSpeechPipeline, bound_pieces
from facevox_tts.text import MAX_WORD_CHARS, EnglishCharacters, normalize_text, split_sentences

WORD = "a" * 5000


# --- text front end ---------------------------------------------------------------------------


def test_a_5000_letter_word_is_cut_into_bounded_words_and_pieces() -> None:
    normalized = normalize_text(WORD)
    assert max(len(w) for w in normalized.split()) <= MAX_WORD_CHARS
    assert normalized.replace(" ", "") == WORD  # nothing lost, only cut
    proc = EnglishCharacters()
    pieces = proc.split(WORD)
    assert all(len(p) <= 180 for p in pieces) and len(pieces) >= 5000 // 180
    tokens, lengths = proc(pieces)
    assert tokens.shape == (len(pieces), int(lengths.max())) and int(lengths.max()) <= 181


def test_long_words_split_at_hyphens_first_then_into_near_equal_chunks() -> None:
    assert normalize_text("-".join(["abcdefghij"] * 6)) == " ".join(["abcdefghij"] * 6)
    assert [len(w) for w in normalize_text("x" * 45).split()] == [23, 22]
    assert normalize_text("pneumonia is forty characters or fewer") == "pneumonia is forty characters or fewer"


@pytest.mark.parametrize(
    ("raw", "ending"),
    [
        ("1" * 5000, "one"),  # past Python's 4,300-digit int limit: digit by digit
        ("9" * 30 + "th", "nine ninth"),
        ("$" + "9" * 40, "nine dollars"),
        ("1" * 500 + "%", "one percent"),
        ("12345678901234567890123456.5", "six point five"),
    ],
)
def test_huge_numbers_are_read_digit_by_digit(raw: str, ending: str) -> None:
    spoken = normalize_text(raw)
    assert spoken.endswith(ending)
    assert all(len(p) <= 180 for p in EnglishCharacters().split(raw))


def test_numbers_within_the_limit_are_still_named() -> None:
    assert normalize_text("1,000,000") == "one million"
    assert normalize_text("$1.50 on the 2nd in 1984") == "one dollar and fifty cents on the second in nineteen eighty-four"


def test_split_sentences_chunks_a_word_longer_than_the_piece() -> None:
    pieces = split_sentences("short words then " + "b" * 70 + " and more words after it.", max_chars=30)
    assert all(len(p) <= 30 for p in pieces)
    assert "".join(pieces).count("b") == 70


def test_unspeakable_pieces_are_dropped_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="nothing speakable"):
        assert EnglishCharacters().split("Hello there. 你好。") == ["hello there."]
    with pytest.raises(ValueError, match="nothing speakable"):
        EnglishCharacters().split("你好。")


# --- pipeline -----------------------------------------------------------------------------------


@pytest.mark.parametrize("max_chars", [20, 37, 180])
def test_bound_pieces_keeps_every_word_within_the_limit(max_chars: int) -> None:
    text = "One sentence here. " + "a clause, " * 30 + "x" * 400 + " tail; end: done!"
    pieces = bound_pieces(text, max_chars)
    assert all(0 < len(p) <= max_chars for p in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())
    assert bound_pieces("  fits  ", max_chars) == ["fits"] and bound_pieces("   ", max_chars) == []


@pytest.fixture(scope="module")
def pipeline() -> TextToSpeechPipeline:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TextToSpeechPipeline(vocoder="griffinlim.default")


def _record_infer(pipe: TextToSpeechPipeline, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """Record (batch, tokens, mel frames) of every ``acoustic.infer`` call."""
    calls: list[tuple[int, int, int]] = []
    infer = pipe.acoustic.infer

    def recording(tokens: torch.Tensor, lengths: torch.Tensor, *args: Any, **kwargs: Any) -> AcousticOutput:
        out = infer(tokens, lengths, *args, **kwargs)
        calls.append((tokens.shape[0], tokens.shape[1], out.mel.shape[2]))
        return out

    monkeypatch.setattr(pipe.acoustic, "infer", recording)
    return calls


@pytest.mark.usefixtures("one_thread")
def test_a_5000_letter_word_synthesizes_in_bounded_batches(
    pipeline: TextToSpeechPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _record_infer(pipeline, monkeypatch)
    result = pipeline(WORD, vocode=False)  # used to be one 5,001-token batch asking for gigabytes
    assert len(result.texts) >= 5000 // 180 and "".join("".join(result.texts).split()) == WORD
    frames_per_token = pipeline.acoustic.config.max_frames_per_token
    assert len(calls) == -(-len(result.texts) // pipeline.batch_size)
    for batch, tokens, frames in calls:
        assert batch <= pipeline.batch_size
        assert tokens <= pipeline.max_chars + 1  # characters + end token
        assert frames <= tokens * frames_per_token
    # the largest tensor of a batch: 8 x 181 x 40 frames of 80 bins, a few MB, not gigabytes
    assert max(b * f for b, _, f in calls) * 80 * 4 < 50e6


class _NoSplit(TextProcessor):
    """A third-party text processor that does not override ``split``: it gets the role's default."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def symbols(self) -> list[str]:
        return list(self.inner.symbols)

    def normalize(self, text: str) -> str:
        return str(self.inner.normalize(text))

    def __call__(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inner(texts)  # type: ignore[no-any-return]


def test_pipeline_bounds_pieces_of_a_processor_without_split(
    pipeline: TextToSpeechPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "processor", _NoSplit(pipeline.processor))
    pieces = pipeline.sentences("Hello there. " * 40 + WORD)
    assert all(len(p) <= pipeline.max_chars for p in pieces)
    assert pieces[:40] == ["hello there."] * 40  # the default split: one piece per sentence
    assert "".join("".join(pieces[40:]).split()) == WORD  # normalize_text cuts the word into 40-char chunks


def test_default_split_normalizes_then_splits_sentences() -> None:
    proc = _NoSplit(EnglishCharacters())
    assert proc.split("Dr. Smith is here. It costs $5!  Bye?") == [
        "doctor smith is here.", "it costs five dollars!", "bye?"
    ]
    assert proc.split("one, two, three, four", max_chars=10) == ["one, two,", "three,", "four"]
    with pytest.raises(ValueError, match="empty"):
        proc.split("  \n ")
    with pytest.raises(TypeError, match="str"):
        proc.split(None)  # type: ignore[arg-type]


class _Flood(_NoSplit):
    """A broken processor: far more tokens than characters."""

    def __call__(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        n = 10_000
        return torch.full((len(texts), n), 3), torch.full((len(texts),), n)


def test_pipeline_refuses_a_processor_that_makes_too_many_tokens(
    pipeline: TextToSpeechPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "processor", _Flood(pipeline.processor))
    with pytest.raises(FacevoxError, match=r"made 10000 tokens .* at most 736 \(4 per character"):
        pipeline("Hello there.", vocode=False)


def test_pipeline_max_chars_is_range_checked() -> None:
    with pytest.raises(ValueError, match="max_chars must be >= 20"):
        TextToSpeechPipeline(max_chars=5)


# --- facevox speak ------------------------------------------------------------------------------


class _FakePipeline:
    """Stands in for :class:`TextToSpeechPipeline` in the CLI: no model, records its calls."""

    made: list[_FakePipeline] = []
    interrupt_after: int | None = None  # raise KeyboardInterrupt after this many sentences

    def __init__(self, acoustic: str = "", vocoder: str = "") -> None:
        self.texts: list[str] = []
        _FakePipeline.made.append(self)

    def sentences(self, text: str) -> list[str]:
        return EnglishCharacters().split(text)

    def __call__(self, text: str, progress: Callable[[int, int], None] | None = None, *, vocode: bool = True) -> Any:
        self.texts.append(text)
        pieces = self.sentences(text)
        for done in range(1, len(pieces) + 1):
            if self.interrupt_after is not None and done > self.interrupt_after:
                raise KeyboardInterrupt
            if progress is not None:
                progress(done, len(pieces))
        return SpeechResult(torch.zeros(2205), 22050, torch.zeros(80, 9), texts=pieces, capped=[False] * len(pieces))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_FakePipeline]]:
    _FakePipeline.made = []
    monkeypatch.setattr(_FakePipeline, "interrupt_after", None)
    monkeypatch.setattr(speech, "TextToSpeechPipeline", _FakePipeline)
    yield _FakePipeline


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["speak", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_file_on_a_fifo_is_refused_at_once(tmp_path: Path, fake: type[_FakePipeline]) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    outcome: dict[str, int] = {}
    worker = threading.Thread(target=lambda: outcome.update(code=main(["speak", "--file", str(fifo)])), daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # release the blocked reader before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("facevox speak --file FIFO hung")
    assert outcome["code"] == 2 and not fake.made


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_file_on_dev_zero_is_refused(fake: type[_FakePipeline], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["--file", "/dev/zero"], capsys)
    assert code == 2 and "not a regular file" in err and "Traceback" not in err
    assert not fake.made


def test_file_larger_than_1_mib_or_not_utf8_is_refused(
    tmp_path: Path, fake: type[_FakePipeline], capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (speak.MAX_FILE_BYTES + 1))
    code, _, err = _run(["--file", str(big), "--max-chars", str(10**7)], capsys)
    assert code == 2 and "larger than 1,048,576 bytes" in err
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    code, _, err = _run(["--file", str(latin)], capsys)
    assert code == 2 and "not UTF-8" in err and "byte 3" in err
    assert not fake.made


def test_file_of_utf8_text_with_a_bom_is_read(
    tmp_path: Path, fake: type[_FakePipeline], capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "in.txt"
    text.write_bytes("\ufeffCafé au lait.".encode())
    code, out, _ = _run(["--file", str(text), "-o", str(tmp_path / "x.wav")], capsys)
    assert code == 0 and fake.made[0].texts == ["Café au lait."] and (tmp_path / "x.wav").is_file()


def test_max_chars_refuses_before_any_model_is_loaded(
    tmp_path: Path, fake: type[_FakePipeline], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = _run(["x" * 101, "--max-chars", "100", "-o", str(tmp_path / "x.wav")], capsys)
    assert code == 2 and "101 characters, more than --max-chars 100" in err
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("y" * 500))
    code, _, err = _run(["-", "--max-chars", "100"], capsys)
    assert code == 2 and "more than 100 characters" in err
    assert not fake.made and not list(tmp_path.iterdir())
    assert _run(["x" * 100, "--max-chars", "100", "-o", str(tmp_path / "x.wav")], capsys)[0] == 0
    assert speak.DEFAULT_MAX_CHARS == 100_000


def test_max_chars_is_documented_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--help"], capsys)
    assert code == 0 and "--max-chars" in out and "100000" in out and "1 MiB" in out and "-- " in out


def test_text_beginning_with_a_dash_explains_double_dash(
    tmp_path: Path, fake: type[_FakePipeline], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(["-1e308 degrees"], capsys)
    assert code == 2 and "put -- before it" in err and "facevox speak -o out.wav -- '-1e308 degrees'" in err
    out = tmp_path / "minus.wav"
    code, stdout, _ = _run(["-o", str(out), "--", "-1e308 degrees"], capsys)
    assert code == 0 and fake.made[-1].texts == ["-1e308 degrees"] and out.is_file()
    code, _, err = _run(["hi", "--outptu", "x.wav"], capsys)  # a typo keeps click's suggestion only
    assert code == 2 and "Did you mean" in err and "'--output'" in err and "put --" not in err


def test_progress_lines_for_long_jobs_without_a_terminal(
    tmp_path: Path, fake: type[_FakePipeline], capsys: pytest.CaptureFixture[str]
) -> None:
    five = "One. Two. Three. Four. Five."
    code, _, err = _run([five, "-o", str(tmp_path / "a.wav")], capsys)
    assert code == 0 and [line for line in err.splitlines() if line.startswith("speaking")] == [
        f"speaking: {i}/5 sentences" for i in range(1, 6)
    ]
    code, _, err = _run(["One. Two.", "-o", str(tmp_path / "b.wav")], capsys)
    assert code == 0 and "speaking" not in err
    code, _, err = _run([five, "-q", "-o", str(tmp_path / "c.wav")], capsys)
    assert code == 0 and "speaking" not in err


def test_progress_bar_on_a_terminal(
    tmp_path: Path, fake: type[_FakePipeline], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import click

    bars: list[int] = []
    progressbar = click.progressbar

    def recording(*args: Any, **kwargs: Any) -> Any:
        bars.append(kwargs["length"])
        return progressbar(*args, **kwargs)

    monkeypatch.setattr(speak, "_stderr_is_tty", lambda: True)
    monkeypatch.setattr(click, "progressbar", recording)
    code, _, err = _run(["One. Two.", "-o", str(tmp_path / "a.wav")], capsys)
    assert code == 0 and bars == [2] and "speaking" in err
    assert _run(["One.", "-o", str(tmp_path / "b.wav")], capsys)[0] == 0 and bars == [2]  # one sentence: no bar


def test_ctrl_c_mid_synthesis_leaves_no_output(
    tmp_path: Path, fake: type[_FakePipeline], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_FakePipeline, "interrupt_after", 2)
    out = tmp_path / "long.wav"
    code, _, err = _run(["One. Two. Three. Four. Five.", "-o", str(out)], capsys)
    assert code == 130 and "was not written" in err and "Traceback" not in err
    assert "speaking: 2/5 sentences" in err
    assert not list(tmp_path.iterdir())  # no WAV, no temporary file


def test_ctrl_c_while_writing_leaves_no_partial_file(
    tmp_path: Path, fake: type[_FakePipeline], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_written(path: str, *args: Any, **kwargs: Any) -> None:
        Path(path).write_bytes(b"RIFF\0\0")
        raise KeyboardInterrupt

    monkeypatch.setattr(soundfile, "write", half_written)
    out = tmp_path / "old.wav"
    out.write_bytes(b"previous take")
    code, _, _ = _run(["Hello there.", "-o", str(out)], capsys)
    assert code == 130
    assert out.read_bytes() == b"previous take" and [p.name for p in tmp_path.iterdir()] == ["old.wav"]
