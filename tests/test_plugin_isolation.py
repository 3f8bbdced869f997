"""Plugins cannot take the host down (issue 18.2) and entry points are keyed by distribution (issue 17.6).

Each test installs small fake distributions on ``tmp_path`` (a module plus a ``.dist-info`` with
a ``facevox`` entry point) and makes ``importlib.metadata.entry_points`` return those first, then
facevox's own built-ins, so nothing else that happens to be installed is loaded.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import facevox
import pytest
import toy_plugin
from facevox import FacevoxError, hookimpl, plugins
from facevox.cli import main
from facevox.registry import PluginFactoryError
from facevox.styles import SpeechStyle
from plugin_fakes import fake_entry_points
from plugin_fakes import recorded as _recorded

TESTS = str(Path(__file__).parent)

HEADER = f"""
import sys
sys.path.insert(0, {TESTS!r})
import numpy as np
from facevox import FaceDetector, hookimpl
import toy_plugin
"""

SOURCES = {
    "exit": "import sys\nsys.exit(3)\n",
    "raise": "raise RuntimeError('plugin exploded at import')\n",
    "base": "class Doom(BaseException):\n    pass\nraise Doom('not even an Exception')\n",
    "reentrant": "import facevox\nfacevox.list_models()\n",
    "hook_raises": HEADER + """
@hookimpl
def register_face_detectors(register):
    register("hookraises.det", lambda: None)

@hookimpl
def register_models(register):
    register(toy_plugin.toy_spec("hookraises.half"))
    sys.exit("quit from a hook")
""",
    "garbage": HEADER + """
@hookimpl
def register_models(register):
    register(toy_plugin.toy_spec("garbage.first"))
    register("garbage")

@hookimpl
def register_face_detectors(register):
    register("garbage.det", lambda: None)
""",
    "good": HEADER + """
@hookimpl
def register_models(register):
    register(toy_plugin.toy_spec("good.tiny"))
""",
    "expression": HEADER + """
@hookimpl
def register_models(register):
    register(toy_plugin.toy_spec("thirdparty.expr"))
""",
    "clash": HEADER + """
@hookimpl
def register_models(register):
    register(toy_plugin.toy_spec("expression.resmasknet"))
    register(toy_plugin.toy_spec("clash.own"))

class _Fake(FaceDetector):
    def detect(self, image):
        return []

@hookimpl
def register_face_detectors(register):
    register("opencv.haar", _Fake)
""",
    "clash2": HEADER + """
@hookimpl
def register_models(register):
    register(toy_plugin.toy_spec("clash.own"))
""",
    "badfactory": HEADER + """
import dataclasses

def _broken():
    raise ValueError("no cascade file")

def _wrong():
    return 42

def _exits(config):
    raise SystemExit(7)

@hookimpl
def register_face_detectors(register):
    register("bad.raises", _broken)
    register(name="bad.wrong", factory=_wrong)

@hookimpl
def register_models(register):
    register(dataclasses.replace(toy_plugin.toy_spec("bad.model"), factory=_exits))
""",
}


def _install(root: Path, dist: str, entry: str, source: str) -> None:
    """A fake distribution ``dist`` (``fvx-*``) 1.2.3 on ``root`` whose ``facevox`` entry point ``entry`` is a new module."""
    module = dist.replace("-", "_")
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[facevox]\n{entry} = {module}\n")


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``install(dist, entry, kind)``: a fake distribution whose module is ``SOURCES[kind]``."""
    builtins = [ep for ep in metadata.entry_points(group="facevox") if ep.dist and ep.dist.metadata["Name"] == "facevox"]
    assert {ep.name for ep in builtins} == set(plugins.DEFAULT_PLUGINS)

    def entry_points(**params: Any) -> list[metadata.EntryPoint]:
        assert params == {"group": "facevox"}
        fakes = [ep for info in sorted(tmp_path.glob("*.dist-info"))
                 for ep in metadata.PathDistribution(info).entry_points if ep.group == "facevox"]
        return [*fakes, *builtins]  # third parties first: they must still not hide a built-in

    def add(dist: str, entry: str, kind: str) -> None:
        _install(tmp_path, dist, entry, SOURCES[kind])

    with fake_entry_points(monkeypatch, tmp_path, entry_points):
        yield add


