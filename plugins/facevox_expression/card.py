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
        "36 epochs (shipped: epoch 26, the best on PublicTest, fp16), batch 64, adamw (peak lr 0.002, weight decay 0.05), one-cycle schedule (15 % linear warm-up, cosine decay), label smoothing 0.1, class-weighted loss (power 0.3), bfloat16 autocast; augmentation: rotation +-12 deg, scale 0.88-1.12, shift +-12 %, horizontal flip, brightness/contrast jitter, random erasing (p 0.25); first 18 epochs on faces resampled to 36 px. Trained on 1 CPU thread beside one other training in 57 minutes (`facevox train expression --data fer2013 --epochs 40 --threads 1 --deadline HH:MM`, seed 0; the deadline fitted the schedule to 36 epochs)."
    ),
    metrics={
        "val_accuracy": 0.4472,  # FER2013 PublicTest, flip TTA (pipeline default), fp16 weights
        "val_accuracy_no_tta": 0.4397,
        "val_recall_angry": 0.5653,
        "val_recall_disgust": 0.1607,
        "val_recall_fear": 0.3468,
        "val_recall_happy": 0.6212,
        "val_recall_neutral": 0.1137,
        "val_recall_sad": 0.4824,
        "val_recall_surprise": 0.5301,
        "params": 744114,
        "epochs": 26,
    },
    notes=(
        "BELOW TARGET: 44.7 % on PublicTest (target 72 %; 41.4 % for the previous 13-epoch weights). "
        "The training split used is blurred and low-contrast compared "
        "with PublicTest (mean |horizontal gradient| 3.8 vs 13.8 grey levels); the model blurs "
        "(sigma 2 px) and reduces contrast (x0.8) of inputs in eval mode to match it, chosen from "
        "image statistics (raised val accuracy from 33.3 % to 41.1 % in the earlier run). PublicTest accuracy "
        "stayed at 44-45 % over the last 10 epochs while training accuracy (under augmentation, on the "
        "blurred faces) rose from 51 % to 54 %: the blurred training split, more than training length, "
        "limits it now. "
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
