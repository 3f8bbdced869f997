"""Role interfaces that fit every model (issue 17, item 3): ``AcousticOutput`` with optional
fields, ``reached_cap`` from ``infer``, and ``TextProcessor.split`` with a default."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch
from facevox import AcousticModel, AcousticOutput, TextProcessor
from facevox.pipelines import speech
from facevox.roles import DecoderCapWarning, bound_pieces
from facevox_tts.fastspeech import FastSpeech, FastSpeechConfig
from facevox_tts.tacotron import Tacotron, TacotronConfig
from torch import Tensor

pytestmark = pytest.mark.usefixtures("one_thread")


# --- AcousticOutput ------------------------------------------------------------------------------


def test_acoustic_output_needs_only_mel_and_lengths() -> None:
    mel, lengths = torch.zeros(2, 4, 6), torch.tensor([6, 3])
    out = AcousticOutput(mel=mel, mel_lengths=lengths)
    assert out.mel_before_postnet is None and out.stop_logits is None
    assert out.alignments is None and out.reached_cap is None
    assert out.mel_postnet is mel  # the old name of the final mel
    assert out.capped() == [False, False]  # no cap: nothing was cut
    assert list(out) == [mel, lengths, None]  # the legacy infer triple
    with pytest.raises(TypeError):
        AcousticOutput(mel, lengths)  # type: ignore[misc]  # keyword-only: no silent field mix-ups


def test_capped_reads_reached_cap() -> None:
    out = AcousticOutput(mel=torch.zeros(3, 4, 6), mel_lengths=torch.tensor([6, 6, 2]),
                         reached_cap=torch.tensor([True, False, True]))
    assert out.capped() == [True, False, True]


def test_decoder_cap_warning_is_a_runtime_warning() -> None:
    assert issubclass(DecoderCapWarning, RuntimeWarning)  # old `pytest.warns(RuntimeWarning)` code still works


def _check_output(out: AcousticOutput, model: AcousticModel, batch: int, tokens: int, frames: int | None) -> None:
    """The documented shapes and dtypes of every field that is set."""
    b, n_mels, t = out.mel.shape
    assert (b, n_mels) == (batch, model.n_mels) and out.mel.dtype == torch.float32
    assert frames is None or t == frames
    assert out.mel_lengths.shape == (batch,) and out.mel_lengths.dtype == torch.int64
    assert int(out.mel_lengths.max()) <= t
    if out.mel_before_postnet is not None:
        assert out.mel_before_postnet.shape == out.mel.shape
    if out.stop_logits is not None:
        assert out.stop_logits.shape == (batch, t)
    if out.alignments is not None:
        assert out.alignments.shape == (batch, -(-t // model.reduction_factor), tokens)
    if out.reached_cap is not None:
        assert out.reached_cap.shape == (batch,) and out.reached_cap.dtype == torch.bool


def _tacotron() -> Tacotron:
    return Tacotron(TacotronConfig(n_mels=16, reduction_factor=2, embedding_dim=16, encoder_dim=16,
                                   attention_rnn_dim=16, attention_dim=8, location_filters=4, decoder_rnn_dim=16,
                                   prenet_dim=16, postnet_channels=8, postnet_layers=2))


def _fastspeech() -> FastSpeech:
    return FastSpeech(FastSpeechConfig(n_mels=16, dim=16, heads=2, ffn_dim=16, encoder_layers=1, decoder_layers=1,
                                       duration_channels=8))


@pytest.mark.parametrize("make", [_tacotron, _fastspeech], ids=["tacotron", "fastspeech"])
def test_built_in_models_fill_the_output_they_have(make: type[AcousticModel]) -> None:
    torch.manual_seed(0)
    model = make().eval()
    tokens, token_lengths, mels, mel_lengths = model.example_inputs(2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(tokens, token_lengths, mels, mel_lengths)
    _check_output(out, model, 2, tokens.shape[1], mels.shape[2])
    assert out.reached_cap is None  # teacher-forced: no cap
    autoregressive = isinstance(model, Tacotron)
    assert (out.stop_logits is not None) == autoregressive
    assert (out.mel_before_postnet is not None) == autoregressive
    with pytest.warns(DecoderCapWarning):
        free = model.infer(tokens, token_lengths, max_decoder_steps=2)  # tiny cap: every item is cut
    _check_output(free, model, 2, tokens.shape[1], None)
    assert free.reached_cap is not None and free.capped() == [True, True]


# --- TextProcessor.split --------------------------------------------------------------------------


class _Upper(TextProcessor):
    """A minimal processor that does not override ``split``: one token per character."""

    @property
    def symbols(self) -> Sequence[str]:
        return ["<pad>", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ .,!?"]

    def normalize(self, text: str) -> str:
        return " ".join(text.upper().split())

    def __call__(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        ids = [[self.symbols.index(c) for c in t if c in self.symbols] for t in texts]
        lengths = torch.tensor([len(i) for i in ids])
        tokens = torch.zeros(len(ids), int(lengths.max()), dtype=torch.int64)
        for row, i in enumerate(ids):
            tokens[row, : len(i)] = torch.tensor(i)
        return tokens, lengths


def test_split_default_normalizes_and_splits_at_sentence_ends() -> None:
    proc = _Upper()
    assert proc.split("hello   there. how are you?  fine!") == ["HELLO THERE.", "HOW ARE YOU?", "FINE!"]
    assert proc.split("no end mark") == ["NO END MARK"]
    assert proc.split("3.5 and a.b") == ["3.5 AND A.B"]  # a full stop with no space after it is no sentence end


def test_split_default_bounds_every_piece() -> None:
    proc = _Upper()
    pieces = proc.split("a, " * 50 + "x" * 45 + ". short.", max_chars=20)
    assert all(0 < len(p) <= 20 for p in pieces) and pieces[-1] == "SHORT."
    assert "".join("".join(pieces).split()) == "".join(proc.normalize("a, " * 50 + "x" * 45 + ". short.").split())


@pytest.mark.parametrize(("text", "error"), [("", ValueError), (" \n\t", ValueError), (None, TypeError)])
def test_split_default_refuses_empty_text(text: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        _Upper().split(text)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_chars"):
        _Upper().split("text", max_chars=0)


def test_split_is_part_of_the_role_and_overridable() -> None:
    assert "split" not in TextProcessor.__abstractmethods__  # processors need not write one

    class _Whole(_Upper):
        def split(self, text: str, max_chars: int = 180) -> list[str]:
            return [self.normalize(text)]

    assert _Whole().split("one. two.") == ["ONE. TWO."]


def test_bound_pieces_is_shared_with_the_pipeline() -> None:
    assert speech.bound_pieces is bound_pieces