def _about(messages: list[str], dist: str) -> list[str]:
    return [m for m in messages if dist in m]


# ------------------------------------------------------------------------------ import


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("exit", r"SystemExit (sys.exit(3) called)"),
        ("raise", "RuntimeError: plugin exploded at import"),
        ("base", "Doom: not even an Exception"),
        ("reentrant", "RuntimeError: facevox's plugin manager was used while plugins were being imported"),
    ],
)
def test_plugin_failing_at_import_is_dropped_with_one_warning(install: Callable[..., None], kind: str, error: str) -> None:
    install("fvx-bad", "badplugin", kind)
    install("fvx-good", "goodplugin", "good")
    names, messages = _recorded(facevox.list_models)
    about = _about(messages, "fvx-bad")
    assert len(about) == 1, messages
    assert "'badplugin'" in about[0] and "fvx-bad 1.2.3" in about[0] and error in about[0]
    assert "good.tiny" in names and "expression.resmasknet" in names
    assert [d.plugin.name for d in plugins.dropped_plugins()] == ["badplugin"]
    assert "badplugin" not in {p.name for p in plugins.list_plugins()}


def test_keyboard_interrupt_at_import_is_not_swallowed(install: Callable[..., None], tmp_path: Path) -> None:
    _install(tmp_path, "fvx-ctrlc", "ctrlc", "raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        plugins.get_plugin_manager()


# ------------------------------------------------------------------------------ hooks


def test_plugin_whose_hook_raises_is_dropped_with_all_its_registrations(install: Callable[..., None]) -> None:
    install("fvx-hookraises", "hookraises", "hook_raises")
    detectors, before = _recorded(facevox.list_face_detectors)
    assert "hookraises.det" in detectors and not before  # its detector hook is fine on its own
    names, messages = _recorded(facevox.list_models)
    about = _about(messages, "fvx-hookraises")
    assert len(about) == 1, messages
    assert "'hookraises' (dist fvx-hookraises 1.2.3) raised in hook register_models" in about[0]
    assert "SystemExit (sys.exit('quit from a hook') called)" in about[0]
    assert "hookraises.half" not in names and "expression.resmasknet" in names
    detectors, after = _recorded(facevox.list_face_detectors)
    assert "hookraises.det" not in detectors and "opencv.haar" in detectors and not after  # dropped, no second warning
    assert "hookraises" not in {p.name for p in plugins.list_plugins()}


def test_register_garbage_drops_the_plugin(install: Callable[..., None]) -> None:
    install("fvx-garbage", "garbage", "garbage")
    names, messages = _recorded(facevox.list_models)
    about = _about(messages, "fvx-garbage")
    assert len(about) == 1, messages
    assert "called register() wrongly in hook register_models" in about[0]
    assert "register(str 'garbage'): expected a facevox.ModelSpec, got str 'garbage'" in about[0]
    assert "garbage.first" not in names and "expression.resmasknet" in names
    assert "garbage.det" not in facevox.list_face_detectors()


def test_cli_survives_every_kind_of_broken_plugin(tmp_path: Path) -> None:
    """The real ``facevox plugins`` and ``facevox models`` in a fresh interpreter: exit code 0, one line per bad plugin."""
    bad = {"fvx-exit": "exit", "fvx-raise": "raise", "fvx-hookraises": "hook_raises", "fvx-garbage": "garbage"}
    for dist, kind in bad.items():
        _install(tmp_path, dist, kind.replace("_", ""), SOURCES[kind])
    _install(tmp_path, "fvx-expression", "expression", SOURCES["expression"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), TESTS]), "OMP_NUM_THREADS": "1"}
    env.pop("FACEVOX_LOAD_PLUGINS", None)
    script = ("import sys; from facevox.cli import main; rc = main(['plugins']); print('@@'); "
              "sys.exit(rc or main(['models', '--pattern', 'thirdparty.*']))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    listing, models = result.stdout.split("@@\n")
    loaded = {p["name"]: p for p in json.loads(listing)}
    assert "expression.resmasknet" in loaded["expression"]["models"] and loaded["expression"]["builtin"]
    third = loaded["fvx-expression:expression"]
    assert (third["distribution"], third["builtin"], third["models"]) == ("fvx-expression", False, ["thirdparty.expr"])
    assert not set(loaded) & {"exit", "raise", "hookraises", "garbage"}
    assert [m["name"] for m in json.loads(models)] == ["thirdparty.expr"]
    assert "Traceback" not in result.stderr
    for dist in bad:
        assert len([line for line in result.stderr.splitlines() if dist in line]) == 1, (dist, result.stderr)


# ------------------------------------------------------------------------------ register(...) checks


def _detector() -> facevox.FaceDetector:
    raise AssertionError("never built")


@click.command("cmd")
def _cmd() -> None:
    """A command."""


BAD_CALLS = [
    ("register_models", ("garbage",), {}, "expected a facevox.ModelSpec, got str 'garbage'"),
    ("register_models", (), {}, "missing a required argument: 'spec'"),
    ("register_models", (toy_plugin.toy_spec("x.a"), toy_plugin.toy_spec("x.b")), {}, "too many positional arguments"),
    ("register_face_detectors", ("only.name",), {}, "missing a required argument: 'factory'"),
    ("register_face_detectors", (7, _detector), {}, "the face detector name must be a non-empty str, got int 7"),
    ("register_face_detectors", ("x.det", "not callable"), {}, "the face detector factory must be callable"),
    ("register_face_detectors", ("x.det", _detector), {"colour": 1}, "got an unexpected keyword argument 'colour'"),
    ("register_text_processors", ("", _detector), {}, "the text processor name must be a non-empty str"),
    ("register_speech_styles", ("happy",), {}, "expected a facevox.SpeechStyle, got str 'happy'"),
    ("register_commands", (print,), {}, "expected a named click.Command, got builtin_function_or_method"),
    ("register_trainers", (None,), {}, "expected a named click.Command, got NoneType None"),
]


def _plugin_calling(hook: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
    """A plugin that registers a model, and makes one call ``register(*args, **kwargs)`` in ``hook``."""

    class BadCaller:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register(toy_plugin.toy_spec("badcaller.model"))

    def bad(self: object, register: Callable[..., None]) -> None:
        register(*args, **kwargs)

    setattr(BadCaller, hook, hookimpl(bad))  # for register_models, the bad call replaces the good one
    return BadCaller()


def _collect(hook: str) -> Any:
    return {
        "register_models": facevox.list_models,
        "register_face_detectors": facevox.list_face_detectors,
        "register_text_processors": facevox.list_text_processors,
        "register_speech_styles": facevox.list_speech_styles,
        "register_commands": lambda: plugins.collect_hook("register_commands"),
        "register_trainers": lambda: plugins.collect_hook("register_trainers"),
    }[hook]()


@pytest.mark.parametrize(("hook", "args", "kwargs", "fault"), BAD_CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_CALLS)])
def test_bad_register_call_drops_the_plugin(isolated_plugins: None, hook: str, args: tuple[Any, ...],
                                            kwargs: dict[str, Any], fault: str) -> None:
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")
    plugins.register_plugin(_plugin_calling(hook, args, kwargs), name="badcaller")
    _, messages = _recorded(lambda: _collect(hook))
    assert len(messages) == 1, messages
    assert f"plugin 'badcaller' called register() wrongly in hook {hook}: register(" in messages[0]
    assert fault in messages[0]
    assert facevox.list_models() == ["toy.tiny"]  # its other registrations went with it
    assert [p.name for p in plugins.list_plugins()] == ["toy"]


