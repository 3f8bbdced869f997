"""``facevox speak``: synthesize English text to a WAV file.

Untrusted text is bounded before any model is loaded: ``--file`` reads regular files only, of
at most :data:`MAX_FILE_BYTES`, as UTF-8; standard input and TEXT are refused past
``--max-chars`` (:data:`DEFAULT_MAX_CHARS`). The pipeline then bounds each piece it
synthesizes (:mod:`facevox.pipelines.speech`). The WAV file is written atomically, so Ctrl-C
leaves no partial output.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["DEFAULT_MAX_CHARS", "MAX_FILE_BYTES", "PROGRESS_MIN_SENTENCES", "command", "default_output_name", "speech_worker"]

#: Largest ``--file`` read, bytes (1 MiB).
MAX_FILE_BYTES = 1 << 20
#: Default of ``--max-chars``: longest text spoken, characters.
DEFAULT_MAX_CHARS = 100_000
#: When standard error is not a terminal, progress lines are printed for texts of more sentences than this.
PROGRESS_MIN_SENTENCES = 3


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


def _output(path: str | Path) -> Path:
    """``-o`` checked before any work: not empty, not a folder or a device, its folder writable.

    Raises:
        click.BadParameter: the path cannot take the WAV file (the reason is named).
    """
    from facevox.io import OutputPathError, check_output_path

    try:
        return check_output_path(path)
    except OutputPathError as exc:
        raise click.BadParameter(str(exc), param_hint="'-o' / '--output'") from None


def _read_file(path: Path) -> str:
    """The UTF-8 text of ``path``: a regular file of at most :data:`MAX_FILE_BYTES` (never blocks on a FIFO).

    Raises:
        click.BadParameter: ``path`` is missing, not a regular file (a folder, a FIFO, a device
            such as ``/dev/zero``), larger than the limit, unreadable or not UTF-8.
    """
    hint = "--file"
    not_regular = f"{path} is not a regular file (a FIFO, a device or a socket); give a UTF-8 text file"
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}", param_hint=hint) from None
    if stat.S_ISDIR(mode):
        raise click.BadParameter(f"{path} is a folder; give a UTF-8 text file", param_hint=hint)
    if not stat.S_ISREG(mode):
        raise click.BadParameter(not_regular, param_hint=hint)
    try:
        # O_NONBLOCK: should the path become a FIFO after the check, opening it does not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise click.BadParameter(not_regular, param_hint=hint)
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}", param_hint=hint) from None
    if len(data) > MAX_FILE_BYTES:
        raise click.BadParameter(
            f"{path} is larger than {MAX_FILE_BYTES:,} bytes (1 MiB), the most --file reads; split it", param_hint=hint
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(
            f"{path} is not UTF-8 text: byte {exc.start:,} ({data[exc.start : exc.start + 1]!r}) cannot be decoded; "
            "save it as UTF-8",
            param_hint=hint,
        ) from None


def _read_stdin(max_chars: int) -> str:
    """Standard input, at most ``max_chars + 1`` characters (one more shows it was too long)."""
    try:
        return sys.stdin.read(max_chars + 1)
    except UnicodeDecodeError as exc:
        raise click.BadParameter(
            f"standard input is not UTF-8 text: byte {exc.start:,} cannot be decoded", param_hint="TEXT"
        ) from None


def _read_text(text: str | None, file: Path | None, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The text to speak, from TEXT, ``-`` (stdin) or ``--file``, checked against ``max_chars``.

    Raises:
        click.UsageError: no text or two sources, or the text is longer than ``max_chars``.
        click.BadParameter: ``--file`` or standard input cannot be read as UTF-8 text.
    """
    if text is not None and file is not None:
        raise click.UsageError("give TEXT or --file, not both")
    if file is not None:
        content, source = _read_file(file), str(file)
    elif text is None:
        raise click.UsageError("give the TEXT to speak, '-' to read it from stdin, or --file TEXT_FILE")
    elif text == "-":
        content = _read_stdin(max_chars)
        if len(content) > max_chars:
            raise click.UsageError(
                f"standard input has more than {max_chars:,} characters, the --max-chars limit; "
                "split the text or pass a larger --max-chars"
            )
        return content
    else:
        content, source = text, "TEXT"
    if len(content) > max_chars:
        raise click.UsageError(
            f"{source} has {len(content):,} characters, more than --max-chars {max_chars:,}; "
            "split the text or pass a larger --max-chars"
        )
    return content


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A ``progress(done, total)`` callback that reports on stderr, or ``None`` when nothing is shown.

    A progress bar when stderr is a terminal (more than one sentence); otherwise one line per
    update (``speaking: 8/40 sentences``) for more than :data:`PROGRESS_MIN_SENTENCES`
    sentences, e.g. in a log. ``quiet``: nothing.
    """
    if quiet or total <= 1:
        yield None
    elif _stderr_is_tty():
        with click.progressbar(length=total, label="speaking", file=sys.stderr) as bar:
            state = {"done": 0}

            def _bar(done: int, total: int) -> None:
                bar.update(done - state["done"])
                state["done"] = done

            yield _bar
    elif total > PROGRESS_MIN_SENTENCES:

        def _line(done: int, total: int) -> None:
            click.echo(f"speaking: {done}/{total} sentences", err=True)

        yield _line
    else:
        yield None


class _SpeakCommand(click.Command):
    """``facevox speak``: an unknown option that is the text (``-1e308 degrees``) is explained."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # the parser consumes ``args``
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            if exc.option_name.startswith("--") and exc.possibilities:
                raise  # a mistyped long option: click's "Did you mean" says it
            token = next((a for a in given if a.startswith(exc.option_name)), "")
            example = shlex.quote(token) if token and len(token) <= 60 else "'-your text'"
            message = (
                f"{exc.message} If it is the text to speak, put -- before it (after any options): "
                f"facevox speak -o out.wav -- {example}"
            )
            raise click.NoSuchOption(exc.option_name, message, exc.possibilities, ctx) from None


