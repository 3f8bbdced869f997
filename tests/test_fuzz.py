"""Property-based fuzzing of untrusted input (issue 18, item 6) with ``hypothesis``.

Three front doors are fuzzed; each must answer either with its documented result or with its
documented error, never with another exception type:

* **Text** (``facevox_tts.text``): any Unicode string (control characters, emoji, RTL scripts,
  combining marks, digit runs, currency, times, very long words) through :func:`normalize_text`,
  :func:`split_sentences`, :meth:`EnglishCharacters.encode`, ``.split`` and the batch call.
  Result: tokens that are all in :data:`SYMBOLS`, or the documented ``ValueError``.
* **Images** (:func:`facevox.images.load_image`, from bytes and from a file): random bytes behind
  the magic numbers of 40-odd formats Pillow opens, truncations and byte flips of valid images of
  19 kinds (PNG RGB/RGBA/P/16-bit/LA, JPEG with EXIF, GIF, BMP, TIFF, WebP, PPM, TGA, PCX, SGI,
  ICO, JPEG 2000, QOI) written here with Pillow, and numpy arrays of every dtype and rank. Result: an
  ``(H, W, 3)`` uint8 array, or :class:`~facevox.images.ImageReadError`. Pillow's
  ``MAX_IMAGE_PIXELS`` is lowered to 2**20 so that a forged size is refused at once.
* **Checkpoint configs** (:func:`facevox.load_pretrained`): a checkpoint folder of a tiny model
  registered here, whose ``config.json`` is replaced by random JSON, has random top-level
  entries, or one config field set to a random, wrong-typed, huge, negative, non-finite or deeply
  nested value. Result: the model, or :class:`~facevox.CheckpointError` (or
  :class:`~facevox.UnknownModelError` for an unknown model name) naming the problem.

Examples per test (``derandomize=True``, so CI always tries the same ones; ``deadline=None``)::

    test_normalize_text_output_is_clean_and_bounded            200
    test_normalize_text_keeps_words_within_max_word_chars      200  (regression: merges made 820-char words)
    test_normalize_text_time_grows_linearly                      5  (regression: was quadratic on digit runs)
    test_plain_lowercase_words_pass_through_normalisation      100
    test_encode_gives_symbol_tokens_or_value_error             200
    test_split_pieces_are_bounded_and_keep_every_letter        200
    test_split_sentences_refuses_max_chars_below_20             50
    test_processor_batch_matches_encode                        100
    test_random_bytes_decode_or_raise_image_read_error         100
    test_truncated_images_decode_or_raise_image_read_error     100
    test_corrupted_images_decode_or_raise_image_read_error     100
    test_truncated_qoi_is_an_image_read_error                  100  (regression: was an IndexError)
    test_numpy_arrays_decode_or_raise_image_read_error         100
    test_random_json_config_file_is_a_checkpoint_error         150
    test_mutated_checkpoint_entries                            150
    test_mutated_config_field                                  150
"""

from __future__ import annotations

import dataclasses
import enum
import io
import json
import math
import re
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import facevox
import numpy as np
import pytest
import torch
from facevox import (
    CheckpointError,
    FacevoxError,
    UnknownModelError,
    hookimpl,
    load_pretrained,
    plugins,
    save_pretrained,
)
from facevox.images import ImageReadError, load_image
from facevox_tts.normalize_words import spell_letters
from facevox_tts.text import (
    EOS,
    MAX_WORD_CHARS,
    PAD,
    SYMBOLS,
    EnglishCharacters,
    normalize_text,
    split_sentences,
)
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from torch import Tensor, nn


def _settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,  # nothing written to .hypothesis/; every run tries the same examples
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# =========================================================================================== text

#: What normalisation may keep: :data:`SYMBOLS` (less padding and end token) and non-ASCII
#: characters outside it, which the tokenizer drops with a warning.
_ACCEPTED = frozenset(SYMBOLS[2:])
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: Characters normalize_text documents as removed or replaced: quotes, brackets, the symbols it
#: spells (``& % + = @ # ° × /``) or blanks (``* _ ~``), and ``; :`` (become commas).
_NEVER_IN_OUTPUT = frozenset("\"“”«»()[]{}<>`´^|\\&%+=@#°×/*_~;:\t\n\r")

