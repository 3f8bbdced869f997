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
    recipe=(
        "13 epochs (shipped: epoch 13, fp16), batch 64, adamw (peak lr 0.002, weight decay 0.05), one-cycle schedule (15 % linear warm-up, cosine decay), label smoothing 0.1, class-weighted loss (power 0.3), bfloat16 autocast; augmentation: rotation +-12 deg, scale 0.88-1.12, shift +-12 %, horizontal flip, brightness/contrast jitter, random erasing (p 0.25); first 4 epochs on faces resampled to 36 px. Trained on 1 CPU thread shared with other jobs in about 60 minutes (`facevox train expression --data fer2013 --epochs 13 --threads 1 --deadline HH:MM`, seed 0; resumed twice, the schedule re-fitted to the time left)."
    ),
    metrics={
        "val_accuracy": 0.4140,  # FER2013 PublicTest, flip TTA (pipeline default)
        "val_accuracy_no_tta": 0.4065,
        "val_recall_angry": 0.6060,
        "val_recall_disgust": 0.0000,
        "val_recall_fear": 0.1452,
        "val_recall_happy": 0.6369,
        "val_recall_neutral": 0.1269,
        "val_recall_sad": 0.3017,
        "val_recall_surprise": 0.6916,
        "params": 744114,
        "epochs": 13,
    },
    notes=(
        "BELOW TARGET: 41.4 % on PublicTest (target 72 %); trained for only 13 epochs on one CPU "
        "thread shared with other jobs. The training split used is blurred and low-contrast compared "
        "with PublicTest (mean |horizontal gradient| 3.8 vs 13.8 grey levels); the model blurs "
        "(sigma 2 px) and reduces contrast (x0.8) of inputs in eval mode to match it, chosen from "
        "image statistics (raised val accuracy from 33.3 % to 41.1 % at epoch 12). Retrain longer to improve. "
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