@click.command("speak", cls=_SpeakCommand)
@click.argument("text", required=False)
@click.option("-o", "--output", type=click.Path(), default=None,
              help="WAV file to write [default: a name made from the text, printed].")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Read the text from this UTF-8 file (a regular file of at most 1 MiB).")
@click.option("--max-chars", type=click.IntRange(min=1), default=DEFAULT_MAX_CHARS, show_default=True,
              help="Refuse text longer than this many characters, before any synthesis.")
@click.option("--model", "acoustic", default=None, help="Acoustic model [default: the registry's, see `facevox models --task acoustic-model`; "
              "FACEVOX_DEFAULT_ACOUSTIC_MODEL overrides it].")
@click.option("--vocoder", default=None, help="Vocoder [default: the registry's (FACEVOX_DEFAULT_VOCODER overrides it); "
              "see `facevox models --task vocoder`].")
@click.option("--emotion", default=None, help="Speak in this emotion's style (e.g. happy, sad, angry).")
@click.option("--face", "face_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Photo: speak in the style of the detected emotion of its largest face.")
@click.option("--face-index", type=click.IntRange(min=0), default=None,
              help="With --face: use this face (detection order) instead of the largest.")
@click.option("--style-renderer", type=click.Choice(["auto", "model", "dsp"]), default="auto", show_default=True,
              help="With --emotion/--face: who renders rate, pitch and energy: the acoustic model's prosody "
                   "controls (model), signal processing on the waveform (dsp), or the model when it can (auto).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result as JSON: path, duration, sentences (emotion, style and faces when styled) "
                   "and words: [{word, start, end}] in seconds of the WAV file.")
@click.option("--output-raw", is_flag=True,
              help="Stream raw 16-bit little-endian mono PCM to stdout, sentence by sentence as each is "
                   "ready (the sample rate is the vocoder's, 22050 Hz for the built-in ones), instead of a WAV.")
