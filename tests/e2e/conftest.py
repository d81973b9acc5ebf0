"""Fixtures for end-to-end tests: a scripted model server on 127.0.0.1 and a sample workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from minicode_lsp.testing.model_server import ScriptedModelServer

from ..trusting import allow_workspace_config

SAMPLE = {
    "calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "notes.txt": "first line\nsecond line\n",
    "README.md": "# sample\n",
}


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


def write_config(root: Path, model: ScriptedModelServer, *, mode: str = "auto", extra: str = "",
                 providers: str | None = None) -> None:
    providers = providers if providers is not None else (
        f'[[providers]]\nname = "scripted"\nkind = "openai"\nbaseUrl = "{model.openai_base_url}"\n'
        'model = "scripted"\ntimeoutS = 5\nmaxRetries = 1\n'
    )
    (root / ".minicode.toml").write_text(
        f'{providers}\n[agent]\npermissionMode = "{mode}"\n\n[store]\npath = "{root.parent / "store"}"\n{extra}',
        encoding="utf-8",
    )
    allow_workspace_config(root)


@pytest.fixture
def workspace(tmp_path: Path, model: ScriptedModelServer) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    for name, text in SAMPLE.items():
        (root / name).write_text(text, encoding="utf-8")
    write_config(root, model)
    return root


@pytest.fixture(params=["vscode", "neovim"])
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)
