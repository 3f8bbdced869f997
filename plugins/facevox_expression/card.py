"""Model cards of the expression plugin: data, recipe and measured numbers of the weights."""

from __future__ import annotations

from facevox import ModelCard, Preprocessing
from facevox.datasets import FER2013_LABELS

__all__ = ["PREPROCESSING", "RESMASKNET_CARD", "RESMASKNET_SMALL_CARD"]

PREPROCESSING = Preprocessing(input_size=(1, 48, 48), mean=(0.5,), std=(0.25,))
"""Input of every expression model here, in training and in the pipeline: 48x48 greyscale,
``(pixel / 255 - 0.5) / 0.25``."""
_SOURCE = (
    "Residual CNN (He et al. 2016) with residual-masking spatial attention (Pham et al. 2021, "
    "'Facial Expression Recognition using Residual Masking Network') and squeeze-excitation "
    "channel gates (Hu et al. 2018)"
)
_DATA = (
    "FER2013 (Goodfellow et al. 2013), Kaggle layout: train = the original Training usage (28,709 "
    "images) as rebuilt sharp on 2026-12-02 (the public copies are blurred or equalised; the rebuild "
    "has SSIM 0.97 against originals), of which 27,709 were trained on and a seeded 1,000 held out "
    "to fit the softmax temperature; validation = PublicTest (3,589), used to pick the epoch. "
    "PrivateTest not used."
)

RESMASKNET_CARD = ModelCard(
    sha256="d8e98f92c0d2fc8f8a631ed23bb1edd2d0a81faca4bd3ef798b94a787da86d8d",  # of weights/resmasknet.safetensors
    summary="Facial expression classifier for 48x48 greyscale face crops (7 FER2013 emotions).",
    licence="MIT",
    source=_SOURCE,
    preprocessing=PREPROCESSING,
    labels=FER2013_LABELS,
    training_data=_DATA,
    recipe=(
        "One-cycle schedule (shipped: epoch 58, the best on PublicTest, fp16), batch 128, AdamW (peak "
        "lr 0.002, weight decay 0.05, none on biases/norms), 15 % linear warm-up then cosine decay, "
        "label smoothing 0.1, class-weighted loss (power 0.3), bfloat16 autocast, channels-last; "
        "augmentation: rotation +-12 deg, scale 0.88-1.12, shift +-12 %, horizontal flip, random 40x40 "
        "crops at native scale, brightness/contrast jitter, random erasing (p 0.25); validation on whole "
        "48x48 faces. Trained on 2 CPU threads in about 1 h 55 min (`facevox train expression --data "
        "fer2013 --epochs 100 --threads 2 --deadline 17:45`, seed 0). The run was resumed three times "
        "with a new --epochs (the deadline had cut 100 to 38 when other processes slowed it; then 75, "
        "cut to 57; then 64), which re-stretches the cosine schedule, and was stopped after epoch 59 of "
        "64 at a plateau. Softmax temperature fitted on the 1,000 held-out training faces (grid search "
        "on NLL)."
    ),
    metrics={
        "val_accuracy": 0.6893,  # FER2013 PublicTest, 12-view crops TTA (pipeline default), fp16 weights
        "val_accuracy_flip_tta": 0.6751,
        "val_accuracy_no_tta": 0.6648,
        "val_recall_angry": 0.636,  # crops TTA
        "val_recall_disgust": 0.536,
        "val_recall_fear": 0.458,
        "val_recall_happy": 0.886,
        "val_recall_neutral": 0.643,
        "val_recall_sad": 0.606,
        "val_recall_surprise": 0.822,
        "val_ece": 0.0331,  # 15-bin ECE, flip TTA, fitted temperature
        "val_ece_uncalibrated": 0.0249,  # the same at T = 1
        "temperature": 0.9227,
        "params": 3_004_714,
        "macs": 276_000_000,
        "crops_per_s_no_tta": 214,  # 2 threads, batch 256, fp32, AVX2 CPU without bf16 (833 with bf16 autocast on a bf16 CPU)
        "photo_latency_ms_p50": 64.6,  # 640x480, one face, crops TTA, 2 threads, same AVX2 CPU
        "epochs": 58,
    },
    notes=(
        "BELOW TARGET: 68.9 % on PublicTest with the default 12-view TTA (target 72 %; 67.5 % with flip "
        "TTA, 66.5 % without), up from 44.7 % for facevox 0.1's model trained on the blurred copy. "
        "Validation accuracy flattened at 67.2-67.5 % (flip TTA) over the last 10 epochs while training "
        "accuracy under augmentation rose from 78 % to 81 %: more epochs of this recipe alone are "
        "unlikely to reach 72 %; stronger regularisation (mixup/cutmix), a longer schedule or a "
        "distilled ensemble is the next lever. The fitted temperature (0.92) lowered the held-out NLL "
        "(0.964 -> 0.961) but raised the PublicTest ECE (0.025 -> 0.033): held-out training faces "
        "(rebuilt images) and PublicTest differ slightly; both ECEs are small. FER2013 labels are noisy "
        "and its faces mostly frontal; expect lower accuracy on profile or occluded faces. On photos, "
        "eye alignment (detector opencv.haar_eyes) helps turned faces."
    ),
)

