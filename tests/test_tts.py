"""TTS plugin: teacher-duration attention targets, the Tacotron model, a training step (the trainer: test_tts_train.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from facevox import AcousticOutput
from facevox.roles import DecoderCapWarning
from facevox_tts.alignment import attention_target, beta_binomial_prior, char_durations, read_durations
from facevox_tts.tacotron import Tacotron, TacotronConfig
from facevox_tts.text import SYMBOLS, EnglishCharacters
from facevox_tts.train import TrainItem, alignment_metrics, make_batch, tacotron_loss

# "hello, in the world." as the teacher (espeak) phonemises it: "in the" is one word.
_TSV = "^\t4\nh\t3\nə\t2\nl\t3\nˈ\t1\no\t4\nʊ\t3\n,\t10\n \t6\nɪ\t2\nn\t2\nð\t2\nə\t2\n \t1\nw\t3\nˈ\t1\nɜ\t4\nː\t2\nl\t3\nd\t3\n.\t7\n$\t5\n"
_TEXT = "hello, in the world."


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tsv(tmp_path: Path) -> Path:
    path = tmp_path / "utt.tsv"
    path.write_text(_TSV, encoding="utf-8")
    return path


def test_char_durations_follow_the_teacher(tsv: Path) -> None:
    lines = read_durations(tsv)
    total = sum(f for _, f in lines)
    d = char_durations(_TEXT, lines)
    assert d is not None and len(d) == len(_TEXT) + 1 and sum(d) == total
    per = dict(enumerate(d))
    comma = _TEXT.index(",")
    assert per[comma] == 10  # the pause goes to the comma
    assert per[comma + 1] == 6  # the boundary frames to the following space
    assert d[-1] == 0 or d[-1] <= 5  # the end token gets only trailing frames
    assert per[len(_TEXT) - 1] == 12  # "." + "$"
    # "in the" (one teacher word) is spread over its 6 characters, the inner space included.
    start = _TEXT.index("in the")
    assert sum(d[start : start + 6]) == 8 + 0  # ɪ n ð ə, no boundary inside the group
    # "hello" gets the leading silence plus its phonemes.
    assert sum(d[:5]) == 4 + 3 + 2 + 3 + 1 + 4 + 3


def test_char_durations_reject_unmatchable_text(tsv: Path) -> None:
    lines = read_durations(tsv)
    assert char_durations("a completely different and much longer sentence about other things", lines) is None


def test_read_durations_names_a_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\t3\nnot a line\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.tsv:2"):
        read_durations(bad)


def test_attention_target_is_a_monotonic_path() -> None:
    d = [3, 5, 0, 4, 2]
    target = attention_target(d, reduction_factor=4, n_frames=14)
    assert target.shape == (4, 5)
    np.testing.assert_allclose(target.sum(1), 1.0, atol=1e-6)
    assert target[:, 2].sum() == 0  # a zero-length token is skipped
    path = target.argmax(1)
    assert (np.diff(path) >= 0).all() and path[0] == 0 and path[-1] == 4


def test_beta_binomial_prior_is_a_soft_diagonal() -> None:
    prior = beta_binomial_prior(10, 30)
    assert prior.shape == (30, 10)
    np.testing.assert_allclose(prior.sum(1), 1.0, atol=1e-5)
    peaks = prior.argmax(1)
    assert peaks[0] == 0 and peaks[-1] == 9 and (np.diff(peaks) >= 0).all()


def _tiny_model() -> Tacotron:
    cfg = TacotronConfig(
        n_symbols=len(SYMBOLS), n_mels=16, reduction_factor=2, embedding_dim=32, encoder_dim=32,
        attention_rnn_dim=32, attention_dim=16, location_filters=4, location_kernel_size=5, decoder_rnn_dim=32,
        prenet_dim=16, postnet_channels=16, postnet_layers=2, dropout=0.0, prenet_dropout=0.1,
    )
    return Tacotron(cfg)


def _fixture_items(n_mels: int = 16) -> list[TrainItem]:
    """Synthetic utterances: each character owns 3 frames of a character-specific spectrum."""
    proc = EnglishCharacters()
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(len(SYMBOLS), n_mels, generator=gen) - 4.0
    items = []
    for i, text in enumerate(["abc", "hello", "a cab", "bed"]):
        ids = proc.encode(text)
        durations = [3] * (len(ids) - 1) + [2]
        frames = torch.cat([table[t].unsqueeze(1).expand(n_mels, d) for t, d in zip(ids, durations, strict=False)], dim=1)
        items.append(TrainItem(f"u{i}", torch.tensor(ids), frames.half(), durations, text))
    return items


def test_training_steps_lower_the_loss() -> None:
    torch.manual_seed(0)
    model = _tiny_model()
    batch = make_batch(_fixture_items(), model.reduction_factor, model.config.mel_floor)
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    with torch.no_grad():
        start = tacotron_loss(model, batch, use_prior=False, attention_weight=1.0)
    focus0 = alignment_metrics(start["alignments"], batch, model.reduction_factor)["focus"]
    for _ in range(40):
        losses = tacotron_loss(model, batch, use_prior=True, attention_weight=1.0)
        optim.zero_grad()
        losses["total"].backward()
        optim.step()
    last = tacotron_loss(model, batch, use_prior=False, attention_weight=1.0)
    assert float(last["total"]) < 0.7 * float(start["total"])
    assert float(last["mel"]) < 0.7 * float(start["mel"])
    assert float(last["attention"]) < float(start["attention"])
    metrics = alignment_metrics(last["alignments"].detach(), batch, model.reduction_factor)
    assert metrics["focus"] > focus0 + 0.05


def test_forward_shapes_and_prior_changes_the_context() -> None:
    torch.manual_seed(0)
    model = _tiny_model().eval()
    batch = make_batch(_fixture_items(), model.reduction_factor, model.config.mel_floor)
    torch.manual_seed(1)
    out = model(batch.tokens, batch.token_lengths, batch.mels, batch.mel_lengths)
    b, n_mels, t = batch.mels.shape
    assert out.mel.shape == out.mel_before_postnet.shape == (b, n_mels, t)
    assert out.mel_postnet is out.mel  # the old name of the final mel
    assert not torch.equal(out.mel, out.mel_before_postnet)  # mel is after the postnet residual
    assert out.stop_logits.shape == (b, t) and out.reached_cap is None  # teacher-forced: no cap
    assert out.alignments.shape == (b, (t + 1) // 2, batch.tokens.shape[1])
    torch.testing.assert_close(out.alignments.sum(-1), torch.ones(b, (t + 1) // 2), atol=1e-5, rtol=0)
    torch.manual_seed(1)
    guided = model(batch.tokens, batch.token_lengths, batch.mels, batch.mel_lengths, batch.prior)
    assert not torch.allclose(guided.mel, out.mel)
    with pytest.raises(ValueError, match="bins"):
        model(batch.tokens, batch.token_lengths, batch.mels[:, :8], batch.mel_lengths)


def test_infer_flags_and_warns_at_the_step_cap() -> None:
    torch.manual_seed(0)
    model = _tiny_model().eval()
    with torch.no_grad():
        model.stop_proj.bias.fill_(-50.0)  # never stops
    tokens, lengths = EnglishCharacters()(["abc", "a"])
    with pytest.warns(DecoderCapWarning, match="step cap") as caught:
        out = model.infer(tokens, lengths, max_decoder_steps=7)
    assert caught[0].filename == __file__  # points at the caller, not at torch's no_grad wrapper
    assert isinstance(out, AcousticOutput) and out.reached_cap.tolist() == [True, True]
    assert out.reached_cap.dtype == torch.bool and out.capped() == [True, True]
    assert out.mel.shape == out.mel_before_postnet.shape == (2, 16, 14) and out.mel_lengths.tolist() == [14, 14]
    assert out.alignments.shape == (2, 7, tokens.shape[1]) and out.stop_logits.shape == (2, 14)
    mels, mel_lengths, align = out  # the legacy triple still unpacks
    assert mels is out.mel and mel_lengths is out.mel_lengths and align is out.alignments
    # The default cap grows with the input length.
    with pytest.warns(RuntimeWarning, match=r"cap \(32 steps\)"):
        model.infer(tokens, lengths)


def test_reached_cap_is_per_item() -> None:
    """A tiny cap cuts the item that would not stop and leaves the one that stops alone."""
    torch.manual_seed(0)
    model = _tiny_model().eval()
    with torch.no_grad():
        model.stop_proj.bias.fill_(50.0)  # stops as soon as attention reaches the end
    tokens, lengths = EnglishCharacters()(["ab", "a long enough text"])
    with pytest.warns(DecoderCapWarning, match="for 1 of 2 sequence"):
        out = model.infer(tokens, lengths, max_decoder_steps=4)
    assert out.reached_cap.tolist() == [False, True]
    assert int(out.mel_lengths[1]) == 4 * model.reduction_factor > int(out.mel_lengths[0])
    assert torch.all(out.mel[0, :, int(out.mel_lengths[0]) :] == model.config.mel_floor)


def test_infer_stops_when_the_stop_token_fires() -> None:
    torch.manual_seed(0)
    model = _tiny_model().eval()
    with torch.no_grad():
        model.stop_proj.bias.fill_(50.0)  # stops as soon as attention reaches the end
    tokens, lengths = EnglishCharacters()(["ab"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = model.infer(tokens, lengths, max_decoder_steps=200)
    assert int(out.mel_lengths[0]) < 400 and out.mel.shape[2] == int(out.mel_lengths[0])
    assert out.reached_cap.tolist() == [False]
