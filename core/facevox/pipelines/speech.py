"""Text to speech: text processor -> acoustic model -> vocoder, in one call.

The three stages are registered models found by name (the torchaudio Tacotron2-bundle split)::

    from facevox.pipelines.speech import TextToSpeechPipeline
    result = TextToSpeechPipeline()("Dr. Smith paid $42 on May 3rd.")
    facevox.audio.save_wav("out.wav", result.waveform, result.sample_rate)

Long text is normalised and split into sentences by the text processor
(:meth:`facevox.TextProcessor.split`), the sentences are synthesized in batches of similar
length, and the pieces are joined with a short pause. Sentences the acoustic model cut at its
step cap (:attr:`facevox.AcousticOutput.reached_cap`) are flagged in :attr:`SpeechResult.capped`
and named in one :class:`facevox.roles.DecoderCapWarning` per call.

Every result times its words (:attr:`SpeechResult.words`) and tokens from the acoustic
model's alignment (:mod:`facevox.pipelines.timings`), in seconds of the returned waveform,
the pauses between sentences included.

Work is bounded whatever the text: no piece is longer than ``max_chars`` characters (pieces a
text processor returns longer are cut again, at sentence ends, commas, spaces, then anywhere),
and a piece whose tokens pass :attr:`TextToSpeechPipeline.max_tokens` is refused, so one batch
asks the acoustic model (whose frames per token are capped) and the vocoder for a bounded
number of frames; memory grows with ``batch_size``, not with the text.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from facevox.card import Task
from facevox.pipelines.timings import TokenTiming, WordTiming, token_timings, word_timings
from facevox.registry import (
    FacevoxError,
    UntrainedModelWarning,
    create_model,
    create_text_processor,
    default_model,
    get_model_spec,
)
from facevox.roles import (
    AcousticModel,
    AcousticOutput,
    DecoderCapWarning,
    ProsodyControl,
    Vocoder,
    bound_pieces,
)

__all__ = [
    "SpeechResult",
    "TextToSpeechPipeline",
    "TokenTiming",
    "UntrainedModelWarning",
    "WordTiming",
    "bound_pieces",
]


@dataclass
class SpeechResult:
    """Synthesized speech.

    Attributes:
        waveform: ``(S,)`` float32 in ``[-1, 1]``.
        sample_rate: Hz.
        mel: ``(n_mels, T)`` float32 natural-log mel of the whole text (pauses included).
        alignments: one ``(T_dec, L)`` float32 alignment matrix per sentence (attention weights
            or a duration model's one-hot path); empty when the acoustic model returns none.
        texts: the normalised sentences that were spoken, in order.
        capped: per sentence, whether the acoustic model cut it at its step cap (its
            ``AcousticOutput.reached_cap``; a likely garbled sentence).
        words: every spoken word of ``texts`` with its start and end in seconds from the start
            of ``waveform`` (of ``mel`` when not vocoded: frame ``t`` is at ``t * hop_length /
            sample_rate``), in order, read from ``alignments``
            (:func:`facevox.pipelines.timings.word_timings`); empty when the acoustic model
            returns no alignments.
        token_timings: the same for every input token (characters or phonemes, spaces,
            punctuation and end tokens included); empty without alignments.
    """

    waveform: Tensor
    sample_rate: int
    mel: Tensor
    alignments: list[Tensor] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    capped: list[bool] = field(default_factory=list)
    words: list[WordTiming] = field(default_factory=list)
    token_timings: list[TokenTiming] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        """Length of the speech in seconds."""
        return self.waveform.shape[-1] / self.sample_rate


class TextToSpeechPipeline:
    """English text -> waveform with registered models.

    Args:
        acoustic: registered acoustic model (``facevox models --task acoustic-model``); ``None``:
            the registry's default (:func:`facevox.default_model`).
        vocoder: registered vocoder (``facevox models --task vocoder``); ``None``: the
            registry's default.
        text_processor: registered text processor; ``None``: the one the acoustic model's card
            names.
        batch_size: sentences synthesized together.
        max_chars: longest sentence piece, ``>= 20`` (longer sentences are cut at commas, then
            spaces; longer words into chunks).
        pause_s: silence inserted between sentences, seconds.
        seed: seeds the acoustic model's randomness (Tacotron's always-on prenet dropout; the
            FastSpeech model has none), so that a text gives the same audio on every call;
            ``None``: not seeded.

    Raises:
        facevox.UnknownModelError: a name is not registered.
        ValueError: the models do not fit together (mel bins differ) or an argument is out of range.
    """

    def __init__(
        self,
        acoustic: str | None = None,
        vocoder: str | None = None,
        text_processor: str | None = None,
        *,
        batch_size: int = 8,
        max_chars: int = 180,
        pause_s: float = 0.25,
        seed: int | None = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if pause_s < 0:
            raise ValueError(f"pause_s must be >= 0, got {pause_s}")
        if max_chars < _MIN_PIECE_CHARS:
            raise ValueError(f"max_chars must be >= {_MIN_PIECE_CHARS}, got {max_chars}")
        acoustic = acoustic or default_model(Task.ACOUSTIC_MODEL)
        vocoder = vocoder or default_model(Task.VOCODER)
        spec = get_model_spec(acoustic)
        processor_name = text_processor or spec.card.preprocessing.text_processor
        if not processor_name:
            raise ValueError(f"acoustic model {acoustic!r} names no text processor in its card; pass text_processor=")
        self.acoustic_name, self.vocoder_name = acoustic, vocoder
        self.processor = create_text_processor(processor_name)
        self.acoustic: AcousticModel = _load(acoustic, AcousticModel)
        self.vocoder: Vocoder = _load(vocoder, Vocoder)
        if self.acoustic.n_mels != self.vocoder.n_mels:
            raise ValueError(
                f"{acoustic!r} makes {self.acoustic.n_mels}-bin mels but {vocoder!r} takes {self.vocoder.n_mels}"
            )
        self.sample_rate = int(self.vocoder.sample_rate)
        self.batch_size, self.max_chars, self.pause_s, self.seed = batch_size, max_chars, pause_s, seed
        self._lock = threading.Lock()

    @property
    def max_tokens(self) -> int:
        """Most tokens one piece may have (``4 * max_chars + 16``); more is the text processor's fault."""
        return _TOKENS_PER_CHAR * self.max_chars + 16

    def sentences(self, text: str) -> list[str]:
        """The pieces ``text`` is spoken in: :meth:`facevox.TextProcessor.split` (normalised).

        Every piece has at most :attr:`max_chars` characters: pieces a processor returns longer
        are cut again at sentence ends, then commas, then spaces, then anywhere.

        Raises:
            TypeError: ``text`` is not a ``str``.
            ValueError: empty text, or nothing speakable.
        """
        pieces = list(self.processor.split(text, max_chars=self.max_chars))
        bounded = [q for p in pieces for q in bound_pieces(p, self.max_chars)]
        if not bounded:
            raise ValueError(f"text {str(text)[:60]!r} has nothing speakable after normalisation")
        return bounded

    @torch.no_grad()
    def __call__(
        self, text: str, progress: Callable[[int, int], None] | None = None, *, vocode: bool = True,
        prosody: ProsodyControl | None = None,
    ) -> SpeechResult:
        """Speak ``text``.

        Args:
            text: English text of any length.
            progress: called as ``progress(done, total)`` (sentences) after each batch.
            vocode: ``False``: stop at the mel spectrogram (``waveform`` is then empty, shape
                ``(0,)``), for callers that transform the mel and vocode it themselves.
            prosody: rate, pitch and energy controls rendered by the acoustic model (one whose
                :attr:`facevox.AcousticModel.supports_prosody` is ``True``); timings follow.

        Returns:
            a :class:`SpeechResult`.

        Raises:
            ValueError: empty or unspeakable text, or ``prosody`` for an acoustic model
                without prosody controls.

        Warns:
            DecoderCapWarning: once, naming the sentences the acoustic model cut at its step cap.
        """
        self._check_prosody(prosody)
        pieces = self.sentences(text)
        order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))
        mels: list[Tensor | None] = [None] * len(pieces)
        waves: list[Tensor | None] = [None] * len(pieces)
        aligns: list[Tensor | None] = [None] * len(pieces)
        symbols: list[list[str]] = [[] for _ in pieces]
        capped = [False] * len(pieces)
        with self._lock:
            if self.seed is not None:
                torch.manual_seed(self.seed)
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                for i, (m, w, a, c, t) in zip(idx, self._synthesize([pieces[i] for i in idx], vocode, prosody),
                                                   strict=True):
                    mels[i], waves[i], aligns[i], capped[i], symbols[i] = m, w, a, c, t
                if progress is not None:
                    progress(min(start + self.batch_size, len(order)), len(order))
        _warn_capped([p for p, c in zip(pieces, capped, strict=True) if c], len(pieces))
        return self._join(pieces, mels, waves, aligns, capped, symbols)

    @torch.no_grad()
    def stream(self, text: str, prosody: ProsodyControl | None = None) -> Iterator[Tensor]:
        """Speak ``text`` sentence by sentence, yielding audio as soon as each sentence is ready.

        The chunks, concatenated, are the waveform of ``self(text)`` up to batching effects
        (each sentence is synthesized alone here): ``(S,)`` float32 in ``[-1, 1]`` at
        :attr:`sample_rate` Hz, one chunk per sentence, each after the first preceded by
        ``pause_s`` of silence. Stop iterating at any time; nothing is left running.

        Raises:
            ValueError: empty or unspeakable text, or ``prosody`` the acoustic model cannot
                render (before the first chunk).

        Warns:
            DecoderCapWarning: once, at the first sentence the acoustic model cut at its step cap.
        """
        self._check_prosody(prosody)
        pieces = self.sentences(text)
        pause = torch.zeros(int(round(self.pause_s * self.sample_rate / self.vocoder.hop_length)) * self.vocoder.hop_length)
        warned = False
        for k, piece in enumerate(pieces):
            with self._lock:
                if self.seed is not None:
                    torch.manual_seed(self.seed)
                (_, wave, _, capped, _), = self._synthesize([piece], vocode=True, prosody=prosody)
            assert wave is not None
            if capped and not warned:
                _warn_capped([piece], len(pieces))
                warned = True
            yield torch.cat([pause, wave]).float() if k else wave.float()

    @property
    def supports_prosody(self) -> bool:
        """Whether the acoustic model renders :class:`facevox.ProsodyControl` itself."""
        return bool(getattr(self.acoustic, "supports_prosody", False))

    def _check_prosody(self, prosody: ProsodyControl | None) -> None:
        if prosody is not None and not prosody.is_identity and not self.supports_prosody:
            raise ValueError(
                f"acoustic model {self.acoustic_name!r} has no prosody controls (supports_prosody is False); "
                "pass prosody=None and style the waveform (facevox.styles.apply_style), or use a model with "
                "a variance adaptor"
            )

    def _synthesize(
        self, texts: list[str], vocode: bool, prosody: ProsodyControl | None = None
    ) -> list[tuple[Tensor, Tensor | None, Tensor | None, bool, list[str]]]:
        """One batch: per text ``(mel (n_mels, T), waveform (S,) or None, alignment (T_dec, L) or
        None, cut at the cap, the L token symbols)``."""
        tokens, lengths = self.processor(texts)
        if tokens.shape[-1] > self.max_tokens:
            longest = int(lengths.argmax())
            raise FacevoxError(
                f"text processor {type(self.processor).__name__} made {tokens.shape[-1]} tokens of the "
                f"{len(texts[longest])}-character piece {texts[longest][:40]!r}; at most "
                f"{self.max_tokens} (4 per character + 16) are synthesized at once"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DecoderCapWarning)  # read from reached_cap, warned once per call
            if prosody is not None and not prosody.is_identity:
                result = _as_output(self.acoustic.infer(tokens, lengths, prosody=prosody))  # type: ignore[call-arg]
            else:
                result = _as_output(self.acoustic.infer(tokens, lengths))
        mel, mel_lengths, alignment = result.mel, result.mel_lengths, result.alignments
        capped = result.capped()
        r = getattr(self.acoustic, "reduction_factor", 1)
        if vocode:
            wave, wave_lengths = self.vocoder(mel, mel_lengths)
        vocabulary = self.processor.symbols
        out: list[tuple[Tensor, Tensor | None, Tensor | None, bool, list[str]]] = []
        for row in range(len(texts)):
            n = int(mel_lengths[row])
            piece = wave[row, : int(wave_lengths[row])].clamp(-1.0, 1.0) if vocode else None
            align = None if alignment is None else alignment[row, : -(-n // r), : int(lengths[row])]
            symbols = [vocabulary[i] for i in tokens[row, : int(lengths[row])].tolist()]
            out.append((mel[row, :, :n], piece, align, capped[row], symbols))
        return out

    def _join(
        self,
        pieces: list[str],
        mels: Sequence[Tensor | None],
        waves: Sequence[Tensor | None],
        aligns: Sequence[Tensor | None],
        capped: list[bool],
        symbols: Sequence[list[str]],
    ) -> SpeechResult:
        hop = int(self.vocoder.hop_length)
        pause_frames = int(round(self.pause_s * self.sample_rate / hop))
        floor = float(min(float(m.min()) for m in mels if m is not None))
        mel_parts: list[Tensor] = []
        wave_parts: list[Tensor] = []
        words: list[WordTiming] = []
        tokens: list[TokenTiming] = []
        frame, frame_s = 0, hop / self.sample_rate  # first mel frame of the current sentence; seconds per frame
        r = int(getattr(self.acoustic, "reduction_factor", 1))
        for k, (m, w) in enumerate(zip(mels, waves, strict=True)):
            assert m is not None
            if k:
                mel_parts.append(torch.full((m.shape[0], pause_frames), floor))
                frame += pause_frames
                if w is not None:
                    wave_parts.append(torch.zeros(pause_frames * hop))
            align = aligns[k]
            if align is not None:
                n, offset = int(m.shape[1]), frame * frame_s
                words += word_timings(
                    align, symbols[k], n_frames=n, frame_s=frame_s, reduction_factor=r, offset_s=offset,
                    sentence=k, text=pieces[k],
                )
                tokens += token_timings(
                    align, symbols[k], n_frames=n, frame_s=frame_s, reduction_factor=r, offset_s=offset, sentence=k
                )
            mel_parts.append(m)
            frame += m.shape[1]
            if w is not None:
                wave_parts.append(w)
        return SpeechResult(
            waveform=torch.cat(wave_parts).float() if wave_parts else torch.zeros(0),
            sample_rate=self.sample_rate,
            mel=torch.cat(mel_parts, dim=1).float(),
            alignments=[a for a in aligns if a is not None],
            texts=list(pieces),
            capped=capped,
            words=words,
            token_timings=tokens,
        )


_MIN_PIECE_CHARS = 20
_TOKENS_PER_CHAR = 4


def _as_output(result: AcousticOutput | tuple[Tensor, Tensor, Tensor]) -> AcousticOutput:
    """``infer``'s result as an :class:`AcousticOutput`; a legacy ``(mel, mel_lengths,
    alignments)`` tuple (models written before ``infer`` returned the dataclass) gets no cap flags."""
    if isinstance(result, AcousticOutput):
        return result
    mel, mel_lengths, alignments = result
    return AcousticOutput(mel=mel, mel_lengths=mel_lengths, alignments=alignments)


def _warn_capped(capped: list[str], total: int) -> None:
    """One :class:`DecoderCapWarning` naming the ``capped`` pieces of ``total`` (none: no warning)."""
    if capped:
        warnings.warn(
            f"the acoustic model hit its step cap on {len(capped)} of {total} sentence(s), e.g. "
            f"{capped[0][:40]!r}; that speech is probably garbled or cut short",
            DecoderCapWarning,
            stacklevel=4,  # the caller of __call__ / stream, past torch.no_grad's wrapper
        )


def _load(name: str, role: type) -> Any:
    model = create_model(name, pretrained=True)
    if not isinstance(model, role):
        raise FacevoxError(f"{name!r} is a {type(model).__name__}, not a {role.__name__}")
    if not get_model_spec(name).has_weights and any(True for _ in model.parameters()):
        warnings.warn(
            f"{name!r} ships no trained weights; it will produce noise, not speech",
            UntrainedModelWarning,
            stacklevel=3,
        )
    model.eval()
    return model