def test_a_name_registered_twice_by_one_plugin_drops_it(isolated_plugins: None) -> None:
    class _Twice:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register(toy_plugin.toy_spec("twice.model"))
            register(toy_plugin.toy_spec("twice.model"))

    plugins.register_plugin(_Twice(), name="twice")
    names, messages = _recorded(facevox.list_models)
    assert names == [] and len(messages) == 1
    assert "'twice.model' is registered twice by this plugin" in messages[0]


def test_good_register_calls_of_every_hook_pass(isolated_plugins: None) -> None:
    class _Good:
        @hookimpl
        def register_face_detectors(self, register):  # type: ignore[no-untyped-def]
            register(name="good.det", factory=_detector)  # keywords are fine too

        @hookimpl
        def register_speech_styles(self, register):  # type: ignore[no-untyped-def]
            register(SpeechStyle("calm", rate=0.9))

        @hookimpl
        def register_commands(self, register):  # type: ignore[no-untyped-def]
            register(_cmd)

    plugins.register_plugin(_Good(), name="good")
    _, messages = _recorded(lambda: (facevox.list_face_detectors(), facevox.list_speech_styles(),
                                     plugins.collect_hook("register_commands")))
    assert messages == []
    assert facevox.list_face_detectors() == ["good.det"]
    assert plugins.collect_hook("register_commands") == [("good", (_cmd,))]


