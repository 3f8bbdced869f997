"""The plugin manager: one function builds it, entry points load lazily and once.

Plugins are modules published under the ``facevox`` entry-point group. The built-ins
(:data:`DEFAULT_PLUGINS`, from the ``facevox`` distribution) are registered exactly like a third
party's, in facevox's own ``pyproject.toml``. Entry points are told apart by (distribution,
name) (``Foo_Pkg`` is ``foo-pkg``): one seen twice (a distribution twice on ``sys.path``) loads
once, silently; two distributions' entry points of one name both load, the first (built-ins
first) as ``"<name>"``, the other as ``"<distribution>:<name>"``, with one :class:`PluginWarning`.

Environment switches:

* ``FACEVOX_LOAD_PLUGINS=name,name`` -- load the built-ins plus only these third-party
  entry points (empty: built-ins only; unset: everything installed); ``name`` selects every
  one of that name, ``distribution:name`` only that distribution's (to choose between a clash);
* ``FACEVOX_TRACE_PLUGINS=1`` -- trace every hook call and what it registered to stderr
  (pluggy's hook-call monitoring; read when the plugin manager is built);
* ``FACEVOX_ALLOW_OVERRIDE=1`` -- let a third-party plugin replace a built-in model, face
  detector or text processor of the same name (by default the built-in is kept).

Plugins cannot take the host down. A plugin that fails to import (any exception, ``sys.exit()``
included; only ``KeyboardInterrupt`` goes through), raises inside a hook, or calls
``register(...)`` with arguments its hook does not take, is dropped with one
:class:`PluginWarning` naming it (entry point and distribution) and the error; everything it
registered, from every hook, is dropped with it, and the rest keeps working.

Caches built from hook results (the registry's, the speech styles') subscribe with
:func:`on_change` and are cleared by :func:`invalidate_caches` whenever the set of plugins
changes; :func:`generation` changes with each invalidation (a rebuilt cache compares it).
"""

from __future__ import annotations

import importlib.metadata as metadata
import inspect
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from facevox import hookspecs

__all__ = [
    "ALLOW_OVERRIDE_ENV",
    "BUILTIN_DISTRIBUTION",
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "LOAD_PLUGINS_ENV",
    "TRACE_PLUGINS_ENV",
    "DroppedPlugin",
    "PluginInfo",
    "PluginWarning",
    "allow_override",
    "collect_hook",
    "dropped_plugins",
    "generation",
    "get_plugin_manager",
    "hooks_of",
    "invalidate_caches",
    "list_plugins",
    "on_change",
    "plugin_info",
    "register_plugin",
    "reset_plugin_manager",
    "unregister_plugin",
]

ENTRY_POINT_GROUP = "facevox"
#: Distribution that ships the built-in plugins.
BUILTIN_DISTRIBUTION = "facevox"
#: Entry-point names of the plugins that ship with facevox (always loaded).
DEFAULT_PLUGINS: tuple[str, ...] = ("expression", "face", "tts", "vocoders", "styles", "demo")

LOAD_PLUGINS_ENV = "FACEVOX_LOAD_PLUGINS"
TRACE_PLUGINS_ENV = "FACEVOX_TRACE_PLUGINS"
ALLOW_OVERRIDE_ENV = "FACEVOX_ALLOW_OVERRIDE"


class PluginWarning(UserWarning):
    """A plugin was dropped (failed to import, raised in a hook, called ``register`` wrongly), two
    plugins registered the same name, or two distributions publish entry points of one name."""


@dataclass
class PluginInfo:
    """One loaded plugin.

    Attributes:
        name: plugin name: the entry-point name, ``"<distribution>:<entry point>"`` when a
            plugin of that name is already loaded, or the name given to :func:`register_plugin`.
        distribution: the installed distribution that provides it, ``""`` if none.
        version: that distribution's version, ``""`` if none.
        module: the plugin object (usually a module).
        builtin: whether it is one of :data:`DEFAULT_PLUGINS` shipped inside facevox.
        entry_point: ``"name = module"`` of its entry point, ``""`` for plugins registered in code.
    """

    name: str
    distribution: str
    version: str
    module: Any = field(repr=False)
    builtin: bool = False
    entry_point: str = ""

    @property
    def label(self) -> str:
        """``"'name' (dist distribution version)"`` (or ``"'name'"``) for messages."""
        if self.distribution:
            return f"{self.name!r} (dist {' '.join(filter(None, (self.distribution, self.version)))})"
        return repr(self.name)