@click.option("--batch", "batch", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Speak every non-empty line of this UTF-8 file into -o DIR/wavs/, with resumable JSONL "
                   "shards DIR/part-*.jsonl (see docs/scaling.md).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="With --batch: run here, or on Ray Data actors (pip install 'facevox[distributed]').")
@click.option("--shard-size", default=100, show_default=True, type=click.IntRange(min=1),
              help="With --batch: lines per output shard.")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="With --engine ray: join this Ray cluster; default: a local Ray.")
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="With --engine ray: model actors (default: one per CPU of the cluster).")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress (shown on stderr: a bar on a terminal, else lines for more than 3 sentences).")
def command(
    text: str | None,
    output: str | None,
    file: Path | None,
    max_chars: int,
    acoustic: str | None,
    vocoder: str | None,
    emotion: str | None,
    face_path: Path | None,
    face_index: int | None,
    style_renderer: str,
    as_json: bool,
    output_raw: bool,
    batch: Path | None,
    engine: str,
    shard_size: int,
    ray_address: str | None,
    workers: int | None,
    quiet: bool,
) -> None:
    """Synthesize speech from TEXT ('-' reads standard input) into a WAV file.

    Text longer than --max-chars is refused before any work; long words and sentences are
    split so that memory stays bounded. Ctrl-C leaves no partial WAV file. Text that begins
    with '-' goes after '--' (options first).

    \b
    Examples:
      facevox speak "Dr. Smith paid $42 on May 3rd." -o hello.wav
      facevox speak --file chapter.txt --vocoder griffinlim.default
      echo "Hello there." | facevox speak - -o hello.wav
      facevox speak -o cold.wav -- "-40 degrees tonight."
      facevox speak "What a lovely day." --emotion happy -o happy.wav
      facevox speak "What a lovely day." --face photo.jpg -o styled.wav --json
      facevox speak "Hello there." -o hello.wav --json     # word timings
      facevox speak --file chapter.txt --output-raw | aplay -r 22050 -f S16_LE -t raw -
      facevox speak --batch lines.txt -o spoken/ --engine ray   # one WAV per line, resumable
    """
    from facevox.audio import save_wav
    from facevox.pipelines.speech import TextToSpeechPipeline

    if batch is not None:
        _speak_batch(batch, output, text, acoustic, vocoder, max_chars, engine, shard_size, ray_address, workers,
                     styled=emotion is not None or face_path is not None or output_raw)
        return
    if engine != "local":
        raise click.UsageError("--engine applies to --batch jobs")
    chosen = _output(output) if output is not None else None
    if face_index is not None and face_path is None:
        raise click.UsageError("--face-index needs --face PHOTO")
    if output_raw:
        clashing = [name for name, given in (("-o/--output", output is not None), ("--emotion", emotion is not None),
                                             ("--face", face_path is not None), ("--json", as_json)) if given]
        if clashing:
            raise click.UsageError(f"--output-raw streams plain speech to stdout; it cannot be combined with "
                                   f"{', '.join(clashing)}")
    content = _read_text(text, file, max_chars)
    if not content.strip():
        raise click.BadParameter("the text is empty; give some English text to speak", param_hint="TEXT")
    if output_raw:
        pipeline = TextToSpeechPipeline(acoustic=acoustic, vocoder=vocoder)
        _stream_raw(pipeline, content)
        return
    target = chosen or _output(default_output_name(content))
    pipeline = TextToSpeechPipeline(acoustic=acoustic, vocoder=vocoder)
    try:
        if emotion is not None or face_path is not None:
            _speak_styled(pipeline, content, target, emotion, face_path, face_index, as_json, style_renderer)
            return
        try:
            pieces = pipeline.sentences(content)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="TEXT") from exc
        with _progress(len(pieces), quiet) as progress:
            result = pipeline(content, progress=progress)
        save_wav(target, result.waveform, result.sample_rate)  # atomic: a temporary file renamed at the end
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: {target} was not written", err=True)
        raise
    failed = sum(result.capped)
    if failed:
        click.echo(f"warning: {failed} sentence(s) hit the decoder cap and may be garbled", err=True)
    if as_json:
        click.echo(json.dumps(_speech_json(pipeline, content, target, result)))
        return
    click.echo(f"{target} ({result.duration_s:.1f} s, {len(pieces)} sentence(s))")


def _speech_json(pipeline: Any, content: str, target: Path, result: Any) -> dict[str, Any]:
    """``--json`` of plain speech: ``path``, ``text``, ``sentences`` (normalised), ``capped``
    (per sentence), ``sample_rate``, ``duration_s``, ``acoustic_model``, ``vocoder`` and
    ``words`` (``[{"word", "start", "end"}]``, seconds, empty if the model gives no alignment)."""
    return {
        "path": str(target),
        "text": content,
        "sentences": list(result.texts),
        "capped": list(result.capped),
        "sample_rate": result.sample_rate,
        "duration_s": round(result.duration_s, 3),
        "acoustic_model": pipeline.acoustic_name,
        "vocoder": pipeline.vocoder_name,
        "words": [w.as_dict() for w in result.words],
    }


def _stream_raw(pipeline: Any, content: str) -> None:
    """``--output-raw``: 16-bit PCM chunks on stdout; a closed pipe ends the stream quietly."""
    import torch

    try:
        chunks = pipeline.stream(content)
        first = next(chunks)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="TEXT") from exc
    out = sys.stdout.buffer
    try:
        for chunk in itertools.chain([first], chunks):
            pcm = (chunk.clamp(-1.0, 1.0) * 32767.0).round().to(torch.int16).numpy()
            out.write(pcm.astype("<i2").tobytes())
            out.flush()
    except BrokenPipeError:
        # The reader went away (`| head -c 1000`): stop synthesizing, and keep Python from
        # complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