_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x85\u00a0\u2003\u2028\u3000"
_fragments = st.one_of(
    st.text(),  # any code point but surrogates: controls, emoji, RTL, combining marks, CJK...
    st.text(alphabet="0123456789$£€%,.:;-–—'’ #&/×°stndrhapmAPM", max_size=40),  # numbers, money, times
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-", min_size=30, max_size=300),  # long words
    st.text(alphabet=_WHITESPACE + ",.!?;:-", max_size=12),  # white space and punctuation runs
    st.sampled_from(
        ["Dr.", "St. Louis", "Main St.", "No. 5", "e.g.", "i.e.", "FBI", "U.S.A.", "10:30 am", "9:05 p.m.",
         "$3.50", "£1 million", "21st", "1984", "12%", "½", "①", "ﬀ", "ﷺ", "İ", "שלום", "مرحبا", "👍🏽", "\u200b",
         "\u202e", "\x00", "\ufeff", "é", "e\u0301", "Ⅻ", "１２３", "٣٤٥"]
    ),
    st.text(alphabet="0123456789,.", min_size=20, max_size=120),  # digit runs past MAX_NUMBER_DIGITS
)
#: Any text, and texts glued from the fragments above (more likely to reach every rule).
texts = st.one_of(st.text(), st.lists(_fragments, max_size=8).map("".join))


