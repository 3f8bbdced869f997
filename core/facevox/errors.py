"""facevox's error hierarchy: every user-facing error is a :class:`facevox.FacevoxError`.

Each error is defined once, in the module that raises it, and also subclasses the builtin a
caller would otherwise catch (``except ValueError`` keeps working)::

    FacevoxError                                   facevox.registry
    ├── UnknownModelError(KeyError)                facevox.registry
    ├── DuplicateModelError(ValueError)            facevox.registry
    ├── CheckpointError(ValueError)                facevox.checkpoint
    ├── ConfigError(ValueError)                    facevox.validation
    ├── PluginFactoryError(RuntimeError)           facevox.registry
    ├── OutputPathError(ValueError)                facevox.io
    ├── ImageReadError(ValueError)                 facevox.images
    ├── NoFaceError(ValueError)                    here
    └── DemoInputError(ValueError)                 facevox_demo

The ``facevox`` command line prints a :class:`FacevoxError` (and a click usage error, and an
``OSError`` such as a missing file) as one ``facevox: error: ...`` line; any other exception is
a bug and is printed with its traceback (``facevox --traceback`` or ``FACEVOX_TRACEBACK=1``
shows the traceback of every error).
"""

from __future__ import annotations

from facevox.registry import FacevoxError

__all__ = ["FacevoxError", "NoFaceError"]


class NoFaceError(FacevoxError, ValueError):
    """An image that needs a face has none: none was detected, or there is no face of the index asked for.

    The message names the image when it has a name, and says what to do instead (pass an
    ``emotion=``, treat the image as an already-cropped face, pick an index that exists).
    """