def test_register_after_the_hook_returned_is_refused(isolated_plugins: None) -> None:
    kept: list[Callable[..., None]] = []

    class _Keeper:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            kept.append(register)

    plugins.register_plugin(_Keeper(), name="keeper")
    assert facevox.list_models() == []
    with pytest.raises(RuntimeError, match="called after the hook returned"):
        kept[0](toy_plugin.toy_spec("late.model"))


# ------------------------------------------------------------------------------ factories


def test_detector_factory_failure_names_the_plugin(install: Callable[..., None]) -> None:
    install("fvx-badfactory", "badfactory", "badfactory")
    with pytest.raises(PluginFactoryError) as info:
        facevox.create_face_detector("bad.raises")
    assert isinstance(info.value, FacevoxError)
    assert str(info.value) == ("face detector 'bad.raises' from plugin 'badfactory' (dist fvx-badfactory 1.2.3) "
                               "failed to build: ValueError: no cascade file")
    assert isinstance(info.value.__cause__, ValueError)
    assert (info.value.kind, info.value.name, info.value.plugin) == ("face detector", "bad.raises", "badfactory")
    with pytest.raises(PluginFactoryError, match=r"'bad.wrong' from plugin 'badfactory' .*returned int, not a facevox.FaceDetector"):
        facevox.create_face_detector("bad.wrong")
    assert facevox.create_face_detector().detect  # the built-in default still builds


def test_model_factory_failure_names_the_plugin(install: Callable[..., None], capsys: pytest.CaptureFixture[str]) -> None:
    install("fvx-badfactory", "badfactory", "badfactory")
    with pytest.raises(PluginFactoryError, match=r"model 'bad.model' from plugin 'badfactory' \(dist fvx-badfactory 1.2.3\) "
                                                  r"failed to build: SystemExit \(sys.exit\(7\) called\)") as info:
        facevox.create_model("bad.model")
    assert isinstance(info.value.__cause__, SystemExit)
    assert main(["info", "bad.model"]) == 1  # one line, not a traceback or an exit
    err = capsys.readouterr().err
    assert "facevox: error: model 'bad.model' from plugin 'badfactory'" in err and "Traceback" not in err


# ------------------------------------------------------------------------------ distributions and names


