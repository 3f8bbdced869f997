"""The Gradio app: four tabs over facevox's pipelines (layout and error display only).

Named API endpoints (``gradio_client.Client(url).predict(..., api_name=...)``):

================  =========================================  ======================================
``/emotion``      ``image``                                  annotated image, label, score table
``/morph``        ``image, target, steps``                   morph frames, all-emotions strip
``/sample``       ``n, emotion, seed``                       grid of new faces
``/speak``        ``text, vocoder, emotion``                 audio, mel plot, alignment plot, JSON
``/face_to_voice`` ``image, text, vocoder, emotion``          annotated image, label, audio, JSON
================  =========================================  ======================================
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402 - the environment above must be set first

from facevox_demo.handlers import AUTO, EMOTIONS, MAX_TEXT_CHARS, TABLE_HEADERS, DemoBackend, DemoInputError  # noqa: E402

__all__ = ["EXAMPLES_DIR", "build_demo", "launch"]

#: Example inputs shipped with the package (public-domain photos only).
EXAMPLES_DIR = Path(__file__).parent / "examples"
#: Requests processed at the same time per event (the models run on CPU).
CONCURRENCY_LIMIT = 2
#: Concurrent /emotion requests: face detection runs in parallel threads and the classifier
#: batches their crops (handlers.EMOTION_BATCH_SIZE), so more in flight means bigger batches.
EMOTION_CONCURRENCY = 16
#: Requests waiting in the queue before new ones are refused ("queue full"); sized for the
#: load test of ``benchmarks/load_demo.py`` (50 /emotion + 20 /speak at once) with room to spare.
QUEUE_SIZE = 256
#: Largest accepted upload.
MAX_FILE_SIZE = "10mb"

_log = logging.getLogger("facevox_demo")
F = TypeVar("F", bound=Callable[..., Any])

_INTRO = """# facevox
Faces and speech in one plugin-based PyTorch framework: facial expression recognition, a face
VAE that re-renders expressions, and text-to-speech whose prosody follows the face's emotion.
Everything runs locally on CPU; nothing is sent anywhere."""


def _user_errors(fn: F) -> F:
    """Show input problems and failures as a short message in the UI, never a stack trace."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (DemoInputError, ValueError, KeyError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            raise gr.Error(str(message), print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - log it, show one line
            _log.exception("demo request failed")
            raise gr.Error(f"Something went wrong: {type(exc).__name__}: {exc}") from None

    return wrapper  # type: ignore[return-value]


def _photo(label: str = "Photo") -> gr.Image:
    """An image input whose unreadable uploads give a short message instead of a stack trace."""
    image = gr.Image(label=label, type="numpy", sources=["upload", "webcam", "clipboard"])
    preprocess = image.preprocess

    def checked(payload: Any) -> Any:
        try:
            return preprocess(payload)
        except Exception as exc:  # noqa: BLE001 - PIL raises several types for non-images
            name = getattr(payload, "orig_name", None) or "the uploaded file"
            raise gr.Error(
                f"{name} is not an image facevox can read ({type(exc).__name__}); upload a JPEG, PNG or WebP photo.",
                print_exception=False,
            ) from None

    image.preprocess = checked  # type: ignore[method-assign]
    return image


def _examples(*names: str) -> list[str]:
    return [str(EXAMPLES_DIR / n) for n in names if (EXAMPLES_DIR / n).is_file()]


