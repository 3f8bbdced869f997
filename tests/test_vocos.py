"""The Vocos-style vocoder: its inverse STFT, the shipped vocos.joe weights, its trainer."""

from __future__ import annotations

import json
import math
from pathlib import Path

import facevox
import pytest
import torch
import torch.nn.functional as F
from facevox.audio import MelSettings, mel_spectrogram
from facevox.cli import main as cli
from facevox_vocoders import VocosConfig, VocosVocoder
from facevox_vocoders.train_vocos import distillation_loss
from facevox_vocoders.vocos import inverse_stft_same
from tts_corpus import write_corpus

SR, HOP, N_FFT = 22050, 256, 1024


def _harmonic(seconds: float = 0.6, f0: float = 140.0) -> torch.Tensor:
    t = torch.arange(int(SR * seconds)) / SR
    pitch = f0 * (1 + 0.15 * torch.sin(2 * math.pi * 1.5 * t))
    phase = 2 * math.pi * torch.cumsum(pitch, 0) / SR
    wave = sum(torch.sin(k * phase) / k for k in range(1, 13))
    return 0.15 * wave * 0.5 * (1 - torch.cos(2 * math.pi * t / seconds))


def test_inverse_stft_same_inverts_the_mel_framing() -> None:
    """T frames framed like facevox.audio.mel_spectrogram (reflect pad, no centring) -> the T * hop samples."""
    torch.manual_seed(0)
    frames = 20
    wave = torch.randn(2, frames * HOP)
    pad = (N_FFT - HOP) // 2
    padded = F.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    window = torch.hann_window(N_FFT)
    spec = torch.stft(padded, N_FFT, HOP, window=window, center=False, return_complex=True)
    assert spec.shape[-1] == frames == mel_spectrogram(wave[0]).shape[-1]
    out = inverse_stft_same(spec, N_FFT, HOP, window)
    assert out.shape == wave.shape
    torch.testing.assert_close(out, wave, atol=1e-4, rtol=0)
    # A frame moved one hop later moves its samples one hop later: frame t is centred on t * hop + hop / 2.
    click = torch.zeros(1, frames * HOP)
    click[0, 10 * HOP + HOP // 2] = 1.0
    peaks = torch.stft(F.pad(click.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1), N_FFT, HOP,
                       window=window, center=False, return_complex=True)
    single = torch.zeros_like(peaks)
    single[..., 10] = peaks[..., 10]
    assert abs(int(inverse_stft_same(single, N_FFT, HOP, window)[0].abs().argmax()) - (10 * HOP + HOP // 2)) <= 1


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        VocosConfig(kernel_size=4)
    with pytest.raises(ValueError, match="n_fft"):
        VocosConfig(n_fft=200)
    with pytest.raises(ValueError, match="dim must be >= 1"):
        VocosConfig(dim=0)


@pytest.fixture(scope="module")
def vocos() -> VocosVocoder:
    model = facevox.create_model("vocos.joe")
    assert isinstance(model, VocosVocoder)
    return model


def test_vocos_joe_is_the_default_and_small(vocos: VocosVocoder) -> None:

    assert facevox.default_model(facevox.Task.VOCODER) == "vocos.joe" and facevox.get_model_spec("vocos.joe").has_weights
    assert sum(p.numel() for p in vocos.parameters()) <= 3_000_000  # issue 14: at most 3 M parameters
    card = facevox.get_model_spec("vocos.joe").card
    assert MelSettings.from_dict(card.preprocessing.mel) == MelSettings() and card.preprocessing.sample_rate == SR


def test_vocos_joe_vocodes_the_default_voice_like_its_teacher(vocos: VocosVocoder) -> None:
    """On mels of the acoustic model it is paired with, the output keeps the mel and follows HiFi-GAN V1.

    (A single-speaker vocoder: the check uses the voice it was trained for, not a synthetic tone.)
    """
    acoustic = facevox.create_model("tts.fastspeech_joe").eval()
    tokens, lengths = facevox.create_text_processor("en.chars")(["The committee met again in the spring."])
    with torch.inference_mode():
        inferred = acoustic.infer(tokens, lengths)
        mel, frames = inferred.mel, inferred.mel_lengths
        out, out_lengths = vocos(mel, frames)
        teacher, _ = facevox.create_model("hifigan.universal")(mel, frames)
        untrained, _ = facevox.create_model("vocos.joe", pretrained=False).eval()(mel, frames)
    assert out_lengths.tolist() == [int(frames[0]) * HOP] and 0.05 < float(out.abs().max()) <= 1.0
    loud = mel[0] > math.log(1e-3)
    error = (mel_spectrogram(out[0]) - mel[0]).abs()[loud].mean().item()
    teacher_error = (mel_spectrogram(teacher[0]) - mel[0]).abs()[loud].mean().item()
    assert error < 1.5 * teacher_error, f"log-mel L1 {error:.3f} against HiFi-GAN's {teacher_error:.3f}"
    assert (mel_spectrogram(untrained[0]) - mel[0]).abs()[loud].mean().item() > 4 * error
    assert float(distillation_loss(out, teacher)["mel"]) < 0.3 * float(distillation_loss(untrained, teacher)["mel"])


def test_vocos_batch_masks_padding(vocos: VocosVocoder) -> None:
    mel = mel_spectrogram(_harmonic())[None].repeat(2, 1, 1)
    with torch.inference_mode():
        out, lengths = vocos(mel, torch.tensor([mel.shape[-1], 7]))
        alone, _ = vocos(mel[:1], torch.tensor([mel.shape[-1]]))
    assert lengths.tolist() == [mel.shape[-1] * HOP, 7 * HOP]
    assert out[1, 7 * HOP :].abs().max() == 0
    torch.testing.assert_close(out[0], alone[0])


def test_distillation_loss_is_zero_only_for_equal_waves() -> None:
    wave = _harmonic(0.3)[None]
    same = distillation_loss(wave, wave.clone())
    assert all(float(v) < 1e-5 for v in same.values())
    shifted = distillation_loss(torch.roll(wave, 37, dims=1), wave)  # same magnitudes, other phase
    assert float(shifted["complex"]) > 0.01 and float(shifted["total"]) > float(same["total"])


def test_train_vocoder_cli_learns_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = write_corpus(tmp_path / "corpus", ["a tone", "another tone", "a third"], [0.6, 0.6, 0.6])
    out = tmp_path / "run"
    common = ["train", "vocoder", str(corpus), "--out", str(out), "--teacher", "griffinlim.default",
              "--acoustic", "", "--clips", "2", "--val-count", "1", "--val-clips", "1", "--dim", "32",
              "--intermediate-dim", "64", "--layers", "2", "--batch-size", "4", "--segment-frames", "8",
              "--lr", "3e-3", "--warmup", "0", "--eval-every", "20", "--save-every", "20", "--threads", "1"]
    assert cli([*common, "--steps", "60"]) == 0
    evals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in evals if "val_total" in r]
    assert [r["step"] for r in evals] == [20, 40, 60]
    assert evals[-1]["val_total"] < evals[0]["val_total"]
    config = VocosConfig(**json.loads((out / "config.json").read_text()))
    assert (config.dim, config.num_layers) == (32, 2)
    facevox.load_weights(VocosVocoder(config), out / "model.safetensors")  # strict: every weight is there
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["best_of"] == "val_total"  # no --acoustic: the kept weights are chosen on true mels alone
    assert state["best"] == pytest.approx(min(r["val_total"] for r in evals))
    capsys.readouterr()
    assert cli([*common, "--steps", "80", "--resume"]) == 0
    assert "from step 60" in capsys.readouterr().out
    assert cli([*common, "--steps", "90", "--resume", "--layers", "3"]) != 0
    assert "was trained with" in capsys.readouterr().err


def test_train_vocoder_init_fine_tunes_and_validates_on_acoustic_mels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_corpus(tmp_path / "corpus", ["a tone", "another tone", "a third"], [0.6, 0.6, 0.6])
    common = ["train", "vocoder", str(corpus), "--teacher", "griffinlim.default", "--clips", "2",
              "--val-count", "1", "--val-clips", "1", "--dim", "32", "--intermediate-dim", "64", "--layers", "2",
              "--batch-size", "4", "--segment-frames", "8", "--warmup", "0", "--threads", "1"]
    first = tmp_path / "first"
    assert cli([*common, "--out", str(first), "--acoustic", "", "--lr", "3e-3", "--steps", "40",
                "--eval-every", "20"]) == 0
    best = min(r["val_total"] for r in map(json.loads, (first / "metrics.jsonl").read_text().splitlines())
               if "val_total" in r)
    tuned = tmp_path / "tuned"  # a learning rate too small to move the weights: validation = the init's
    assert cli([*common, "--out", str(tuned), "--acoustic", "tts.fastspeech_joe", "--acoustic-clips", "1",
                "--init", str(first / "model.safetensors"), "--lr", "1e-12", "--steps", "1", "--eval-every", "1"]) == 0
    start, record = [r for r in map(json.loads, (tuned / "metrics.jsonl").read_text().splitlines()) if "val_total" in r]
    assert start["step"] == 0 and start["val_total"] == pytest.approx(best, rel=1e-4)  # the init, before a step
    assert record["step"] == 1 and record["val_total"] == pytest.approx(best, rel=1e-4)
    assert record["valfs_total"] > 0  # the acoustic model's mels of the held-out text, scored too
    assert len(list((tuned / "cache" / "valfs").glob("*.npz"))) == 1
    wrong = tmp_path / "wrong.safetensors"
    facevox.save_weights(VocosVocoder(VocosConfig(dim=16, intermediate_dim=32, num_layers=1)), wrong)
    capsys.readouterr()
    assert cli([*common, "--out", str(tmp_path / "bad"), "--acoustic", "", "--init", str(wrong), "--steps", "1"]) != 0
    assert "do not fit VocosVocoder" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "cache").exists()  # refused before the teacher cache is built
