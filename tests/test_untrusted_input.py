"""Untrusted input (issue 18, items 1 and 4): checkpoint configs, ``create_model`` overrides,
bounded outputs, seeds and output paths. Every bad input gives one clear facevox error."""

from __future__ import annotations

import enum
import json
import math
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import facevox
import pytest
import torch
from click.testing import CliRunner
from facevox import (
    CheckpointError,
    FacevoxError,
    UnknownModelError,
    hookimpl,
    load_pretrained,
    plugins,
    save_pretrained,
)
from facevox import checkpoint as checkpoint_module
from facevox.cli import cli, main
from facevox.io import OutputPathError, check_output_path
from facevox.validation import MAX_PARAMETERS, ConfigError, is_size_field
from PIL import Image
from torch import Tensor, nn

pytestmark = pytest.mark.usefixtures("one_thread")


class Kind(str, enum.Enum):
    PLAIN = "plain"
    FANCY = "fancy"


@dataclass(frozen=True)
class Inner:
    n_taps: int = 2  # a size (n_*)
    gain: float = 1.0


@dataclass(frozen=True)
class RichConfig:
    input_size: tuple[int, int, int] = (1, 4, 4)
    widths: tuple[int, ...] = (3, 5)
    dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 2), (1,))
    dropout: float = 0.1
    flag: bool = True
    kind: Kind = Kind.PLAIN
    label: str = "x"
    offset: int = -1  # not a size: negative is fine
    n_extra: int = 0  # size-like name, but its default 0 proves 0 is fine
    depth: int = field(default=1, metadata={"min": 1, "max": 4})
    limit: int | None = None
    inner: Inner = Inner()

    def __post_init__(self) -> None:
        if self.label == "forbidden":
            raise ValueError("label 'forbidden' is reserved")


class RichNet(nn.Module):
    """Flatten -> Linear layers of ``widths``: ``(B, C, H, W) -> (B, widths[-1])``."""

    def __init__(self, config: RichConfig) -> None:
        super().__init__()
        self.config = config
        c, h, w = config.input_size
        sizes = [c * h * w, *config.widths]
        self.net = nn.Sequential(nn.Flatten(), *(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:], strict=False)))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _not_on_meta(config: RichConfig) -> nn.Module:
    if torch.empty(1).is_meta:
        raise NotImplementedError("this factory cannot run on the meta device")
    return RichNet(config)


def _reads_a_tensor(config: RichConfig) -> nn.Module:
    assert torch.ones(1).item() == 1.0  # cannot run on the meta device
    return RichNet(config)


def _refuses(config: RichConfig) -> nn.Module:
    if config.widths[0] == 7:
        raise ValueError("width 7 is unlucky")
    return RichNet(config)


def _spec(name: str, factory: Callable[[RichConfig], nn.Module] = RichNet) -> facevox.ModelSpec:
    card = facevox.ModelCard(summary="A tiny model for the untrusted-input tests.")
    return facevox.ModelSpec(name=name, task=facevox.Task.EXPRESSION_CLASSIFICATION, factory=factory,
                             config=RichConfig(), card=card)


class _RichPlugin:
    @hookimpl
    def register_models(self, register):  # type: ignore[no-untyped-def]
        register(_spec("rich.tiny"))
        register(_spec("rich.nometa", _not_on_meta))
        register(_spec("rich.item", _reads_a_tensor))
        register(_spec("rich.refuses", _refuses))


@pytest.fixture
def rich(isolated_plugins: None) -> Iterator[None]:
    plugins.register_plugin(_RichPlugin(), name="rich")
    yield


@pytest.fixture
def ckpt(rich: None, tmp_path: Path) -> Path:
    return save_pretrained(facevox.create_model("rich.tiny", pretrained=False), tmp_path / "ckpt")


