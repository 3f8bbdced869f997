"""``python -m facevox_demo``: the same as ``facevox demo``."""

from __future__ import annotations

import sys

from facevox.commands.demo import command

if __name__ == "__main__":  # pragma: no cover
    sys.exit(command.main(prog_name="python -m facevox_demo"))
