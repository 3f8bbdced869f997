"""Text-to-speech pipeline and ``facevox speak`` (real registered models, short texts)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import soundfile
import torch
from click.testing import CliRunner
from facevox import AcousticOutput
from facevox.commands.speak import command, default_output_name
from facevox.pipelines.speech import SpeechResult, TextToSpeechPipeline
from facevox.roles import DecoderCapWarning

_VOCODER = "griffinlim.default"  # the fast vocoder keeps these tests quick


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pipeline() -> TextToSpeechPipeline:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TextToSpeechPipeline(vocoder=_VOCODER)


def _speak(pipe: TextToSpeechPipeline, text: str, **kwargs) -> SpeechResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an untrained model may hit its cap
        return pipe(text, **kwargs)


def test_pipeline_speaks_sentences_in_order(pipeline: TextToSpeechPipeline) -> None:
    calls: list[tuple[int, int]] = []
    result = _speak(pipeline, "Good morning, Dr. Smith. It costs $5!", progress=lambda d, t: calls.append((d, t)))
    assert result.texts == ["good morning, doctor smith.", "it costs five dollars!"]
    assert result.sample_rate == 22050
    assert result.waveform.dim() == 1 and result.waveform.abs().max() <= 1.0
    assert result.mel.shape[0] == 80
    assert len(result.alignments) == 2 and len(result.capped) == 2
    for text, align in zip(result.texts, result.alignments, strict=True):
        assert align.shape[1] == len(text) + 1  # characters + end token
    hop = 256
    pause = round(pipeline.pause_s * 22050 / hop)
    assert result.waveform.shape[0] == result.mel.shape[1] * hop
    r = pipeline.acoustic.reduction_factor  # mel frames per decoder step
    decoded = sum(a.shape[0] for a in result.alignments) * r
    assert decoded - 2 * r < result.mel.shape[1] - pause <= decoded
    assert calls[-1] == (2, 2)


def test_pipeline_is_reproducible(pipeline: TextToSpeechPipeline) -> None:
    a = _speak(pipeline, "Hello.")
    b = _speak(pipeline, "Hello.")
    assert torch.equal(a.mel, b.mel)


def test_pipeline_can_stop_at_the_mel(pipeline: TextToSpeechPipeline) -> None:
    full = _speak(pipeline, "Hello. Goodbye.")
    mel_only = _speak(pipeline, "Hello. Goodbye.", vocode=False)
    assert mel_only.waveform.shape == (0,)
    assert torch.equal(mel_only.mel, full.mel)  # same mel, pauses included
    assert mel_only.texts == full.texts


def test_pipeline_rejects_empty_text(pipeline: TextToSpeechPipeline) -> None:
    with pytest.raises(ValueError, match="empty"):
        pipeline("   ")


def test_speak_writes_a_wav(tmp_path: Path) -> None:
    out = tmp_path / "hi.wav"
    result = CliRunner().invoke(command, ["Hi there.", "-o", str(out), "--vocoder", _VOCODER])
    assert result.exit_code == 0, result.output
    data, rate = soundfile.read(out)
    assert rate == 22050 and len(data) > 1000
    assert str(out) in result.output
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_speak_reads_stdin_and_files_and_names_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(command, ["-", "--vocoder", _VOCODER, "-q"], input="Good day.")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "good_day.wav").is_file() and "good_day.wav" in result.output
    text = tmp_path / "in.txt"
    text.write_text("Good day.", encoding="utf-8")
    result = runner.invoke(command, ["--file", str(text), "--vocoder", _VOCODER])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "good_day_2.wav").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "empty"),
        ([], "TEXT"),
        (["hi", "-o", "/no/such/folder/x.wav"], "does not exist"),
        (["hi", "--model", "tts.nope"], "tts.nope"),
    ],
)
def test_speak_errors_are_clear(args: list[str], message: str) -> None:
    result = CliRunner().invoke(command, [*args, "--vocoder", _VOCODER])
    assert result.exit_code != 0
    assert message in result.output + str(result.exception)


def test_default_output_name(tmp_path: Path) -> None:
    assert default_output_name("Hello, World! How are you today?", tmp_path).name == "hello_world_how_are_you.wav"
    assert default_output_name("!!!", tmp_path).name == "speech.wav"


def test_stream_yields_the_sentences_of_a_call_one_by_one() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = TextToSpeechPipeline(vocoder=_VOCODER, batch_size=1)
    text = "Good morning. It costs $5! See you."
    chunks = list(one.stream(text))
    whole = _speak(one, text)
    assert len(chunks) == len(whole.texts) == 3
    assert all(c.dim() == 1 and c.dtype == torch.float32 and c.abs().max() <= 1.0 for c in chunks)
    torch.testing.assert_close(torch.cat(chunks), whole.waveform)
    pause = round(one.pause_s * 22050 / 256) * 256
    assert chunks[1][:pause].abs().max() == 0 and chunks[0][:pause].abs().max() > 0  # pause before, not first
    # A paused stream holds no lock: the pipeline still answers, and closing the stream stops it.
    stream = one.stream(text)
    next(stream)
    assert _speak(one, "Hello.").waveform.numel() > 0
    stream.close()
    with pytest.raises(ValueError, match="empty"):
        next(one.stream("  "))


def test_speak_output_raw_streams_pcm_and_stops_on_a_closed_pipe(tmp_path: Path) -> None:
    import subprocess
    import sys

    text = "Good morning. It costs five dollars."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = (_speak(TextToSpeechPipeline(vocoder=_VOCODER, batch_size=1), text).waveform * 32767).round()
    argv = [sys.executable, "-m", "facevox.cli", "speak", "--output-raw", "--vocoder", _VOCODER, text]
    import os

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    full = subprocess.run(argv, capture_output=True, check=True, timeout=300, env=env)
    pcm = torch.frombuffer(bytearray(full.stdout), dtype=torch.int16)
    assert pcm.numel() == len(reference)  # the same samples as the WAV, as 16-bit little-endian
    # The same samples up to float rounding across processes (Griffin-Lim iterates 32 times).
    assert (pcm.float() - reference).abs().max() <= 0.005 * 32767
    assert torch.corrcoef(torch.stack([pcm.float(), reference]))[0, 1] > 0.999
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and len(proc.stdout.read(1000)) == 1000
    proc.stdout.close()  # as `| head -c 1000` does
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and b"Traceback" not in err and b"BrokenPipe" not in err
    clash = CliRunner().invoke(command, [text, "--output-raw", "-o", str(tmp_path / "a.wav")])
    assert clash.exit_code != 0 and "cannot be combined with -o/--output" in clash.output


# --- decoder cap: read from AcousticOutput.reached_cap, warned once per call -------------------


def _cap_longest(
    pipe: TextToSpeechPipeline, monkeypatch: pytest.MonkeyPatch, *, warn: tuple[type[Warning], str] | None = None
) -> None:
    """Make ``pipe.acoustic.infer`` flag the longest token sequence of every batch as capped
    (``reached_cap``), optionally emitting a warning of its own first."""
    infer = pipe.acoustic.infer

    def capping(tokens: torch.Tensor, lengths: torch.Tensor, *args: object, **kwargs: object) -> AcousticOutput:
        out = infer(tokens, lengths)
        if warn is not None:
            warnings.warn(warn[1], warn[0], stacklevel=2)
        out.reached_cap = lengths == lengths.max()
        return out

    monkeypatch.setattr(pipe.acoustic, "infer", capping)


_TWO = "Hi there. This is a rather longer sentence, said the clerk."


def test_pipeline_reports_the_cap_from_the_flag_not_the_warning_text(
    pipeline: TextToSpeechPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cap_longest(pipeline, monkeypatch)  # the model says nothing: only the flag
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = pipeline(_TWO, vocode=False)
    assert result.capped == [False, True]
    cap = [w for w in caught if issubclass(w.category, DecoderCapWarning)]
    assert len(cap) == 1 and "1 of 2 sentence" in str(cap[0].message) and "this is a rather" in str(cap[0].message)
    assert cap[0].filename == __file__  # points at the caller


def test_pipeline_ignores_cap_like_warning_text(pipeline: TextToSpeechPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    infer = pipeline.acoustic.infer

    def chatty(tokens: torch.Tensor, lengths: torch.Tensor, *args: object, **kwargs: object) -> AcousticOutput:
        warnings.warn("decoder hit the step cap (unrelated text)", RuntimeWarning, stacklevel=2)
        return infer(tokens, lengths)  # reached_cap all False

    monkeypatch.setattr(pipeline.acoustic, "infer", chatty)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = pipeline(_TWO, vocode=False)
    assert result.capped == [False, False]  # the old text matching said [True, True]
    assert [w.category for w in caught] == [RuntimeWarning]  # the model's own warning still reaches the user


def test_pipeline_warns_once_per_call_even_across_batches(
    pipeline: TextToSpeechPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "batch_size", 1)  # two batches, both capped
    _cap_longest(pipeline, monkeypatch, warn=(DecoderCapWarning, "decoder hit the step cap"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = pipeline(_TWO, vocode=False)
        chunks = list(pipeline.stream(_TWO))
    assert result.capped == [True, True] and len(chunks) == 2
    cap = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(cap) == 2 and "2 of 2 sentence" in cap[0] and "1 of 2 sentence" in cap[1]  # one per call


def test_pipeline_accepts_a_legacy_tuple_from_infer(
    pipeline: TextToSpeechPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    infer = pipeline.acoustic.infer

    def legacy(tokens: torch.Tensor, lengths: torch.Tensor, *args: object, **kwargs: object) -> tuple[torch.Tensor, ...]:
        out = infer(tokens, lengths)
        return out.mel, out.mel_lengths, out.alignments

    monkeypatch.setattr(pipeline.acoustic, "infer", legacy)
    result = _speak(pipeline, _TWO, vocode=False)
    assert result.capped == [False, False] and len(result.alignments) == 2


def test_pipeline_handles_a_model_without_alignments(
    pipeline: TextToSpeechPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    infer = pipeline.acoustic.infer

    def bare(tokens: torch.Tensor, lengths: torch.Tensor, *args: object, **kwargs: object) -> AcousticOutput:
        out = infer(tokens, lengths)
        return AcousticOutput(mel=out.mel, mel_lengths=out.mel_lengths)  # only what every model has

    monkeypatch.setattr(pipeline.acoustic, "infer", bare)
    result = _speak(pipeline, _TWO, vocode=False)
    assert result.alignments == [] and result.capped == [False, False] and len(result.texts) == 2