def _edit(ckpt: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    meta = json.loads((ckpt / "config.json").read_text())
    change(meta)
    (ckpt / "config.json").write_text(json.dumps(meta))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(meta: dict[str, Any]) -> None:
        *outer, last = path.split(".")
        target = meta
        for key in outer:
            target = target[key]
        target[last] = value
    return change


# ------------------------------------------------------------------------- 1. checkpoint configs

BAD_ENTRIES: list[tuple[str, Any, str]] = [
    ("sha256", None, r"entry 'sha256' = null .* 64-digit hex"),
    ("sha256", 123, r"entry 'sha256' = 123 .* 64-digit hex"),
    ("sha256", "abc123", r"entry 'sha256' = \"abc123\""),
    ("sha256", "g" * 64, r"entry 'sha256'"),
    ("model", 123, r"entry 'model' = 123 .* a registered model name"),
    ("model", ["rich.tiny"], r"entry 'model' = \[\"rich.tiny\"\]"),
    ("config", [1, 2], r"entry 'config' = \[1, 2\] .* an object"),
    ("version", 2, r"entry 'version' = 2 .* expected 1"),
    ("version", True, r"entry 'version' = true"),
    ("card", "text", r"entry 'card'"),
    ("format", "pickle", r"not a facevox checkpoint config"),
]

BAD_FIELDS: list[tuple[str, Any, str]] = [
    ("config.widths", [-1, 2], r"'config.widths\[0\]' = -1 .* a size, an int in 1\.\.1048576"),
    ("config.widths", [0], r"'config.widths\[0\]' = 0 .* a size"),
    ("config.widths", "35", r"'config.widths' = '35' .* a list"),
    ("config.widths", [2, "3"], r"'config.widths\[1\]' = '3' .* an int"),
    ("config.widths", [2.0], r"'config.widths\[0\]' = 2.0 .* an int"),
    ("config.widths", [2**21], r"'config.widths\[0\]' = 2097152 .* a size"),
    ("config.input_size", [1, 4], r"'config.input_size' = \[1, 4\] .* exactly 3 item"),
    ("config.input_size", 16, r"'config.input_size' = 16 .* a list"),
    ("config.dilation_sizes", [[1, -2]], r"'config.dilation_sizes\[0\]\[1\]' = -2"),
    ("config.flag", 1, r"'config.flag' = 1 .* true or false"),
    ("config.flag", "yes", r"'config.flag' = 'yes' .* true or false"),
    ("config.offset", True, r"'config.offset' = True .* an int"),
    ("config.offset", 2**64, r"'config.offset' = 18446744073709551616 .* \(int64\)"),
    ("config.dropout", 1.5, r"'config.dropout' = 1.5 .* a number in 0\.\.1"),
    ("config.dropout", "0.1", r"'config.dropout' = '0.1' .* a number"),
    ("config.kind", "weird", r"'config.kind' = 'weird' .* one of 'plain', 'fancy'"),
    ("config.kind", ["plain"], r"'config.kind' = \['plain'\]"),
    ("config.label", 5, r"'config.label' = 5 .* a string"),
    ("config.label", "forbidden", r"RichConfig refuses config .* reserved"),
    ("config.depth", 9, r"'config.depth' = 9 .* an int in 1\.\.4"),
    ("config.limit", "many", r"'config.limit' = 'many' .* an int"),
    ("config.inner", [1], r"'config.inner' = \[1\] .* an object of Inner fields"),
    ("config.inner.n_taps", -3, r"'config.inner.n_taps' = -3 .* a size"),
    ("config.inner.bogus", 1, r"unknown Inner field\(s\) \['bogus'\]"),
]


@pytest.mark.parametrize(("entry", "value", "message"), BAD_ENTRIES + BAD_FIELDS,
                         ids=[f"{e}={v!r}"[:40] for e, v, _ in BAD_ENTRIES + BAD_FIELDS])
def test_bad_checkpoint_entry_is_one_checkpoint_error(ckpt: Path, entry: str, value: Any, message: str) -> None:
    _edit(ckpt, _set(entry, value))
    with pytest.raises(CheckpointError, match=message) as info:
        load_pretrained(ckpt)
    assert str(ckpt / "config.json") in str(info.value)  # the file is named
    assert isinstance(info.value, FacevoxError) and isinstance(info.value, ValueError)


def test_an_overflowing_float_is_not_finite(ckpt: Path) -> None:
    text = (ckpt / "config.json").read_text()
    (ckpt / "config.json").write_text(text.replace('"gain": 1.0', '"gain": 1e400'))
    with pytest.raises(CheckpointError, match=r"'config.inner.gain' = inf is not accepted; expected a finite number"):
        load_pretrained(ckpt)


def test_good_values_in_json_forms_load(ckpt: Path) -> None:
    _edit(ckpt, _set("config.kind", "fancy"))
    _edit(ckpt, _set("config.n_extra", 0))
    _edit(ckpt, _set("config.limit", 3))
    _edit(ckpt, _set("config.inner.gain", 2))  # an int where a float belongs is widened
    _edit(ckpt, lambda meta: meta.update(sha256=meta["sha256"].upper()))
    model = load_pretrained(ckpt)
    assert model.config.kind is Kind.FANCY and model.config.limit == 3
    assert model.config.inner == Inner(n_taps=2, gain=2.0) and isinstance(model.config.inner.gain, float)
    assert model.config.dilation_sizes == ((1, 2), (1,))


def test_a_config_asking_for_a_huge_model_is_refused_before_allocation(ckpt: Path) -> None:
    _edit(ckpt, _set("config.widths", [2**20, 2**20]))  # ~1.1e12 parameters, 4 TB in float32
    with pytest.raises(CheckpointError, match=r"asks for 1,099,[0-9,]+ parameters .* limit of 500,000,000"):
        load_pretrained(ckpt)
    assert MAX_PARAMETERS == 500_000_000


def test_a_factory_that_refuses_the_config_is_a_checkpoint_error(rich: None, tmp_path: Path) -> None:
    target = save_pretrained(facevox.create_model("rich.refuses", pretrained=False), tmp_path / "r")
    _edit(target, _set("config.widths", [7]))
    with pytest.raises(CheckpointError, match=r"cannot be built from this config \(ValueError: width 7 is unlucky\)"):
        load_pretrained(target)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "deeper than 64 levels"),
        ('{"format": "facevox-checkpoint", "x": ' + "[" * 65 + "]" * 65 + "}", "deeper than 64 levels"),
        ('{"format": "facevox-checkpoint", "x": ' + "1" * 5000 + "}", "not valid JSON"),
        ('{"format": "facevox-checkpoint", "x": NaN}', "not valid JSON: NaN is not a JSON number"),
        ("[]", "not a facevox checkpoint config"),
        ("{\"format\": ", "not valid JSON"),
    ],
    ids=["100000-deep", "65-deep", "5000-digit-int", "NaN", "array", "truncated"],
)
def test_malformed_json_is_refused(ckpt: Path, text: str, message: str) -> None:
    (ckpt / "config.json").write_text(text)
    with pytest.raises(CheckpointError, match=message):
        load_pretrained(ckpt)