def _speak_styled(
    pipeline: Any,
    content: str,
    target: Path,
    emotion: str | None,
    face_path: Path | None,
    face_index: int | None,
    as_json: bool,
    renderer: str = "auto",
) -> None:
    """``--emotion`` / ``--face``: speech styled by an emotion or by a photo's detected emotion."""
    from facevox.audio import save_wav
    from facevox.pipelines.face_to_voice import FaceToVoicePipeline
    from facevox.styles import list_speech_styles

    if emotion is not None and emotion not in list_speech_styles():
        raise click.BadParameter(
            f"no speech style for {emotion!r}; accepted: {', '.join(list_speech_styles())}", param_hint="--emotion"
        )
    styled = FaceToVoicePipeline(speech_pipeline=pipeline, renderer=renderer)
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



def speech_worker(settings: dict[str, Any]) -> Any:
    """Build the per-shard function of ``facevox speak --batch`` (once per process or Ray actor).

    Each input is a JSON ``{"line": n, "text": ...}``; each result ``{"line", "text", "path"
    (relative to the output folder), "duration_s", "sentences", "words"}`` or ``{"line",
    "text", "error"}`` for a line that cannot be spoken (too long, nothing speakable).
    """
    from facevox.audio import save_wav
    from facevox.pipelines.speech import TextToSpeechPipeline

    pipeline = TextToSpeechPipeline(acoustic=settings["acoustic"], vocoder=settings["vocoder"])
    folder = Path(settings["out"])

    def work(items: Sequence[str]) -> list[dict[str, Any]]:
        rows = []
        for item in items:
            job = json.loads(item)
            row: dict[str, Any] = {"line": job["line"], "text": job["text"]}
            if len(job["text"]) > settings["max_chars"]:
                row["error"] = f"{len(job['text']):,} characters, more than --max-chars {settings['max_chars']:,}"
                rows.append(row)
                continue
            try:
                result = pipeline(job["text"])
            except ValueError as exc:
                row["error"] = str(exc)
                rows.append(row)
                continue
            rel = Path("wavs") / f"{job['line']:07d}.wav"
            save_wav(folder / rel, result.waveform, result.sample_rate)
            row.update({"path": str(rel), "duration_s": round(result.duration_s, 3),
                        "sentences": len(result.texts), "words": [w.as_dict() for w in result.words]})
            rows.append(row)
        return rows

    return work


def _speak_batch(batch: Path, output: str | None, text: str | None, acoustic: str | None, vocoder: str | None,
                 max_chars: int, engine: str, shard_size: int, ray_address: str | None, workers: int | None,
                 styled: bool) -> None:
    import functools

    from facevox.batch import BatchJobError, plan_shards, run_sharded

    if text is not None or styled:
        raise click.UsageError("--batch speaks the lines of its file in the neutral voice; "
                               "it cannot be combined with TEXT, --emotion, --face or --output-raw")
    if output is None:
        raise click.UsageError("--batch needs -o DIR, the folder for the WAV files and result shards")
    try:
        lines = batch.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{batch} is not UTF-8 text ({exc})", param_hint="--batch") from None
    inputs = [json.dumps({"line": n, "text": t.strip()}) for n, t in enumerate(lines, 1) if t.strip()]
    if not inputs:
        raise click.BadParameter(f"{batch} has no non-empty line to speak", param_hint="--batch")
    folder = Path(output)
    if folder.suffix.lower() == ".wav":
        raise click.UsageError(f"with --batch, -o is a folder, not a WAV file: {output}")
    (folder / "wavs").mkdir(parents=True, exist_ok=True)
    settings = {"acoustic": acoustic, "vocoder": vocoder, "max_chars": max_chars, "out": str(folder.resolve())}
    try:
        plan = plan_shards(inputs, folder, shard_size=shard_size,
                           job=json.dumps({k: settings[k] for k in ("acoustic", "vocoder", "max_chars")}))
        done_before = plan.num_shards - len(plan.pending())
        errors = 0

        def on_shard(k: int, rows: list[dict[str, Any]]) -> None:
            nonlocal errors
            bad = sum("error" in r for r in rows)
            errors += bad
            click.echo(f"facevox speak: wrote {plan.path(k)} ({len(rows)} lines, {bad} failed)", err=True)

        written = run_sharded(plan, functools.partial(speech_worker, settings), engine, batch_size=8,
                              address=ray_address, num_actors=workers, on_shard=on_shard)
    except BatchJobError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"facevox speak: {len(inputs)} lines in {plan.num_shards} shard(s) under {folder}: "
               f"{written} written now, {done_before} already done; {errors} failed in the new shards", err=True)
    if errors:
        sys.exit(1)
