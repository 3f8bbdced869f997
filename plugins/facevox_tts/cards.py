"""Model cards of the TTS plugin: data, recipe and measured numbers of the shipped weights."""

from __future__ import annotations

from facevox import ModelCard, Preprocessing
from facevox.audio import MelSettings

__all__ = ["FASTSPEECH_CARD", "FASTSPEECH_IPA_CARD", "TACOTRON_CARD"]

_MEL = MelSettings()
_PREPROCESSING = Preprocessing(sample_rate=_MEL.sample_rate, mel=_MEL.to_dict(), text_processor="en.chars")
_VOICE = (
    "joe-tts: 4,000 LJSpeech transcripts (public domain, chapters LJ001-LJ039) read by Piper's "
    "en_US-joe-medium voice (MIT, trained on CC0 data), 5.9 h, 22,050 Hz"
)

FASTSPEECH_CARD = ModelCard(
    sha256="f8d057109046a3bd8b40cbf8e60b256d4ffea02e0509a9eaccb73d5dc76d89dc",  # of weights/fastspeech_joe.safetensors
    summary="FastSpeech-style non-autoregressive character-input acoustic model (4.39 M parameters) for one "
    "synthetic US-English male voice; pair it with the hifigan.universal vocoder. Durations are predicted, "
    "so it cannot skip, repeat or fail to stop.",
    licence="MIT",
    source="Ren et al. 2019 (FastSpeech), Ren et al. 2021 (FastSpeech 2): feed-forward Transformer blocks, "
    "duration predictor, length regulator; convolutional feed-forward kernel 3 as in FastPitch "
    "(Lancucki 2021); training durations: the teacher's per-phoneme frames mapped onto characters",
    preprocessing=_PREPROCESSING,
    training_data=_VOICE + "; 3,952 for training, 48 held out; the teacher's per-phoneme durations, mapped "
    "onto characters (facevox_tts.alignment), are the duration targets.",
    recipe="facevox train tts-fastspeech (docs/tts.md): 6,250 steps of Adam (betas 0.9/0.98), 1,000-step "
    "linear warm-up to 1e-3, then 5e-4 from step 4,000, 2.5e-4 from 5,200 and 1.25e-4 from 6,000 (--lr-decay); batches of "
    "<= 32 utterances and <= 4,000 padded frames; clip 1; masked L1 on the log-mel + MSE on log(1 + frames) per character. "
    "About 2 h 5 min wall on a 2-core CPU, no GPU: steps 0-2,100 on 1 thread beside another training "
    "(1.4 s per step), then 2 threads (0.8 s per step). Shipped as float16.",
    metrics={
        "params_millions": 4.39,
        "train_steps": 6250,
        "val_mel_l1": 0.6271,
        "benchmark_sentences": 40,
        "wer_hifigan_universal": 0.052,
        "wer_griffinlim_default": 0.046,
        "alignment_failures_cap": 0,
        "alignment_skips": 0,
        "rtf_acoustic": 0.010,
        "rtf_hifigan_universal": 0.665,
        "rtf_griffinlim_default": 0.032,
    },
    notes="Measured with benchmarks/bench_tts.py (40 sentences not in the training transcripts, numbers and "
    "abbreviations included; Whisper tiny.en via faster-whisper, Whisper normaliser; RTF = CPU seconds per "
    "second of audio, 1 thread, batch 1). The teacher voice scores about 0.05 on such sentences. "
    "WER over training, HiFi-GAN / Griffin-Lim: 0.096 / 0.117 at step 1,900 (fp32 checkpoint), 0.060 / "
    "0.062 at step 5,500, 0.052 / 0.046 at step 6,250 (shipped, fp16). On 6 sentences of 25 to 30 words "
    "synthesized whole (bench_tts.py --long): 0.028 / 0.022, no failures. Remaining errors are single words ('write' for "
    "'ride', 'buses' for 'boxes') and the way Whisper writes times and abbreviations. Voice provenance: "
    "Piper en_US-joe-medium (MIT).",
)

