"""A third-party plugin that brings its own task: ``speaker-embedding``, its role, and a default model.

Nothing in the core knows this task; the plugin registers it through ``register_tasks`` and the
registry, the pipelines' defaults and ``facevox.testing`` take it from there.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from facevox import FacevoxModel, ModelCard, ModelSpec, hookimpl
from torch import Tensor, nn

TASK = "speaker-embedding"


class SpeakerEncoder(FacevoxModel):
    """Role of the ``speaker-embedding`` task: mel spectrograms -> unit-norm speaker embeddings.

    ``forward(mels, lengths)``: ``mels`` ``(B, n_mels, T)`` float32 log-mel frames, ``lengths``
    ``(B,)`` int64 valid frames -> ``(B, embedding_dim)`` float32, L2 norm 1.
    """

    n_mels: int
    embedding_dim: int

    @abc.abstractmethod
    def forward(self, mels: Tensor, lengths: Tensor) -> Tensor: ...

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        mels = torch.randn(batch_size, self.n_mels, 12, generator=generator)
        lengths = torch.full((batch_size,), 12, dtype=torch.long)
        lengths[-1] = 7
        return mels, lengths


@dataclass(frozen=True)
class MeanPoolConfig:
    n_mels: int = 8  # mel bins
    embedding_dim: int = 4  # output size


class MeanPoolEncoder(SpeakerEncoder):
    """Linear projection of the masked mean frame, L2-normalised."""

    def __init__(self, config: MeanPoolConfig) -> None:
        super().__init__()
        self.config = config
        self.n_mels, self.embedding_dim = config.n_mels, config.embedding_dim
        self.proj = nn.Linear(config.n_mels, config.embedding_dim)

    def forward(self, mels: Tensor, lengths: Tensor) -> Tensor:
        mask = (torch.arange(mels.shape[-1]) < lengths[:, None]).to(mels.dtype)  # (B, T)
        mean = (mels * mask[:, None]).sum(-1) / mask.sum(-1, keepdim=True)
        return F.normalize(self.proj(mean), dim=-1)


def spec(name: str = "spk.meanpool", default: bool = True, factory: object = MeanPoolEncoder) -> ModelSpec:
    return ModelSpec(
        name=name,
        task=TASK,
        factory=factory,  # type: ignore[arg-type]
        config=MeanPoolConfig(),
        card=ModelCard(summary="Mean-pooled mel speaker embedding (a test plugin).", metrics={"params": 36}),
        default=default,
    )


class TaskPlugin:
    """Registers the ``speaker-embedding`` task and ``spk.meanpool``, its default model."""

    @hookimpl
    def register_tasks(self, register):  # type: ignore[no-untyped-def]
        register(TASK, SpeakerEncoder, "Mel spectrograms to unit-norm speaker embeddings.")

    @hookimpl
    def register_models(self, register):  # type: ignore[no-untyped-def]
        register(spec())
