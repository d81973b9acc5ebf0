"""Readiness re-probes in the background and reports the change when a local model comes up."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from minicode_lsp.config import ConfigLoader
from minicode_lsp.protocol import NOTIFY_READINESS
from minicode_lsp.service import HeadlessFrontend, Service
from minicode_lsp.testing.model_server import ScriptedModelServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_blocked_until_the_model_server_starts(tmp_path: Path) -> None:
    port = free_port()
    root = tmp_path / "ws"
    root.mkdir()
    published: list[dict[str, Any]] = []
    loader = ConfigLoader()
    loader.set_layer("initializationOptions", {
        "store": {"path": str(tmp_path / "store")},
        "providers": [{"name": "later", "baseUrl": f"http://127.0.0.1:{port}/v1", "model": "scripted"}],
    })
    frontend = HeadlessFrontend(interactive=False,
                                on_publish=lambda m, p: published.append(p) if m == NOTIFY_READINESS else None)
    svc = Service(root, frontend, loader=loader, watch=False)
    watcher = asyncio.create_task(svc.readiness.watch(not_ready_s=0.1, ready_s=0.1))
    try:
        for _ in range(100):
            if published:
                break
            await asyncio.sleep(0.05)
        assert published[-1]["state"] == "blocked"
        check = next(c for c in published[-1]["checks"] if c["name"] == "provider:later")
        assert "nothing answers" in check["detail"] and check["fix"]
        count = len(published)
        with ScriptedModelServer(port=port):
            for _ in range(100):
                if published[-1]["state"] != "blocked":
                    break
                await asyncio.sleep(0.05)
            assert published[-1]["state"] == "ready"  # answers; no fallback configured is advice only
            assert len(published) == count + 1, "a notification only when the report changes"
    finally:
        watcher.cancel()
        svc.close()


def test_a_missing_model_is_fixed_by_choosing_one() -> None:
    """Ollama: pull it or pick one `ollama list` shows; any other server: its model list."""
    from minicode_lsp.config import ProviderConfig
    from minicode_lsp.service.readiness import _model_fix

    ollama = ProviderConfig(name="local", kind="openai", base_url="http://127.0.0.1:11434/v1", model="qwen9")
    assert _model_fix(ollama, False) == ("`ollama pull qwen9` downloads it; `ollama list` shows the models this "
                                         "Ollama has: set model in [[providers]] 'local' to one of them")
    vllm = ProviderConfig(name="gpu", kind="openai", base_url="http://10.0.0.2:8000/v1", model="m")
    assert _model_fix(vllm, False).startswith("GET http://10.0.0.2:8000/v1/models lists every model")