FASTSPEECH_IPA_CARD = ModelCard(
    sha256="045fb4a5628de4ac0fb5ee9c36ddd69414f47d2cc5f6ec29784b20669b525276",  # of weights/fastspeech_joe_ipa.safetensors
    summary="FastSpeech-style non-autoregressive phoneme-input acoustic model (4.39 M parameters; espeak-ng IPA, "
    "text processor en.ipa, which needs pip install \"facevox[phonemes]\") for the same synthetic US-English "
    "male voice as tts.fastspeech_joe; pair it with the vocos.joe or hifigan.universal vocoder. It reads words "
    "the character model never saw in training (NASA, media, FBI) by their pronunciation.",
    licence="MIT (weights); the en.ipa text processor runs espeak-ng from piper-tts, GPL-3.0-or-later",
    source="Ren et al. 2019 (FastSpeech), Ren et al. 2021 (FastSpeech 2); phoneme input as in Piper "
    "(espeak-ng IPA); training durations: the teacher's per-phoneme frames as they are",
    preprocessing=Preprocessing(sample_rate=_MEL.sample_rate, mel=_MEL.to_dict(), text_processor="en.ipa"),
    training_data=_VOICE + "; 3,952 for training, 48 held out (the same as tts.fastspeech_joe's); the "
    "teacher's phonemes and per-phoneme durations (alignments/*.tsv) are the tokens and duration targets.",
    recipe="facevox train tts-fastspeech --text-processor en.ipa --init "
    "plugins/facevox_tts/weights/fastspeech_joe.safetensors (every weight of the character model but the "
    "token embedding, which starts fresh): 4,000 steps of Adam (betas 0.9/0.98), 300-step linear warm-up to "
    "1e-3, then 5e-4 from step 2,500, 2.5e-4 from 3,300 and 1.25e-4 from 3,700 (--lr-decay); batches of <= 32 "
    "utterances and <= 4,000 padded frames; clip 1; masked L1 on the log-mel + MSE on log(1 + frames) per "
    "phoneme; float32. 1 h 28 min wall on a 2-core CPU, no GPU (2 threads, 1.2-1.4 s per step). Shipped as "
    "float16 (best held-out mel L1, step 4,000).",
    metrics={
        "params_millions": 4.39,
        "train_steps": 4000,
        "val_mel_l1": 0.4277,
        "wer_lj040_050_vocos_joe": 0.0486,
        "wer_numeric_vocos_joe": 0.1893,
        "wer_bench_vocos_joe": 0.0482,
        "wer_spoken_lj040_050_vocos_joe": 0.0486,
        "wer_spoken_numeric_vocos_joe": 0.0448,
        "wer_spoken_bench_vocos_joe": 0.031,
        "alignment_failures_cap": 0,
        "alignment_skips": 0,
        "word_timings_matched": 0.966,
        "word_timings_median_start_error_s": 0.056,
        "word_timings_median_end_error_s": 0.084,
        "rtf_acoustic_2_threads": 0.021,
        "pipeline_cpu_rtf_vocos_joe_2_threads": 0.032,
    },
    notes="Measured 2026-12-08 with benchmarks/bench_tts.py --model tts.fastspeech_joe_ipa --vocoders vocos.joe "
    "--threads 2 --set lj040-050 | numeric | bench (66 real LJSpeech sentences of chapters 40-50, 33 real NASA and "
    "NWS sentences with numbers and abbreviations, the 40 benchmark sentences; Whisper tiny.en). wer: Whisper's "
    "normaliser on both sides; wer_spoken: both sides read out by facevox's normaliser first (asr.spoken_wer), "
    "so that '6.45 am' heard for '6:45 a.m.' is no error. Same sets, tts.fastspeech_joe (characters): 0.0746 / "
    "0.2476 / 0.0539, spoken 0.0759 / 0.1094 / 0.0383; Piper en_US-joe-medium (the teacher): 0.0529 / 0.1435 / "
    "0.0424, spoken 0.0554 / 0.1159 / 0.0364. Word timings: bench_word_timings.py, 10 sentences against "
    "Whisper's word timestamps. Voice provenance: Piper en_US-joe-medium (MIT).",
)

TACOTRON_CARD = ModelCard(
    sha256="6e9517b06c2c52b1d65f5ea9ca1a7cb5e67214e15b77c322105b769320cdf3f2",  # of weights/tacotron_joe.safetensors
    summary="Tacotron 2-style character-input acoustic model (3.54 M parameters, r = 4) for one "
    "synthetic US-English male voice; pair it with the hifigan.universal vocoder. Aligns and stops on "
    "every benchmark sentence; recognisable but not yet clear (Whisper tiny.en WER 0.46 with HiFi-GAN, "
    "0.43 with Griffin-Lim; the teacher voice scores about 0.05).",
    licence="MIT",
    source="Shen et al. 2018 (Tacotron 2); location-sensitive attention (Chorowski et al. 2015); "
    "attention supervised with teacher durations and an annealed alignment prior (Badlani et al. 2021)",
    preprocessing=_PREPROCESSING,
    training_data=_VOICE + "; 3,952 for training "
    "(about 45 epochs seen), 48 held out; the teacher's per-phoneme durations give the attention targets.",
    recipe="facevox train tts (docs/tts.md): 7,500 steps of Adam (batches of <= 32 x 9,000 frames for "
    "100 steps, then <= 24 x 6,000), clip 1; learning rate 1e-3, then 5e-4 from step 4,300, 2.5e-4 from "
    "5,800 and 1.25e-4 from 6,700 (--lr-decay, each drop when the validation loss flattened); L1 mel "
    "before/after postnet + stop BCE + attention cross-entropy to the teacher path (weight 1); teacher path "
    "x prior annealed to 0 by step 600; utterances <= 350 frames until step 600, <= 550 until 1,500. "
    "About 4 h 25 min wall on a 2-core CPU, no GPU: steps 0-2,000 on 1 thread shared with other trainings "
    "(2.9-5 s per step), 2,000-7,500 alone on 2 threads (1.4 s per step). Shipped as float16.",
    metrics={
        "params_millions": 3.54,
        "train_steps": 7500,
        "val_mel_l1_postnet": 0.535,
        "val_attention_diagonal": 0.987,
        "val_attention_focus": 0.690,
        "benchmark_sentences": 40,
        "wer_hifigan_universal": 0.464,
        "wer_griffinlim_default": 0.426,
        "alignment_failures_cap": 0,
        "alignment_skips": 0,
        "rtf_acoustic": 0.023,
        "rtf_hifigan_universal": 0.732,
        "rtf_griffinlim_default": 0.055,
    },
    notes="Measured with benchmarks/bench_tts.py (40 sentences not in the training transcripts, numbers and "
    "abbreviations included; Whisper tiny.en via faster-whisper, Whisper normaliser; RTF = CPU seconds per "
    "second of audio, 1 thread, batch 1, idle 2-core CPU). HiFi-GAN WER over training: 1.12 (step 1,000), "
    "1.05 (1,250), 0.46 (7,500); Griffin-Lim 1.01 (1,250), 0.76 (2,700), 0.61 (4,300), 0.43 (7,500); plot "
    "in docs/images/tts_training.png. Rhythm, pauses, numbers and most function words come through; "
    "content words are often misheard. The WER target (<= 0.10) needs more steps. Voice provenance: "
    "Piper en_US-joe-medium (MIT).",
)
