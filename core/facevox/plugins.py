"""The plugin manager: one function builds it, entry points load lazily and once.

Plugins are modules published under the ``facevox`` entry-point group. The built-ins
(:data:`DEFAULT_PLUGINS`) are registered exactly like a third party's, in facevox's own
``pyproject.toml``.

Environment switches:

* ``FACEVOX_LOAD_PLUGINS=name,name`` -- load the built-ins plus only these third-party
  entry points (empty: built-ins only; unset: everything installed);
* ``FACEVOX_TRACE_PLUGINS=1`` -- print every hook call and its result to stderr.

A plugin that fails to import, or raises inside a hook, is skipped with one
:class:`PluginWarning` naming its distribution, entry point and error; the rest keeps working.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from facevox import hookspecs

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "PluginWarning",
    "collect_hook",
    "get_plugin_manager",
    "hooks_of",
    "list_plugins",
    "plugin_info",
    "register_plugin",
    "reset_plugin_manager",
    "unregister_plugin",
]

ENTRY_POINT_GROUP = "facevox"
#: Entry-point names of the plugins that ship with facevox (always loaded).
DEFAULT_PLUGINS: tuple[str, ...] = ("expression", "face", "tts", "vocoders", "styles")


class PluginWarning(UserWarning):
    """A plugin was skipped because it failed to import or raised in a hook."""


@dataclass
class PluginInfo:
    """One loaded plugin.

    Attributes:
        name: entry-point name (or the module name for plugins registered in code).
        distribution: the installed distribution that provides it, ``""`` if none.
        version: that distribution's version, ``""`` if none.
        module: the plugin object (usually a module).
        builtin: whether it is one of :data:`DEFAULT_PLUGINS` shipped inside facevox.
    """

    name: str
    distribution: str
    version: str
    module: Any = field(repr=False)
    builtin: bool = False

    @property
    def label(self) -> str:
        """``"distribution (entry point)"`` for messages."""
        if self.distribution:
            return f"{self.distribution} ({ENTRY_POINT_GROUP} entry point {self.name!r})"
        return repr(self.name)


_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_infos: dict[str, PluginInfo] = {}


def _selected(name: str, builtin: bool) -> bool:
    wanted = os.environ.get("FACEVOX_LOAD_PLUGINS")
    if builtin or wanted is None:
        return True
    return name in {n.strip() for n in wanted.split(",") if n.strip()}


def _entry_points() -> Iterator[metadata.EntryPoint]:
    seen: set[str] = set()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in seen:  # the same distribution found twice on sys.path
            seen.add(ep.name)
            yield ep


def _dist_of(ep: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "", ""
    return str(dist.metadata["Name"]), str(dist.version)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use.

    Loads every selected entry point of the ``facevox`` group once. Thread-safe.
    """
    global _manager
    with _lock:
        if _manager is None:
            pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
            pm.add_hookspecs(hookspecs)
            for ep in _entry_points():
                builtin = ep.name in DEFAULT_PLUGINS and ep.value.startswith(f"facevox_{ep.name}")
                if _selected(ep.name, builtin):
                    _load_entry_point(pm, ep, builtin)
            _manager = pm
        return _manager


def _load_entry_point(pm: pluggy.PluginManager, ep: metadata.EntryPoint, builtin: bool) -> None:
    dist, version = _dist_of(ep)
    label = f"{dist} ({ENTRY_POINT_GROUP} entry point {ep.name!r} = {ep.value!r})" if dist else ep.name
    try:
        module = ep.load()
        pm.register(module, name=ep.name)
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not break facevox
        warnings.warn(
            f"facevox: skipping plugin {label}: failed to load: {type(exc).__name__}: {exc}",
            PluginWarning,
            stacklevel=3,
        )
        return
    _infos[ep.name] = PluginInfo(ep.name, dist, version, module, builtin)


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
    _invalidate()
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
    _invalidate()


def reset_plugin_manager() -> None:
    """Forget the plugin manager and everything collected from it (tests, env changes)."""
    global _manager
    with _lock:
        _manager = None
        _infos.clear()
    _invalidate()


_invalidators: list[Callable[[], None]] = []


def _on_change(callback: Callable[[], None]) -> None:
    _invalidators.append(callback)


def _invalidate() -> None:
    for callback in _invalidators:
        callback()


def plugin_info(name: str) -> PluginInfo:
    """The :class:`PluginInfo` of a loaded plugin; ``KeyError`` if none is loaded under ``name``."""
    get_plugin_manager()
    try:
        return _infos[name]
    except KeyError:
        raise KeyError(f"no plugin named {name!r}; loaded: {sorted(_infos)}") from None


def list_plugins() -> list[PluginInfo]:
    """Loaded plugins, built-ins first, then by name."""
    get_plugin_manager()
    return sorted(_infos.values(), key=lambda p: (not p.builtin, p.name))


def hooks_of(plugin: PluginInfo) -> list[str]:
    """Names of the hooks a plugin implements, sorted."""
    pm = get_plugin_manager()
    callers = pm.get_hookcallers(plugin.module) or []
    return sorted(caller.name for caller in callers)


def collect_hook(hook_name: str) -> list[tuple[str, tuple[Any, ...]]]:
    """Call hook ``hook_name`` on every plugin, one at a time; return what each registered.

    Each plugin gets its own ``register`` callback, and its registrations are kept only if
    its hook returns: an exception becomes one :class:`PluginWarning` naming the plugin (and
    its distribution), the hook and the error, and the other plugins still count.

    Returns:
        ``(plugin name, args passed to register)`` pairs, in plugin registration order.
    """
    pm = get_plugin_manager()
    caller = getattr(pm.hook, hook_name)
    tracing = os.environ.get("FACEVOX_TRACE_PLUGINS", "") not in ("", "0")
    results: list[tuple[str, tuple[Any, ...]]] = []
    for impl in caller.get_hookimpls():  # registration order (pluggy calls them in reverse)
        name = pm.get_name(impl.plugin) or repr(impl.plugin)
        info = _infos.get(name)
        label = info.label if info else name
        staged: list[tuple[Any, ...]] = []

        def register(*args: Any, _staged: list[tuple[Any, ...]] = staged) -> None:
            _staged.append(args)

        if tracing:
            print(f"facevox: calling hook {hook_name} on plugin {name!r}", file=sys.stderr)
        try:
            impl.function(register=register)
        except Exception as exc:  # noqa: BLE001 - isolate the faulty plugin
            warnings.warn(
                f"facevox: plugin {label} raised in hook {hook_name}: {type(exc).__name__}: {exc}; "
                "its registrations from this hook are skipped",
                PluginWarning,
                stacklevel=2,
            )
            continue
        if tracing:
            print(f"facevox: hook {hook_name} on {name!r} registered {len(staged)} item(s)", file=sys.stderr)
        results.extend((name, args) for args in staged)
    return results