def build_demo(backend: DemoBackend | None = None) -> gr.Blocks:
    """Build the four-tab app (not launched).

    Args:
        backend: the pipelines to use; a default :class:`DemoBackend` when ``None``.
    """
    backend = backend or DemoBackend()
    vocoders = backend.vocoders()
    styles = backend.styles()
    photo = _examples("astronaut.jpg")

    with gr.Blocks(title="facevox demo", analytics_enabled=False) as demo:
        gr.Markdown(_INTRO)
        with gr.Tab("Face emotion"):
            with gr.Row():
                with gr.Column():
                    emo_in = _photo()
                    emo_btn = gr.Button("Recognise emotions", variant="primary")
                    gr.Examples(photo, inputs=emo_in)
                with gr.Column():
                    emo_img = gr.Image(label="Detected faces", type="numpy", interactive=False)
                    emo_label = gr.Label(label="Largest face: top 3", num_top_classes=3)
            emo_table = gr.Dataframe(headers=TABLE_HEADERS, label="All 7 scores per face", interactive=False)
            emo_btn.click(
                _user_errors(backend.emotion), emo_in, [emo_img, emo_label, emo_table], api_name="emotion",
                concurrency_limit=EMOTION_CONCURRENCY, concurrency_id="emotion",
            )

        with gr.Tab("Expression studio"):
            gr.Markdown("Re-render the largest face of a photo with another expression (conditional face VAE).")
            with gr.Row():
                with gr.Column():
                    mor_in = _photo("Photo with a face")
                    mor_target = gr.Dropdown(list(EMOTIONS), value="happy", label="Target emotion", allow_custom_value=True)
                    mor_steps = gr.Slider(2, 10, value=5, step=1, label="Steps")
                    mor_btn = gr.Button("Morph", variant="primary")
                    gr.Examples(photo, inputs=mor_in)
                with gr.Column():
                    mor_out = gr.Image(label="Morph: source to target", interactive=False)
                    mor_all = gr.Image(label="The face in every emotion", interactive=False)
            mor_btn.click(
                _user_errors(backend.morph), [mor_in, mor_target, mor_steps], [mor_out, mor_all], api_name="morph"
            )
            gr.Markdown("Sample brand-new faces from the VAE's latent space.")
            with gr.Row():
                smp_n = gr.Slider(1, 16, value=8, step=1, label="Number of faces")
                smp_emotion = gr.Dropdown(["any", *EMOTIONS], value="any", label="Emotion")
                smp_seed = gr.Number(value=0, precision=0, label="Seed")
                smp_btn = gr.Button("Sample", variant="primary")
            smp_out = gr.Image(label="New faces", interactive=False)
            smp_btn.click(_user_errors(backend.sample), [smp_n, smp_emotion, smp_seed], smp_out, api_name="sample")

        with gr.Tab("Speech"):
            with gr.Row():
                with gr.Column():
                    sp_text = gr.Textbox(
                        label="Text", lines=3, max_length=MAX_TEXT_CHARS,
                        value="Hello! I am facevox, and I can speak with feeling.",
                    )
                    sp_voc = gr.Dropdown(vocoders, value=vocoders[0] if vocoders else None, label="Vocoder", allow_custom_value=True)
                    sp_style = gr.Dropdown(styles, value="neutral", label="Emotion style", allow_custom_value=True)
                    sp_btn = gr.Button("Speak", variant="primary")
                with gr.Column():
                    sp_audio = gr.Audio(label="Speech", type="numpy", interactive=False)
                    sp_info = gr.JSON(label="Details")
            sp_mel = gr.Image(label="Mel spectrogram", interactive=False)
            sp_align = gr.Image(label="Attention alignment", interactive=False)
            sp_btn.click(
                _user_errors(backend.speak), [sp_text, sp_voc, sp_style], [sp_audio, sp_mel, sp_align, sp_info],
                api_name="speak",
            )

        with gr.Tab("Face → voice"):
            gr.Markdown("The largest face's emotion styles the voice: rate, pitch, loudness and pauses.")
            with gr.Row():
                with gr.Column():
                    fv_img = _photo()
                    fv_text = gr.Textbox(label="Text", lines=2, max_length=MAX_TEXT_CHARS, value="What a wonderful day to fly!")
                    fv_voc = gr.Dropdown(vocoders, value=vocoders[0] if vocoders else None, label="Vocoder", allow_custom_value=True)
                    fv_emotion = gr.Dropdown([AUTO, *styles], value=AUTO, label="Emotion", allow_custom_value=True)
                    fv_btn = gr.Button("Speak like this face", variant="primary")
                    gr.Examples(photo, inputs=fv_img)
                with gr.Column():
                    fv_out = gr.Image(label="Detected faces", interactive=False)
                    fv_label = gr.Label(label="Emotion", num_top_classes=3)
                    fv_audio = gr.Audio(label="Expressive speech", type="numpy", interactive=False)
                    fv_info = gr.JSON(label="Details")
            fv_btn.click(
                _user_errors(backend.face_to_voice), [fv_img, fv_text, fv_voc, fv_emotion],
                [fv_out, fv_label, fv_audio, fv_info], api_name="face_to_voice",
            )
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return demo


def launch(
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    *,
    backend: DemoBackend | None = None,
    block: bool = True,
    quiet: bool = False,
) -> gr.Blocks:
    """Build and serve the demo.

    Args:
        host: interface to bind (``127.0.0.1``: this machine only; ``0.0.0.0``: the network).
        port: TCP port.
        share: ask Gradio for a public share link (needs the internet; off by default).
        backend: the pipelines to use.
        block: keep serving until interrupted; ``False`` returns once the server is up.
        quiet: do not print the URL banner.

    Returns:
        the running :class:`gradio.Blocks` (``demo.local_url``; ``demo.close()`` stops it).
    """
    demo = build_demo(backend)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=not block,
        max_file_size=MAX_FILE_SIZE,
        show_error=True,
        quiet=quiet,
        ssr_mode=False,
        inbrowser=False,
        footer_links=["api"],
    )
    return demo
