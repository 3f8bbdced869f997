"""Validation of model configs that come from outside: ``create_model`` overrides and checkpoints.

A config is checked field by field against the annotations of its dataclass, before any
tensor is built:

- ``bool`` takes ``True``/``False`` only (``1`` is not a bool, and ``True`` is not an int);
- ``int`` takes ints in the int64 range; a *size* field (see :func:`is_size_field`: widths,
  channels, dims, kernel sizes, rates, ``n_*`` counts...) takes ints in ``1 .. MAX_SIZE``, in
  tuples too (``widths=(-1, 2, 3)`` is refused);
- ``float`` takes finite numbers (an int is widened); a ``*dropout*`` field takes ``0 .. 1``;
- ``str``; enums (a member or its value); ``Literal[...]``; ``tuple[X, ...]`` and fixed-length
  tuples (a list or a tuple); ``list[X]``; ``Mapping[K, V]``; nested dataclasses (an instance or
  a mapping of its fields); ``X | None``; ``Any`` takes anything.

A field's ``dataclasses.field(metadata={"min": ..., "max": ...})`` sets its bounds explicitly;
a size rule that the registered default value itself breaks (e.g. a default of ``0``) is not
applied to that field. The dataclass's own ``__post_init__`` checks run too.

Then :func:`check_model_size` builds the model on PyTorch's ``meta`` device (no memory is
allocated) and counts its parameters and buffers: more than :data:`MAX_PARAMETERS` is refused.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import math
import numbers
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch
from torch import nn

from facevox.registry import FacevoxError

__all__ = [
    "MAX_PARAMETERS",
    "MAX_SIZE",
    "ConfigError",
    "check_model_size",
    "check_overrides",
    "is_size_field",
    "parse_config",
]

C = TypeVar("C")

#: Most parameters + buffers (elements) a config may ask for: 500 M, about 2 GB in float32.
MAX_PARAMETERS = 500_000_000
#: Largest value of one size field (channels, dims, kernel sizes, sample rates...): 2**20.
MAX_SIZE = 1 << 20
_INT64 = (-(2**63), 2**63 - 1)
_SIZE_WORDS = frozenset(
    {"size", "sizes", "dim", "dims", "channel", "channels", "width", "widths", "heads", "rate", "rates",
     "kernel", "kernels", "filters", "length", "hidden", "units", "features"}
)
_NONE = type(None)
_META = re.compile(r"\bmeta\b", re.IGNORECASE)


class ConfigError(FacevoxError, ValueError):
    """A model config has a field its dataclass does not accept, or asks for too big a model.

    Attributes:
        where: the model (``create_model('x.y')``) or the file the config came from.
        field: dotted path of the field, e.g. ``"widths[0]"`` or ``"mel.n_fft"``.
        value: the refused value.
        accepted: what the field takes, in words.
    """

    def __init__(self, message: str, *, where: str = "", field: str = "", value: Any = None,
                 accepted: str = "") -> None:
        super().__init__(message)
        self.where, self.field, self.value, self.accepted = where, field, value, accepted


def _refuse(where: str, field: str, value: Any, accepted: str) -> ConfigError:
    return ConfigError(f"{where}: config field {field!r} = {_short(value)} is not accepted; expected {accepted}",
                       where=where, field=field, value=value, accepted=accepted)


def _short(value: Any, limit: int = 80) -> str:
    return _clip(repr(value), limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_size_field(name: str) -> bool:
    """Whether field ``name`` holds sizes: its last ``_`` word is one of size(s), dim(s), channel(s),
    width(s), heads, rate(s), kernel(s), filters, length, hidden, units, features; or it starts
    with ``n_`` or ``num_`` (``n_mels``, ``num_labels``)."""
    words = name.lower().split("_")
    return words[-1] in _SIZE_WORDS or (len(words) > 1 and words[0] in ("n", "num"))


@dataclasses.dataclass(frozen=True)
class _Bounds:
    lo: float | None = None
    hi: float | None = None

    def words(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f" in {self.lo}..{self.hi}"
        if self.lo is not None:
            return f" >= {self.lo}"
        return f" <= {self.hi}" if self.hi is not None else ""


def _numbers_of(value: Any) -> list[float]:
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in _numbers_of(v)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def _bounds_of(f: dataclasses.Field[Any], default: Any) -> _Bounds:
    if "min" in f.metadata or "max" in f.metadata:
        return _Bounds(f.metadata.get("min"), f.metadata.get("max"))
    if "dropout" in f.name.lower():
        bounds = _Bounds(0, 1)
    elif is_size_field(f.name):
        bounds = _Bounds(1, MAX_SIZE)
    else:
        return _Bounds()
    lo, hi = bounds.lo, bounds.hi
    if all(lo <= n <= hi for n in _numbers_of(default)):  # type: ignore[operator]
        return bounds
    return _Bounds()  # the registered default breaks the rule: the rule does not fit this field


def _default_of(f: dataclasses.Field[Any], default: Any) -> Any:
    if default is not None:
        return getattr(default, f.name, None)
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError, AttributeError):  # annotations that cannot be resolved: check what we can
        return {}


def _field_values(config: Any) -> dict[str, Any]:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.init}


def parse_config(cls: type[C], data: Mapping[str, Any], *, where: str, default: Any = None,
                 prefix: str = "") -> C:
    """Build dataclass ``cls`` from ``data`` (JSON forms or Python values), every field checked.

    Args:
        cls: the config dataclass.
        data: field name -> value; missing fields keep their defaults.
        where: named in errors: the model or the file the config came from.
        default: the registered default instance (its values decide which size rules apply);
            the dataclass's defaults when ``None``.
        prefix: dotted path of ``cls`` inside an outer config (errors name ``prefix + field``).

    Raises:
        ConfigError: ``data`` is not a mapping, has unknown or non-string keys, a field has the
            wrong type or is out of range, or ``cls`` refuses the values (its ``__post_init__``).
    """
    label = prefix.rstrip(".") or "config"
    kwargs = _check_fields(cls, data, where=where, default=default, prefix=prefix)
    try:
        return cls(**kwargs)
    except Exception as exc:  # the dataclass's own checks (__post_init__), or a missing field
        raise ConfigError(f"{where}: {cls.__name__} refuses {label} {_short(kwargs, 200)}: {exc}",
                          where=where, field=label, value=kwargs, accepted=str(exc)) from None


def _check_fields(cls: type, data: Mapping[str, Any], *, where: str, default: Any, prefix: str) -> dict[str, Any]:
    """The checked and converted values of ``data``'s fields (see :func:`parse_config`)."""
    if not isinstance(data, Mapping):
        raise _refuse(where, prefix.rstrip(".") or "config", data, f"an object of {cls.__name__} fields")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(map(str, set(data) - set(fields)))
    if unknown:
        raise ConfigError(f"{where}: unknown {cls.__name__} field(s) {unknown}; accepted: {sorted(fields)}",
                          where=where, field=prefix + unknown[0], value=unknown, accepted=str(sorted(fields)))
    hints = _hints(cls)
    out: dict[str, Any] = {}
    for name, value in data.items():
        f = fields[name]
        base = _default_of(f, default)
        out[name] = _Checker(where, _bounds_of(f, base), base)(hints.get(name, Any), value, prefix + name)
    return out


