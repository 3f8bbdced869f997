"""The ``en.ipa`` text processor (espeak-ng phonemes) and the phoneme FastSpeech recipe."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from facevox import create_text_processor
from facevox_tts import phonemes
from facevox_tts.alignment import read_durations
from facevox_tts.fastspeech import FastSpeech, FastSpeechConfig
from facevox_tts.phonemes import IPA_SYMBOLS, EnglishPhonemes, letters_for_espeak, tokens_from_alignment
from facevox_tts.text import SYMBOLS
from facevox_tts.train_fastspeech import warm_start
from tts_corpus import write_corpus

pytestmark = pytest.mark.usefixtures("one_thread")

# LJ001-0001's opening as the joe-tts teacher (Piper en_US-joe-medium) phonemised it
_TEACHER = "^pɹˈɪntɪŋ, ɪnðɪʲ ˈoʊnli sˈɛns wɪð wˌɪtʃ wiːʲ ɑːɹ æt pɹˈɛzənt kənsˈɜːnd.$"


def _ipa(ids: list[int]) -> str:
    return "".join(IPA_SYMBOLS[i] for i in ids)


def test_phonemes_match_the_teacher_and_frame_each_sentence() -> None:
    proc = create_text_processor("en.ipa")
    assert isinstance(proc, EnglishPhonemes) and proc.symbols[0] == "_" and len(set(proc.symbols)) == 58
    ids = proc.encode("Printing, in the only sense with which we are at present concerned.")
    assert _ipa(ids) == _TEACHER and ids[-1] == proc.eos_id
    two = _ipa(proc.encode("It rained. We stayed home."))
    assert two.count("^") == 2 and two.count("$") == 2 and two.endswith(".$")
    tokens, lengths = proc(["Hello there.", "Hi."])
    assert tokens.shape == (2, int(lengths.max())) and int(lengths[1]) < int(lengths[0])
    assert int(tokens[1, int(lengths[1]) :].abs().sum()) == 0


def test_words_a_character_model_never_saw_are_read_by_their_pronunciation() -> None:
    proc = EnglishPhonemes()
    assert _ipa(proc.encode("NASA")) == "^nˈæsɐ$"
    assert "wˈɪnd" in _ipa(proc.encode("A northeast wind."))
    # normalised as en.chars does (times, units); letter runs are one acronym, as the teacher said
    # "FBI" in the corpus; "a" is the letter in "a.m." (eɪ) and the article in "a cat" (ɐ)
    at_nine = _ipa(proc.encode("at 9 a.m., 10 mph"))
    assert "nˈaɪn ˌeɪˈɛm, tˈɛn mˈaɪlz pɜːɹ ˈaʊɚ" in at_nine
    assert _ipa(proc.encode("a cat")).startswith("^ɐ ")
    assert _ipa(proc.encode("The FBI report.")) == "^ðɪʲ ˌɛfbˌiːʲˈaɪ ɹᵻpˈɔːɹt.$"
    assert letters_for_espeak("john f kennedy and the u s s r's c d's") == "john F kennedy and the U.S.S.R.'s C.D.'s"
    # the timings name the text's words: "f b i" shares the one phoneme word
    assert proc.normalize("The FBI report.") == "the f b i report."


def test_bad_text_gets_a_clear_error() -> None:
    proc = EnglishPhonemes()
    with pytest.raises(ValueError, match="empty"):
        proc.encode("   ")
    with pytest.raises(ValueError, match="nothing speakable"):
        proc.encode("... !!! ---")
    with pytest.warns(UserWarning, match="dropped symbol"), pytest.raises(ValueError, match="nothing speakable"):
        proc.encode("中文 🙂")
    with pytest.warns(UserWarning, match="dropped symbol"):
        assert _ipa(proc.encode("Tea 中文")) == "^tˈiː$"
    with pytest.raises(ValueError, match="nothing speakable"):
        proc.split("... ---")
    with pytest.raises(TypeError, match="str"):
        proc.encode(b"bytes")  # type: ignore[arg-type]
    assert proc.split("One. Two three.", max_chars=20) == ["one.", "two three."]


def test_a_missing_phonemizer_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phonemes, "_PHONEMIZER", None)
    monkeypatch.setitem(sys.modules, "piper.phonemize_espeak", None)
    with pytest.raises(ImportError, match=r"facevox\[phonemes\]"):
        EnglishPhonemes().encode("hello")


def test_alignment_rows_are_the_tokens_and_durations() -> None:
    ids, frames = tokens_from_alignment([("^", 3), ("k", 4), ("æ", 6), ("t", 5), (".", 2), ("$", 7)])
    assert _ipa(ids) == "^kæt.$" and frames == [3, 4, 6, 5, 2, 7]
    with pytest.raises(ValueError, match="'ɬ' is not in the en.ipa inventory"):
        tokens_from_alignment([("^", 3), ("ɬ", 4)])
    with pytest.raises(ValueError, match="no rows"):
        tokens_from_alignment([])


def test_warm_start_from_a_character_model_renews_only_the_embedding(tmp_path: Path) -> None:
    from facevox import save_weights

    small = {"n_mels": 16, "dim": 32, "heads": 2, "ffn_dim": 48, "encoder_layers": 1, "decoder_layers": 1,
             "duration_channels": 16}
    chars = FastSpeech(FastSpeechConfig(n_symbols=len(SYMBOLS), **small))
    path = save_weights(chars, tmp_path / "chars.safetensors", dtype=None)
    torch.manual_seed(1)
    ipa = FastSpeech(FastSpeechConfig(n_symbols=len(IPA_SYMBOLS), **small))
    before = ipa.encoder.embedding.weight.detach().clone()
    assert warm_start(ipa, path) == ["encoder"]
    assert torch.equal(ipa.encoder.embedding.weight, before)
    for name, tensor in chars.state_dict().items():
        if name != "encoder.embedding.weight":
            assert torch.equal(ipa.state_dict()[name], tensor), name


_TSVS = ["^\t2\nɐ\t5\n \t1\nk\t4\næ\t5\nt\t5\n.\t4\n$\t3\n", "^\t2\nɐ\t6\n \t1\nk\t4\næ\t6\nb\t6\n.\t4\n$\t3\n"]
TINY = "n_mels=80,dim=32,heads=2,ffn_dim=48,encoder_layers=1,decoder_layers=1,duration_channels=16"


def test_train_command_reads_the_teacher_phonemes(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from facevox import load_pretrained
    from facevox.training import read_checkpoint
    from facevox_tts.train import prepare_items
    from facevox_tts.train_fastspeech import train_fastspeech_command

    data = write_corpus(tmp_path / "corpus", ["a cat.", "a cab."], [0.5, 0.5], _TSVS)
    out = tmp_path / "run"
    args = ["--data", str(data), "--out", str(out), "--val-count", "1", "--eval-every", "2", "--batch-size", "2",
            "--model-config", TINY, "--accelerator", "cpu", "--precision", "32", "--text-processor", "en.ipa"]
    result = CliRunner().invoke(train_fastspeech_command, [*args, "--steps", "2"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    best = load_pretrained(out / "best")
    assert isinstance(best, FastSpeech) and best.config.n_symbols == len(IPA_SYMBOLS)
    assert json.loads((out / "best" / "config.json").read_text())["model"] == "tts.fastspeech_joe_ipa"
    assert read_checkpoint(str(out / "checkpoints" / "last.ckpt"))["facevox"]["text_processor"] == "en.ipa"
    # the tokens and frames are the alignment's, the frames fitted to the cached mel's length
    from facevox_tts.data import read_corpus

    items = prepare_items(read_corpus(data), out / "mels", EnglishPhonemes())
    assert [it.text for it in items] == ["^ɐ kæt.$", "^ɐ kæb.$"]
    assert items[0].durations == [f for _, f in read_durations(data / "alignments" / "u0.tsv")]
    # a resumed run keeps its checkpoint's text processor, whatever the flag says
    again = CliRunner().invoke(train_fastspeech_command, [*args[:-2], "--steps", "3", "--resume"])
    assert again.exit_code == 0, again.output + repr(again.exception)
    assert load_pretrained(out / "best").config.n_symbols == len(IPA_SYMBOLS)


def test_the_shipped_phoneme_voice_speaks_and_times_the_text_words() -> None:
    from facevox.pipelines.speech import TextToSpeechPipeline

    pipe = TextToSpeechPipeline("tts.fastspeech_joe_ipa", "griffinlim.default")
    result = pipe("The FBI report. NASA TV.")
    assert isinstance(pipe.processor, EnglishPhonemes)
    assert result.texts == ["the f b i report.", "nasa t v."]
    words = [w.word for w in result.words]
    assert words == ["the", "f", "b", "i", "report", "nasa", "t", "v"]
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and all(w.end > w.start for w in result.words)
    assert result.words[-1].end <= result.waveform.shape[-1] / result.sample_rate + 1e-6
    # a sentence of about 1 s per 2.5 words (the voice's pace), not silence or a runaway
    assert 0.8 < result.words[4].end - result.words[0].start < 2.5
    assert float(result.waveform.abs().max()) > 0.05
