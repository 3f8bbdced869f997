"""facevox: a plugin-based PyTorch framework for faces and speech.

The public API is everything listed in ``__all__``; plugins (built-in or third-party) import
only from here and from the documented public submodules (``facevox.audio``,
``facevox.images``, ``facevox.io``, ``facevox.batching``, ``facevox.datasets``, ``facevox.testing``,
``facevox.compat``, ``facevox.training``).
"""

from __future__ import annotations

from typing import Any

from facevox.card import ModelCard, ModelSpec, Preprocessing, Task, config_from_dict, config_to_dict
from facevox.checkpoint import CheckpointError, load_pretrained, load_weights, save_pretrained, save_weights
from facevox.errors import NoFaceError
from facevox.hookspecs import hookimpl
from facevox.nn import (
    Attention,
    Decoder,
    Encoder,
    SequenceAttention,
    SpatialAttention,
    fold_batchnorm,
    lengths_to_mask,
)
from facevox.pipelines.timings import TokenTiming, WordTiming
from facevox.registry import (
    DuplicateModelError,
    FacevoxError,
    PluginFactoryError,
    TaskInfo,
    UnknownModelError,
    UntrainedModelWarning,
    create_face_detector,
    create_model,
    create_text_processor,
    default_face_detector,
    default_model,
    get_model_spec,
    list_face_detectors,
    list_models,
    list_tasks,
    list_text_processors,
    model_info,
    parse_task,
    task_info,
)
from facevox.roles import (
    AcousticModel,
    AcousticOutput,
    ConditionalFaceAutoencoder,
    DecoderCapWarning,
    ExpressionClassifier,
    FaceAutoencoder,
    FaceBox,
    FaceDetector,
    FacevoxModel,
    ProsodyControl,
    TextProcessor,
    VariationalFaceAutoencoder,
    Vocoder,
)
from facevox.styles import SpeechStyle, blend_styles, get_speech_style, list_speech_styles
from facevox.validation import ConfigError

__version__ = "0.1.0"

#: Pipelines, importable from ``facevox`` but loaded on first use (``import facevox`` stays cheap).
_PIPELINES = ("FaceEmotionPipeline", "FaceSynthesisPipeline", "FaceToVoicePipeline", "TextToSpeechPipeline", "recognize_emotions")


def __getattr__(name: str) -> Any:
    if name in _PIPELINES:
        from facevox import pipelines

        return getattr(pipelines, name)
    raise AttributeError(f"module 'facevox' has no attribute {name!r}")


__all__ = [
    "UntrainedModelWarning",
    "recognize_emotions",
    "TextToSpeechPipeline",
    "FaceToVoicePipeline",
    "FaceEmotionPipeline",
    "FaceSynthesisPipeline",
    "AcousticModel",
    "AcousticOutput",
    "Attention",
    "ConditionalFaceAutoencoder",
    "DecoderCapWarning",
    "CheckpointError",
    "Decoder",
    "DuplicateModelError",
    "Encoder",
    "ExpressionClassifier",
    "FaceAutoencoder",
    "FaceBox",
    "FaceDetector",
    "FacevoxError",
    "FacevoxModel",
    "ProsodyControl",
    "ModelCard",
    "ModelSpec",
    "NoFaceError",
    "ConfigError",
    "Preprocessing",
    "SequenceAttention",
    "SpatialAttention",
    "SpeechStyle",
    "Task",
    "TextProcessor",
    "TokenTiming",
    "PluginFactoryError",
    "UnknownModelError",
    "VariationalFaceAutoencoder",
    "Vocoder",
    "WordTiming",
    "config_from_dict",
    "config_to_dict",
    "create_face_detector",
    "create_model",
    "create_text_processor",
    "default_face_detector",
    "default_model",
    "get_model_spec",
    "hookimpl",
    "blend_styles",
    "get_speech_style",
    "fold_batchnorm",
    "lengths_to_mask",
    "list_speech_styles",
    "list_face_detectors",
    "list_models",
    "list_tasks",
    "list_text_processors",
    "parse_task",
    "task_info",
    "TaskInfo",
    "load_pretrained",
    "load_weights",
    "model_info",
    "save_pretrained",
    "save_weights",
    "__version__",
]
