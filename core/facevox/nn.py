"""Neural building-block contracts: :class:`Encoder`, :class:`Decoder` and the attention roles.

Every built-in model is assembled from these abstract :class:`torch.nn.Module` bases, and a
third-party plugin should be too, so that generic tooling (the conformance suite, plotting of
alignments, the demo) can rely on one calling convention.

Attention comes in two clearly separated roles, because a TTS decoder attending over encoder
steps and a CNN re-weighting its own feature map share an idea but not a signature:

* :class:`SequenceAttention` -- one decoder query attends over a padded memory sequence
  (Bahdanau et al. 2015; location-sensitive variant: Chorowski et al. 2015, used by
  Tacotron 2, Shen et al. 2018).
* :class:`SpatialAttention` -- a feature map is re-weighted by a mask computed from itself
  (channel attention: Hu et al. 2018 "Squeeze-and-Excitation"; spatial / residual masks:
  Wang et al. 2017 "Residual Attention Network", Pham et al. 2021 "Residual Masking Network").

Both derive from :class:`Attention`, which only marks the family.
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = [
    "Attention",
    "Decoder",
    "Encoder",
    "SequenceAttention",
    "SpatialAttention",
    "fold_batchnorm",
    "lengths_to_mask",
]


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Fold every ``BatchNorm2d`` that directly follows a ``Conv2d`` in an ``nn.Sequential`` into
    that convolution, in place, for inference: the BatchNorm becomes ``nn.Identity`` and the
    convolution's weight and bias absorb its running statistics and affine parameters
    (``torch.nn.utils.fusion.fuse_conv_bn_eval``), the standard deployment fusion (Jacob et al.
    2018, section 3.2). Outputs are unchanged up to float32 rounding (about ``1e-6`` relative);
    one convolution pass replaces a convolution plus a normalisation pass.

    Only plain ``nn.Sequential`` containers are folded by position, since only there is the
    registration order the order of execution. A block with its own ``forward`` that runs a
    convolution and then its BatchNorm folds that pair itself: give it a ``fold_batchnorm()``
    method (no arguments, in place), which this calls on every submodule that has one.

    Args:
        module: a module in eval mode (its BatchNorm must use running statistics).

    Returns:
        ``module`` itself, folded.

    Raises:
        ValueError: ``module`` or one of its submodules is in training mode (a folded BatchNorm no longer normalises by
            batch statistics, so training would silently change).
    """
    if any(m.training for m in module.modules()):
        raise ValueError("fold_batchnorm needs a module in eval mode (call .eval() first); "
                         "folding a BatchNorm in training mode would change what it computes")
    for container in list(module.modules()):
        own = getattr(container, "fold_batchnorm", None)
        if callable(own) and container is not module:
            own()
            continue
        if type(container) is not nn.Sequential:
            continue
        names = list(container._modules)
        for first, second in zip(names, names[1:], strict=False):
            conv, norm = container._modules[first], container._modules[second]
            if (isinstance(conv, nn.Conv2d) and type(norm) is nn.BatchNorm2d and norm.track_running_stats
                    and conv.out_channels == norm.num_features):
                container._modules[first] = fuse_conv_bn_eval(conv, norm)
                container._modules[second] = nn.Identity()
    return module


