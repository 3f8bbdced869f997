"""``python -m facevox_demo``: the same as ``facevox demo``."""

from __future__ import annotations

import sys

from facevox_demo.plugin import command

if __name__ == "__main__":  # pragma: no cover
    sys.exit(command.main(prog_name="python -m facevox_demo"))
