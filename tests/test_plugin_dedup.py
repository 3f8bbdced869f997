"""Entry points are deduplicated by (distribution, name), not by name (issue 17, item 6).

Each test writes small fake distributions (a module plus a ``.dist-info`` with a ``facevox``
entry point) under ``tmp_path`` and makes ``importlib.metadata.entry_points``, as the plugin
manager calls it, return exactly the entry points the test chooses: those fakes, and facevox's
own built-ins only where a test needs them.
"""

from __future__ import annotations

import importlib.metadata as metadata
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import facevox
import pytest
from facevox import plugins, registry
from plugin_fakes import fake_entry_points
from plugin_fakes import recorded as _recorded

TESTS = str(Path(__file__).parent)
_real_entry_points = metadata.entry_points  # the fixture replaces it in importlib.metadata itself

def _write_distribution(root: Path, dist: str, entry: str, model: str, module: str | None = None) -> list[metadata.EntryPoint]:
    """Distribution ``dist`` 1.2.3 on ``root``: entry point ``entry`` is a module registering model ``model``."""
    module = module or dist.replace("-", "_").lower()
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {TESTS!r})
        from facevox import hookimpl
        import toy_plugin

        @hookimpl
        def register_models(register):
            register(toy_plugin.toy_spec({model!r}))
    """))
    info = root / f"{module}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[facevox]\n{entry} = {module}\n")
    return [ep for ep in metadata.PathDistribution(info).entry_points if ep.group == "facevox"]


def _builtins() -> list[metadata.EntryPoint]:
    found = [ep for ep in _real_entry_points(group="facevox") if ep.dist and ep.dist.metadata["Name"] == "facevox"]
    assert {ep.name for ep in found} == set(plugins.DEFAULT_PLUGINS)
    return found


@pytest.fixture
def entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[metadata.EntryPoint]]:
    """The list the plugin manager enumerates (fill it, then build the manager); starts empty."""
    listed: list[metadata.EntryPoint] = []

    def fake(**params: Any) -> list[metadata.EntryPoint]:
        assert params == {"group": plugins.ENTRY_POINT_GROUP}
        return list(listed)

    with fake_entry_points(monkeypatch, tmp_path, fake):
        yield listed


def _loaded() -> dict[str, plugins.PluginInfo]:
    return {p.name: p for p in plugins.list_plugins()}


def test_third_party_named_like_a_builtin_loads_beside_it_with_one_warning(
        entry_points: list[metadata.EntryPoint], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # third party first: enumeration order must not let it take the built-in's name
    entry_points[:] = [*_write_distribution(tmp_path, "fvx-tts", "tts", "fvxtts.tiny"), *_builtins()]
    names, messages = _recorded(facevox.list_models)
    builtin, third = plugins.plugin_info("tts"), plugins.plugin_info("fvx-tts:tts")
    assert (builtin.distribution, builtin.builtin) == ("facevox", True)
    assert (third.distribution, third.version, third.builtin) == ("fvx-tts", "1.2.3", False)
    assert sorted(p.name for p in plugins.list_plugins() if p.builtin) == sorted(plugins.DEFAULT_PLUGINS)
    assert registry.model_provider("tts.fastspeech_joe") == "tts"  # the built-in keeps its plugin name
    assert registry.model_provider("fvxtts.tiny") == "fvx-tts:tts"
    assert "tts.fastspeech_joe" in names and "fvxtts.tiny" in names
    [clash] = [m for m in messages if "fvx-tts" in m]
    assert "dist facevox " in clash and "dist fvx-tts 1.2.3" in clash and "'tts'" in clash
    assert "FACEVOX_LOAD_PLUGINS=fvx-tts:tts" in clash

    for wanted, loaded in [("", False), ("fvx-tts:tts", True), ("FVX_tts:tts", True), ("tts", True),
                           ("other:tts", False)]:
        monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, wanted)
        plugins.reset_plugin_manager()
        now, messages = _recorded(_loaded)
        assert ("fvx-tts:tts" in now, len(messages)) == (loaded, int(loaded)), (wanted, messages)
        assert now["tts"].distribution == "facevox"


def test_two_third_parties_with_one_name_both_load_with_one_warning(
        entry_points: list[metadata.EntryPoint], tmp_path: Path) -> None:
    entry_points[:] = [*_write_distribution(tmp_path, "fvx-alpha", "foo", "alpha.tiny"),
                       *_write_distribution(tmp_path, "fvx-beta", "foo", "beta.tiny")]
    names, messages = _recorded(facevox.list_models)
    loaded = _loaded()
    assert sorted(loaded) == ["foo", "fvx-beta:foo"]
    assert (loaded["foo"].distribution, loaded["fvx-beta:foo"].distribution) == ("fvx-alpha", "fvx-beta")
    assert names == ["alpha.tiny", "beta.tiny"]
    assert (registry.model_provider("alpha.tiny"), registry.model_provider("beta.tiny")) == ("foo", "fvx-beta:foo")
    assert len(messages) == 1, messages
    assert "dist fvx-alpha 1.2.3" in messages[0] and "dist fvx-beta 1.2.3" in messages[0]
    assert "both are loaded" in messages[0]


def test_load_plugins_env_chooses_one_of_two_clashing_third_parties(
        entry_points: list[metadata.EntryPoint], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry_points[:] = [*_write_distribution(tmp_path, "fvx-alpha", "foo", "alpha.tiny"),
                       *_write_distribution(tmp_path, "fvx-beta", "foo", "beta.tiny")]
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "fvx-beta:foo")
    names, messages = _recorded(facevox.list_models)
    assert names == ["beta.tiny"] and messages == []
    assert {name: p.distribution for name, p in _loaded().items()} == {"foo": "fvx-beta"}  # alone: the plain name

    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, " bar , foo ")  # the plain name selects both
    plugins.reset_plugin_manager()
    names, messages = _recorded(facevox.list_models)
    assert names == ["alpha.tiny", "beta.tiny"] and len(messages) == 1


def test_same_distribution_found_twice_loads_once_silently(
        entry_points: list[metadata.EntryPoint], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _write_distribution(tmp_path, "fvx-same", "same", "same.tiny")
    # the same distribution again (further down sys.path, not importable), its name spelled differently
    again = _write_distribution(tmp_path / "site2", "Fvx_Same", "same", "same.other", module="fvx_same")
    assert [ep.dist.metadata["Name"] for ep in [*first, *again] if ep.dist] == ["fvx-same", "Fvx_Same"]
    entry_points[:] = [*first, *again, *first]
    names, messages = _recorded(facevox.list_models)
    assert messages == []
    assert [(p.name, p.distribution) for p in plugins.list_plugins()] == [("same", "fvx-same")]
    assert names == ["same.tiny"]


def test_entry_points_without_metadata_are_told_apart_by_module(
        entry_points: list[metadata.EntryPoint], tmp_path: Path) -> None:
    for module, model in [("fvx_nodist_a", "nodista.tiny"), ("fvx_nodist_b", "nodistb.tiny")]:
        _write_distribution(tmp_path, module, "foo", model)
    entry_points[:] = [metadata.EntryPoint("foo", "fvx_nodist_a", "facevox"),
                       metadata.EntryPoint("foo", "fvx_nodist_b", "facevox"),
                       metadata.EntryPoint("foo", "fvx_nodist_a", "facevox")]  # this one twice: loaded once
    names, messages = _recorded(facevox.list_models)
    assert names == ["nodista.tiny", "nodistb.tiny"]
    assert sorted(_loaded()) == ["foo", "fvx_nodist_b:foo"]
    assert len(messages) == 1, messages


def test_cache_invalidation_api_is_public_and_documented() -> None:
    for name in ("on_change", "invalidate_caches", "generation"):
        assert name in plugins.__all__ and callable(getattr(plugins, name))
        assert f":func:`{name}`" in (plugins.__doc__ or "")
    assert all(hasattr(plugins, name) for name in plugins.__all__)
