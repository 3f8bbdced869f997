"""Plugins can add a task: registered with its role, listed, defaulted and checked like a built-in one."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import facevox
import pytest
import task_plugin
import torch
from facevox import Task, hookimpl, plugins
from facevox.cli import main
from facevox.testing import ConformanceError, check_role, run_conformance


@pytest.fixture
def with_task_plugin() -> Iterator[None]:
    plugins.register_plugin(task_plugin.TaskPlugin(), name="speakers")
    yield
    plugins.unregister_plugin("speakers")


def test_builtin_tasks_are_known_without_plugins() -> None:
    assert set(facevox.list_tasks()) >= {t.value for t in Task}
    assert facevox.task_info(Task.VOCODER).role is facevox.Vocoder
    assert facevox.parse_task("vocoder") is Task.VOCODER
    with pytest.raises(ValueError, match="unknown task 'speaker-embedding'; accepted: acoustic-model"):
        facevox.parse_task("speaker-embedding")


def test_a_plugin_task_is_listed_defaulted_and_built(with_task_plugin: None) -> None:
    assert "speaker-embedding" in facevox.list_tasks()
    info = facevox.task_info("speaker-embedding")
    assert info.role is task_plugin.SpeakerEncoder and info.plugin == "speakers" and "unit-norm" in info.summary
    assert facevox.list_models(task="speaker-embedding") == ["spk.meanpool"]
    assert facevox.default_model("speaker-embedding") == "spk.meanpool"
    assert facevox.model_info("spk.meanpool")["task"] == "speaker-embedding"
    model = facevox.create_model("spk.meanpool")
    torch.manual_seed(0)
    mels = torch.randn(2, 8, 10)
    emb = model(mels, torch.tensor([10, 4]))
    assert torch.allclose(emb.norm(dim=-1), torch.ones(2), atol=1e-5)
    # frames past an item's length do not change its embedding
    altered = mels.clone()
    altered[1, :, 4:] = 100.0
    assert torch.allclose(model(altered, torch.tensor([10, 4]))[1], emb[1], atol=1e-6)


def test_the_conformance_suite_runs_on_a_plugin_task(with_task_plugin: None, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run_conformance("spk.meanpool", tmp_path)


def test_the_role_of_a_plugin_task_is_enforced(with_task_plugin: None) -> None:
    class NotAnEncoder(facevox.FacevoxModel):
        def __init__(self, config: task_plugin.MeanPoolConfig) -> None:
            super().__init__()
            self.config = config
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.w

        def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> tuple[torch.Tensor]:
            return (torch.zeros(batch_size, 1),)

    class Wrong:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register(task_plugin.spec("spk.wrong", default=False, factory=NotAnEncoder))

    plugins.register_plugin(Wrong(), name="wrongrole")
    try:
        with pytest.raises(ConformanceError, match="task 'speaker-embedding' needs a SpeakerEncoder, got NotAnEncoder"):
            check_role("spk.wrong", facevox.create_model("spk.wrong", pretrained=False))
    finally:
        plugins.unregister_plugin("wrongrole")


def test_a_model_of_an_unregistered_task_is_skipped_with_a_warning() -> None:
    class Orphan:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register(task_plugin.spec("spk.orphan"))

    plugins.register_plugin(Orphan(), name="orphan")
    try:
        with pytest.warns(plugins.PluginWarning, match="model 'spk.orphan' .* skipped: its task 'speaker-embedding' is not"):
            names = facevox.list_models()
        assert "spk.orphan" not in names and "vocos.joe" in names
    finally:
        plugins.unregister_plugin("orphan")


@pytest.mark.parametrize(("args", "fault"), [
    (("vocoder", task_plugin.SpeakerEncoder), "is a built-in task"),
    (("Speaker Embedding", task_plugin.SpeakerEncoder), "lower-case words joined by '-'"),
    (("speaker-embedding", torch.nn.Linear), "subclass of facevox.FacevoxModel"),
])
def test_bad_task_registrations_drop_the_plugin(args: tuple[object, ...], fault: str) -> None:
    class Bad:
        @hookimpl
        def register_tasks(self, register):  # type: ignore[no-untyped-def]
            register(*args)

    plugins.register_plugin(Bad(), name="badtask")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tasks = facevox.list_tasks()
        assert "speaker-embedding" not in tasks
        assert any(fault in str(w.message) and "badtask" in str(w.message) for w in caught), [str(w.message) for w in caught]
        assert "badtask" not in [p.name for p in plugins.list_plugins()]  # dropped whole
    finally:
        if plugins.get_plugin_manager().has_plugin("badtask"):
            plugins.unregister_plugin("badtask")


def test_cli_lists_models_of_a_plugin_task(with_task_plugin: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--task", "speaker-embedding"]) == 0
    assert '"name": "spk.meanpool"' in capsys.readouterr().out
    assert main(["models", "--task", "speaker-id"]) == 2
    assert "unknown task 'speaker-id'; accepted: acoustic-model" in capsys.readouterr().err