def test_third_party_entry_point_named_like_a_builtin_loads_beside_it(install: Callable[..., None],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    install("fvx-expression", "expression", "expression")
    names, messages = _recorded(facevox.list_models)
    [clash] = messages  # one warning, naming both distributions
    assert "dist facevox" in clash and "dist fvx-expression 1.2.3" in clash
    assert "expression.resmasknet" in names and "thirdparty.expr" in names
    assert facevox.model_info("expression.resmasknet")["plugin"] == "expression"
    builtin, third = plugins.plugin_info("expression"), plugins.plugin_info("fvx-expression:expression")
    assert (builtin.distribution, builtin.builtin) == ("facevox", True)
    assert (third.distribution, third.version, third.builtin) == ("fvx-expression", "1.2.3", False)
    assert facevox.registry.model_provider("thirdparty.expr") == "fvx-expression:expression"

    monkeypatch.setenv("FACEVOX_LOAD_PLUGINS", "")  # built-ins only: a third party named "expression" is not one
    plugins.reset_plugin_manager()
    names = facevox.list_models()
    assert "expression.resmasknet" in names and "thirdparty.expr" not in names


def test_same_distribution_found_twice_loads_once(install: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> None:
    install("fvx-good", "goodplugin", "good")
    twice = plugins.metadata.entry_points(group="facevox")
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda **_: [*twice, *twice])
    _, messages = _recorded(facevox.list_models)
    assert messages == [] and [p.name for p in plugins.list_plugins()].count("goodplugin") == 1


def test_builtin_name_clash_warns_naming_both_distributions_and_keeps_the_builtin(install: Callable[..., None]) -> None:
    install("fvx-clash", "clash", "clash")
    names, messages = _recorded(facevox.list_models)
    [about] = [m for m in messages if "'expression.resmasknet'" in m]
    assert "dist facevox 0.1.0" in about and "dist fvx-clash 1.2.3" in about
    assert "keeping the built-in one (set FACEVOX_ALLOW_OVERRIDE=1 to use fvx-clash's)" in about
    assert facevox.registry.model_provider("expression.resmasknet") == "expression"
    assert facevox.get_model_spec("expression.resmasknet").factory is not toy_plugin.ToyClassifier
    assert "clash.own" in names  # the rest of the plugin stays
    _, messages = _recorded(facevox.create_face_detector)
    assert [m for m in messages if "face detector 'opencv.haar'" in m and "fvx-clash" in m]
    assert type(facevox.create_face_detector()).__module__.startswith("facevox_expression")


def test_allow_override_lets_the_third_party_replace_a_builtin(install: Callable[..., None],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    install("fvx-clash", "clash", "clash")
    monkeypatch.setenv("FACEVOX_ALLOW_OVERRIDE", "1")
    _, messages = _recorded(facevox.list_models)
    [about] = [m for m in messages if "'expression.resmasknet'" in m]
    assert "using fvx-clash's, which replaces the built-in (FACEVOX_ALLOW_OVERRIDE=1)" in about
    assert facevox.registry.model_provider("expression.resmasknet") == "clash"
    assert facevox.get_model_spec("expression.resmasknet").factory is toy_plugin.ToyClassifier


def test_clash_between_two_third_parties_keeps_the_first(install: Callable[..., None]) -> None:
    install("fvx-clash", "clash", "clash")
    install("fvx-clash2", "clash2", "clash2")
    _, messages = _recorded(facevox.list_models)
    [about] = [m for m in messages if "'clash.own'" in m]
    assert "dist fvx-clash 1.2.3" in about and "dist fvx-clash2 1.2.3" in about
    assert "keeping the first, from fvx-clash;" in about
    assert facevox.registry.model_provider("clash.own") == "clash"


# ------------------------------------------------------------------------------ tracing and caches


def test_tracing_goes_through_pluggy_hook_call_monitoring(isolated_plugins: None, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FACEVOX_TRACE_PLUGINS", "1")
    plugins.reset_plugin_manager()
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")
    pm = plugins.get_plugin_manager()
    pm.hook.register_models(register=lambda spec: None)  # a plain pluggy call is traced too
    err = capsys.readouterr().err
    assert "facevox: calling hook register_models on plugin 'toy'" in err
    assert "facevox: hook register_models on 'toy' returned" in err


def test_on_change_and_invalidate_caches_are_public(isolated_plugins: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "_invalidators", list(plugins._invalidators))  # forget the test's subscriber after
    calls: list[int] = []
    assert plugins.on_change(lambda: calls.append(plugins.generation())) is not None
    start = plugins.generation()
    plugins.register_plugin(toy_plugin.ToyPlugin(), name="toy")
    assert facevox.list_models() == ["toy.tiny"]
    plugins.unregister_plugin("toy")
    assert facevox.list_models() == []
    plugins.invalidate_caches()
    assert calls == [start + 1, start + 2, start + 3]
