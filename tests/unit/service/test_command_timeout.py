"""``agent.commandTimeoutS`` by behaviour, through the real service (config -> turn -> ports ->
run_command): a command past it is ended with every process it started, whatever time the
model asked for; a command within it runs to its end."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from minicode_lsp.config import ConfigLoader
from minicode_lsp.protocol import TaskRunArgs
from minicode_lsp.protocol_ids import EV_TOOL_FINISHED
from minicode_lsp.service import HeadlessFrontend, Service
from minicode_lsp.testing.model_server import ScriptedModelServer


def call(name: str, **arguments: object) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_command_past_the_configured_timeout_is_killed(tmp_path: Path) -> None:
    slow = "echo started; sleep 60 & echo $! > sleeper.pid; wait"
    script = [call("run_command", command=slow, timeout_s=100), call("run_command", command="sleep 0.2; echo within"),
              {"text": "done"}]
    with ScriptedModelServer(script) as model:
        root = tmp_path / "ws"
        root.mkdir()
        loader = ConfigLoader()
        loader.set_layer("initializationOptions", {
            "store": {"path": str(tmp_path / "store")},
            "agent": {"commandTimeoutS": 1, "permissionMode": "auto"},
            "providers": [{"name": "m", "baseUrl": model.openai_base_url, "model": "m"}],
        })
        svc = Service(root, HeadlessFrontend(interactive=False), loader=loader, watch=False)
        try:
            t0 = time.monotonic()
            ids = svc.tasks.run(TaskRunArgs(prompt="run it", permission_mode="auto")).wire()
            await svc.tasks.wait_idle(timeout=60)
            elapsed = time.monotonic() - t0
            finished = [e.data for e in svc.workspace.sessions.replay(ids["sessionId"]) if e.type == EV_TOOL_FINISHED]
        finally:
            await svc.shutdown()
            svc.close()
    assert len(finished) == 2, finished
    killed, within = finished
    assert killed["isError"] and "timed out after 1 s" in killed["output"], killed
    assert "started" in killed["output"]  # what it printed before is kept
    assert elapsed < 30, elapsed  # not the 60 s of its sleep, nor the 100 s the model asked for
    pid = int((root / "sleeper.pid").read_text())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "the command's background process outlived its timeout"
    assert not within["isError"] and "within" in within["output"], within