def test_invalid_utf8_and_oversized_config_json(ckpt: Path) -> None:
    (ckpt / "config.json").write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_pretrained(ckpt)
    (ckpt / "config.json").write_text(json.dumps({"format": "facevox-checkpoint", "pad": "x" * (1 << 20)}))
    with pytest.raises(CheckpointError, match=r"is 1,048,[0-9]+ bytes; at most 1,048,576 are accepted"):
        load_pretrained(ckpt)


def _load_in_thread(ckpt: Path) -> BaseException | None:
    """load_pretrained(ckpt) in a thread; fails the test if it hangs."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            load_pretrained(ckpt)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():  # release a reader blocked on a FIFO, then fail
        for name in ("config.json", "model.safetensors"):
            if (ckpt / name).is_fifo():
                fd = os.open(ckpt / name, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
        pytest.fail("load_pretrained hung")
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_a_fifo_in_a_checkpoint_is_refused_without_hanging(ckpt: Path, name: str) -> None:
    (ckpt / name).unlink()
    os.mkfifo(ckpt / name)
    error = _load_in_thread(ckpt)
    assert isinstance(error, CheckpointError) and f"{ckpt / name} is a FIFO" in str(error)


def test_folders_and_devices_in_a_checkpoint_are_refused(ckpt: Path) -> None:
    (ckpt / "model.safetensors").unlink()
    (ckpt / "model.safetensors").mkdir()
    with pytest.raises(CheckpointError, match="model.safetensors is a folder; a checkpoint holds regular files only"):
        load_pretrained(ckpt)
    (ckpt / "model.safetensors").rmdir()
    if Path("/dev/zero").exists():
        (ckpt / "model.safetensors").symlink_to("/dev/zero")
        with pytest.raises(CheckpointError, match="is a character device"):
            load_pretrained(ckpt)


def test_weights_bigger_than_the_config_needs_are_refused(ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint_module, "_HEADER_BYTES", 0)
    elements = sum(t.numel() for t in facevox.create_model("rich.tiny", pretrained=False).state_dict().values())
    (ckpt / "model.safetensors").write_bytes(b"\0" * (8 * elements + 1))
    with pytest.raises(CheckpointError, match=f"at most {8 * elements:,} are accepted"):
        load_pretrained(ckpt)


# ------------------------------------------------------------------------- create_model overrides


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"widths": [-1, 2, 3]}, r"create_model\('rich.tiny'\): config field 'widths\[0\]' = -1 .* a size"),
        ({"widths": (2**20, 2**20)}, r"asks for 1,099,[0-9,]+ parameters"),
        ({"flag": 0}, r"'flag' = 0 .* true or false"),
        ({"offset": 1.5}, r"'offset' = 1.5 .* an int"),
        ({"kind": "odd"}, r"'kind' = 'odd' .* one of 'plain', 'fancy'"),
        ({"inner": {"n_taps": 0}}, r"'inner.n_taps' = 0 .* a size"),
        ({"depth": 0}, r"'depth' = 0 .* an int in 1\.\.4"),
        ({"label": "forbidden"}, r"RichConfig refuses the overrides .* reserved"),
        ({"widht": 3}, r"unknown config field\(s\) \['widht'\]; accepted: \["),
    ],
)
def test_bad_overrides_are_config_errors(rich: None, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        facevox.create_model("rich.tiny", pretrained=False, **overrides)
    assert isinstance(info.value, FacevoxError) and not isinstance(info.value, TypeError)
    assert info.value.where == "create_model('rich.tiny')" and info.value.field


def test_good_overrides_are_converted(rich: None) -> None:
    model = facevox.create_model("rich.tiny", pretrained=False, widths=[4, 2], kind="fancy", n_extra=0, offset=-5,
                                 inner={"n_taps": 3}, dilation_sizes=[[1, 3]])
    assert model.config.widths == (4, 2) and model.config.kind is Kind.FANCY and model.config.offset == -5
    assert model.config.inner == Inner(n_taps=3) and model.config.dilation_sizes == ((1, 3),)
    assert model(torch.zeros(1, 1, 4, 4)).shape == (1, 2)


@pytest.mark.parametrize("name", ["rich.nometa", "rich.item"])
def test_a_factory_that_cannot_run_on_meta_still_builds(rich: None, tmp_path: Path, name: str) -> None:
    model = facevox.create_model(name, pretrained=False, widths=[2])
    assert model.config.widths == (2,)
    assert load_pretrained(save_pretrained(model, tmp_path / "c")).config.widths == (2,)


def test_override_refused_by_the_factory(rich: None) -> None:
    with pytest.raises(ConfigError, match="cannot be built from this config"):
        facevox.create_model("rich.refuses", pretrained=False, widths=[7])


@pytest.mark.parametrize("name", [123, None, ["rich.tiny"], b"rich.tiny"])
def test_a_model_name_that_is_not_a_string(rich: None, name: Any) -> None:
    with pytest.raises(UnknownModelError, match=r"model names are strings such as 'family.variant', got"):
        facevox.create_model(name)


def test_pretrained_must_be_a_bool(rich: None) -> None:
    with pytest.raises(ConfigError, match="pretrained must be True or False, got 'no'"):
        facevox.create_model("rich.tiny", pretrained="no")  # type: ignore[arg-type]


def test_shipped_config_overrides_are_checked_before_building() -> None:
    with pytest.raises(ConfigError, match=r"'widths\[0\]' = -1 is not accepted; expected a size"):
        facevox.create_model("expression.resmasknet", widths=[-1, 2, 3])
    with pytest.raises(ConfigError, match=r"'mel.n_fft' = 0"):
        facevox.create_model("griffinlim.default", mel={"n_fft": 0})
    with pytest.raises(UnknownModelError, match="got int 123"):
        facevox.create_model(123)  # type: ignore[arg-type]


def test_size_field_names() -> None:
    sizes = ["widths", "input_size", "n_mels", "num_labels", "latent_dim", "upsample_rates", "stem_channels"]
    assert all(map(is_size_field, sizes))
    assert not any(map(is_size_field, ["blocks_per_stage", "infer_window", "seed", "dropout", "n"]))


# ------------------------------------------------------------------------- save_pretrained


def test_save_pretrained_refuses_to_replace_what_is_not_a_checkpoint(rich: None, tmp_path: Path) -> None:
    model = facevox.create_model("rich.tiny", pretrained=False)
    document = tmp_path / "notes.txt"
    document.write_text("precious")
    with pytest.raises(CheckpointError, match=f"{document} exists and is not a folder"):
        save_pretrained(model, document)
    assert document.read_text() == "precious"
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"jpeg")
    with pytest.raises(CheckpointError, match=rf"{folder} holds other files than a checkpoint \(\['a.jpg'\]\)"):
        save_pretrained(model, folder)
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "config.json").write_text('{"format": "something-else"}')
    with pytest.raises(CheckpointError, match=f"{fake} exists and is not a facevox checkpoint"):
        save_pretrained(model, fake)
    with pytest.raises(CheckpointError, match="empty path"):
        save_pretrained(model, "")
    assert (folder / "a.jpg").read_bytes() == b"jpeg" and (fake / "config.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake", "notes.txt", "photos"]  # no leftovers


def test_save_pretrained_replaces_an_empty_folder_or_a_checkpoint(rich: None, tmp_path: Path) -> None:
    model = facevox.create_model("rich.tiny", pretrained=False)
    (tmp_path / "empty").mkdir()
    save_pretrained(model, tmp_path / "empty")
    save_pretrained(model, tmp_path / "empty")  # now a checkpoint: replaced whole
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == ["config.json", "model.safetensors"]
    assert load_pretrained(tmp_path / "empty").config == model.config


# ------------------------------------------------------------------------- 4. CLI outputs and seeds


@pytest.fixture
def no_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if a command builds a model: its arguments must be refused first."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model was built before the arguments were checked")
    monkeypatch.setattr(facevox, "create_model", refuse)


FACE_COMMANDS = [
    ["face", "sample"],
    ["face", "reconstruct", "in.png"],
    ["face", "morph", "in.png", "--to", "happy"],
    ["face", "interpolate", "a.png", "b.png"],
]


@pytest.mark.parametrize("seed", [str(2**70), str(2**63), "-1"])
@pytest.mark.parametrize("args", FACE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_face_seeds_are_range_checked(no_models: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      args: list[str], seed: str) -> None:
    assert main([*args, "-o", str(tmp_path / "x.png"), "--seed", seed]) == 2
    assert "0<=x<=9223372036854775807" in capsys.readouterr().err


@pytest.mark.parametrize("trainer", ["face-vae", "tts", "tts-fastspeech"])
def test_training_seeds_are_range_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str], trainer: str) -> None:
    assert main(["train", trainer, "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--seed", str(2**70)]) == 2
    assert "0<=x<=9223372036854775807" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    torch.Generator().manual_seed(2**63 - 1)  # the largest seed accepted is one torch takes


def _outputs(tmp_path: Path) -> list[tuple[str, str]]:
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "a_file").write_text("")
    return [
        ("", "the output path is empty"),
        (str(tmp_path / "folder.png"), "is a folder"),
        (str(tmp_path / "missing" / "x.png"), "does not exist"),
        (str(tmp_path / "a_file" / "x.png"), "is not a folder"),
    ]


@pytest.mark.parametrize("args", [["face", "sample"], ["face", "interpolate", "a.png", "b.png"]],
                         ids=["sample", "interpolate"])
def test_face_output_paths_are_checked_before_work(no_models: None, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    for out, message in _outputs(tmp_path):
        assert main([*args, "-o", out]) == 2, out
        assert message in capsys.readouterr().err, out


def test_morph_output_paths_are_checked_before_work(no_models: None, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a_file").write_text("")
    for out, message in [("", "the output path is empty"), (str(tmp_path / "a_file"), "is not a folder"),
                         (str(tmp_path / "a_file" / "x.png"), "is not a folder")]:
        assert main(["face", "morph", "in.png", "--to", "happy", "-o", out]) == 2, out
        assert message in capsys.readouterr().err, out


def test_read_only_folders_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import facevox.io

    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(facevox.io.os, "access", lambda p, mode: False if Path(p) == locked else real(p, mode))
    with pytest.raises(OutputPathError, match=f"folder {locked} is not writable"):
        check_output_path(locked / "x.png")
    with pytest.raises(OutputPathError, match=f"folder {locked} is not writable"):
        check_output_path(locked / "sub" / "deeper", folder=True)
    result = CliRunner().invoke(cli, ["face", "sample", "-o", str(locked / "x.png")])
    assert result.exit_code == 2 and "is not writable" in result.output
    assert check_output_path(tmp_path / "ok.png") == tmp_path / "ok.png"
    if Path("/dev/null").exists():  # atomic replacement would swap the device for a file
        with pytest.raises(OutputPathError, match="is not a regular file"):
            check_output_path("/dev/null")


@pytest.mark.parametrize(("out", "message"), [("", "empty"), (".", "is a folder"), ("no/x.wav", "does not exist"),
                                              ("/dev/null", "not a regular file")])
def test_speak_output_paths_are_checked_before_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    out: str, message: str) -> None:
    from facevox.commands.speak import command
    from facevox.pipelines import speech

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the pipeline was built before -o was checked")
    monkeypatch.setattr(speech, "TextToSpeechPipeline", refuse)
    monkeypatch.chdir(tmp_path)
    if out.startswith("/dev") and not Path(out).exists():
        pytest.skip(f"no {out}")
    result = CliRunner().invoke(command, ["Hello.", "-o", out])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output


def test_sample_grid_too_big_for_pillow_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "grid.png"
    assert main(["face", "sample", "--n", "1024", "--scale", "16", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"a 25632x25632 PNG ({25632 * 25632:,} pixels), more than" in err
    assert "more than the 89,478,485 pixels Pillow opens" in err and "PIL.Image.MAX_IMAGE_PIXELS" in err
    assert "at --scale 16, --n 132 at most" in err
    assert not out.exists()
    assert main(["face", "sample", "--n", "4", "--scale", "1", "-o", str(out)]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning
        Image.open(out).load()


def test_grid_arithmetic_matches_make_grid_and_pillow() -> None:
    from facevox_face.cli import _most_samples, _sample_layout
    from facevox_face.grid import grid_shape, make_grid, png_pixel_limit

    for n in (1, 2, 5, 9, 10, 17):
        rows, cols = _sample_layout(n)
        faces = torch.rand(n, 1, 6, 5)
        grid = make_grid([faces[i : i + cols] for i in range(0, n, cols)], scale=3)
        assert grid.shape == grid_shape(rows, cols, (6, 5), scale=3)
    limit = png_pixel_limit()
    assert limit == Image.MAX_IMAGE_PIXELS == 89_478_485
    most = _most_samples((48, 48), 16, limit)
    assert most == 132
    assert math.prod(grid_shape(*_sample_layout(most), (48, 48), scale=16)) <= limit
    assert math.prod(grid_shape(*_sample_layout(most + 1), (48, 48), scale=16)) > limit


def test_save_png_refuses_a_png_pillow_would_not_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    from facevox_face.grid import save_png

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ValueError, match="more pixels than the 100 Pillow opens by default"):
        save_png(np.zeros((10, 11), dtype=np.uint8), tmp_path / "x.png")
    assert not list(tmp_path.iterdir())
