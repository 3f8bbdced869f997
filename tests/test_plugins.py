"""Plugin manager: entry-point loading, isolation of faulty plugins, env switches, duplicates."""

from __future__ import annotations

import json
import textwrap
import warnings
from pathlib import Path

import facevox
import pytest
import toy_plugin
from facevox import plugins
from facevox.cli import main


def _fake_distribution(root: Path, dist: str, module: str, entry: str, source: str) -> None:
    """Install a fake distribution on ``root``: a module plus dist-info with a facevox entry point."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[facevox]\n{entry} = {module}\n")


GOOD_SOURCE = """
    import sys
    sys.path.insert(0, {tests!r})
    from facevox import hookimpl
    import toy_plugin

    @hookimpl
    def register_models(register):
        register(toy_plugin.toy_spec("fake.good"))
"""


@pytest.fixture
def fake_dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    tests = str(Path(__file__).parent)
    _fake_distribution(tmp_path, "fvx-fake-good", "fvx_fake_good", "fakegood", GOOD_SOURCE.format(tests=tests))
    _fake_distribution(tmp_path, "fvx-fake-broken", "fvx_fake_broken", "fakebroken", "raise ImportError('missing thing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.reset_plugin_manager()
    yield
    monkeypatch.undo()
    plugins.reset_plugin_manager()


def test_entry_points_load_and_broken_plugin_is_isolated(fake_dists: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEVOX_LOAD_PLUGINS", "fakegood,fakebroken")
    with pytest.warns(plugins.PluginWarning) as record:
        names = facevox.list_models()
    messages = [str(w.message) for w in record if "fvx-fake-broken" in str(w.message)]
    assert len(messages) == 1, [str(w.message) for w in record]
    assert "fakebroken" in messages[0] and "ImportError: missing thing" in messages[0]
    assert "fake.good" in names
    assert facevox.model_info("fake.good")["plugin"] == "fakegood"
    info = plugins.plugin_info("fakegood")
    assert (info.distribution, info.version, info.builtin) == ("fvx-fake-good", "1.2.3", False)


def test_load_plugins_env_restricts_third_party(fake_dists: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEVOX_LOAD_PLUGINS", "")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        loaded = {p.name for p in plugins.list_plugins()}
    assert not [w for w in record if "fakebroken" in str(w.message)]  # not even imported
    assert "fakegood" not in loaded and "fakebroken" not in loaded
    assert all(p.builtin for p in plugins.list_plugins())
    assert "fake.good" not in facevox.list_models()


def test_plugins_command_lists_third_party_with_hooks_and_models(
    fake_dists: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FACEVOX_LOAD_PLUGINS", "fakegood")
    assert main(["plugins"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["fakegood"]["hooks"] == ["register_models"]
    assert listed["fakegood"]["models"] == ["fake.good"]
    assert listed["fakegood"]["version"] == "1.2.3"


def test_trace_env_prints_hook_calls(isolated_plugins: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FACEVOX_TRACE_PLUGINS", "1")
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")
    facevox.list_models()
    err = capsys.readouterr().err
    assert "calling hook register_models on plugin 'toy'" in err
    assert "registered 1 item" in err


def test_plugin_raising_in_hook_is_skipped_and_named(isolated_plugins: None) -> None:
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")
    plugins.register_plugin(toy_plugin.BrokenHookPlugin(), name="broken")
    with pytest.warns(plugins.PluginWarning, match=r"plugin 'broken' raised in hook register_models: RuntimeError: boom in hook"):
        names = facevox.list_models()
    assert names == ["toy.tiny"]  # the broken plugin's partial registration is dropped


def test_duplicate_model_names_both_providers(isolated_plugins: None) -> None:
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="first")
    plugins.register_plugin(toy_plugin.DuplicatePlugin(), name="second")
    with pytest.raises(facevox.DuplicateModelError, match=r"'toy.tiny' is registered twice.*'first'.*'second'"):
        facevox.list_models()


def test_unknown_model_is_keyerror_with_close_matches(isolated_plugins: None) -> None:
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")
    with pytest.raises(KeyError) as info:
        facevox.create_model("toy.tinny")
    assert isinstance(info.value, facevox.UnknownModelError)
    assert "did you mean 'toy.tiny'" in str(info.value)


def test_register_plugin_twice_is_an_error(isolated_plugins: None) -> None:
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")
    with pytest.raises(ValueError, match="already registered"):
        plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")
    plugins.unregister_plugin("toy")
    assert facevox.list_models() == []


def test_manager_is_built_once() -> None:
    assert plugins.get_plugin_manager() is plugins.get_plugin_manager()
