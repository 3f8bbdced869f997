"""Word and token timings of synthesized speech (facevox.pipelines.timings, SpeechResult.words).

Unit tests run on hand-made alignments with exact expected numbers; the pipeline tests use the
shipped ``tts.fastspeech_joe`` (and ``tts.tacotron_joe``) with the Griffin-Lim vocoder, which
needs no weights and is the fastest, on short sentences.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from facevox import AcousticOutput, SpeechStyle, TokenTiming, WordTiming
from facevox.commands.speak import command
from facevox.pipelines.face_to_voice import FaceToVoicePipeline
from facevox.pipelines.speech import SpeechResult, TextToSpeechPipeline
from facevox.pipelines.timings import (
    follow_style,
    retime,
    style_time_map,
    token_boundaries,
    token_timings,
    word_spans,
    word_timings,
)
from facevox.styles import apply_style

_VOCODER = "griffinlim.default"
_HOP, _SR = 256, 22050
_FRAME_S = _HOP / _SR

pytestmark = pytest.mark.usefixtures("one_thread")


def _path(durations: list[int]) -> torch.Tensor:
    """The one-hot ``(sum(durations), L)`` path of a length regulator."""
    index = torch.repeat_interleave(torch.arange(len(durations)), torch.tensor(durations))
    return F.one_hot(index, len(durations)).float()


# --- alignment -> token boundaries -> words (hand-made alignments, exact numbers) ----------------


def test_a_hard_path_gives_each_token_its_frames() -> None:
    bounds = token_boundaries(_path([2, 0, 3, 4, 1]), n_frames=10)
    assert bounds.tolist() == [0, 2, 2, 5, 9, 10]  # the 0-frame token starts and ends at frame 2


def test_soft_attention_goes_to_the_argmax_token_monotonically_in_steps_of_r() -> None:
    # Argmax per decoder step: 0, 0, 2, 1 (a glance back), 3; token 1 is skipped.
    weights = torch.tensor(
        [
            [0.7, 0.2, 0.1, 0.0],
            [0.5, 0.4, 0.1, 0.0],
            [0.1, 0.3, 0.6, 0.0],
            [0.1, 0.5, 0.4, 0.0],
            [0.0, 0.1, 0.2, 0.7],
        ]
    )
    # r = 2 frames per step; the decoder stopped after the first frame of its last step (9 frames).
    assert token_boundaries(weights, n_frames=9, reduction_factor=2).tolist() == [0, 4, 4, 8, 9]
    assert token_boundaries(weights, n_frames=10, reduction_factor=2).tolist() == [0, 4, 4, 8, 10]
    # Steps past ceil(n_frames / r) (batch padding) are ignored: here only the first three count.
    assert token_boundaries(weights, n_frames=5, reduction_factor=2).tolist() == [0, 4, 4, 5, 5]


def test_word_timings_in_seconds_from_a_hard_path() -> None:
    symbols = [*"hi, yo.", "~"]
    durations = [2, 3, 4, 5, 1, 2, 6, 0]  # h i , space y o . end -> frame bounds 0 2 5 9 14 15 17 23 23
    words = word_timings(_path(durations), symbols, n_frames=23, frame_s=0.01, offset_s=1.0, sentence=3)
    assert [w.word for w in words] == ["hi", "yo"]
    assert [(w.start, w.end) for w in words] == [pytest.approx((1.00, 1.05)), pytest.approx((1.14, 1.17))]
    assert {w.sentence for w in words} == {3}
    tokens = token_timings(_path(durations), symbols, n_frames=23, frame_s=0.01)
    assert [t.symbol for t in tokens] == symbols
    assert [round(t.start, 6) for t in tokens] == [0.0, 0.02, 0.05, 0.09, 0.14, 0.15, 0.17, 0.23]
    assert tokens[-1].start == tokens[-1].end  # the end token got no frame


def test_word_timings_with_a_reduction_factor() -> None:
    # Five decoder steps of 4 frames read "a", " ", " ", "b", "."; the decoder stopped after 18
    # frames, before the end token: a = steps 0 (frames 0-4), b = step 3 (frames 12-16).
    weights = F.one_hot(torch.tensor([0, 1, 1, 2, 3]), 5).float()
    words = word_timings(weights, ["a", " ", "b", ".", "~"], n_frames=18, frame_s=0.5, reduction_factor=4)
    assert [(w.word, w.start, w.end) for w in words] == [("a", 0.0, 2.0), ("b", 6.0, 8.0)]


def test_words_are_runs_between_spaces_without_edge_punctuation() -> None:
    text = "don't stop - forty-two, ok."
    symbols = [*text, "~"]
    spans = word_spans(symbols)
    assert ["".join(symbols[a:b]) for a, b in spans] == ["don't", "stop", "forty-two", "ok"]
    assert len(spans) == len([w for w in text.split() if any(c.isalnum() for c in w)])


def test_the_normalised_text_names_the_words_when_the_counts_agree() -> None:
    phonemes = ["h", "ə", "l", "oʊ", " ", "w", "ɝ", "l", "d", "."]  # a phoneme processor's tokens
    align = _path([1] * len(phonemes))
    named = word_timings(align, phonemes, n_frames=10, frame_s=0.1, text="hello world.")
    assert [w.word for w in named] == ["hello", "world"]
    unnamed = word_timings(align, phonemes, n_frames=10, frame_s=0.1)  # no text: the symbols name them
    assert [w.word for w in unnamed] == ["həloʊ", "wɝld"]


def test_text_words_that_a_phoneme_front_end_merged_share_their_time() -> None:
    # espeak-ng writes "of the" as one word: 5 text words, 4 token words
    phonemes = [*"ɹɛd", " ", *"ʌvðə", " ", *"bʊk", " ", *"fɔːl", "."]
    align = _path([1] * len(phonemes))  # 0.1 s per token
    words = word_timings(align, phonemes, n_frames=len(phonemes), frame_s=0.1, text="red of the book fell.")
    assert [w.word for w in words] == ["red", "of", "the", "book", "fell"]
    got = [(w.word, round(w.start, 3), round(w.end, 3)) for w in words]
    # "ʌvðə" (0.4-0.8 s) is shared 2 : 3 by the letters of "of" and "the"
    assert got == [("red", 0.0, 0.3), ("of", 0.4, 0.56), ("the", 0.56, 0.8), ("book", 0.9, 1.2), ("fell", 1.3, 1.7)]
    # the function words merge, not the content word before them ("context of the" -> ... ʌvðə)
    # (espeak-ng's phonemes of an LJ040-050 sentence)
    ipa = "vˈɛɹiəs pˈɑːsᵻbəl mˈoʊɾɪvz wɪl biː tɹˈiːɾᵻd ɪnðɪʲ ɐpɹˈoʊpɹɪʲət kˈɑːntɛkst ʌvðə dɪskˈʌʃən ˈaʊtlaɪnd əbˈʌv"
    text = "various possible motives will be treated in the appropriate context of the discussion outlined above"
    tokens = list(ipa)
    words = word_timings(_path([1] * len(tokens)), tokens, n_frames=len(tokens), frame_s=0.1, text=text)
    assert [w.word for w in words] == text.split()
    context, of = words[9], words[10]
    assert (round(context.start, 3), round(context.end, 3)) == (ipa.index("k") / 10, ipa.index(" ʌv") / 10)
    assert round(of.start, 3) == (ipa.index("ʌv")) / 10
    # and one text word that the tokens split in two spans both
    split = word_timings(align[:, :7], phonemes[:7], n_frames=7, frame_s=0.1, text="redoven")
    assert [(w.word, round(w.start, 3), round(w.end, 3)) for w in split] == [("redoven", 0.0, 0.7)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: token_boundaries(torch.zeros(4), n_frames=4), "T_dec, L"),
        (lambda: token_boundaries(_path([2, 2]), n_frames=5), "n_frames must be in"),
        (lambda: token_boundaries(_path([2, 2]), n_frames=0), "n_frames must be in"),
        (lambda: token_boundaries(_path([2, 2]), n_frames=4, reduction_factor=0), "reduction_factor"),
        (lambda: word_timings(_path([2, 2]), ["a"], n_frames=4, frame_s=0.1), "2 tokens"),
        (lambda: word_timings(_path([2, 2]), ["a", "b"], n_frames=4, frame_s=0.0), "frame_s"),
    ],
)
def test_bad_alignments_are_clear_errors(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --- re-timing: a piecewise-linear map, and the map a style applied ----------------------------


def test_retime_interpolates_and_clamps() -> None:
    words = [WordTiming("a", 0.5, 1.0), WordTiming("b", 1.5, 3.0, sentence=1)]
    moved = retime(words, [0.0, 1.0, 2.0], [0.0, 2.0, 2.5])
    assert moved == [WordTiming("a", 1.0, 2.0), WordTiming("b", 2.25, 2.5, sentence=1)]
    assert retime([TokenTiming("x", 0.0, 1.0)], [0.0, 1.0], [0.0, 3.0]) == [TokenTiming("x", 0.0, 3.0)]
    with pytest.raises(ValueError, match="increase"):
        retime(words, [0.0, 0.0], [0.0, 1.0])


def _bursts(sample_rate: int = 16000) -> np.ndarray:
    """0.4 s tone, 0.4 s silence, 0.4 s tone."""
    t = np.arange(int(0.4 * sample_rate)) / sample_rate
    tone = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.concatenate([tone, np.zeros_like(tone), tone])


def test_style_map_follows_a_longer_pause_and_a_slower_rate() -> None:
    y = _bursts()
    # Pauses only: the gap is lengthened in its middle, the tones keep their length and place.
    pauses = SpeechStyle("pauses", pause_scale=2.0)
    styled = apply_style(y, 16000, pauses)
    added = len(styled) / 16000 - 1.2
    # The gap apply_style found is the 0.4 s of silence less up to a 1024-sample frame (64 ms).
    assert 0.4 - 0.064 <= added <= 0.4
    source, target = style_time_map(1.2, styled, 16000, pauses)
    moved = np.interp([0.2, 0.4, 0.5, 0.75, 0.9, 1.0, 1.2], source, target)
    expected = [0.2, 0.4, 0.5, 0.75 + added, 0.9 + added, 1.0 + added, 1.2 + added]
    assert moved == pytest.approx(expected, abs=1e-6)  # silence next to a tone stays next to it
    # Rate only (no pause change): an even stretch onto the styled length, exactly.
    slow = SpeechStyle("slow", rate=0.5)
    styled = apply_style(y, 16000, slow)
    source, target = style_time_map(1.2, styled, 16000, slow)
    assert source.tolist() == [0.0, 1.2] and target.tolist() == [0.0, len(styled) / 16000]


# --- the speech pipeline: SpeechResult.words ---------------------------------------------------


@pytest.fixture(scope="module")
def pipeline() -> TextToSpeechPipeline:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TextToSpeechPipeline("tts.fastspeech_joe", vocoder=_VOCODER)


_TEXT = "Good morning, Dr. Smith. It costs $5!"
_WORDS = ["good", "morning", "doctor", "smith", "it", "costs", "five", "dollars"]


def _speak(pipe: TextToSpeechPipeline, text: str, **kwargs) -> SpeechResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return pipe(text, **kwargs)


def _check_order(words: list[WordTiming], duration_s: float) -> None:
    assert words, "no words were timed"
    assert words[0].start >= 0 and words[-1].end <= duration_s + 1e-9
    for w in words:
        assert w.start <= w.end, w
    for a, b in zip(words, words[1:], strict=False):
        assert a.end <= b.start, (a, b)


def test_words_cover_the_speech_in_order(pipeline: TextToSpeechPipeline) -> None:
    result = _speak(pipeline, _TEXT)
    words = result.words
    assert [w.word for w in words] == _WORDS
    assert len(words) == sum(len(s.split()) for s in result.texts)  # the normalised text's word count
    assert [w.sentence for w in words] == [0, 0, 0, 0, 1, 1, 1, 1]
    _check_order(words, result.duration_s)
    # FastSpeech starts on the first letter (no leading silence token): the first word at 0.
    assert words[0].start == 0.0
    # After the last word come only its "!" and the end token, each at most max_frames_per_token
    # (40) frames: the last word ends within 2 * 40 frames (0.93 s) of the end, at the "!".
    tail = [t for t in result.token_timings if t.start >= words[-1].end]
    assert [t.symbol for t in tail] == ["!", "~"]
    assert 0 < result.duration_s - words[-1].end <= 2 * 40 * _FRAME_S
    assert tail[-1].end == pytest.approx(result.duration_s)
    # The second sentence starts after the first sentence's frames and the pause, exactly.
    n0 = result.alignments[0].shape[0]  # FastSpeech: one alignment row per frame
    pause = round(pipeline.pause_s * _SR / _HOP)
    assert words[4].start == pytest.approx((n0 + pause) * _FRAME_S)
    silent = result.waveform[n0 * _HOP : (n0 + pause) * _HOP]
    assert silent.abs().max() == 0 and words[3].end <= n0 * _FRAME_S  # the pause holds no word


def test_token_timings_follow_the_characters_of_each_sentence(pipeline: TextToSpeechPipeline) -> None:
    result = _speak(pipeline, _TEXT)
    for k, text in enumerate(result.texts):
        tokens = [t for t in result.token_timings if t.sentence == k]
        assert "".join(t.symbol for t in tokens) == text + "~"
        assert all(a.end == b.start for a, b in zip(tokens, tokens[1:], strict=False))  # contiguous
        frames = result.alignments[k].sum(0)  # the model's durations
        assert [round((t.end - t.start) / _FRAME_S) for t in tokens] == frames.long().tolist()


def test_timings_are_the_same_without_vocoding(pipeline: TextToSpeechPipeline) -> None:
    assert _speak(pipeline, _TEXT, vocode=False).words == _speak(pipeline, _TEXT).words


def test_a_model_without_alignments_times_no_words(pipeline: TextToSpeechPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    infer = pipeline.acoustic.infer

    def bare(tokens: torch.Tensor, lengths: torch.Tensor, *args: object, **kwargs: object) -> AcousticOutput:
        out = infer(tokens, lengths)
        return AcousticOutput(mel=out.mel, mel_lengths=out.mel_lengths)

    monkeypatch.setattr(pipeline.acoustic, "infer", bare)
    result = _speak(pipeline, "Hello there.", vocode=False)
    assert result.words == [] and result.token_timings == []


def test_tacotron_attention_is_timed_in_steps_of_its_reduction_factor() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tacotron = TextToSpeechPipeline("tts.tacotron_joe", vocoder=_VOCODER)
    r = tacotron.acoustic.reduction_factor
    assert r == 4
    result = _speak(tacotron, "Hello there. How are you?")
    assert [w.word for w in result.words] == ["hello", "there", "how", "are", "you"]
    _check_order(result.words, result.duration_s)
    pause = round(tacotron.pause_s * _SR / _HOP)
    offset = 0  # first frame of the sentence
    for k in range(len(result.texts)):
        tokens = [t for t in result.token_timings if t.sentence == k]
        frames = [round(t.start / _FRAME_S) - offset for t in tokens] + [round(tokens[-1].end / _FRAME_S) - offset]
        n = frames[-1]  # the sentence's frames: the decoder may stop inside its last step
        assert -(-n // r) == result.alignments[k].shape[0]
        assert all(f % r == 0 or f == n for f in frames), frames  # token edges on whole decoder steps
        offset += n + pause
    assert result.token_timings[-1].end == pytest.approx(result.duration_s)


def test_styled_speech_scales_the_timings(pipeline: TextToSpeechPipeline) -> None:
    voice = FaceToVoicePipeline(speech_pipeline=pipeline)
    text = "Good morning. It costs five dollars."
    # Rate only: every time scales by the styled / neutral duration (about 1 / 0.8).
    slow = voice.speak(text, SpeechStyle("slow", rate=0.8))
    neutral = slow.extra["speech"].words
    moved = follow_style(neutral, slow.neutral_duration_s, slow.waveform, slow.sample_rate, slow.style)
    ratio = slow.duration_s / slow.neutral_duration_s
    assert ratio == pytest.approx(1 / 0.8, rel=0.01)
    assert [w.start for w in moved] == pytest.approx([w.start * ratio for w in neutral], abs=1e-9)
    assert [w.word for w in moved] == [w.word for w in neutral]
    _check_order(moved, slow.duration_s)
    # "sad": slower (rate 0.85) and longer pauses (1.4): words stretch by about 1 / 0.85, the
    # pause between the sentences by more than the whole speech does.
    sad = voice.speak(text, "sad")
    moved = follow_style(sad.extra["speech"].words, sad.neutral_duration_s, sad.waveform, sad.sample_rate, sad.style)
    _check_order(moved, sad.duration_s)
    neutral = sad.extra["speech"].words
    for a, b in zip(neutral, moved, strict=True):
        if a.end - a.start > 0.15:  # whole frames: short words carry a rounding of a frame or two
            assert (b.end - b.start) / (a.end - a.start) == pytest.approx(1 / 0.85, rel=0.05)
    gap = moved[2].start - moved[1].end, neutral[2].start - neutral[1].end  # "morning." -> "it"
    assert gap[0] / gap[1] > sad.duration_s / sad.neutral_duration_s
    assert moved[-1].end > neutral[-1].end / 0.85 - 0.05


# --- facevox speak --json ---------------------------------------------------------------------


def test_speak_json_lists_the_words(tmp_path: Path) -> None:
    out = tmp_path / "hi.wav"
    runner = CliRunner()
    result = runner.invoke(command, ["Hello there, Dr. Who.", "-o", str(out), "--vocoder", _VOCODER, "--json", "-q"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["path"] == str(out) and out.is_file() and data["sentences"] == ["hello there, doctor who."]
    assert [w["word"] for w in data["words"]] == ["hello", "there", "doctor", "who"]
    assert all(set(w) == {"word", "start", "end"} for w in data["words"])
    assert all(w["start"] == round(w["start"], 3) and w["end"] <= data["duration_s"] for w in data["words"])
    styled = runner.invoke(command, ["Hello there.", "-o", str(tmp_path / "sad.wav"), "--vocoder", _VOCODER,
                                     "--emotion", "sad", "--json"])
    assert styled.exit_code == 0, styled.output
    data = json.loads(styled.output)
    assert {"emotion", "style", "duration_s", "neutral_duration_s", "path"} <= set(data)  # the keys it had
    assert [w["word"] for w in data["words"]] == ["hello", "there"]
    assert data["words"][-1]["end"] <= data["duration_s"]
