"""Model cards of the expression plugin: data, recipe and measured numbers of the weights."""

from __future__ import annotations

from facevox import ModelCard, Preprocessing
from facevox.datasets import FER2013_LABELS

__all__ = ["RESMASKNET_CARD", "RESMASKNET_WIDE_CARD"]

_PREPROCESSING = Preprocessing(input_size=(1, 48, 48), mean=(0.5,), std=(0.25,))
_SOURCE = (
    "Residual CNN (He et al. 2016) with residual-masking spatial attention (Pham et al. 2021, "
    "'Facial Expression Recognition using Residual Masking Network') and squeeze-excitation "
    "channel gates (Hu et al. 2018)"
)
_DATA = (
    "FER2013 (Goodfellow et al. 2013), Kaggle layout: train = original Training usage (28,709 "
    "images); validation = PublicTest (3,589). PrivateTest not used."
)

RESMASKNET_CARD = ModelCard(
    summary="Facial expression classifier for 48x48 greyscale face crops (7 FER2013 emotions).",
    licence="MIT",
    source=_SOURCE,
    preprocessing=_PREPROCESSING,
    labels=FER2013_LABELS,
    training_data=_DATA,
    recipe="pending: weights not trained yet",
    metrics={},
    notes=(
        "Scores on the validation split use horizontal-flip test-time augmentation, as the "
        "shipped pipeline does by default. FER2013 labels are noisy and its faces are mostly "
        "frontal; expect lower accuracy on profile or occluded faces."
    ),
)

RESMASKNET_WIDE_CARD = ModelCard(
    summary="Wider variant of expression.resmasknet (1.33 M parameters, 2x the compute); ships untrained.",
    licence="MIT",
    source=_SOURCE,
    preprocessing=_PREPROCESSING,
    labels=FER2013_LABELS,
    training_data="none shipped; train with `facevox train expression --variant resmasknet_wide`",
    recipe="same recipe as expression.resmasknet",
)