def _normalize(text: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return normalize_text(text)


@_settings(200)
@given(texts)
def test_normalize_text_output_is_clean_and_bounded(text: str) -> None:
    out = normalize_text(text)  # documented: any Unicode string, no error
    assert isinstance(out, str)
    assert out == out.strip(" ,"), "no leading or trailing space or comma"
    assert "  " not in out, "white space collapses to one space"
    assert not _NEVER_IN_OUTPUT & set(out), sorted(_NEVER_IN_OUTPUT & set(out))
    assert not re.search(r"[A-Z]", out), "lower case"
    assert not any(ch.isdecimal() for ch in out), "numbers are spelled"
    # "work and output are bounded by the input's length": NFKC grows one code point to at most
    # 18 (U+FDFA), and a spelled digit takes at most about 12 characters ("888888" -> 70).
    assert len(out) <= 20 * len(text) + 20


@_settings(200)
@given(texts)
@example("a" * 40 + " , ," + "b" * 39)  # -> 80 characters without a space
@example("a" * 40 + " .")  # -> 41
def test_normalize_text_keeps_words_within_max_word_chars(text: str) -> None:
    """Documented: "no word of the result is longer than MAX_WORD_CHARS characters"."""
    out = normalize_text(text)
    assert max(map(len, out.split()), default=0) <= MAX_WORD_CHARS, out


def _cpu_seconds(text: str, repeats: int) -> float:
    """Least CPU time of ``repeats`` normalisations (CPU, not wall time: a busy machine does not count)."""
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        normalize_text(text)
        best = min(best, time.process_time() - start)
    return best


@_settings(5)
@given(st.text(alphabet="1,.$%st a", min_size=1, max_size=3))
@example("1")  # '1' * 6000: ~0.8 s of _PERCENT_RE alone
@example("1,")  # _PERCENT_RE and _ORDINAL_RE
def test_normalize_text_time_grows_linearly(unit: str) -> None:
    """Documented: "work and output are bounded by the input's length". 4x the text, about 4x the time."""
    short, long = (unit * 1500)[:1500], (unit * 6000)[:6000]
    short_s, long_s = _cpu_seconds(short, 3), _cpu_seconds(long, 2)
    assert long_s <= 8 * short_s + 0.02, f"{unit!r}: {short_s:.3f} s for 1,500 characters, {long_s:.3f} s for 6,000"


_plain_words = st.lists(st.text(alphabet=_LETTERS, min_size=1, max_size=90), min_size=1, max_size=12)


@_settings(100)
@given(_plain_words, st.lists(st.text(alphabet=_WHITESPACE, min_size=1, max_size=3), min_size=13, max_size=13))
def test_plain_lowercase_words_pass_through_normalisation(words: list[str], gaps: list[str]) -> None:
    """Lower-case ASCII words lose nothing: white space collapses, long words are only cut."""
    text = gaps[0] + "".join(w + g for w, g in zip(words, gaps[1:], strict=False))
    out = normalize_text(text)
    assert "".join(out.split(" ")) == "".join(words)
    assert all(0 < len(w) <= MAX_WORD_CHARS for w in out.split(" "))
    if all(len(w) <= MAX_WORD_CHARS for w in words):
        assert out == " ".join(words)
    assert normalize_text(out) == out  # idempotent on such text


@_settings(200)
@given(texts)
def test_encode_gives_symbol_tokens_or_value_error(text: str) -> None:
    processor = EnglishCharacters()
    normalized = spell_letters(_normalize(text))  # what EnglishCharacters.normalize does
    expected = [SYMBOLS.index(ch) for ch in normalized if ch in _ACCEPTED]
    speakable = bool(text.strip()) and any(ch in _LETTERS for ch in normalized)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ids = processor.encode(text)
        except ValueError as exc:  # documented: empty, white space only, nothing speakable
            assert not speakable, f"refused speakable text: {exc}"
            assert re.search(r"empty or only white space|nothing speakable", str(exc)), str(exc)
            event("ValueError")
            return
    event("tokens, some dropped with a warning" if set(normalized) - _ACCEPTED else "tokens")
    assert speakable, f"accepted {text!r} ({normalized!r}) with no letter"
    assert ids[-1] == processor.eos_id == SYMBOLS.index(EOS)
    assert ids[:-1] == expected  # every accepted character, in order, nothing else
    assert all(2 <= i < len(SYMBOLS) for i in ids[:-1]), "no padding or end token inside"
    dropped = set(normalized) - _ACCEPTED
    warned = [w for w in caught if issubclass(w.category, UserWarning) and "unknown symbol" in str(w.message)]
    assert bool(warned) == bool(dropped), (dropped, [str(w.message) for w in caught])


@_settings(200)
@given(texts, st.integers(min_value=20, max_value=200))
def test_split_pieces_are_bounded_and_keep_every_letter(text: str, max_chars: int) -> None:
    processor = EnglishCharacters()
    normalized = spell_letters(_normalize(text))
    speakable = bool(text.strip()) and any(ch in _LETTERS for ch in normalized)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pieces = processor.split(text, max_chars=max_chars)
        except ValueError as exc:
            assert not speakable, f"refused speakable text: {exc}"
            assert re.search(r"empty or only white space|nothing speakable", str(exc)), str(exc)
            event("ValueError")
            return
    event("one piece" if len(pieces) == 1 else "several pieces")
    assert speakable and pieces
    assert all(isinstance(p, str) and 0 < len(p) <= max_chars for p in pieces), [len(p) for p in pieces]
    assert all(any(ch in _LETTERS for ch in p) for p in pieces), "every piece has a letter"
    letters = re.compile(f"[^{_LETTERS}]")
    assert letters.sub("", "".join(pieces)) == letters.sub("", normalized), "no letter lost or added"
    # the pieces of normalised text are what split_sentences makes of it (less letterless ones)
    assert [p for p in split_sentences(normalized, max_chars) if letters.sub("", p)] == pieces


@_settings(50)
@given(texts, st.integers(max_value=19))
def test_split_sentences_refuses_max_chars_below_20(text: str, max_chars: int) -> None:
    with pytest.raises(ValueError, match=f"max_chars must be >= 20, got {max_chars}$"):
        split_sentences(_normalize(text), max_chars=max_chars)


@_settings(100)
@given(st.lists(texts, min_size=1, max_size=4))
def test_processor_batch_matches_encode(batch: list[str]) -> None:
    processor = EnglishCharacters()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoded: list[list[int]] | None = []
        for text in batch:
            try:
                encoded.append(processor.encode(text))
            except ValueError:
                encoded = None
                break
        try:
            tokens, lengths = processor(batch)
        except ValueError:
            assert encoded is None, "the batch refused texts that encode alone"
            return
    assert encoded is not None, "the batch accepted a text that encode refuses"
    assert tokens.dtype == lengths.dtype == torch.int64
    assert tokens.shape == (len(batch), max(map(len, encoded)))
    assert lengths.tolist() == [len(e) for e in encoded]
    for row, ids in zip(tokens.tolist(), encoded, strict=True):
        assert row[: len(ids)] == ids and all(t == SYMBOLS.index(PAD) for t in row[len(ids) :])


# ========================================================================================= images

_W, _H = 8, 6


def _seed_images() -> dict[str, tuple[bytes, tuple[int, int, int]]]:
    """Small valid files of many formats: name -> (bytes, the (H, W, 3) load_image gives)."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (_H, _W, 3), dtype=np.uint8), "RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 on display -> (W, H)
    kinds: list[tuple[str, Image.Image, str, dict[str, Any]]] = [
        ("png-rgb", rgb, "PNG", {}),
        ("png-rgba", rgb.convert("RGBA"), "PNG", {}),
        ("png-palette", rgb.convert("P"), "PNG", {}),
        ("png-16bit", rgb.convert("L").convert("I;16"), "PNG", {}),
        ("png-la", rgb.convert("LA"), "PNG", {}),
        ("jpeg-exif", rgb, "JPEG", {"exif": exif.tobytes(), "quality": 90}),
        ("jpeg-progressive", rgb, "JPEG", {"progressive": True}),
        ("gif", rgb.convert("P"), "GIF", {}),
        ("bmp", rgb, "BMP", {}),
        ("tiff-lzw", rgb, "TIFF", {"compression": "tiff_lzw"}),
        ("tiff-raw", rgb.convert("L"), "TIFF", {}),
        ("webp", rgb, "WEBP", {"lossless": True}),
        ("ppm", rgb, "PPM", {}),
        ("tga", rgb, "TGA", {}),
        ("pcx", rgb, "PCX", {}),
        ("sgi", rgb, "SGI", {}),
        ("ico", rgb, "ICO", {"sizes": [(_W, _H)]}),
        ("jpeg2000", rgb, "JPEG2000", {}),
        ("qoi", rgb, "QOI", {}),
    ]
    seeds: dict[str, tuple[bytes, tuple[int, int, int]]] = {}
    for name, image, fmt, options in kinds:
        buffer = io.BytesIO()
        try:
            image.save(buffer, format=fmt, **options)
        except (KeyError, OSError, ValueError):  # a codec this Pillow lacks
            continue
        data = buffer.getvalue()
        seeds[name] = (data, load_image(data).shape)
    return seeds


SEEDS = _seed_images()
_MAGIC = [
    b"", b"\x89PNG\r\n\x1a\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1",
    b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"RIFF\x00\x00\x00\x00WEBPVP8L", b"P1\n", b"P4\n",
    b"P5\n", b"P6\n8 6\n255\n", b"P7\n", b"Pf\n", b"\x00\x00\x01\x00\x01\x00", b"\x00\x00\x02\x00", b"8BPS\x00\x01",
    b"DDS |\x00\x00\x00", b"qoif", b"\x0a\x05\x01\x08", b"\x01\xda", b"icns", b"\x00\x00\x00\x0cjP  \r\n\x87\n",
    b"\xffO\xffQ", b"#define im_width 8\n", b"/* XPM */\n", b"\x59\xa6\x6a\x95", b"\xb1\x68\xde\x3a", b"FTEX",
    b"BLP1", b"BLP2", b"GIMP", b"SIMPLE  =                    T", b"Image type: RGB image\r\n", b"\x00\x00\x1a\x00",
    b"\x11\x00", b"\xd7\xcd\xc6\x9a", b"\x01\x00\x00\x00", b"DanM", b"LinS", b"\x00\x01\x00\x00\x00\x00",
]


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder for image files; Pillow's bomb limit lowered so a forged header cannot make a test slow."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Image, "MAX_IMAGE_PIXELS", 1 << 20)
        yield tmp_path_factory.mktemp("fuzz-images")


def _load(data: bytes, folder: Path | None) -> tuple[np.ndarray | None, ImageReadError | None, str]:
    """load_image of ``data`` (as bytes, or as a file in ``folder``): (array, error, source named)."""
    source: str = "<bytes>"
    image: bytes | Path = data
    if folder is not None:
        image = folder / "input.img"
        image.write_bytes(data)
        source = str(image)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning, Pillow's own warnings
        try:
            return load_image(image), None, source
        except ImageReadError as exc:  # documented; any other exception fails the test
            return None, exc, source


def _check_decoded(array: np.ndarray | None, error: ImageReadError | None, source: str) -> None:
    event("decoded" if error is None else "ImageReadError")
    if error is not None:
        assert isinstance(error, FacevoxError) and isinstance(error, ValueError)
        assert error.source == source and error.reason
        assert str(error).startswith(f"cannot read image {source}: ")
        return
    assert isinstance(array, np.ndarray)
    assert array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3
    assert array.shape[0] >= 1 and array.shape[1] >= 1 and array.flags.c_contiguous


@_settings(100)
@given(st.sampled_from(_MAGIC), st.binary(max_size=1024), st.booleans())
def test_random_bytes_decode_or_raise_image_read_error(
    image_dir: Path, magic: bytes, tail: bytes, as_file: bool
) -> None:
    array, error, source = _load(magic + tail, image_dir if as_file else None)
    _check_decoded(array, error, source)
    if not magic + tail:
        assert error is not None


@_settings(100)
@given(st.sampled_from(sorted(SEEDS)), st.floats(min_value=0.0, max_value=1.0, exclude_max=True), st.booleans())
def test_truncated_images_decode_or_raise_image_read_error(
    image_dir: Path, name: str, fraction: float, as_file: bool
) -> None:
    data, shape = SEEDS[name]
    array, error, source = _load(data[: int(len(data) * fraction)], image_dir if as_file else None)
    _check_decoded(array, error, source)
    if array is not None:  # the header survived: the size cannot change
        assert array.shape == shape, name


@_settings(100)
@given(
    st.sampled_from(sorted(SEEDS)),
    st.lists(st.tuples(st.floats(min_value=0.0, max_value=1.0, exclude_max=True), st.integers(0, 255)),
             min_size=1, max_size=8),
    st.binary(max_size=64),
)
def test_corrupted_images_decode_or_raise_image_read_error(
    image_dir: Path, name: str, flips: list[tuple[float, int]], inserted: bytes
) -> None:
    data, _ = SEEDS[name]
    corrupt = bytearray(data)
    for where, value in flips:
        corrupt[int(where * len(corrupt))] = value
    at = int(flips[0][0] * len(corrupt))
    corrupt[at:at] = inserted
    array, error, source = _load(bytes(corrupt), None)
    _check_decoded(array, error, source)


def _qoi_file() -> bytes:
    """The 8x6 seed picture as a QOI file (Pillow 11.3+ writes QOI; older ones: a bare header)."""
    buffer = io.BytesIO()
    try:
        Image.new("RGB", (_W, _H), (200, 30, 90)).save(buffer, format="QOI")
    except (KeyError, OSError, ValueError):
        return b"qoif\x00\x00\x00\x08\x00\x00\x00\x06\x03\x00"
    return buffer.getvalue()


@_settings(100)
@given(
    st.one_of(
        st.integers(min_value=0, max_value=len(_qoi_file())).map(lambda n: _qoi_file()[:n]),
        st.binary(max_size=64).map(lambda tail: b"qoif" + tail),
    )
)
@example(b"qoif\x00\x00\x00\x01\x00\x00\x00\x01\x03\x00")  # a 1x1 RGB header and no pixel data
def test_truncated_qoi_is_an_image_read_error(data: bytes) -> None:
    """Found by this suite: Pillow's QoiDecoder reads ``fd.read(1)[0]`` past the end (IndexError)."""
    array, error, source = _load(data, None)
    _check_decoded(array, error, source)


def _array_accepted(arr: np.ndarray) -> bool | None:
    """Whether load_image documents ``arr`` as accepted (``None``: not documented either way)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if arr.dtype.kind == "b":
            values_ok = True
        elif arr.dtype.kind == "f":
            values_ok = not arr.size or not (np.nanmin(arr) < 0 or np.nanmax(arr) > 1)
        elif arr.dtype.kind in "iu":
            values_ok = not arr.size or bool(arr.min() >= 0 and arr.max() <= 255)
        elif arr.dtype.kind == "m":
            return None  # timedelta64 counts as an integer dtype in numpy: accepted or refused
        else:
            values_ok = False  # complex, datetime, strings
    shape_ok = arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4))
    return values_ok and shape_ok and arr.ndim >= 2 and arr.shape[0] >= 1 and arr.shape[1] >= 1


_dtypes = st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(max_len=2), hnp.unicode_string_dtypes(max_len=2))


@_settings(100)
@given(
    st.one_of(
        hnp.arrays(_dtypes, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)),
        hnp.arrays(st.sampled_from([np.uint8, np.float32, np.float64, np.bool_, np.int16]),
                   st.tuples(st.integers(0, 5), st.integers(0, 5), st.sampled_from([1, 3, 4]))),
    )
)
def test_numpy_arrays_decode_or_raise_image_read_error(arr: np.ndarray) -> None:
    expected = _array_accepted(arr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's all-NaN warning
        try:
            out = load_image(arr)
        except ImageReadError as exc:
            assert expected is not True, f"refused an accepted {arr.dtype} {arr.shape} array: {exc}"
            assert exc.source == "<array>" and exc.reason
            event("ImageReadError")
            return
    event("decoded")
    assert expected is not False, f"accepted a {arr.dtype} {arr.shape} array"
    assert out.dtype == np.uint8 and out.shape == (*arr.shape[:2], 3) and out.flags.c_contiguous
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    if channels in (1, 3) and arr.dtype.kind in "biu":  # exact copies, greyscale repeated
        grid = arr.reshape(*arr.shape[:2], channels).astype(np.uint8) * (255 if arr.dtype.kind == "b" else 1)
        assert np.array_equal(out, np.broadcast_to(grid, out.shape))
    elif channels in (1, 3) and arr.dtype.kind == "f":
        grid = np.nan_to_num(arr.astype(np.float64).reshape(*arr.shape[:2], channels)) * 255.0
        assert np.abs(out - np.broadcast_to(grid, out.shape)).max(initial=0) <= 1.0


# ==================================================================================== checkpoints


class Mode(str, enum.Enum):
    PLAIN = "plain"
    FANCY = "fancy"


@dataclass(frozen=True)
class FuzzInner:
    n_taps: int = 2  # a size (n_*): 1..2**20
    gain: float = 1.0


@dataclass(frozen=True)
class FuzzConfig:
    in_features: int = 4  # a size
    widths: tuple[int, ...] = (3, 2)  # sizes
    dropout: float = 0.1  # 0..1
    flag: bool = True
    mode: Mode = Mode.PLAIN
    label: str = "x"
    offset: int = -1  # not a size: any int64
    limit: int | None = None
    depth: int = field(default=1, metadata={"min": 1, "max": 4})
    scales: tuple[float, float] = (0.5, 2.0)
    tags: Mapping[str, int] = field(default_factory=dict)
    inner: FuzzInner = FuzzInner()

    def __post_init__(self) -> None:
        if self.label == "forbidden":
            raise ValueError("label 'forbidden' is reserved")


_CAP = 8  # layer sizes are capped, so that no accepted config allocates much


def _layer_sizes(in_features: int, widths: tuple[int, ...]) -> list[int]:
    return [min(in_features, _CAP), *(min(w, _CAP) for w in widths[:4])]


class FuzzNet(nn.Module):
    """Linear layers of (capped) ``in_features -> widths``; the default config's weights are saved."""

    def __init__(self, config: FuzzConfig) -> None:
        super().__init__()
        self.config = config
        sizes = _layer_sizes(config.in_features, config.widths)
        self.net = nn.Sequential(*(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:], strict=False)))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class _FuzzPlugin:
    @hookimpl
    def register_models(self, register):  # type: ignore[no-untyped-def]
        card = facevox.ModelCard(summary="A tiny model for the fuzz tests.")
        register(facevox.ModelSpec(name="fuzz.tiny", task=facevox.Task.EXPRESSION_CLASSIFICATION,
                                   factory=FuzzNet, config=FuzzConfig(), card=card))


