"""The facevox CLI: JSON listings, cards, help on every command, user errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
import toy_plugin
from facevox import plugins
from facevox.cli import cli, main


@pytest.fixture
def toy(isolated_plugins: None) -> None:
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")


def test_models_and_info_json(toy: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--task", "expression-classification"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [{"name": "toy.tiny", "task": "expression-classification", "plugin": "toy", "pretrained": False, "params": 8 * 8 * 4 + 4 + 4 * 2 + 2}]
    assert main(["info", "toy.tiny"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["labels"] == ["calm", "excited"] and card["metrics"] == {"params": 270}
    assert card["preprocessing"]["input_size"] == [1, 8, 8]


def test_unknown_model_is_a_user_error(toy: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "toy.tinyy"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "facevox: error: unknown model 'toy.tinyy'; did you mean 'toy.tiny'?" in captured.err
    assert "Traceback" not in captured.err


def test_bad_option_is_a_usage_error(toy: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--task", "juggling"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--task': unknown task 'juggling'; accepted: acoustic-model" in err


def _all_commands(group: click.Group, ctx: click.Context, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        out.append((*prefix, name))
        if isinstance(command, click.Group):
            out.extend(_all_commands(command, click.Context(command, parent=ctx), (*prefix, name)))
    return out


def test_help_on_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    plugins.reset_plugin_manager()
    commands = _all_commands(cli, click.Context(cli))
    assert ("plugins",) in commands and ("models",) in commands and ("train",) in commands
    for path in commands:
        assert main([*path, "--help"]) == 0, path
        out = capsys.readouterr().out
        assert "Usage: facevox " + " ".join(path) in out, path


def test_console_script_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "facevox.cli", "info", "no.such_model"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "facevox: error: unknown model 'no.such_model'" in done.stderr
    assert "Traceback" not in done.stderr


def test_pipelines_are_lazy_top_level_names() -> None:
    code = (
        "import sys, facevox; assert 'facevox.pipelines.speech' not in sys.modules; "
        "from facevox import TextToSpeechPipeline, FaceEmotionPipeline, FaceToVoicePipeline; "
        "from facevox.pipelines.speech import UntrainedModelWarning as A; "
        "from facevox.pipelines.emotion import UntrainedModelWarning as B; "
        "assert A is B is facevox.UntrainedModelWarning; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr
