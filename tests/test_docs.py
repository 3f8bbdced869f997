"""Docs are a tested contract: every hook is documented under its exact signature."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from facevox import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(n for n, f in vars(hookspecs).items() if n.startswith("register_") and callable(f))


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_documented_with_exact_signature(hook: str) -> None:
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    headings = re.findall(r"^### (.+)$", (ROOT / "docs" / "plugins.md").read_text(), flags=re.M)
    assert f"{hook}({params})" in headings


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    source = (ROOT / "tests" / "test_hooks.py").read_text()
    assert f"def test_hook_{hook}(" in source


def test_readme_names_install_and_test_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    install = re.search(r"^pip install -e \"\.\[dev\]\"$", readme, flags=re.M)
    assert install, "README must give the install command"
    test_cmd = re.search(r"^(python -m pytest.*)$", readme, flags=re.M)
    assert test_cmd and test_cmd.group(1) in ci, "CI must run the README's test command"
