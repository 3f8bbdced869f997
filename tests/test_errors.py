"""One error hierarchy under FacevoxError, each error defined once; how the CLI prints errors."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import facevox
import pytest
from facevox import registry
from facevox.cli import main

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "core", ROOT / "plugins", ROOT / "demo"]

#: The user errors named in issue 17 (and those before it): (module, name, the builtin it also is).
ERRORS = [
    ("facevox.registry", "UnknownModelError", KeyError),
    ("facevox.registry", "DuplicateModelError", ValueError),
    ("facevox.checkpoint", "CheckpointError", ValueError),
    ("facevox.images", "ImageReadError", ValueError),
    ("facevox.errors", "NoFaceError", ValueError),
    ("facevox_demo.handlers", "DemoInputError", ValueError),
]
#: Exception classes that are deliberately not user errors, and why.
NOT_USER_ERRORS = {"ConformanceError": "a failed pytest assertion of facevox.testing (an AssertionError)"}


def _module_name(path: Path) -> str:
    root = next(folder for folder in SOURCES if folder in path.parents)
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exception_classes() -> list[tuple[Path, str]]:
    """``(file, class name)`` of every class in the sources named ``*Error``/``*Exception`` or based on one."""
    found = []
    for folder in SOURCES:
        for path in sorted(folder.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ClassDef):
                    continue
                bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                if node.name.endswith(("Error", "Exception")) or any(b.endswith(("Error", "Exception")) for b in bases):
                    found.append((path, node.name))
    return found


def test_each_error_is_defined_once_and_is_a_facevox_error() -> None:
    found = _exception_classes()
    names = [name for _, name in found]
    assert {name for _, name, _ in ERRORS} <= set(names)
    duplicates = {name: [str(f.relative_to(ROOT)) for f, n in found if n == name] for name in names if names.count(name) > 1}
    assert not duplicates, f"errors defined more than once: {duplicates}"
    for path, name in found:
        if name in NOT_USER_ERRORS:
            continue
        cls = getattr(importlib.import_module(_module_name(path)), name)
        assert issubclass(cls, facevox.FacevoxError), (
            f"{name} ({path.relative_to(ROOT)}) is not a FacevoxError: make it one, or explain it in NOT_USER_ERRORS"
        )


@pytest.mark.parametrize(("module", "name", "builtin"), ERRORS, ids=[name for _, name, _ in ERRORS])
def test_every_error_is_a_facevox_error(module: str, name: str, builtin: type[Exception]) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, facevox.FacevoxError) and issubclass(cls, builtin)


def test_no_face_error_is_one_class_everywhere() -> None:
    from facevox.pipelines import NoFaceError as from_pipelines
    from facevox.pipelines.face_to_voice import NoFaceError as from_face_to_voice
    from facevox_face.pipeline import NoFaceError as from_face_plugin

    assert "NoFaceError" in facevox.__all__
    assert facevox.NoFaceError is from_pipelines is from_face_to_voice is from_face_plugin
    assert [f.relative_to(ROOT).as_posix() for f, name in _exception_classes() if name == "NoFaceError"] == [
        "core/facevox/errors.py"]


# ---------------------------------------------------------------------------- the CLI


def _raise(exc: BaseException) -> Callable[..., None]:
    def command_calls_this(*args: object, **kwargs: object) -> None:
        raise exc

    return command_calls_this


def _user_errors() -> list[BaseException]:
    from facevox.checkpoint import CheckpointError
    from facevox.images import ImageReadError

    return [
        registry.UnknownModelError("unknown model 'x'; did you mean 'y'?"),
        CheckpointError("checkpoint ck/ is truncated"),
        ImageReadError("photo.png", "no such file"),
        facevox.NoFaceError("photo.png: no face found"),
        FileNotFoundError(2, "No such file or directory", "data.csv"),
        PermissionError(13, "Permission denied", "out.png"),
    ]


@pytest.mark.parametrize("error", _user_errors(), ids=lambda e: type(e).__name__)
def test_cli_prints_a_user_error_as_one_line(error: BaseException, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("FACEVOX_TRACEBACK", raising=False)
    monkeypatch.setattr(registry, "model_info", _raise(error))
    assert main(["info", "some.model"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [f"facevox: error: {error}"]


def test_cli_shows_the_traceback_of_a_bug(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("FACEVOX_TRACEBACK", raising=False)
    for bug in (RuntimeError("boom inside"), KeyError("a_key"), TypeError("bad operand"), ValueError("bad value")):
        monkeypatch.setattr(registry, "model_info", _raise(bug))
        assert main(["info", "some.model"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("Traceback (most recent call last):"), err
        assert "in command_calls_this" in err and f"{type(bug).__name__}: " in err
        assert err.splitlines()[-1].startswith(f"facevox: unexpected error ({type(bug).__name__}): ")


def test_traceback_flag_and_env_show_it_for_user_errors(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("FACEVOX_TRACEBACK", raising=False)
    monkeypatch.setattr(registry, "model_info", _raise(facevox.NoFaceError("photo.png: no face found")))
    for env, args in ((None, ["--traceback", "info", "x"]), ("1", ["info", "x"]), ("true", ["info", "x"])):
        if env is not None:
            monkeypatch.setenv("FACEVOX_TRACEBACK", env)
        assert main(args) == 1
        err = capsys.readouterr().err
        assert "Traceback (most recent call last):" in err and "in command_calls_this" in err, (env, args)
        assert err.splitlines()[-1] == "facevox: error: photo.png: no face found"
    monkeypatch.setenv("FACEVOX_TRACEBACK", "0")
    assert main(["info", "x"]) == 1
    assert capsys.readouterr().err == "facevox: error: photo.png: no face found\n"
    # the flag holds for one call only
    monkeypatch.delenv("FACEVOX_TRACEBACK")
    assert main(["info", "x"]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_usage_errors_stay_one_line_and_help_names_the_flag(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("FACEVOX_TRACEBACK", raising=False)
    assert main(["models", "--task", "juggling"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--task'" in err and "Traceback" not in err
    assert main(["--help"]) == 0
    assert "--traceback" in capsys.readouterr().out


def test_a_face_index_past_the_faces_is_a_no_face_error() -> None:
    from facevox.pipelines.face_to_voice import FaceToVoicePipeline

    faces = [SimpleNamespace(box=facevox.FaceBox(0, 0, 10, 10))]
    pipe = FaceToVoicePipeline()  # builds no model until used
    with pytest.raises(facevox.NoFaceError, match=r"face index 3 out of range: the photo has 1 face\(s\), 0\.\.0"):
        pipe.choose_face(faces, 3)
    with pytest.raises(ValueError, match="'largest' or a face index") as info:  # a caller's bug, not the user's
        pipe.choose_face(faces, 1.5)  # type: ignore[arg-type]
    assert not isinstance(info.value, facevox.FacevoxError)


def test_train_with_a_malformed_data_set_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("FACEVOX_TRACEBACK", raising=False)
    bad = tmp_path / "fer2013.csv"
    bad.write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    assert main(["train", "face-ae", "--data", str(bad), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for --data" in err and "fer2013.csv:2" in err and "Traceback" not in err
