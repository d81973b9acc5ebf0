"""Emacs + Eglot (Debian: emacs-nox, elpa-eglot 1.9) in batch mode, no plugin of ours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import A_FINAL, env_for, need

DRIVER = Path(__file__).with_name("eglot_driver.el")
DOC = Path(__file__).parents[2] / "docs" / "editors" / "other.md"


def emacs_setup_from_docs() -> str:
    """The Emacs setup exactly as docs/editors/other.md gives it (its first elisp block)."""
    section = DOC.read_text().split("## Emacs + Eglot", 1)[1]
    return section.split("```elisp\n", 1)[1].split("```", 1)[0]


@pytest.mark.timeout(150)
def test_eglot_ask_mode_edits_prompts_and_explain(ws: Path, tmp_path: Path) -> None:
    emacs = need("emacs", "apt-get install emacs-nox elpa-eglot")
    out = tmp_path / "out.json"
    snippet = tmp_path / "minicode-setup.el"
    snippet.write_text(emacs_setup_from_docs())
    # the answers a user picks in Eglot's prompt (completing-read over the offered titles)
    answers = "Apply\nApply\nApply\nAllow once\n"
    env = env_for(tmp_path, MC_WS=str(ws), MC_SNIPPET=str(snippet), MC_ANSWERS=answers, MC_OUT=str(out))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the snippet runs minicode-lsp
    try:
        proc = subprocess.run([emacs, "--batch", "-l", str(DRIVER)], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=100, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"Emacs did not finish in 100 s:\n{str(e.stderr)[-4000:]}") from None
    err = proc.stderr
    assert out.exists(), err[-3000:]
    result = json.loads(out.read_text())
    assert "error" not in result, (result, err[-3000:])
    assert not result["unexpected"], result  # a question beyond the expected ones, or a wrong offer
    prompts = result["prompts"]
    # one question per edit (nothing asked twice), naming the file and the size of the change
    assert len(prompts) == 4 and result["answers_left"] == 0, prompts
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
