"""facevox-plugin-example: a tiny expression classifier as a third-party facevox plugin."""

from facevox_plugin_example.model import TinyCNN, TinyCNNConfig

__all__ = ["TinyCNN", "TinyCNNConfig"]
