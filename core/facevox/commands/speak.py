"""``facevox speak``: synthesize English text to a WAV file."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["command", "default_output_name"]


def default_output_name(text: str, folder: Path | None = None) -> Path:
    """A file name from the first words of ``text`` that does not exist yet, e.g. ``hello_there.wav``."""
    folder = folder or Path.cwd()
    stem = "_".join(re.findall(r"[a-z0-9]+", text.lower())[:5])[:40] or "speech"
    path = folder / f"{stem}.wav"
    n = 2
    while path.exists():
        path = folder / f"{stem}_{n}.wav"
        n += 1
    return path


def _read_text(text: str | None, file: Path | None) -> str:
    if text is not None and file is not None:
        raise click.UsageError("give TEXT or --file, not both")
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"cannot read {file}: {exc}", param_hint="--file") from exc
    if text is None:
        raise click.UsageError("give the TEXT to speak, '-' to read it from stdin, or --file TEXT_FILE")
    if text == "-":
        return sys.stdin.read()
    return text


@click.command("speak")
@click.argument("text", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="WAV file to write [default: a name made from the text, printed].")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Read the text from this UTF-8 file.")
@click.option("--model", "acoustic", default=None, help="Acoustic model [default: tts.fastspeech_joe].")
@click.option("--vocoder", default=None, help="Vocoder [default: hifigan.universal; griffinlim.default is faster].")
@click.option("--emotion", default=None, help="Speak in this emotion's style (e.g. happy, sad, angry).")
@click.option("--face", "face_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Photo: speak in the style of the detected emotion of its largest face.")
@click.option("--face-index", type=click.IntRange(min=0), default=None,
              help="With --face: use this face (detection order) instead of the largest.")
@click.option("--json", "as_json", is_flag=True, help="Print the result (emotion, style, faces, duration) as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def command(
    text: str | None,
    output: Path | None,
    file: Path | None,
    acoustic: str | None,
    vocoder: str | None,
    emotion: str | None,
    face_path: Path | None,
    face_index: int | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Synthesize speech from TEXT ('-' reads standard input) into a WAV file.

    \b
    Examples:
      facevox speak "Dr. Smith paid $42 on May 3rd." -o hello.wav
      facevox speak --file chapter.txt --vocoder griffinlim.default
      echo "Hello there." | facevox speak - -o hello.wav
      facevox speak "What a lovely day." --emotion happy -o happy.wav
      facevox speak "What a lovely day." --face photo.jpg -o styled.wav --json
    """
    from facevox.audio import save_wav
    from facevox.pipelines.speech import DEFAULT_ACOUSTIC_MODEL, DEFAULT_VOCODER, TextToSpeechPipeline

    content = _read_text(text, file)
    if not content.strip():
        raise click.BadParameter("the text is empty; give some English text to speak", param_hint="TEXT")
    target = output or default_output_name(content)
    if not target.parent.is_dir():
        raise click.BadParameter(f"folder {target.parent} does not exist", param_hint="--output")
    pipeline = TextToSpeechPipeline(acoustic=acoustic or DEFAULT_ACOUSTIC_MODEL, vocoder=vocoder or DEFAULT_VOCODER)
    if face_index is not None and face_path is None:
        raise click.UsageError("--face-index needs --face PHOTO")
    if emotion is not None or face_path is not None:
        _speak_styled(pipeline, content, target, emotion, face_path, face_index, as_json)
        return
    try:
        pieces = pipeline.sentences(content)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="TEXT") from exc
    show = not quiet and len(pieces) > 1
    with click.progressbar(length=len(pieces), label="speaking", file=sys.stderr, hidden=not show) as bar:
        state = {"done": 0}

        def _progress(done: int, total: int) -> None:
            bar.update(done - state["done"])
            state["done"] = done

        result = pipeline(content, progress=_progress)
    save_wav(target, result.waveform, result.sample_rate)
    failed = sum(result.capped)
    if failed:
        click.echo(f"warning: {failed} sentence(s) hit the decoder cap and may be garbled", err=True)
    click.echo(f"{target} ({result.duration_s:.1f} s, {len(pieces)} sentence(s))")


def _speak_styled(
    pipeline: Any,
    content: str,
    target: Path,
    emotion: str | None,
    face_path: Path | None,
    face_index: int | None,
    as_json: bool,
) -> None:
    """``--emotion`` / ``--face``: speech styled by an emotion or by a photo's detected emotion."""
    from facevox.audio import save_wav
    from facevox.pipelines.face_to_voice import FaceToVoicePipeline
    from facevox.styles import list_speech_styles

    if emotion is not None and emotion not in list_speech_styles():
        raise click.BadParameter(
            f"no speech style for {emotion!r}; accepted: {', '.join(list_speech_styles())}", param_hint="--emotion"
        )
    styled = FaceToVoicePipeline(speech_pipeline=pipeline)
    if face_path is None:
        result = styled.speak(content, emotion)
    else:
        result = styled(face_path, content, emotion=emotion, face="largest" if face_index is None else face_index)
    save_wav(target, result.waveform, result.sample_rate)
    if as_json:
        click.echo(json.dumps({"path": str(target), **result.to_dict()}))
        return
    if face_path is not None and result.face is not None:
        probability = result.probabilities.get(result.emotion, 0.0)
        click.echo(f"face {result.face_index} {list(result.face.box)}: {result.emotion} ({probability:.0%})", err=True)
    click.echo(f"{target} ({result.duration_s:.1f} s, style {result.emotion})")
