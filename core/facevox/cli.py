"""The ``facevox`` command line.

Core commands: ``plugins``, ``models``, ``info``, ``train`` (a group filled by plugins'
``register_trainers``), ``emotion``, ``speak``. Plugins add top-level commands through
``register_commands`` (the built-in demo plugin adds ``demo``).

Errors: a :class:`facevox.FacevoxError`, a click usage error and an ``OSError`` (a missing
file, a permission error, a full disk) are the user's to fix and go to stderr as one line with a
non-zero exit code. Any other exception is a bug: it is printed with its traceback. ``facevox
--traceback ...`` or ``FACEVOX_TRACEBACK=1`` prints the traceback of every error.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any

import click

from facevox import plugins, registry
from facevox.card import Task

__all__ = ["cli", "main"]

#: Core commands implemented in their own modules, imported only when used (fast ``--help``).
_LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "emotion": ("facevox.commands.emotion", "Recognise facial expressions in photos."),
    "speak": ("facevox.commands.speak", "Synthesize speech from text."),
}


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


class _FacevoxGroup(click.Group):
    """Top-level group: core commands, lazy core commands, then plugins' commands."""

    def _plugin_commands(self) -> dict[str, click.Command]:
        commands: dict[str, click.Command] = {}
        for plugin, args in plugins.collect_hook("register_commands"):
            command = args[0]
            if not isinstance(command, click.Command) or not command.name:
                warnings.warn(
                    f"facevox: plugin {plugin!r} registered {command!r}, not a named click.Command; skipped",
                    plugins.PluginWarning,
                    stacklevel=2,
                )
                continue
            if command.name in self.commands or command.name in _LAZY_COMMANDS or command.name in commands:
                warnings.warn(
                    f"facevox: plugin {plugin!r} registered command {command.name!r}, which already exists; skipped",
                    plugins.PluginWarning,
                    stacklevel=2,
                )
                continue
            commands[command.name] = command
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = {name for name, (module, _) in _LAZY_COMMANDS.items() if importlib.util.find_spec(module)}
        return sorted({*self.commands, *lazy, *self._plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in _LAZY_COMMANDS:
            module = importlib.import_module(_LAZY_COMMANDS[cmd_name][0])
            command: click.Command = module.command
            return command
        return self._plugin_commands().get(cmd_name)


#: Environment variable that makes :func:`main` print the traceback of every error.
TRACEBACK_ENV = "FACEVOX_TRACEBACK"

_show_traceback = False  # set by --traceback for the current main() call


def _traceback_option(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    global _show_traceback
    if value:
        _show_traceback = True


def _traceback_from_env() -> bool:
    return os.environ.get(TRACEBACK_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


@click.group(cls=_FacevoxGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="facevox")
@click.option("--traceback", is_flag=True, is_eager=True, expose_value=False, callback=_traceback_option,
              help=f"Print the traceback of any error, not only of unexpected ones (or set {TRACEBACK_ENV}=1).")
def cli() -> None:
    """facevox: faces and speech, as plugins.

    \b
    Examples:
      facevox models --task expression-classification
      facevox emotion photo.jpg --json
      facevox speak "Hello there." -o hello.wav
    """


@cli.command("plugins")
def plugins_command() -> None:
    """List loaded plugins as JSON: name, version, hooks, models."""
    by_plugin: dict[str, list[str]] = {}
    for name in registry.list_models():
        by_plugin.setdefault(registry.model_provider(name), []).append(name)
    out = []
    for info in plugins.list_plugins():
        out.append(
            {
                "name": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "builtin": info.builtin,
                "hooks": plugins.hooks_of(info),
                "models": by_plugin.get(info.name, []),
            }
        )
    _echo_json(out)


@cli.command("models")
@click.option("--task", metavar="TASK", help="Only models of this task (built-in: "
              + ", ".join(t.value for t in Task) + "; plugins may add more).")
@click.option("--pattern", help="Shell-style wildcard on names, e.g. 'expression.*'.")
def models_command(task: str | None, pattern: str | None) -> None:
    """List registered models as JSON: name, task, plugin, pretrained, params."""
    if task is not None and task not in registry.list_tasks():
        raise click.BadParameter(f"unknown task {task!r}; accepted: {', '.join(registry.list_tasks())}",
                                 param_hint="'--task'")
    out = []
    for name in registry.list_models(pattern=pattern, task=task):
        info = registry.model_info(name)
        out.append({k: info[k] for k in ("name", "task", "plugin", "pretrained", "params")})
    _echo_json(out)


@cli.command("info")
@click.argument("name")
def info_command(name: str) -> None:
    """Print the model card of NAME as JSON."""
    _echo_json(registry.model_info(name))


class _TrainGroup(click.Group):
    """``facevox train <name>``: commands registered by plugins' ``register_trainers``."""

    def _trainers(self) -> dict[str, click.Command]:
        out: dict[str, click.Command] = {}
        for plugin, args in plugins.collect_hook("register_trainers"):
            command = args[0]
            if isinstance(command, click.Command) and command.name and command.name not in out:
                out[command.name] = command
            else:
                warnings.warn(
                    f"facevox: plugin {plugin!r} registered an invalid or duplicate trainer {command!r}; skipped",
                    plugins.PluginWarning,
                    stacklevel=2,
                )
        return out

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._trainers())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._trainers().get(cmd_name)


@cli.group("train", cls=_TrainGroup)
def train_group() -> None:
    """Train a model family (commands come from plugins)."""


#: Errors printed as one line: facevox's own, and the environment's (missing file, permissions).
_USER_ERRORS: tuple[type[BaseException], ...] = (registry.FacevoxError, OSError)


def _one_line_warnings(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> str:
    return f"{message}\n" if issubclass(category, plugins.PluginWarning) else _default_format(message, category, *args, **kwargs)


_default_format = warnings.formatwarning


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and not isinstance(exc, registry.FacevoxError) and exc.args:
        return str(exc.args[0])  # KeyError's str() quotes its message
    return str(exc) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit code (0 ok, 1 error, 2 usage error, 130 aborted).

    A :class:`facevox.FacevoxError`, a click error or an ``OSError`` prints one line to stderr;
    any other exception prints its traceback (a bug, worth reporting). With ``--traceback`` or
    ``FACEVOX_TRACEBACK=1`` every error prints its traceback before its message.
    """
    global _show_traceback
    _show_traceback = _traceback_from_env()
    warnings.formatwarning = _one_line_warnings  # type: ignore[assignment]
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="facevox", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        if _show_traceback:
            traceback.print_exc(file=sys.stderr)
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except _USER_ERRORS as exc:
        if _show_traceback:
            traceback.print_exc(file=sys.stderr)
        click.echo(f"facevox: error: {_message(exc)}", err=True)
        return 1
    except Exception as exc:  # a bug: show where it happened
        traceback.print_exc(file=sys.stderr)
        click.echo(f"facevox: unexpected error ({type(exc).__name__}): {_message(exc)}", err=True)
        return 1
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
