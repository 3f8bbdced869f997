"""Hook implementations: facevox finds this module through the `facevox` entry point."""

from __future__ import annotations

from facevox import ModelCard, ModelSpec, Preprocessing, Task, hookimpl

from facevox_plugin_example.model import LABELS, TinyCNN, TinyCNNConfig


@hookimpl
def register_models(register):  # type: ignore[no-untyped-def]
    register(
        ModelSpec(
            name="example.tiny_cnn",
            task=Task.EXPRESSION_CLASSIFICATION,
            factory=TinyCNN,
            config=TinyCNNConfig(),
            card=ModelCard(
                summary="Untrained two-layer CNN showing how to publish a facevox model.",
                licence="MIT",
                preprocessing=Preprocessing(input_size=(1, 48, 48), mean=(0.5,), std=(0.5,)),
                labels=LABELS,
                notes="Ships no weights: create_model('example.tiny_cnn') returns it untrained.",
            ),
            weights=None,
        )
    )
