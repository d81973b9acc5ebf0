"""`minicode-lsp acp` driven by acpx, a headless ACP client no one here wrote (npm ``acpx``),
with every frame both ways checked against the ACP JSON Schema (npm ``@agentclientprotocol/sdk``).

``make test`` installs both under ``.tools/acpx`` and sets ``MINICODE_REQUIRE_TOOLS=1``, so there
a missing acpx is a failure; a bare ``pytest`` skips these tests when acpx is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import write_config
from .harness import server_env

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("MINICODE_ACPX_DIR", ROOT / ".tools" / "acpx"))
ACPX = TOOLS / "node_modules" / ".bin" / "acpx"
SCHEMA = TOOLS / "node_modules" / "@agentclientprotocol" / "sdk" / "schema" / "v1" / "schema.json"
TAP = Path(__file__).with_name("acp_tap.py")

if not (ACPX.exists() and SCHEMA.exists()):
    if os.environ.get("MINICODE_REQUIRE_TOOLS"):
        raise RuntimeError(f"acpx is not installed under {TOOLS} (make test installs it)")
    pytest.skip("acpx is not installed (make test installs it under .tools/acpx)", allow_module_level=True)

pytest.importorskip("acp")
pytest.importorskip("jsonschema")

from .acp_schema import FrameChecker  # noqa: E402

EDIT = {"text": "Fixing add.", "tool_calls": [{"name": "edit_file", "arguments": {
    "path": "calc.py", "old_text": "a - b", "new_text": "a + b"}}]}


class Acpx:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tap = root.parent / "frames.jsonl"
        self.home = root.parent / "home"
        self.agent = f"{sys.executable} {TAP} {self.tap} -- {sys.executable} -m minicode_lsp acp"

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = server_env(self.home, {"HOME": str(self.home)})
        for _ in range(20):
            done = subprocess.run([str(ACPX), "--ttl", "1", "--agent", self.agent, *args], cwd=self.root, env=env,
                                  capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
            # acpx keeps a helper alive for --ttl seconds; a command that meets it leaving says so,
            # on stderr or (as '[error] RUNTIME: ...') on stdout, and did nothing: run it again
            if done.returncode == 0 or "Queue owner is shutting down" not in done.stderr + done.stdout:
                return done
            time.sleep(0.5)
        return done

    def check_frames(self) -> int:
        count, problems = FrameChecker(SCHEMA).check_log(self.tap)
        assert not problems, "\n".join(problems[:20])
        return count


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_exec_in_ask_mode_approved_and_denied(workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="ask")
    acpx = Acpx(workspace)
    model.set_script([EDIT, {"text": "Fixed add."}])
    done = acpx("--format", "json", "--approve-all", "exec", "fix add in calc.py")
    assert done.returncode == 0, done.stderr
    assert "a + b" in (workspace / "calc.py").read_text()
    frames = json_lines(done.stdout)
    asked = [f for f in frames if f.get("method") == "session/request_permission"]
    assert asked and asked[0]["params"]["toolCall"]["content"][0]["type"] == "diff"

    (workspace / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    model.set_script([EDIT, {"text": "Leaving it."}])
    denied = acpx("--format", "json", "--deny-all", "exec", "fix add in calc.py")
    assert denied.returncode == 5, (denied.returncode, denied.stderr[-2000:])
    assert "a - b" in (workspace / "calc.py").read_text()
    assert acpx.check_frames() > 20


def test_named_session_reattached_in_a_new_process_with_mode_and_rewind(
        workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="auto")
    acpx = Acpx(workspace)
    created = acpx("sessions", "new", "--name", "t1")
    assert created.returncode == 0, created.stderr
    model.set_script([EDIT, {"text": "Fixed add."}])
    first = acpx("--approve-all", "prompt", "-s", "t1", "fix add in calc.py")
    assert first.returncode == 0, first.stderr
    assert "a + b" in (workspace / "calc.py").read_text()
    # a new acpx process: the agent is spawned again and the session comes back through session/load
    listed = subprocess.run([sys.executable, "-m", "minicode_lsp", "sessions", "list", "--workspace", str(workspace)],
                            capture_output=True, text=True, env=server_env(acpx.home), timeout=60)
    assert "fix add in calc.py" in listed.stdout
    mode = acpx("set-mode", "plan", "-s", "t1")
    assert mode.returncode == 0, mode.stderr
    rewind = acpx("--approve-all", "prompt", "-s", "t1", "/rewind latest")
    assert rewind.returncode == 0, (rewind.stdout[-2000:], rewind.stderr[-2000:])
    assert "a - b" in (workspace / "calc.py").read_text()
    assert "Rewound" in rewind.stdout
    frames = [json.loads(json.loads(line)["line"]) for line in acpx.tap.read_text().splitlines()]
    methods = [f.get("method") for f in frames]
    assert "session/load" in methods or "session/resume" in methods
    assert any(f.get("method") == "session/set_mode" or f.get("method") == "session/set_config_option"
               for f in frames)
    cancel = acpx("cancel", "-s", "t1")
    assert cancel.returncode == 0, cancel.stderr
    acpx.check_frames()