@dataclass(frozen=True)
class DroppedPlugin:
    """A plugin that was dropped, and why (see :func:`dropped_plugins`)."""

    plugin: PluginInfo
    reason: str


_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_building = False
_infos: dict[str, PluginInfo] = {}
_dropped: list[DroppedPlugin] = []


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def allow_override() -> bool:
    """Whether ``FACEVOX_ALLOW_OVERRIDE`` lets third-party plugins replace built-in names."""
    return _env_flag(ALLOW_OVERRIDE_ENV)


def _normalize(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _selector(text: str) -> str:
    """``text`` as matched against ``FACEVOX_LOAD_PLUGINS``: ``"Foo_Pkg:name"`` is ``"foo-pkg:name"``."""
    dist, sep, name = text.strip().rpartition(":")
    return f"{_normalize(dist)}:{name}" if sep else name


def _selected(names: Iterable[str], builtin: bool) -> bool:
    """Whether ``FACEVOX_LOAD_PLUGINS`` selects an entry point known by any of ``names``
    (built-ins are always selected)."""
    wanted = os.environ.get(LOAD_PLUGINS_ENV)
    if builtin or wanted is None:
        return True
    chosen = {_selector(w) for w in wanted.split(",") if w.strip()}
    return not chosen.isdisjoint(_selector(n) for n in names)


def _entry_points() -> Iterator[metadata.EntryPoint]:
    """Entry points of the ``facevox`` group, each (distribution, name) once."""
    try:
        found = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception as exc:  # noqa: BLE001 - unreadable metadata of some distribution
        warnings.warn(f"facevox: could not read the {ENTRY_POINT_GROUP!r} entry points: {_describe(exc)}",
                      PluginWarning, stacklevel=3)
        return
    seen: set[tuple[str, str]] = set()
    for ep in found:
        dist = _dist_of(ep)[0]
        key = (_normalize(dist) if dist else f"={ep.value}", ep.name)  # no metadata: the module tells apart
        if key not in seen:  # the same distribution found twice on sys.path
            seen.add(key)
            yield ep


def _dist_of(ep: metadata.EntryPoint) -> tuple[str, str]:
    try:
        dist = getattr(ep, "dist", None)
        if dist is None:
            return "", ""
        return str(dist.metadata["Name"] or ""), str(dist.version or "")
    except Exception:  # noqa: BLE001 - broken metadata: treat as no distribution
        return "", ""


def _is_builtin(ep: metadata.EntryPoint) -> bool:
    if ep.name not in DEFAULT_PLUGINS:
        return False
    dist, _ = _dist_of(ep)
    if dist:
        return _normalize(dist) == BUILTIN_DISTRIBUTION
    return ep.value.split(":")[0].split(".")[0] == f"facevox_{ep.name}"  # no metadata: the module decides


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use.

    Loads every selected entry point of the ``facevox`` group once, the built-ins first.
    Thread-safe.

    Raises:
        RuntimeError: called while the plugins are loading (a plugin using facevox's registry
            at import time); the plugin doing it is dropped.
    """
    global _manager, _building
    with _lock:
        if _manager is None:
            if _building:
                raise RuntimeError("facevox's plugin manager was used while plugins were being imported; "
                                   "call the registry from hooks or later, not at import time")
            _building = True
            try:
                pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
                pm.add_hookspecs(hookspecs)
                if _env_flag(TRACE_PLUGINS_ENV):
                    pm.add_hookcall_monitoring(_trace_before, _trace_after)
                for ep in sorted(_entry_points(), key=lambda ep: not _is_builtin(ep)):  # stable: built-ins first
                    _load_entry_point(pm, ep, _is_builtin(ep))
                _manager = pm
            finally:
                _building = False
        return _manager


def _plugin_name(pm: pluggy.PluginManager, ep: metadata.EntryPoint, dist: str) -> str:
    """The entry-point name if no plugin has it yet, else ``"<dist>:<name>"`` (``#2``... if taken too)."""
    name = ep.name
    if not pm.has_plugin(name) and name not in _infos:
        return name
    base = f"{dist or ep.value}:{ep.name}"
    name, n = base, 1
    while pm.has_plugin(name) or name in _infos:
        n += 1
        name = f"{base}#{n}"
    return name


def _load_entry_point(pm: pluggy.PluginManager, ep: metadata.EntryPoint, builtin: bool) -> None:
    dist, version = _dist_of(ep)
    name = _plugin_name(pm, ep, dist)
    if not _selected((ep.name, f"{dist or ep.value}:{ep.name}", name), builtin):
        return
    info = PluginInfo(name, dist, version, None, builtin, entry_point=f"{ep.name} = {ep.value}")
    try:
        module = ep.load()
        pm.register(module, name=name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit included: a broken plugin must not end facevox
        if pm.has_plugin(name):  # pluggy may have added some of its hooks before failing
            pm.unregister(name=name)
        reason = f"failed to load: {_describe(exc)}"
        _dropped.append(DroppedPlugin(info, reason))
        warnings.warn(f"facevox: skipping plugin {info.label} (entry point {info.entry_point}): {reason}",
                      PluginWarning, stacklevel=4)
        return
    info.module = module
    _infos[name] = info
    first = _infos.get(ep.name)
    if name != ep.name and first is not None:
        warnings.warn(f"facevox: two distributions publish the entry point {ep.name!r}: plugin {first.label} "
                      f"and plugin {info.label}; both are loaded ({LOAD_PLUGINS_ENV}={name} selects the second)",
                      PluginWarning, stacklevel=4)


def register_plugin(plugin: ModuleType | object, name: str | None = None) -> str:
    """Register a plugin object in code (tests, notebooks); returns the name used.

    Raises:
        ValueError: a plugin of that name is already registered.
    """
    pm = get_plugin_manager()
    plugin_name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    with _lock:
        if pm.has_plugin(plugin_name):
            raise ValueError(f"a plugin named {plugin_name!r} is already registered")
        pm.register(plugin, name=plugin_name)
        _infos[plugin_name] = PluginInfo(plugin_name, "", "", plugin, False)
    invalidate_caches()
    return plugin_name


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered with :func:`register_plugin` (or any loaded one)."""
    pm = get_plugin_manager()
    with _lock:
        plugin = pm.get_plugin(name)
        if plugin is None:
            raise KeyError(f"no plugin named {name!r}; loaded: {sorted(_infos)}")
        pm.unregister(plugin)
        _infos.pop(name, None)
    invalidate_caches()


def reset_plugin_manager() -> None:
    """Forget the plugin manager and everything collected from it (tests, env changes)."""
    global _manager
    with _lock:
        _manager = None
        _infos.clear()
        _dropped.clear()
    invalidate_caches()


# ---------------------------------------------------------------------------- caches

_invalidators: list[Callable[[], None]] = []
_generation = 0


def on_change(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback()`` whenever the set of plugins changes (a cache built from hooks clears itself).

    The callback runs in the thread that changed the plugins, possibly while another cache is
    being rebuilt: it should only drop its cache, not rebuild it. Returns ``callback``, so it can
    be used as a decorator.
    """
    _invalidators.append(callback)
    return callback


def invalidate_caches() -> None:
    """Tell every :func:`on_change` subscriber that the plugins changed (done by this module
    whenever it registers, unregisters, drops or resets plugins)."""
    global _generation
    with _lock:
        _generation += 1
    for callback in list(_invalidators):
        callback()


def generation() -> int:
    """A counter that changes whenever the set of plugins changes.

    A cache that is rebuilt while plugins change (a faulty plugin dropped during the rebuild)
    compares it before and after, and does not keep a result built from a stale set.
    """
    return _generation


# Names used before these were public (kept for callers that still use them).
_on_change = on_change
_invalidate = invalidate_caches


# ---------------------------------------------------------------------------- queries


def plugin_info(name: str) -> PluginInfo:
    """The :class:`PluginInfo` of a loaded plugin; ``KeyError`` if none is loaded under ``name``."""
    get_plugin_manager()
    try:
        return _infos[name]
    except KeyError:
        raise KeyError(f"no plugin named {name!r}; loaded: {sorted(_infos)}") from None


def list_plugins() -> list[PluginInfo]:
    """Loaded plugins, built-ins first, then by name (dropped ones are not listed)."""
    get_plugin_manager()
    return sorted(_infos.values(), key=lambda p: (not p.builtin, p.name))


def dropped_plugins() -> list[DroppedPlugin]:
    """Plugins dropped since the manager was built (failed import, hook error, bad ``register`` call)."""
    get_plugin_manager()
    with _lock:
        return list(_dropped)


def hooks_of(plugin: PluginInfo) -> list[str]:
    """Names of the hooks a plugin implements, sorted."""
    pm = get_plugin_manager()
    callers = pm.get_hookcallers(plugin.module) or []
    return sorted(caller.name for caller in callers)


# ---------------------------------------------------------------------------- hook calls


def _safe_text(to_text: Callable[[Any], str], value: Any, limit: int) -> str:
    """``to_text(value)`` cut to ``limit`` characters; ``"<unprintable>"`` if a hostile
    ``__repr__``/``__str__`` raises (anything but KeyboardInterrupt)."""
    try:
        text = to_text(value)
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001 - a hostile __repr__ / __str__
        text = "<unprintable>"
    return text[: limit - 3] + "..." if len(text) > limit else text


def _show(value: Any, limit: int = 80) -> str:
    return f"{type(value).__name__} {_safe_text(repr, value, limit)}"


def _describe(exc: BaseException, limit: int = 300) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit (sys.exit({exc.code!r}) called)"
    text = _safe_text(str, exc, limit)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _named_factory(kind: str, role: str) -> Callable[..., tuple[tuple[Any, ...], Any]]:
    def rule(name: Any, factory: Any, default: Any = False) -> tuple[tuple[Any, ...], Any]:
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"the {kind} name must be a non-empty str, got {_show(name)}")
        if not callable(factory):
            raise TypeError(f"the {kind} factory must be callable (factory() -> facevox.{role}), got {_show(factory)}")
        if not isinstance(default, bool):
            raise TypeError(f"default= must be True or False, got {_show(default)}")
        return (name, factory, default), name

    return rule


def _model_rule(spec: Any) -> tuple[tuple[Any, ...], Any]:
    from facevox.card import ModelSpec

    if not isinstance(spec, ModelSpec):
        raise TypeError(f"expected a facevox.ModelSpec, got {_show(spec)}")
    return (spec,), spec.name


def _task_rule(name: Any, role: Any, summary: Any = "") -> tuple[tuple[Any, ...], Any]:
    from facevox.card import TASK_NAME, Task
    from facevox.roles import FacevoxModel

    if not isinstance(name, str) or not TASK_NAME.fullmatch(name):
        raise TypeError(f"the task name must be lower-case words joined by '-' (e.g. 'speaker-embedding'), got {_show(name)}")
    if name in {t.value for t in Task}:
        raise TypeError(f"{name!r} is a built-in task (facevox.Task); register models for it instead")
    if not (isinstance(role, type) and issubclass(role, FacevoxModel)):
        raise TypeError(f"the role must be a subclass of facevox.FacevoxModel, got {_show(role)}")
    if not isinstance(summary, str):
        raise TypeError(f"the summary must be a str, got {_show(summary)}")
    return (name, role, summary), name


def _style_rule(style: Any) -> tuple[tuple[Any, ...], Any]:
    from facevox.styles import SpeechStyle

    if not isinstance(style, SpeechStyle):
        raise TypeError(f"expected a facevox.SpeechStyle, got {_show(style)}")
    return (style,), None  # a later style of the same emotion replaces an earlier one


def _command_rule(command: Any) -> tuple[tuple[Any, ...], Any]:
    import click

    if not isinstance(command, click.Command) or not isinstance(command.name, str) or not command.name:
        raise TypeError(f"expected a named click.Command, got {_show(command)}")
    return (command,), None  # the CLI reports clashing command names itself


#: What ``register(...)`` takes in each hook (the signature of the rule), and how it is checked.
#: A rule returns the positional arguments to keep and a key that must not repeat in one call.
_REGISTER_RULES: dict[str, Callable[..., tuple[tuple[Any, ...], Any]]] = {
    "register_tasks": _task_rule,
    "register_models": _model_rule,
    "register_face_detectors": _named_factory("face detector", "FaceDetector"),
    "register_text_processors": _named_factory("text processor", "TextProcessor"),
    "register_speech_styles": _style_rule,
    "register_commands": _command_rule,
    "register_trainers": _command_rule,
}


class _Register:
    """The ``register`` callback one plugin gets in one hook call: checks and stages each call."""

    def __init__(self, hook: str) -> None:
        self.hook = hook
        self.calls: list[tuple[Any, ...]] = []
        self.fault: str | None = None
        self.closed = False
        self._keys: set[Any] = set()

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        if self.closed:
            raise RuntimeError(f"register() of hook {self.hook} was called after the hook returned")
        if self.fault is not None:
            return  # the plugin is dropped anyway
        try:
            staged = self._check(args, kwargs)
        except TypeError as exc:  # arguments the hook does not take
            shown = ", ".join([*(_show(a, 40) for a in args), *(f"{k}={_show(v, 40)}" for k, v in kwargs.items())])
            self.fault = f"register({shown}): {exc}"
            return
        self.calls.append(staged)

    def _check(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        rule = _REGISTER_RULES.get(self.hook)
        if rule is None:
            if kwargs:
                raise TypeError("takes positional arguments only")
            return args
        bound = inspect.signature(rule).bind(*args, **kwargs)  # "missing a required argument: 'factory'"...
        staged, key = rule(*bound.args)
        if key is not None:
            if key in self._keys:
                raise TypeError(f"{key!r} is registered twice by this plugin")
            self._keys.add(key)
        return staged


def _trace_before(hook_name: str, hook_impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, object]) -> None:
    for impl in hook_impls:
        print(f"facevox: calling hook {hook_name} on plugin {impl.plugin_name!r}", file=sys.stderr)


def _trace_after(outcome: pluggy.Result[object], hook_name: str, hook_impls: Sequence[pluggy.HookImpl],
                 kwargs: Mapping[str, object]) -> None:
    names = ", ".join(repr(impl.plugin_name) for impl in hook_impls) or "no plugin"
    register = kwargs.get("register")
    if outcome.exception is not None:
        done = f"raised {_describe(outcome.exception)}"
    elif isinstance(register, _Register):
        done = f"registered {len(register.calls)} item(s)" + (f"; bad call: {register.fault}" if register.fault else "")
    else:
        done = "returned"
    print(f"facevox: hook {hook_name} on {names} {done}", file=sys.stderr)


def _drop(pm: pluggy.PluginManager, name: str, reason: str) -> None:
    """Unregister a faulty plugin, forget everything it registered, warn once."""
    with _lock:
        info = _infos.pop(name, None)
        if info is None:
            return  # already dropped (by another thread, from another hook)
        plugin = pm.get_plugin(name)
        if plugin is not None:
            pm.unregister(plugin)
        _dropped.append(DroppedPlugin(info, reason))
    warnings.warn(f"facevox: plugin {info.label} {reason}; the plugin is dropped, with everything it registered",
                  PluginWarning, stacklevel=4)
    invalidate_caches()


def collect_hook(hook_name: str) -> list[tuple[str, tuple[Any, ...]]]:
    """Call hook ``hook_name`` on every plugin, one at a time; return what each registered.

    Each plugin gets its own ``register`` callback, which checks the arguments of each call
    against the hook (a model hook takes a :class:`facevox.ModelSpec`, a detector hook a name and
    a callable, ...). A plugin whose hook raises (any exception but ``KeyboardInterrupt``) or
    that calls ``register`` wrongly is dropped: one :class:`PluginWarning` names the plugin (and
    its distribution), the hook and the fault, the plugin is unregistered and every cache of its
    earlier registrations is cleared (:func:`invalidate_caches`); the other plugins still count.
    Calls go through pluggy, so its hook-call monitoring (``FACEVOX_TRACE_PLUGINS``) sees them.

    Returns:
        ``(plugin name, args passed to register)`` pairs, in plugin registration order.
    """
    pm = get_plugin_manager()
    caller = getattr(pm.hook, hook_name)
    results: list[tuple[str, tuple[Any, ...]]] = []
    for impl in caller.get_hookimpls():  # registration order (pluggy calls them in reverse)
        if impl.hookwrapper or impl.wrapper:
            continue
        name = pm.get_name(impl.plugin)
        if name is None:  # dropped meanwhile
            continue
        one = pm.subset_hook_caller(hook_name, remove_plugins=[p for p in pm.get_plugins() if p is not impl.plugin])
        register = _Register(hook_name)
        try:
            one(register=register)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit included: isolate the faulty plugin
            _drop(pm, name, f"raised in hook {hook_name}: {_describe(exc)}")
            continue
        finally:
            register.closed = True
        if register.fault is not None:
            _drop(pm, name, f"called register() wrongly in hook {hook_name}: {register.fault}")
            continue
        results.extend((name, args) for args in register.calls)
    return results
