"""Real third-party LSP clients (Emacs + Eglot, Neovim's built-in client without our plugin)
driving the real server. `.ci/run` installs them from the registries and sets
MINICODE_REAL_CLIENTS=1, which turns a missing client into a failure instead of a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from minicode_lsp.testing.model_server import ScriptedModelServer

from ..e2e.conftest import write_config

ENV_REQUIRED = "MINICODE_REAL_CLIENTS"


def need(program: str, hint: str) -> str:
    found = shutil.which(program) or (str(Path(sys.executable).parent / program)
                                      if (Path(sys.executable).parent / program).exists() else None)
    if found is None:
        if os.environ.get(ENV_REQUIRED) == "1":
            pytest.fail(f"{program} is not installed ({hint})")
        pytest.skip(f"{program} is not installed ({hint})")
    return found


def call(name: str, **arguments: object) -> dict:
    return {"name": name, "arguments": arguments}


def tools(*calls: dict) -> dict:
    return {"text": "", "tool_calls": list(calls)}


# One task in ask mode: two edits of the open a.py (the second made from text the first
# produced), one of the closed b.py, a command; then an explain task and its follow-up.
SCRIPT = [
    tools(call("edit_file", path="a.py", old_text="x = 1", new_text="x = 2")),
    tools(call("edit_file", path="a.py", old_text="x = 2\nprint(x)", new_text="x = 2\nprint(x * 10)")),
    tools(call("edit_file", path="b.py", old_text="y = 1", new_text="y = 5")),
    tools(call("run_command", command="true")),
    {"text": "Done."},
    {"text": "a.py prints x."},
    {"text": "Nothing more."},
]
A_FINAL = "# typed while the prompt was open\nx = 2\nprint(x * 10)\n"


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


@pytest.fixture
def ws(tmp_path: Path, model: ScriptedModelServer) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("x = 1\nprint(x)\n")
    (root / "b.py").write_text("y = 1\n")
    write_config(root, model, mode="ask")
    subprocess.run(["git", "init", "-q", str(root)], check=True)  # a project, for Eglot and Neovim
    model.set_script(SCRIPT)
    return root


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update({"HOME": str(home), "XDG_STATE_HOME": str(home / "state"), "XDG_DATA_HOME": str(home / "data"),
                "XDG_CONFIG_HOME": str(home / "config"), "MINICODE_CONFIG": str(home / "user-config.toml")})
    env.update(extra)
    return env
