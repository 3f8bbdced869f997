"""One test per hook (datasette's rule): each hook's registrations reach facevox."""

from __future__ import annotations

import click
import facevox
import numpy as np
import pytest
import toy_plugin
from click.testing import CliRunner
from facevox import FaceBox, FaceDetector, TextProcessor, hookimpl, plugins
from facevox.cli import cli
from torch import Tensor


class _Detector(FaceDetector):
    name = "toy.center"

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        h, w = image.shape[:2]
        return [FaceBox(w // 4, h // 4, w // 2, h // 2, 0.9)]


class _Chars(TextProcessor):
    name = "toy.chars"
    symbols = ("_", "a", "b")

    def normalize(self, text: str) -> str:
        return text.lower()

    def __call__(self, texts):  # type: ignore[no-untyped-def]
        import torch

        ids = [[self.symbols.index(c) for c in self.normalize(t) if c in self.symbols] for t in texts]
        lengths = torch.tensor([len(i) for i in ids])
        out = torch.zeros(len(ids), int(lengths.max()), dtype=torch.int64)
        for row, seq in enumerate(ids):
            out[row, : len(seq)] = torch.tensor(seq)
        return out, lengths


@click.command("hello")
@click.argument("who")
def _hello(who: str) -> None:
    """Say hello."""
    click.echo(f"hello {who}")


@click.command("toy")
@click.option("--epochs", type=int, default=1)
def _train_toy(epochs: int) -> None:
    """Train the toy."""
    click.echo(f"trained {epochs}")


class _AllHooks:
    @hookimpl
    def register_face_detectors(self, register):  # type: ignore[no-untyped-def]
        register("toy.center", _Detector)

    @hookimpl
    def register_text_processors(self, register):  # type: ignore[no-untyped-def]
        register("toy.chars", _Chars)

    @hookimpl
    def register_commands(self, register):  # type: ignore[no-untyped-def]
        register(_hello)

    @hookimpl
    def register_trainers(self, register):  # type: ignore[no-untyped-def]
        register(_train_toy)


@pytest.fixture
def hooks(isolated_plugins: None) -> None:
    plugins.register_plugin(_AllHooks(), name="allhooks")
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")


def test_hook_register_models(hooks: None) -> None:
    assert facevox.list_models() == ["toy.tiny"]
    assert facevox.list_models(task="expression-classification") == ["toy.tiny"]
    assert facevox.list_models(task="vocoder") == []
    assert facevox.list_models("toy.*") == ["toy.tiny"] and facevox.list_models("x.*") == []


def test_hook_register_face_detectors(hooks: None) -> None:
    detector = facevox.create_face_detector("toy.center")
    assert detector.detect(np.zeros((40, 80, 3), np.uint8)) == [FaceBox(20, 10, 40, 20, 0.9)]
    assert "toy.center" in facevox.list_face_detectors()


def test_hook_register_tasks(hooks: None) -> None:
    import task_plugin

    plugins.register_plugin(task_plugin.TaskPlugin(), name="speakers")
    assert facevox.task_info("speaker-embedding").role is task_plugin.SpeakerEncoder
    assert facevox.list_models(task="speaker-embedding") == ["spk.meanpool"]  # tests/test_tasks.py has the rest


def test_hook_register_text_processors(hooks: None) -> None:
    tokens, lengths = facevox.create_text_processor("toy.chars")(["AB", "b"])
    assert isinstance(tokens, Tensor)
    assert tokens.tolist() == [[1, 2], [2, 0]] and lengths.tolist() == [2, 1]


def test_hook_register_speech_styles(hooks: None) -> None:
    from facevox.styles import SpeechStyle, get_speech_style

    class _Loud:
        @hookimpl
        def register_speech_styles(self, register):  # type: ignore[no-untyped-def]
            register(SpeechStyle("angry", rate=1.3, pitch_semitones=0.0, energy_db=9.0))

    plugins.register_plugin(_Loud(), name="loud")
    assert get_speech_style("angry").energy_db == 9.0


def test_hook_register_commands(hooks: None) -> None:
    result = CliRunner().invoke(cli, ["hello", "world"])
    assert result.exit_code == 0 and result.output == "hello world\n"


def test_hook_register_trainers(hooks: None) -> None:
    result = CliRunner().invoke(cli, ["train", "toy", "--epochs", "3"])
    assert result.exit_code == 0 and result.output == "trained 3\n"