@dataclasses.dataclass(frozen=True)
class _Checker:
    """Checks and converts one field's value against its annotation."""

    where: str
    bounds: _Bounds
    default: Any

    def __call__(self, hint: Any, value: Any, path: str) -> Any:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint is Any or hint is object:
            return value
        if origin is typing.Annotated:
            return self(args[0], value, path)
        if origin in (typing.Union, types.UnionType):
            return self._union(args, value, path)
        if hint is _NONE or hint is None:
            return self._expect(value is None, value, path, "null (None)")
        if origin is typing.Literal:
            ok = any(value == a and type(value) is type(a) for a in args)
            return self._expect(ok, value, path, "one of " + ", ".join(map(repr, args)))
        if hint is bool:
            return self._expect(isinstance(value, bool), value, path, "true or false")
        if hint is int:
            return self._int(value, path)
        if hint is float:
            return self._float(value, path)
        if hint is str:
            return self._expect(isinstance(value, str), value, path, "a string")
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return self._enum(hint, value, path)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            data = _field_values(value) if isinstance(value, hint) else value
            return parse_config(hint, data, where=self.where, default=self.default, prefix=path + ".")
        if origin is tuple or hint is tuple:
            return self._tuple(args, value, path)
        if origin in (list, Sequence) or hint is list:
            items = self._tuple((args[0], ...) if args else (), value, path)
            return list(items) if origin is list or hint is list else items
        if origin in (dict, Mapping) or hint in (dict, Mapping):
            return self._mapping(args, value, path)
        if isinstance(hint, type):
            return self._expect(isinstance(value, hint), value, path, f"a {hint.__name__}")
        return value  # a typing construct we do not know: the dataclass and the build check it

    def _expect(self, ok: bool, value: Any, path: str, accepted: str) -> Any:
        if not ok:
            raise _refuse(self.where, path, value, accepted)
        return value

    def _union(self, args: tuple[Any, ...], value: Any, path: str) -> Any:
        if value is None:
            return self._expect(_NONE in args, value, path, "not null")
        options = [a for a in args if a is not _NONE]
        errors: list[ConfigError] = []
        for option in options:
            try:
                return self(option, value, path)
            except ConfigError as exc:
                errors.append(exc)
        if len(options) == 1:
            raise errors[0]
        accepted = " or ".join(e.accepted for e in errors if e.field == path) or "another type"
        raise _refuse(self.where, path, value, accepted + (" or null" if _NONE in args else ""))

    def _in_bounds(self, number: float, value: Any, path: str, kind: str) -> None:
        lo, hi = self.bounds.lo, self.bounds.hi
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            what = "a size, " if self.bounds == _Bounds(1, MAX_SIZE) else ""
            raise _refuse(self.where, path, value, f"{what}{kind}{self.bounds.words()}")

    def _int(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise _refuse(self.where, path, value, f"an int{self.bounds.words()}")
        number = int(value)
        if not _INT64[0] <= number <= _INT64[1]:
            raise _refuse(self.where, path, value, f"an int in {_INT64[0]}..{_INT64[1]} (int64)")
        self._in_bounds(number, value, path, "an int")
        return number

    def _float(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _refuse(self.where, path, value, f"a number{self.bounds.words()}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise _refuse(self.where, path, value, "a finite number")
        self._in_bounds(number, value, path, "a number")
        return number

    def _enum(self, hint: type[enum.Enum], value: Any, path: str) -> Any:
        if isinstance(value, hint):
            return value
        accepted = "one of " + ", ".join(repr(m.value) for m in hint)
        if isinstance(value, (bool, list, dict, tuple)):
            raise _refuse(self.where, path, value, accepted)
        try:
            return hint(value)
        except (ValueError, TypeError):
            raise _refuse(self.where, path, value, accepted) from None

    def _tuple(self, args: tuple[Any, ...], value: Any, path: str) -> tuple[Any, ...]:
        if not isinstance(value, (list, tuple)):
            raise _refuse(self.where, path, value, "a list")
        if not args:
            return tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(self(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if args == ((),):  # tuple[()]
            args = ()
        if len(value) != len(args):
            raise _refuse(self.where, path, value, f"a list of exactly {len(args)} item(s)")
        return tuple(self(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))

    def _mapping(self, args: tuple[Any, ...], value: Any, path: str) -> dict[Any, Any]:
        if not isinstance(value, Mapping):
            raise _refuse(self.where, path, value, "an object (mapping)")
        key_hint, value_hint = args if len(args) == 2 else (Any, Any)
        plain = dataclasses.replace(self, bounds=_Bounds(), default=None)
        return {plain(key_hint, k, f"{path}.<key>"): plain(value_hint, v, f"{path}[{k!r}]")
                for k, v in value.items()}


def check_overrides(cls: type[C], config: C, overrides: Mapping[str, Any], *, where: str) -> C:
    """``dataclasses.replace(config, **overrides)``, each override checked by :func:`parse_config`.

    Raises:
        ConfigError: an override is not a field of ``cls``, or has a value the field refuses.
    """
    fields = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(map(str, set(overrides) - fields))
    if unknown:
        raise ConfigError(f"{where}: unknown config field(s) {unknown}; accepted: {sorted(fields)}",
                          where=where, field=unknown[0], value=unknown, accepted=str(sorted(fields)))
    checked = _check_fields(cls, overrides, where=where, default=config, prefix="")
    try:
        return dataclasses.replace(config, **checked)  # type: ignore[type-var]
    except Exception as exc:  # the dataclass's own checks (__post_init__)
        raise ConfigError(f"{where}: {cls.__name__} refuses the overrides {_short(checked, 200)}: {exc}",
                          where=where, field=", ".join(checked), value=checked, accepted=str(exc)) from None


def check_model_size(factory: Callable[[Any], nn.Module], config: Any, *, where: str,
                     limit: int = MAX_PARAMETERS) -> int | None:
    """Build the model on the ``meta`` device (no memory) and count its parameters and buffers.

    Args:
        factory: the registered factory.
        config: the checked config.
        where: named in errors.
        limit: most elements accepted (default :data:`MAX_PARAMETERS`).

    Returns:
        the element count, or ``None`` when the factory cannot run on the meta device (its
        size is then unknown; the real build still happens).

    Raises:
        ConfigError: the count is above ``limit``, or the factory refuses the config.
    """
    try:
        with torch.device("meta"):
            model = factory(config)
    except NotImplementedError:
        return None
    except Exception as exc:  # the factory refused the config (ValueError, RuntimeError, MemoryError...)
        if _META.search(str(exc)):  # "cannot be called on meta tensors", "the 'Meta' backend"...
            return None
        raise ConfigError(f"{where}: the model cannot be built from this config ({type(exc).__name__}: "
                          f"{_clip(str(exc), 200)}); config: {_short(_field_values(config), 300)}",
                          where=where, field="config", value=config, accepted="a config the factory builds") from None
    tensors = itertools.chain(model.parameters(), model.buffers())
    count = sum(t.numel() for t in tensors)
    if count > limit:
        raise ConfigError(
            f"{where}: the config asks for {count:,} parameters and buffers, more than the limit of {limit:,} "
            f"(facevox.validation.MAX_PARAMETERS); config: {_short(_field_values(config), 300)}",
            where=where, field="config", value=count, accepted=f"at most {limit:,} parameters",
        )
    return count
