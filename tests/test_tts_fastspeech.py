"""FastSpeech acoustic model: length regulator, duration fitting, a training run that learns, the trainer."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import facevox
import pytest
import torch
from facevox.roles import DecoderCapWarning
from facevox_tts.fastspeech import FastSpeech, FastSpeechConfig, length_regulate
from facevox_tts.text import SYMBOLS, EnglishCharacters
from facevox_tts.train import TrainItem
from facevox_tts.train_fastspeech import fastspeech_loss, fit_durations, make_duration_batch
from tts_corpus import write_corpus

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny() -> FastSpeech:
    cfg = FastSpeechConfig(
        n_symbols=len(SYMBOLS), n_mels=16, dim=32, heads=2, ffn_dim=48, encoder_layers=1, decoder_layers=2,
        duration_channels=16, dropout=0.0,
    )
    return FastSpeech(cfg)


def _items(n_mels: int = 16) -> list[TrainItem]:
    """Each character owns a character-specific spectrum for a character-specific number of frames."""
    proc = EnglishCharacters()
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(len(SYMBOLS), n_mels, generator=gen) - 4.0
    items = []
    for i, text in enumerate(["abc", "hello", "a cab", "bed"]):
        ids = proc.encode(text)
        durations = [1 + t % 4 for t in ids]
        frames = torch.cat([table[t].unsqueeze(1).expand(n_mels, d) for t, d in zip(ids, durations, strict=True)], 1)
        items.append(TrainItem(f"u{i}", torch.tensor(ids), frames.half(), durations, text))
    return items


def test_length_regulator_repeats_each_token_for_its_frames() -> None:
    states = torch.arange(1.0, 4.0).view(1, 3, 1).repeat(2, 1, 2)  # tokens 1, 2, 3
    durations = torch.tensor([[2, 0, 3], [1, 1, 0]])
    frames, lengths, index = length_regulate(states, durations)
    assert lengths.tolist() == [5, 2]
    assert frames[0, :, 0].tolist() == [1, 1, 3, 3, 3]
    assert frames[1, :, 0].tolist() == [1, 2, 0, 0, 0]  # zero past the end
    assert index.tolist() == [[0, 0, 2, 2, 2], [0, 1, -1, -1, -1]]
    with pytest.raises(ValueError, match=">= 0"):
        length_regulate(states, -durations)


def test_fit_durations_matches_the_mel_length() -> None:
    assert fit_durations([3, 2, 1], 8) == [3, 2, 3]
    assert fit_durations([3, 2, 1], 4) == [3, 1, 0]  # taken from the end tokens first
    assert fit_durations([3, 2, 1], 6) == [3, 2, 1]
    assert sum(fit_durations([5, 5], 0)) == 0
    with pytest.raises(ValueError, match="frames"):
        fit_durations([1], -1)


def test_forward_checks_durations_and_gives_hard_paths() -> None:
    model = _tiny()
    batch = make_duration_batch(_items(), model.config.mel_floor)
    out = model(batch.tokens, batch.token_lengths, batch.mels, batch.mel_lengths, durations=batch.durations)
    assert out.mel.shape == batch.mels.shape and out.log_durations.shape == batch.tokens.shape
    # A duration model returns what it has: no stop token, no postnet, no cap in a teacher-forced pass.
    assert out.stop_logits is None and out.mel_before_postnet is None and out.reached_cap is None
    # Every valid frame belongs to exactly one token, in order: the regulator's path.
    for i, n in enumerate(batch.mel_lengths.tolist()):
        path = out.alignments[i, :n].argmax(-1)
        assert torch.all(path[1:] >= path[:-1]) and torch.all(out.alignments[i, :n].sum(-1) == 1)
    bad = batch.durations.clone()
    bad[0, 0] += 1
    with pytest.raises(ValueError, match="sum to mel_lengths"):
        model(batch.tokens, batch.token_lengths, batch.mels, batch.mel_lengths, durations=bad)
    with pytest.raises(ValueError, match="bins"):
        model(batch.tokens, batch.token_lengths, batch.mels[:, :8], batch.mel_lengths, durations=batch.durations)


def test_training_learns_spectra_and_durations_and_infer_follows_them() -> None:
    torch.manual_seed(0)
    model = _tiny()
    batch = make_duration_batch(_items(), model.config.mel_floor)
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    with torch.no_grad():
        start = fastspeech_loss(model, batch)
    for _ in range(150):
        losses = fastspeech_loss(model, batch)
        optim.zero_grad()
        losses["total"].backward()
        optim.step()
    model.eval()
    with torch.no_grad():
        last = fastspeech_loss(model, batch)
    assert float(last["mel"]) < 0.4 * float(start["mel"])
    assert float(last["duration"]) < 0.2 * float(start["duration"])
    predicted = model.predict_durations(batch.tokens, batch.token_lengths)
    assert (predicted - batch.durations).abs().float().mean() < 0.5  # frames per token
    free = model.infer(batch.tokens, batch.token_lengths)
    assert (free.mel_lengths - batch.mel_lengths).abs().max() <= 2
    assert free.stop_logits is None and free.reached_cap.tolist() == [False] * 4
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cut = model.infer(batch.tokens, batch.token_lengths, max_decoder_steps=3)
    assert int(cut.mel_lengths.max()) == 3 and cut.reached_cap.tolist() == [True] * 4
    assert [w.category for w in caught] == [DecoderCapWarning]
    shortest = int(free.mel_lengths.min())
    with pytest.warns(DecoderCapWarning, match="for 3 of 4 sequence"):
        partly = model.infer(batch.tokens, batch.token_lengths, max_decoder_steps=shortest)
    assert partly.reached_cap.tolist() == (free.mel_lengths > shortest).tolist()  # only the longer ones


# "a cat." / "a cab." as the teacher phonemises them (frames per phoneme; fewer than the audio has).
_TEXTS = ["a cat.", "a cab."]
_TSVS = ["^\t2\nə\t5\n \t1\nk\t4\næ\t5\nt\t5\n.\t4\n$\t3\n", "^\t2\nə\t6\n \t1\nk\t4\næ\t6\nb\t6\n.\t4\n$\t3\n"]


TINY = "n_mels=80,dim=32,heads=2,ffn_dim=48,encoder_layers=1,decoder_layers=1,duration_channels=16"


def test_train_command_trains_resumes_and_exports(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from facevox import load_pretrained, load_weights
    from facevox_tts.train_fastspeech import export_weights, parse_model_config, train_fastspeech_command

    data = write_corpus(tmp_path / "corpus", _TEXTS, [0.5, 0.5], _TSVS)
    out = tmp_path / "run"
    args = ["--data", str(data), "--out", str(out), "--val-count", "1", "--eval-every", "2", "--batch-size", "2",
            "--model-config", TINY, "--accelerator", "cpu", "--precision", "32"]
    result = CliRunner().invoke(train_fastspeech_command, [*args, "--steps", "2"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "val_mel" in (out / "metrics.jsonl").read_text()
    result = CliRunner().invoke(train_fastspeech_command, [*args, "--steps", "3", "--resume"])
    assert result.exit_code == 0 and "at step 2" in result.output, result.output + repr(result.exception)
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["global_step"] == 3 and state["facevox"]["arch"] == "fastspeech"
    validated = [r["step"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "val_mel" in r]
    assert validated == [2, 3]  # every --eval-every steps and at the last step
    model = FastSpeech(parse_model_config(TINY))
    load_weights(model, export_weights(out / "checkpoints" / "last.ckpt", tmp_path / "fs.safetensors"))
    best = load_pretrained(out / "best")  # the best weights as a save_pretrained folder
    assert isinstance(best, FastSpeech) and best.config == parse_model_config(TINY)
    with pytest.raises(Exception, match="is not field=value"):
        parse_model_config("width=3")
    no_durations = write_corpus(tmp_path / "plain", _TEXTS, [0.5, 0.5])
    bad = CliRunner().invoke(train_fastspeech_command, ["--data", str(no_durations), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "teacher durations" in bad.output


def test_batched_inference_equals_inference_alone() -> None:
    """Padding must not leak into a shorter item's durations or mel (the convs see zeros past its end)."""
    model = facevox.create_model("tts.fastspeech_joe").eval()
    processor = facevox.create_text_processor("en.chars")
    texts = ["good morning.", "it costs five dollars, said the clerk."]
    tokens, lengths = processor(texts)
    mels, mel_lengths, _ = model.infer(tokens, lengths)
    for row, text in enumerate(texts):
        t, n = processor([text])
        mel, mel_length, _ = model.infer(t, n)
        assert int(mel_lengths[row]) == int(mel_length[0])
        torch.testing.assert_close(mels[row, :, : int(mel_length[0])], mel[0], atol=1e-4, rtol=1e-4)