def lengths_to_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """Boolean padding mask from sequence lengths.

    Args:
        lengths: ``(B,)`` integer tensor of valid lengths, each in ``[0, max_len]``.
        max_len: width of the mask; defaults to ``lengths.max()``.

    Returns:
        ``(B, max_len)`` bool tensor, ``True`` at valid (non-padded) positions.

    Raises:
        ValueError: if ``lengths`` is not 1-D or a length exceeds ``max_len``.
    """
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be 1-D (B,), got shape {tuple(lengths.shape)}")
    width = int(lengths.max().item()) if max_len is None else int(max_len)
    if lengths.numel() and int(lengths.max().item()) > width:
        raise ValueError(f"a length ({int(lengths.max().item())}) exceeds max_len ({width})")
    steps = torch.arange(width, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


class Encoder(nn.Module, abc.ABC):
    """Maps an input to a representation.

    Call signature (subclasses document their concrete shapes)::

        encoder(inputs: Tensor, lengths: Tensor | None = None) -> Tensor

    * images: ``inputs`` ``(B, C, H, W)`` float32 -> ``(B, D)`` latent or ``(B, C', H', W')``;
    * sequences: ``inputs`` ``(B, T)`` int64 token ids or ``(B, T, D_in)`` features, with
      ``lengths`` ``(B,)`` int64 -> ``(B, T, D)`` float32; padded steps are unspecified and
      must be masked with ``lengths`` by the consumer.
    """

    @abc.abstractmethod
    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Encode ``inputs``; see the class docstring for shapes."""


class Decoder(nn.Module, abc.ABC):
    """Maps a representation back to the data space.

    Call signature::

        decoder(latent: Tensor, condition: Tensor | None = None) -> Tensor

    * images: ``latent`` ``(B, D)`` float32, optional ``condition`` ``(B, K)`` (e.g. a
      one-hot label) -> ``(B, C, H, W)`` float32.

    Autoregressive sequence decoders (such as a Tacotron decoder) need memory, lengths and
    teacher-forcing targets; they subclass this and document their extended signature.
    """

    @abc.abstractmethod
    def forward(self, latent: Tensor, condition: Tensor | None = None) -> Tensor:
        """Decode ``latent``; see the class docstring for shapes."""


class Attention(nn.Module, abc.ABC):
    """Marker base of both attention roles: :class:`SequenceAttention`, :class:`SpatialAttention`."""


class SequenceAttention(Attention):
    """One query attends over a padded memory sequence.

    Call signature::

        attention(query, memory, mask, previous_weights=None, processed_memory=None)
            -> (context, weights)

    Args:
        query: ``(B, D_q)`` float32, e.g. the attention-RNN state of a TTS decoder.
        memory: ``(B, T, D_m)`` float32 encoder outputs.
        mask: ``(B, T)`` bool, ``True`` at valid steps (see :func:`lengths_to_mask`).
        previous_weights: ``(B, 2, T)`` float32 -- the previous step's weights and their
            running sum -- for location-sensitive variants; ``None`` at the first step or for
            content-only attention (then zeros are assumed).
        processed_memory: optional ``(B, T, D_a)`` cache of :meth:`process_memory` so the
            memory projection is computed once per utterance, not once per decoder step.

    Returns:
        ``context`` ``(B, D_m)`` (weighted sum of ``memory``) and ``weights`` ``(B, T)``,
        non-negative, zero at masked steps, summing to 1 over valid steps.
    """

    def process_memory(self, memory: Tensor) -> Tensor | None:
        """Optional per-utterance cache of the memory projection: ``(B, T, D_m) -> (B, T, D_a)``."""
        return None

    @abc.abstractmethod
    def forward(
        self,
        query: Tensor,
        memory: Tensor,
        mask: Tensor,
        previous_weights: Tensor | None = None,
        processed_memory: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Attend; see the class docstring for shapes."""


class SpatialAttention(Attention):
    """Re-weights an image feature map by an attention mask computed from it.

    Call signature::

        attention(features: Tensor) -> Tensor

    Args:
        features: ``(B, C, H, W)`` float32 feature map.

    Returns:
        ``(B, C, H, W)`` float32, the attended features (same shape). Implementations also
        store the last mask in :attr:`last_mask` (``(B, 1 or C, H or 1, W or 1)``, values in
        ``[0, 1]``) for visualisation.
    """

    last_mask: Tensor | None = None

    @abc.abstractmethod
    def forward(self, features: Tensor) -> Tensor:
        """Attend; see the class docstring for shapes."""
