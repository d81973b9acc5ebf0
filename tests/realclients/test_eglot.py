"""Emacs + Eglot (Debian: emacs-nox, elpa-eglot 1.9) in batch mode, no plugin of ours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import A_FINAL, call, env_for, need, tools

DRIVER = Path(__file__).with_name("eglot_driver.el")
DOC = Path(__file__).parents[2] / "docs" / "editors" / "other.md"


def emacs_setup_from_docs(n: int) -> str:
    """The n-th Emacs setup of docs/editors/other.md (an elisp block), exactly as written."""
    section = DOC.read_text().split("## Emacs + Eglot", 1)[1].split("\n## ", 1)[0]
    return section.split("```elisp\n")[n + 1].split("```", 1)[0]


def run_emacs(tmp_path: Path, ws: Path, setup: int, scenario: str, answers: str) -> dict:
    """Emacs in batch mode with that setup loaded; the driver answers Eglot's prompts with
    `answers` (what a user picks from the offered titles) and returns what it saw."""
    emacs = need("emacs", "apt-get install emacs-nox elpa-eglot")
    out = tmp_path / "out.json"
    snippet = tmp_path / "minicode-setup.el"
    snippet.write_text(emacs_setup_from_docs(setup))
    env = env_for(tmp_path, MC_WS=str(ws), MC_SNIPPET=str(snippet), MC_ANSWERS=answers, MC_OUT=str(out),
                  MC_SCENARIO=scenario)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the setup runs minicode-lsp
    try:
        proc = subprocess.run([emacs, "--batch", "-l", str(DRIVER)], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=100, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"Emacs did not finish in 100 s:\n{str(e.stderr)[-4000:]}") from None
    assert out.exists(), proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert "error" not in result, (result, proc.stderr[-3000:])
    assert not result["unexpected"], result  # a question beyond the expected ones, or a wrong offer
    assert result["answers_left"] == 0, result
    return result


@pytest.mark.timeout(150)
def test_eglot_ask_mode_edits_prompts_and_explain(ws: Path, tmp_path: Path) -> None:
    result = run_emacs(tmp_path, ws, 0, "alone", "Apply\nApply\nApply\nAllow once\n")
    prompts = result["prompts"]
    # one question per edit (nothing asked twice), naming the file and the size of the change
    assert len(prompts) == 4, prompts
    assert "a.py (+1 -1 lines)" in prompts[0] and "b.py (+1 -1 lines)" in prompts[2], prompts
    assert "true" in prompts[3]
    assert result["stop"] == "done", result
    # both edits of the open file, and the line typed while the prompt was open
    assert result["a_buffer"] == A_FINAL, result
    # the closed file was written on disk by the server, never opened in a buffer
    assert (ws / "b.py").read_text() == "y = 5\n"
    assert result["b_buffer_open"] is False
    # explain with showResult (Eglot 1.9 declares no showDocument): done, the answer as a message,
    # and the session takes a follow-up
    assert result["explain"] == "done" and result["followup"] == "done", result
    assert any("a.py prints x." in m for m in result["messages"]), result["messages"]


@pytest.mark.timeout(150)
def test_eglot_beside_the_python_server(ws: Path, tmp_path: Path, model: ScriptedModelServer) -> None:
    """The docs' second setup: pylsp keeps the Python buffers, MiniCode has its own connection."""
    need("pylsp", "apt-get install python3-pylsp")
    model.set_script([tools(call("edit_file", path="a.py", old_text="x = 1", new_text="x = 2")),
                      tools(call("run_command", command="true")), {"text": "Done."}])
    result = run_emacs(tmp_path, ws, 1, "beside", "Apply\nAllow once\n")
    assert "pylsp" in result["a_server"] and result["a_server_kept"] is True, result
    assert "minicode-lsp serve" in result["minicode_server"], result
    assert len(result["prompts"]) == 2 and "a.py (+1 -1 lines)" in result["prompts"][0], result
    assert result["stop"] == "done", result
    # not open for MiniCode: written on disk after the approval, and the open buffer shows it
    assert (ws / "a.py").read_text() == "x = 2\nprint(x)\n"
    assert result["a_buffer"] == "x = 2\nprint(x)\n" and result["a_modified"] is False, result