@dataclass(frozen=True)
class Checkpoint:
    folder: Path
    meta: dict[str, Any]  # the valid config.json

    def write(self, text: str) -> None:
        (self.folder / "config.json").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Checkpoint]:
    """A saved ``fuzz.tiny`` checkpoint in a plugin manager that holds only this module's plugin."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plugins, "_entry_points", lambda: iter(()))
        plugins.reset_plugin_manager()
        plugins.register_plugin(_FuzzPlugin(), name="fuzz")
        folder = save_pretrained(facevox.create_model("fuzz.tiny", pretrained=False),
                                 tmp_path_factory.mktemp("fuzz-ckpt") / "ckpt")
        meta = json.loads((folder / "config.json").read_text())
        yield Checkpoint(folder, meta)
    plugins.reset_plugin_manager()
    torch.set_num_threads(threads)


# JSON values: strings with any code point (lone surrogates too: json writes them as \ud800)
_json_text = st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=12)
_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=-(2**64), max_value=2**64), st.floats(allow_nan=False, allow_infinity=False), _json_text,
)
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_json_text, inner, max_size=4),
    max_leaves=16,
)


def _load_outcome(ckpt: Checkpoint) -> tuple[nn.Module | None, FacevoxError | None]:
    try:
        return load_pretrained(ckpt.folder), None
    except (CheckpointError, UnknownModelError) as exc:  # documented; anything else fails the test
        return None, exc


@_settings(150)
@given(json_values)
def test_random_json_config_file_is_a_checkpoint_error(checkpoint: Checkpoint, value: Any) -> None:
    checkpoint.write(json.dumps(value))
    model, error = _load_outcome(checkpoint)
    assert model is None and isinstance(error, CheckpointError), "random JSON is not a checkpoint config"
    assert str(checkpoint.folder / "config.json") in str(error)
    assert "is not a facevox checkpoint config (format 'facevox-checkpoint')" in str(error)


_DELETE = object()  # the entry is removed
_entry_values: dict[str, st.SearchStrategy[Any]] = {
    "format": st.sampled_from(["facevox-checkpoint", "facevox-checkpoint ", "Facevox-Checkpoint", "pickle"]),
    "version": st.sampled_from([1, 1.0, True, "1", 2, 0, -1, None, [1]]),
    "model": st.sampled_from(["fuzz.tiny", "fuzz.Tiny", "fuzz", "", "\ud800", 1, None, ["fuzz.tiny"]]),
    "config": st.one_of(st.just({}), st.just([]), st.dictionaries(_json_text, json_values, max_size=3)),
    "sha256": st.sampled_from(["upper", "other", "short", "nonhex", 0, None]),
    "card": st.one_of(st.just({}), st.dictionaries(_json_text, json_values, max_size=3), _json_scalars),
    "extra": json_values,
}


@_settings(150)
@given(st.dictionaries(st.sampled_from(sorted(_entry_values)), st.just(_DELETE), max_size=3), st.data())
def test_mutated_checkpoint_entries(checkpoint: Checkpoint, deleted: dict[str, object], data: st.DataObject) -> None:
    """Top-level entries removed or replaced: the first bad one (in load order) is the error."""
    meta = dict(checkpoint.meta)
    digest = meta["sha256"]
    changes = data.draw(st.dictionaries(st.sampled_from(sorted(_entry_values)), st.none(), max_size=4))
    for key in changes:
        value = data.draw(_entry_values[key], label=key)
        if key == "sha256":
            value = {"upper": digest.upper(), "other": "0" * 64, "short": digest[:63],
                     "nonhex": "z" * 64}.get(value, value) if isinstance(value, str) else value
        meta[key] = value
    for key in deleted:
        meta.pop(key, None)
    checkpoint.write(json.dumps(meta))

    fields = {f.name for f in dataclasses.fields(FuzzConfig)}
    version = meta.get("version", 1)
    config = meta.get("config")
    expected: str | None = None  # the error, in the order load_pretrained checks
    if meta.get("format") != "facevox-checkpoint":
        expected = "is not a facevox checkpoint config"
    elif missing := [k for k in ("model", "config", "sha256") if k not in meta]:
        expected = f"lacks the {missing[0]!r} entry"
    elif not (type(version) is int and version == 1):
        expected = "entry 'version' = "
    elif not isinstance(meta["model"], str):
        expected = "entry 'model' = "
    elif not isinstance(config, dict):
        expected = "entry 'config' = "
    elif not (isinstance(meta["sha256"], str) and re.fullmatch(r"[0-9a-fA-F]{64}", meta["sha256"])):
        expected = "entry 'sha256' = "
    elif not isinstance(meta.get("card", {}), dict):
        expected = "entry 'card' = "
    elif meta["model"] != "fuzz.tiny":
        expected = "UnknownModelError"
    elif set(config) - fields:
        expected = "unknown FuzzConfig field(s)"
    elif config and config != checkpoint.meta["config"]:
        expected = "?"  # random values for real fields: checked by test_mutated_config_field
    elif meta["sha256"].lower() != digest:
        expected = "does not match its config's sha256"

    model, error = _load_outcome(checkpoint)
    event(f"{type(error).__name__ if error else 'loaded'}: {expected or 'valid'}")
    if expected is None:
        assert error is None, f"refused a valid checkpoint: {error}"
        assert isinstance(model, FuzzNet) and model.config == FuzzConfig() and not model.training
    elif expected == "UnknownModelError":
        assert isinstance(error, UnknownModelError), error
    elif expected != "?":
        assert isinstance(error, CheckpointError) and expected in str(error), (expected, error)


def _finite(value: Any) -> bool:
    if type(value) not in (int, float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _is_int(value: Any, lo: int = -(2**63), hi: int = 2**63 - 1) -> bool:
    return type(value) is int and lo <= value <= hi


_SIZE = (1, 1 << 20)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _inner_ok(value: Any) -> bool | str:
    if not isinstance(value, dict):
        return False
    if set(value) - {"n_taps", "gain"}:
        return "unknown FuzzInner field(s)"
    return ("n_taps" not in value or _is_int(value["n_taps"], *_SIZE)) and ("gain" not in value or _finite(value["gain"]))


#: field -> whether a JSON value is accepted (True/False), or the error text expected instead
_ORACLE: dict[str, Any] = {
    "in_features": lambda v: _is_int(v, *_SIZE),
    "widths": lambda v: isinstance(v, list) and all(_is_int(w, *_SIZE) for w in v),
    "dropout": lambda v: _finite(v) and 0 <= v <= 1,
    "flag": lambda v: type(v) is bool,
    "mode": lambda v: v in ("plain", "fancy") and type(v) is str,
    "label": lambda v: "FuzzConfig refuses config" if v == "forbidden" else type(v) is str,
    "offset": lambda v: _is_int(v),
    "limit": lambda v: v is None or _is_int(v),
    "depth": lambda v: _is_int(v, 1, 4),
    "scales": lambda v: isinstance(v, list) and len(v) == 2 and all(map(_finite, v)),
    "tags": lambda v: isinstance(v, dict) and all(_is_int(t) for t in v.values()),
    "inner": _inner_ok,
    "inner.n_taps": lambda v: _is_int(v, *_SIZE),
    "inner.gain": _finite,
}
_converted: dict[str, Any] = {
    "widths": tuple, "scales": lambda v: tuple(map(float, v)), "dropout": float, "mode": Mode, "inner.gain": float,
    "inner": lambda v: FuzzInner(**{k: float(x) if k == "gain" else x for k, x in v.items()}),
}

_special = st.sampled_from(
    [None, True, False, 0, -1, 1, 2, 3, 4, 5, 8, 2**20, 2**20 + 1, 2**31, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1,
     10**30, 10**300, 0.0, -0.0, 0.5, 1.0, 1.5, -0.5, 1e308, 5e-324, "", "plain", "fancy", "PLAIN", "forbidden",
     "4", "0.1", "true", "null", [], [1], [3, 2], [4, 4], [3, 2, 1], [0], [-1, 2], [2**20, 2**20], [True, 2],
     [0.5, 2.0], [1, 2], [1, 2, 3], ["a", 1], {}, {"a": 1}, {"a": True}, {"a": 1.5}, {"n_taps": 3},
     {"gain": 2}, {"n_taps": 0}, {"bogus": 1}, {"gain": "x"}, [[1]], [[[]]]]
)
#: Tokens written into config.json as they are (not valid Python JSON output), and their values.
_RAW = {"1" * 5000: ValueError, "1e400": math.inf, "-1e400": -math.inf, "NaN": ValueError, "Infinity": ValueError,
        "-Infinity": ValueError, "1E2": 100.0, "-0": 0}


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


_field_values = st.one_of(
    _special, json_values, st.sampled_from(sorted(_RAW)).map(lambda t: ("raw", t)),
    st.integers(55, 70).map(_nested),  # around the 64-level limit
)


@_settings(150)
@given(st.sampled_from(sorted(_ORACLE)), _field_values)
def test_mutated_config_field(checkpoint: Checkpoint, name: str, value: Any) -> None:
    """One config field set to a random value: loads with that value, or one error naming the field."""
    meta = json.loads(json.dumps(checkpoint.meta))
    target = meta["config"]
    *outer, last = name.split(".")
    for key in outer:
        target = target[key]
    raw = value[1] if isinstance(value, tuple) else None
    target[last] = "@RAW@" if raw is not None else value
    text = json.dumps(meta)
    if raw is not None:
        text = text.replace('"@RAW@"', raw)
        value = _RAW[raw]
    checkpoint.write(text)

    levels = 2 + len(outer) + _depth(value)  # meta, config, the inner object, then the value
    if value is ValueError:
        accepted: bool | str = "is not valid JSON"
    elif levels > 64:
        accepted = "nests arrays or objects deeper than 64 levels"
    else:
        accepted = _ORACLE[name](value)
        if accepted is True and name in ("in_features", "widths"):  # weights saved for (4, 3, 2)
            sizes = _layer_sizes(value if name == "in_features" else 4, tuple(value) if name == "widths" else (3, 2))
            accepted = True if sizes == [4, 3, 2] else "do not fit FuzzNet"

    model, error = _load_outcome(checkpoint)
    event(f"{type(error).__name__ if error else 'loaded'}: {'valid' if accepted is True else accepted or 'field refused'}")
    if accepted is True:
        assert error is None, f"refused {name}={value!r}: {error}"
        assert isinstance(model, FuzzNet)
        loaded = model.config
        for key in name.split("."):
            loaded = getattr(loaded, key)
        assert loaded == _converted.get(name, lambda v: v)(value)
        assert type(loaded) is type(_converted.get(name, lambda v: v)(value))
        return
    assert isinstance(error, CheckpointError), f"{name}={value!r} loaded"
    message = str(error)
    if accepted is False:  # refused by the field check: the field and the file are named
        assert re.search(rf"config field ['\"]config\.{re.escape(name)}", message), message  # repr quotes
        assert "is not accepted; expected" in message, message
        assert str(checkpoint.folder / "config.json") in message
    else:
        assert accepted in message, (accepted, message)
