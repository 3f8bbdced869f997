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
    "Adam (peak lr 2e-3, 200-step warm-up, cosine decay), batch 128, bf16 autocast on CPU, random "
    "horizontal flip and +-2 px shift, seed 0, 1 CPU thread; `facevox train {kind}`."
)

AE_CARD = ModelCard(
    summary="Convolutional undercomplete autoencoder for 48x48 greyscale faces (256-d code).",
    licence="MIT",
    source="Hinton & Salakhutdinov 2006; Masci et al. 2011 (convolutional AE); Le et al. 2018 (supervised AE)",
    preprocessing=_PRE,
    training_data=_DATA,
    recipe="5 epochs. Loss: per-image summed squared error + 1.0 x cross-entropy of an auxiliary linear "
    "expression classifier on the code (discarded after training). " + _COMMON.format(kind="face-ae"),
    metrics={},
    notes="Input: a face crop scaled to [0, 1] (facevox face reconstruct does detection and cropping).",
)

VAE_CARD = ModelCard(
    summary="Convolutional beta-VAE for 48x48 greyscale faces (128-d latent): reconstruct, sample, interpolate.",
    licence="MIT",
    source="Kingma & Welling 2014 (VAE); Higgins et al. 2017 (beta-VAE); Bowman et al. 2016 (KL warm-up)",
    preprocessing=_PRE,
    training_data=_DATA,
    recipe="4 epochs. Loss: per-image summed squared error + beta x KL, beta = 0.01 (decoder sigma 0.07), KL "
    "weight warmed up over the first epoch, + 1.0 x auxiliary linear expression classifier on mu. "
    + _COMMON.format(kind="face-vae"),
    metrics={},
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
    recipe="Initialised from face.vae, then 3 epochs. Loss: VAE loss (beta 0.01) with the label replaced by "
    "the null condition 30% of the time, + 8 x cross-entropy of a small guide CNN (trained alongside on "
    "real faces, not shipped) on faces decoded with a random target label, + 0.1 x summed squared "
    "distance of those faces to the source (identity). " + _COMMON.format(kind="face-cvae"),
    metrics={},
    notes="Why this method: with an unconditional encoder, a plain CVAE keeps the expression in z and "
    "learns to ignore the label after short training. Guiding decodes with random target labels by a "
    "frozen-per-step classifier forces the label to control the expression, the identity term and the "
    "shared z keep the person; label dropout gives a null condition, so a morph runs from the "
    "unchanged face (t = 0) to the target (t = 1) without knowing the source expression.",
)