RESMASKNET_SMALL_CARD = ModelCard(
    sha256="8e9a093b1e7ab1d631f21a47be24ec9b3faf5e34be25950b2a638569e7a2d3c2",  # of weights/resmasknet_small.safetensors
    summary=("Fast facial expression classifier for 48x48 greyscale face crops (7 FER2013 emotions): "
             "expression.resmasknet distilled into 0.74 M parameters, about 4x its crops/s."),
    licence="MIT",
    source=_SOURCE + "; knowledge distillation (Hinton et al. 2015) from expression.resmasknet",
    preprocessing=PREPROCESSING,
    labels=FER2013_LABELS,
    training_data=_DATA,
    recipe=(
        "Knowledge distillation from the shipped expression.resmasknet weights: loss 0.9 x KL divergence "
        "to the teacher's softened probabilities (temperature 2) + 0.1 x the class-weighted, label-smoothed "
        "cross-entropy; otherwise expression.resmasknet's recipe (AdamW peak lr 0.002, weight decay 0.05, "
        "batch 128, 15 % warm-up then cosine, the same augmentation), float32, 29 epochs (the --deadline "
        "fitted 40 to 29) in 1 h 48 min on 2 CPU threads (AMD EPYC, no native bfloat16): `facevox train "
        "expression --data fer2013 --variant resmasknet_small --teacher "
        "plugins/facevox_expression/weights/resmasknet.safetensors --epochs 40 --deadline 23:55 --threads 2`, "
        "seed 0; the last epoch was the best on PublicTest; fp16. Softmax temperature fitted on the 1,000 "
        "held-out training faces."
    ),
    metrics={
        "val_accuracy": 0.6556,  # FER2013 PublicTest, 12-view crops TTA (pipeline default), fp16 weights
        "val_accuracy_flip_tta": 0.6425,
        "val_accuracy_no_tta": 0.6269,
        "val_recall_angry": 0.630,  # crops TTA
        "val_recall_disgust": 0.250,
        "val_recall_fear": 0.369,
        "val_recall_happy": 0.877,
        "val_recall_neutral": 0.643,
        "val_recall_sad": 0.553,
        "val_recall_surprise": 0.786,
        "val_ece": 0.0390,  # 15-bin ECE, flip TTA, fitted temperature
        "val_ece_uncalibrated": 0.0447,
        "temperature": 0.84,
        "params": 744_114,
        "macs": 55_000_000,
        "crops_per_s_no_tta": 886,  # 2 threads, batch 256, fp32 on an AVX2 CPU without bf16 (expression.resmasknet: 214)
        "photo_latency_ms_p50": 41.1,  # 640x480, one face, crops TTA, 2 threads (expression.resmasknet: 64.6)
        "epochs": 29,
    },
    notes=(
        "3.3 points below its teacher with the default 12-view TTA (65.6 % against 68.9 %) at a fifth of "
        "the multiply-adds. Disgust recall is low (0.25, the teacher's 0.54): choose expression.resmasknet "
        "where that class matters. Below the 1,000 crops/s target on this CPU (886 here; about 1.5x its "
        "untrained speed before channels-last inference copies); expect more on CPUs with AVX-512 or "
        "native bfloat16. FER2013's caveats apply (noisy labels, mostly frontal faces)."
    ),
)
