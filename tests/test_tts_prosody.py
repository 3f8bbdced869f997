"""FastSpeech 2 prosody: F0/energy targets, the variance adaptor, prosody controls, warm start, recipe."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from facevox import ProsodyControl
from facevox.styles import SpeechStyle, blend_styles
from facevox_tts.fastspeech import FastSpeech, FastSpeechConfig
from facevox_tts.prosody import (
    VOICED_MIN_DB,
    frame_energy_db,
    frame_f0,
    prosody_stats,
    token_means,
    token_targets,
    voiced_frames,
)
from facevox_tts.text import SYMBOLS, EnglishCharacters
from facevox_tts.train import TrainItem
from facevox_tts.train_fastspeech import fastspeech_loss, make_duration_batch, warm_start
from facevox_tts.variance import apply_prosody
from tts_corpus import write_corpus

pytestmark = pytest.mark.usefixtures("one_thread")

SR = 22050


def test_frame_f0_finds_a_voice_and_silence() -> None:
    t = np.arange(int(0.6 * SR)) / SR
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 6)) * 0.3
    wave = np.concatenate([voice, np.zeros(int(0.4 * SR))])
    n = len(wave) // 256
    f0 = frame_f0(wave, n)
    assert f0.shape == (n,) and f0.dtype == np.float32
    voiced = f0[5:40]
    assert (voiced > 0).mean() > 0.9 and np.median(voiced[voiced > 0]) == pytest.approx(140, rel=0.03)
    assert (f0[60:] == 0).all()  # the silence is unvoiced
    assert frame_f0(wave[:100], 3).tolist() == [0.0, 0.0, 0.0]  # shorter than one analysis frame
    with pytest.raises(ValueError, match="mono"):
        frame_f0(np.zeros((2, 4000)), 10)


def test_energy_and_token_means() -> None:
    mel = torch.full((80, 3), math.log(0.1))
    mel[:, 2] = math.log(1e-5)
    energy = frame_energy_db(mel)
    assert energy[0].item() == pytest.approx(20 * math.log10(0.1 * math.sqrt(80)), abs=1e-3)
    assert energy[2] < energy[0] - 70
    values = torch.tensor([1.0, 3.0, 5.0, 7.0, 9.0])
    assert token_means(values, [2, 0, 3]).tolist() == [2.0, 0.0, 7.0]
    weights = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0])
    assert token_means(values, [2, 1, 2], weights).tolist() == [1.0, 0.0, 8.0]  # a token with no counted frame: 0
    with pytest.raises(ValueError, match="sum to the 5 frames"):
        token_means(values, [2, 2])


def test_token_targets_are_normalised_with_corpus_stats() -> None:
    mel = torch.full((80, 6), -3.0)
    f0 = torch.tensor([100.0, 100.0, 0.0, 0.0, 200.0, 200.0])
    durations = [2, 2, 2, 0]
    stats = prosody_stats([(mel, f0, durations)])
    assert stats[0][0] == pytest.approx(math.log(100 * 200) / 2, abs=1e-4)
    pitch, energy = token_targets(mel, f0, durations, stats[0], (0.0, 10.0))
    assert pitch[0] == pytest.approx(-pitch[2].item(), abs=1e-5) and pitch[0] < 0 and pitch[1] == 0 and pitch[3] == 0
    assert energy[:3].tolist() == pytest.approx([frame_energy_db(mel)[0].item() / 10] * 3)
    assert energy[3] == 0  # a token of no frames
    with pytest.raises(ValueError, match="frames"):
        token_targets(mel, f0[:5], durations, stats[0], stats[1])
    with pytest.raises(ValueError, match="no voiced"):
        prosody_stats([(mel, torch.zeros(6), durations)])


def test_silent_frames_do_not_count_as_voiced() -> None:
    # pYIN's F0 on near-silent frames (the corpus vocoder's 86 Hz frame-rate buzz) is not the voice
    mel = torch.full((80, 6), -3.0)
    mel[:, 2:4] = math.log(1e-5)  # digital silence: about -90 dB
    assert frame_energy_db(mel)[2] < VOICED_MIN_DB < frame_energy_db(mel)[0]
    f0 = torch.tensor([100.0, 100.0, 86.1, 86.1, 100.0, 0.0])
    assert voiced_frames(f0, frame_energy_db(mel)).tolist() == [True, True, False, False, True, False]
    stats = prosody_stats([(mel, f0, [2, 2, 2])])
    assert stats[0] == pytest.approx((math.log(100.0), 1e-3))  # the buzz is out of the statistics
    pitch, _ = token_targets(mel, f0, [2, 2, 2], (math.log(100.0), 0.1), (0.0, 10.0))
    assert pitch.tolist() == pytest.approx([0.0, 0.0, 0.0])  # the silent token has no pitch target


def test_apply_prosody_shifts_and_scales_pitch_and_energy() -> None:
    pitch = torch.tensor([[1.0, -1.0, 0.5, 0.0]])
    mask = torch.tensor([[True, True, True, False]])
    energy = torch.tensor([[0.2, 0.4, 0.6, 0.0]])
    p, e = apply_prosody(pitch, energy, mask, ProsodyControl(pitch_semitones=12, energy_db=5), 0.5, 10.0)
    assert (p[0, :3] - pitch[0, :3]).tolist() == pytest.approx([math.log(2) / 0.5] * 3)  # one octave in log F0
    assert (e[0, :3] - energy[0, :3]).tolist() == pytest.approx([0.5] * 3)
    assert p[0, 3] == 0 and e[0, 3] == 0  # padding untouched
    flat, _ = apply_prosody(pitch, energy, mask, ProsodyControl(pitch_range=0), 0.5, 10.0)
    assert flat[0, :3].tolist() == pytest.approx([pitch[0, :3].mean().item()] * 3)
    with pytest.raises(ValueError, match="pitch_range"):
        ProsodyControl(pitch_range=4)
    with pytest.raises(ValueError, match="rate"):
        ProsodyControl(rate=0)


def test_styles_give_prosody_controls() -> None:
    style = SpeechStyle("happy", rate=1.1, pitch_semitones=2, energy_db=3, pause_scale=0.8, pitch_range=1.3)
    assert style.prosody() == ProsodyControl(rate=1.1, pitch_semitones=2, pitch_range=1.3, energy_db=3)
    assert style.pauses_only == SpeechStyle("happy", pause_scale=0.8)
    with pytest.raises(ValueError, match="pitch_range"):
        SpeechStyle("x", pitch_range=-1)


def test_blend_mixes_pitch_range_geometrically(isolated_plugins: None) -> None:
    from facevox import hookimpl, plugins

    class Styles:
        @hookimpl
        def register_speech_styles(self, register):  # type: ignore[no-untyped-def]
            register(SpeechStyle("a", pitch_range=2.0))
            register(SpeechStyle("b", pitch_range=0.5))

    plugins.register_plugin(Styles(), name="test-styles")
    assert blend_styles({"a": 0.5, "b": 0.5}).pitch_range == pytest.approx(1.0)


def _tiny(variance: bool = True) -> FastSpeech:
    cfg = FastSpeechConfig(
        n_symbols=len(SYMBOLS), n_mels=16, dim=32, heads=2, ffn_dim=48, encoder_layers=1, decoder_layers=2,
        duration_channels=16, dropout=0.0, variance=variance, pitch_std=0.5, energy_std=10.0,
    )
    return FastSpeech(cfg)


def _pitch_items() -> tuple[list[TrainItem], dict[str, tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    """Each token's frames are its own spectrum plus its pitch target times a fixed direction ``v``,
    so the decoder must read the pitch embedding to get the mel right."""
    proc = EnglishCharacters()
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(len(SYMBOLS), 16, generator=gen) - 4.0
    token_pitch = torch.rand(len(SYMBOLS), generator=gen) * 2 - 1
    v = torch.randn(16, generator=gen)
    v = v / v.norm() * 2.0
    items, prosody = [], {}
    for i, text in enumerate(["abc", "hello", "a cab", "bed"] * 2):
        ids = proc.encode(text)
        durations = [2 + t % 3 for t in ids]
        # each text twice, at two pitch levels: the text alone cannot tell the decoder the pitch
        pitch = token_pitch[ids] + (0.5 if i < 4 else -0.5)
        frames = torch.cat([(table[t] + p * v).unsqueeze(1).expand(16, d)
                            for t, p, d in zip(ids, pitch, durations, strict=True)], 1)
        items.append(TrainItem(f"u{i}", torch.tensor(ids), frames.half(), durations, text))
        prosody[f"u{i}"] = (pitch.float(), torch.zeros(len(ids)))
    return items, prosody, v


def test_the_decoder_renders_pitch_and_rate_controls() -> None:
    torch.manual_seed(0)
    model = _tiny()
    items, prosody, v = _pitch_items()
    batch = make_duration_batch(items, model.config.mel_floor, prosody)
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        losses = fastspeech_loss(model, batch)
        optim.zero_grad()
        losses["total"].backward()
        optim.step()
    model.eval()
    with torch.no_grad():
        last = fastspeech_loss(model, batch)
    assert float(last["mel"]) < 0.3 and "pitch" in last and "energy" in last
    neutral = model.infer(batch.tokens, batch.token_lengths)
    # +3 semitones = 3 log(2) / 12 / pitch_std = 0.35 normalised units, so the mel moves by 0.35 v
    step = 3 * math.log(2) / 12 / model.config.pitch_std
    higher = model.infer(batch.tokens, batch.token_lengths, prosody=ProsodyControl(pitch_semitones=3))
    assert torch.equal(higher.mel_lengths, neutral.mel_lengths)
    n = int(neutral.mel_lengths[0])
    moved = ((higher.mel[0, :, :n] - neutral.mel[0, :, :n]) * v.unsqueeze(1)).sum(0) / v.norm() ** 2
    assert float(moved.mean()) == pytest.approx(step, rel=0.4)
    faster = model.infer(batch.tokens, batch.token_lengths, prosody=ProsodyControl(rate=2.0))
    ratio = faster.mel_lengths.float() / neutral.mel_lengths.float()
    assert torch.all((ratio > 0.4) & (ratio < 0.6))
    plain = _tiny(variance=False)
    assert not plain.supports_prosody and model.supports_prosody
    with pytest.raises(ValueError, match="no variance adaptor"):
        plain.infer(batch.tokens, batch.token_lengths, prosody=ProsodyControl(pitch_semitones=1))


def test_warm_start_keeps_the_old_weights_and_adds_an_adaptor(tmp_path: Path) -> None:
    from facevox import save_weights

    old = _tiny(variance=False)
    path = save_weights(old, tmp_path / "old.safetensors", dtype=None)
    new = _tiny()
    assert warm_start(new, path) == ["variance_adaptor"]
    assert torch.equal(new.encoder.embedding.weight, old.encoder.embedding.weight)
    tokens, lengths = torch.tensor([[5, 6, 7, 1]]), torch.tensor([4])
    # embeddings start at zero: the warm-started model speaks exactly as the old one
    assert torch.allclose(new.infer(tokens, lengths).mel, old.infer(tokens, lengths).mel, atol=1e-5)
    wider = FastSpeech(FastSpeechConfig(n_symbols=len(SYMBOLS), n_mels=16, dim=48, heads=2, variance=True))
    with pytest.raises(click.BadParameter, match="does not fit"):
        warm_start(wider, path)


_TEXTS = ["a cat.", "a cab."]
_TSVS = ["^\t2\nə\t5\n \t1\nk\t4\næ\t5\nt\t5\n.\t4\n$\t3\n", "^\t2\nə\t6\n \t1\nk\t4\næ\t6\nb\t6\n.\t4\n$\t3\n"]
TINY = "n_mels=80,dim=32,heads=2,ffn_dim=48,encoder_layers=1,decoder_layers=1,duration_channels=16"


def test_train_command_learns_prosody_from_the_corpus(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from facevox import load_pretrained
    from facevox_tts.train_fastspeech import parse_model_config, train_fastspeech_command

    data = write_corpus(tmp_path / "corpus", _TEXTS, [0.5, 0.5], _TSVS)  # tones of 200 and 250 Hz
    out = tmp_path / "run"
    args = ["--data", str(data), "--out", str(out), "--val-count", "1", "--eval-every", "2", "--batch-size", "2",
            "--model-config", TINY + ",variance=true", "--accelerator", "cpu", "--precision", "32"]
    result = CliRunner().invoke(train_fastspeech_command, [*args, "--steps", "2"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert sorted(p.name for p in (out / "pitch").iterdir()) == ["u0.npy", "u1.npy"]
    best = load_pretrained(out / "best")
    assert isinstance(best, FastSpeech) and best.config.variance and best.supports_prosody
    # the statistics of the training utterance (the other is held out): its tone's log F0
    assert min(abs(best.config.pitch_mean - math.log(f)) for f in (200, 250)) < 0.01
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("val_pitch" in r and "val_energy" in r for r in rows)
    plain = [a.replace(",variance=true", "") for a in args]
    refused = CliRunner().invoke(train_fastspeech_command, [*plain, "--out", str(tmp_path / "x"), "--pitch-augment", "3"])
    assert refused.exit_code != 0 and "variance adaptor" in refused.output  # the option would do nothing
    assert not (tmp_path / "x").exists()  # refused before anything is written
    with pytest.raises(click.BadParameter, match="expected a bool"):
        parse_model_config("variance=maybe")
    assert parse_model_config("variance=false").variance is False


def test_the_variance_adaptor_can_learn_faster_than_a_warm_started_rest(tmp_path: Path) -> None:
    from facevox_tts.lit_fastspeech import FastSpeechModule
    from facevox_tts.train_fastspeech import parse_model_config

    model = FastSpeech(parse_model_config(TINY + ",variance=true"))
    kwargs = dict(val_count=1, batch_size=2, batch_frames=100, lr=1e-3, warmup=10, lr_schedule=[(50, 5e-4)], seed=0)
    module = FastSpeechModule(model, [], tmp_path, variance_lr_scale=10.0, **kwargs)  # type: ignore[arg-type]
    opt = module.configure_optimizers()
    optimizer, scheduler = opt["optimizer"], opt["lr_scheduler"]["scheduler"]
    adaptor = {id(p) for p in model.variance_adaptor.parameters()}  # type: ignore[union-attr]
    rest, fast = optimizer.param_groups
    assert not adaptor & {id(p) for p in rest["params"]} and adaptor == {id(p) for p in fast["params"]}
    for _ in range(60):
        optimizer.step()
        scheduler.step()
    assert rest["lr"] == pytest.approx(5e-4) and fast["lr"] == pytest.approx(5e-3)
    plain = FastSpeechModule(FastSpeech(parse_model_config(TINY)), [], tmp_path, **kwargs)  # type: ignore[arg-type]
    assert len(plain.configure_optimizers()["optimizer"].param_groups) == 1  # no adaptor: one group, as before
    with pytest.raises(ValueError, match="variance_lr_scale"):
        FastSpeechModule(model, [], tmp_path, variance_lr_scale=0.0, **kwargs)  # type: ignore[arg-type]


def test_pitch_warp_moves_a_band_by_the_interval_and_augment_moves_the_targets() -> None:
    import librosa
    from facevox_tts.lit_fastspeech import augment_pitch
    from facevox_tts.prosody import pitch_warp_matrix
    from facevox_tts.train_fastspeech import DurationBatch

    assert torch.equal(pitch_warp_matrix(0.0), torch.eye(80))
    centres = librosa.mel_frequencies(82, fmin=0.0, fmax=8000.0)[1:-1]
    floor = math.log(1e-5)
    mel = torch.full((80, 4), floor)
    mel[30] = 0.0  # one loud band
    for k in (3.0, -3.0, 7.0):
        weight = (pitch_warp_matrix(k) @ mel)[:, 0] - floor  # the band, split between two neighbours
        position = float((weight * torch.arange(80)).sum() / weight.sum())
        peak = np.interp(position, np.arange(80), centres)
        assert 12 * math.log2(peak / centres[30]) == pytest.approx(k, abs=0.1)
    assert pitch_warp_matrix(5.0).sum(1).tolist() == pytest.approx([1.0] * 80)  # rows interpolate, the floor stays
    with pytest.raises(ValueError, match="semitones"):
        pitch_warp_matrix(13.0)

    tokens = torch.ones(4, 3, dtype=torch.int64)
    mels = torch.zeros(4, 80, 6)
    batch = DurationBatch(tokens, torch.full((4,), 3), mels.clone(), torch.full((4,), 6), torch.full((4, 3), 2))
    batch.pitch = torch.tensor([[0.5, 0.0, -0.5]] * 4)
    batch.energy = torch.zeros(4, 3)
    augment_pitch(batch, 3.0, pitch_std=0.1, generator=torch.Generator().manual_seed(0), share=1.0)
    moved = batch.pitch - torch.tensor([[0.5, 0.0, -0.5]])
    assert (moved[:, 1] == 0).all()  # an unvoiced token keeps no pitch
    shift = moved[:, 0] * 0.1 * 12 / math.log(2.0)  # semitones applied to each item
    assert torch.allclose(moved[:, 0], moved[:, 2]) and (shift.abs() <= 3.0).all() and shift.abs().max() > 0
