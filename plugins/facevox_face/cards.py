"""Model cards of the face plugin's shipped weights (numbers from ``benchmarks/bench_face.py``)."""

from __future__ import annotations

from facevox import ModelCard, Preprocessing

from .cvae import EXPRESSIONS

__all__ = ["AE_CARD", "CVAE_CARD", "VAE_CARD"]

_PRE = Preprocessing(input_size=(1, 48, 48), mean=(0.0,), std=(1.0,))
_DATA = (
    "FER2013 (Goodfellow et al. 2013) Training split, 28,709 48x48 greyscale faces, Kaggle folder layout; "
    "metrics on the PublicTest split (3,589 faces). FER2013 states no licence: no FER2013 image ships."
)
_COMMON = (
    "Adam (peak lr 2e-3, 200-step warm-up, cosine decay following a wall-clock budget), batch 128, bf16 "
    "autocast on CPU, random horizontal flip and +-2 px shift, seed 0, 1 CPU thread; `facevox train {kind}`."
)
_DATA_CAVEAT = (
    " DATA CAVEAT: in the FER2013 copy trained on, every train/ image is strongly blurred (mean |pixel "
    "difference| 0.015 vs 0.055 on the sharp val/ faces), so the model reproduces training faces well "
    "(train-split numbers) but can only render blurry versions of sharp faces: val SSIM is capped far "
    "below the 0.80/0.70 targets. Retrain on unaltered FER2013 to lift it."
)

AE_CARD = ModelCard(
    summary="Convolutional undercomplete autoencoder for 48x48 greyscale faces (256-d code).",
    licence="MIT",
    source="Hinton & Salakhutdinov 2006; Masci et al. 2011 (convolutional AE); Le et al. 2018 (supervised AE)",
    preprocessing=_PRE,
    training_data=_DATA,
    recipe="5 epochs (32 min budget). Loss: per-image summed squared error + auxiliary expression "
    "cross-entropy of a linear classifier on the code (discarded after training; weight 1.0 on the raw "
    "code for epochs 1-2, 3.0 on the batch-standardised code for epochs 3-5). " + _COMMON.format(kind="face-ae"),
    metrics={
        "params": 3844481,
        "val_mse": 0.01474,
        "val_ssim": 0.4412,
        "train_split_mse_seen": 0.00068,
        "train_split_ssim_seen": 0.9179,
        "probe_val_accuracy": 0.3675,
    },
    notes="Input: a face crop scaled to [0, 1] (facevox face reconstruct does detection and cropping). "
    "Metrics: benchmarks/bench_face.py on the 3,589 val faces (fp16 weights; fp32 gives the same SSIM to "
    "4 decimals); train_split_* on 2,000 training faces seen in training; probe: standardised logistic "
    "regression fitted on the codes of 5,000 training faces, accuracy on val (7 classes)." + _DATA_CAVEAT,
)

VAE_CARD = ModelCard(
    summary="Convolutional beta-VAE for 48x48 greyscale faces (128-d latent): reconstruct, sample, interpolate.",
    licence="MIT",
    source="Kingma & Welling 2014 (VAE); Higgins et al. 2017 (beta-VAE); Bowman et al. 2016 (KL warm-up)",
    preprocessing=_PRE,
    training_data=_DATA,
    recipe="3 epochs (20 min budget). Loss: per-image summed squared error + beta x KL, beta = 0.01 (decoder "
    "sigma 0.07), KL weight warmed up over the first epoch, + 3.0 x auxiliary linear expression classifier "
    "on the batch-standardised mu (discarded). Sampling distribution: full-covariance Gaussian fitted to "
    "the posterior means of 5,000 training faces (Ghosh et al. 2020). " + _COMMON.format(kind="face-vae"),
    metrics={
        "params": 3549569,
        "val_mse": 0.01586,
        "val_ssim": 0.4151,
        "train_split_mse_seen": 0.00093,
        "train_split_ssim_seen": 0.8944,
        "probe_val_accuracy": 0.3639,
    },
    notes="Metrics: benchmarks/bench_face.py (fp16 weights)." + _DATA_CAVEAT,
)

CVAE_CARD = ModelCard(
    summary="Expression-conditional VAE (7 FER2013 expressions) for expression synthesis: re-render a face "
    "with another expression.",
    licence="MIT",
    source="Sohn et al. 2015 (CVAE); classifier guidance as in Fader Networks (Lample et al. 2017) and "
    "AttGAN (He et al. 2019); label dropout as in Ho & Salimans 2022",
    preprocessing=_PRE,
    labels=EXPRESSIONS,
    training_data=_DATA,
    recipe="Initialised from face.vae; guide CNN pre-trained 300 steps; then 3 epochs (38 min budget, "
    "stopped after epoch 3). Loss: VAE loss (beta 0.01) with the label replaced by the null condition 30% "
    "of the time, + 8 x cross-entropy of a small guide CNN (trained alongside on real faces, not shipped; "
    "from epoch 2 on it sees Gaussian-blurred inputs, sigma 1.5 px, which stopped the decoder from "
    "fooling it with dotted textures) on faces decoded with a random target label, + 0.1 x summed "
    "squared distance of those faces to the source (identity). " + _COMMON.format(kind="face-cvae"),
    metrics={
        "params": 3565697,
        "val_mse": 0.01478,
        "val_ssim": 0.4379,
        "synthesis_target_rate_mean": 0.5820,
        "synthesis_target_rate_angry": 0.5935,
        "synthesis_target_rate_disgust": 0.0599,
        "synthesis_target_rate_fear": 0.3068,
        "synthesis_target_rate_happy": 0.6381,
        "synthesis_target_rate_neutral": 0.7439,
        "synthesis_target_rate_sad": 0.8228,
        "synthesis_target_rate_surprise": 0.9092,
        "synthesis_identity_ssim_mean": 0.4067,
        "guide_morph_target_rate": 0.8154,
        "guide_val_accuracy": 0.4326,
    },
    notes="Why this method: with an unconditional encoder, a plain CVAE keeps the expression in z and "
    "learns to ignore the label after short training. Guiding decodes with random target labels by a "
    "frozen-per-step classifier forces the label to control the expression, the identity term and the "
    "shared z keep the person; label dropout gives a null condition, so a morph runs from the "
    "unchanged face (t = 0) to the target (t = 1) without knowing the source expression. "
    "Metrics: val_* reconstruct with the null condition; guide_morph_target_rate is the rate at which the "
    "training guide CNN (val accuracy 0.43) recognises 1,024 val faces morphed to a target label: NOT an "
    "independent measure. synthesis_*: every val face morphed to each emotion, rate at which the shipped "
    "expression.resmasknet (the 2026-11-22 weights, val accuracy 0.440 on these sources without flip) "
    "assigns the target, and SSIM source vs morph (the earlier 41 % classifier gave a mean rate of 0.671, "
    "0.0 for disgust, which it never predicted)." + _DATA_CAVEAT,
)
