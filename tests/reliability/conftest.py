"""The reliability suite: every test here is marked ``reliability``; its figures are printed at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minicode_lsp.testing.model_server import ScriptedModelServer

from ..trusting import allow_workspace_config
from . import stats

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not stats.COUNTS and not stats.FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, value in sorted(stats.COUNTS.items()):
        note = "  (target: 10,000 per CI run)" if name.startswith("fuzz: generated") else ""
        terminalreporter.write_line(f"{name}: {value}{note}")
    for name, value in sorted(stats.FIGURES.items()):
        terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    """A scripted model that answers with text at once once its script is used up."""
    with ScriptedModelServer(reply_fn=lambda body: {"text": "ok"}) as server:
        yield server


def write_config(root: Path, model: ScriptedModelServer, store: Path, *, mode: str = "plan", extra: str = "",
                 timeout_s: float = 5, max_retries: int = 1, providers: str | None = None) -> None:
    providers = providers if providers is not None else (
        f'[[providers]]\nname = "scripted"\nkind = "openai"\nbaseUrl = "{model.openai_base_url}"\n'
        f'model = "scripted"\ntimeoutS = {timeout_s}\nmaxRetries = {max_retries}\n'
    )
    (root / ".minicode.toml").write_text(
        f'{providers}\n[agent]\npermissionMode = "{mode}"\n\n[store]\npath = "{store}"\n{extra}',
        encoding="utf-8",
    )
    allow_workspace_config(root)


def make_workspace(base: Path, model: ScriptedModelServer, *, mode: str = "plan", files: dict[str, str] | None = None,
                   **config: Any) -> Path:
    root = base / "ws"
    root.mkdir(parents=True)
    for name, text in (files or {"calc.py": "def add(a, b):\n    return a - b\n", "notes.txt": "one\ntwo\n"}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    write_config(root, model, base / "store", mode=mode, **config)
    return root
