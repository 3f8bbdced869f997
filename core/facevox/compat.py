"""Compatibility loaders for third-party packages that do not import cleanly everywhere.

torchaudio
----------
torchaudio 2.11 on PyPI is built against CUDA: on a CPU-only torch, ``import torchaudio``
fails while ``torchaudio/__init__.py`` imports its private ``torchaudio._extension``
module, whose ``_load_lib("_torchaudio")`` calls ``torch.ops.load_library`` on
``lib/_torchaudio.abi3.so`` and the dynamic loader cannot find ``libc10_cuda.so``.

Everything facevox uses from torchaudio (``transforms.MelScale``, ``InverseMelScale``,
``GriffinLim``, ``Spectrogram``, ``functional``) is pure Python on top of torch, so
:func:`import_torchaudio` first tries the real import and, only if it fails, retries with a
stub ``torchaudio._extension`` placed in :data:`sys.modules`. The stub says the C++
extension is absent (``_IS_TORCHAUDIO_EXT_AVAILABLE = False``), which is a state torchaudio
itself supports (its ``functional.filtering`` falls back to Python implementations). Code
that really needs the C++ extension (forced alignment, CTC decoders, ``torchaudio.load``
which needs torchcodec) raises a clear :class:`RuntimeError` when called.

Always import torchaudio through this loader in facevox and its plugins::

    from facevox.compat import import_torchaudio
    torchaudio = import_torchaudio()
    griffin_lim = torchaudio.transforms.GriffinLim(n_fft=1024)

bfloat16 on CPU
---------------
``torch.autocast("cpu", dtype=torch.bfloat16)`` is about 2x faster than float32 on CPUs with
native bfloat16 matrix units (AVX-512 BF16, AMX) and about 10x *slower* where oneDNN emulates
them (measured here on an AVX2-only AMD EPYC: 14.8 s against 1.35 s per training step of
``expression.resmasknet``). :func:`cpu_has_bf16` tells which, so pipelines and training
recipes default to bfloat16 only where it pays.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["TORCHAUDIO_STUBBED_MODULE", "cpu_has_bf16", "import_torchaudio", "torchaudio_is_stubbed"]

#: The torchaudio submodule that :func:`import_torchaudio` replaces on a CPU-only torch.
TORCHAUDIO_STUBBED_MODULE = "torchaudio._extension"

_LOG = logging.getLogger(__name__)
_lock = threading.Lock()
_torchaudio: types.ModuleType | None = None
_stubbed = False


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bfloat16 matrix products natively (AVX-512 BF16 or AMX).

    Asks oneDNN (``torch.ops.mkldnn._is_mkldnn_bf16_supported``, the check PyTorch's own CPU
    tests use); ``False`` if this torch build cannot tell. Use it as the default of a
    ``bf16`` switch: bfloat16 autocast on a CPU without these units is emulated and slow.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def import_torchaudio() -> types.ModuleType:
    """Import and return ``torchaudio``, working on a CPU-only torch.

    Tries ``import torchaudio`` first; if that raises (``OSError``/``ImportError`` from the
    CUDA-built C++ extension), removes the half-imported ``torchaudio`` modules, installs a
    stub ``torchaudio._extension`` (C++ extension reported absent) and imports again.
    Idempotent and thread-safe: later calls return the same module object.

    Returns:
        the ``torchaudio`` module; its pure-Python parts (``transforms``, ``functional``)
        work. Use :func:`torchaudio_is_stubbed` to know whether the C++ extension is absent.

    Raises:
        ImportError: torchaudio is not installed, or it fails to import even with the stub
            (the message holds both errors).
    """
    global _torchaudio, _stubbed
    with _lock:
        if _torchaudio is not None:
            return _torchaudio
        existing = sys.modules.get("torchaudio")
        if existing is not None and hasattr(existing, "transforms"):
            # Imported before (really or by an earlier stubbed import): reuse it.
            _torchaudio = existing
            _stubbed = getattr(sys.modules.get(TORCHAUDIO_STUBBED_MODULE), "_facevox_stub", False)
            return existing
        try:
            module = importlib.import_module("torchaudio")
        except ModuleNotFoundError as exc:
            if exc.name == "torchaudio":
                raise ImportError(
                    "torchaudio is not installed; facevox needs torchaudio==2.11.0 "
                    "(pip install torchaudio==2.11.0)"
                ) from exc
            first_error: BaseException = exc
        except (OSError, ImportError, RuntimeError) as exc:
            first_error = exc
        else:
            _torchaudio = module
            return module

        _purge_torchaudio_modules()
        sys.modules[TORCHAUDIO_STUBBED_MODULE] = _make_extension_stub(first_error)
        try:
            module = importlib.import_module("torchaudio")
        except Exception as exc:
            _purge_torchaudio_modules()
            raise ImportError(
                f"torchaudio failed to import ({type(first_error).__name__}: {first_error}) and "
                f"also with its C++ extension stubbed ({type(exc).__name__}: {exc})"
            ) from exc
        _torchaudio = module
        _stubbed = True
        # An expected state on CPU-only torch, so it is logged rather than warned about.
        _LOG.info(
            "torchaudio's C++ extension could not be loaded (%s: %s); using its pure-Python "
            "parts only (transforms and functional work; alignment and CTC decoders do not)",
            type(first_error).__name__,
            first_error,
        )
        return module


def torchaudio_is_stubbed() -> bool:
    """Whether :func:`import_torchaudio` had to stub torchaudio's C++ extension."""
    return _stubbed


def _purge_torchaudio_modules() -> None:
    for name in [n for n in sys.modules if n == "torchaudio" or n.startswith("torchaudio.")]:
        del sys.modules[name]


def _make_extension_stub(reason: BaseException) -> types.ModuleType:
    """A stand-in for ``torchaudio._extension`` with the names torchaudio 2.11 reads from it."""
    stub = types.ModuleType(
        TORCHAUDIO_STUBBED_MODULE,
        doc="facevox stub: torchaudio's C++ extension is unavailable on this torch build.",
    )
    message = (
        "this torchaudio feature needs torchaudio's C++ extension, which could not be loaded "
        f"on this torch build ({type(reason).__name__}: {reason})"
    )

    def fail_if_no_align(func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"{getattr(func, '__name__', 'function')}: {message}")

        wrapped.__name__ = getattr(func, "__name__", "wrapped")
        wrapped.__doc__ = getattr(func, "__doc__", None)
        return wrapped

    def _load_lib(lib: str) -> bool:
        return False

    def _check_cuda_version() -> None:
        return None

    stub.__dict__.update(
        _facevox_stub=True,
        _IS_TORCHAUDIO_EXT_AVAILABLE=False,
        _IS_ALIGN_AVAILABLE=False,
        fail_if_no_align=fail_if_no_align,
        _load_lib=_load_lib,
        _check_cuda_version=_check_cuda_version,
        __all__=["_check_cuda_version", "_IS_TORCHAUDIO_EXT_AVAILABLE"],
    )
    return stub
