"""A real ACP client for tests: the SDK's client side driving the real `minicode-lsp acp` process.

It records every ``session/update`` as plain JSON (what went over the wire), answers permission
requests from a script (default: allow once), and serves ``fs/write_text_file`` like an editor
that saves what it is given.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acp import PROTOCOL_VERSION
from acp.schema import (
    AllowedOutcome,
    ClientCapabilities,
    DeniedOutcome,
    FileSystemCapabilities,
    RequestPermissionResponse,
    WriteTextFileResponse,
)
from acp.stdio import spawn_agent_process

from .harness import server_env

AGENT_CMD = [sys.executable, "-m", "minicode_lsp", "-v", "acp"]


@dataclass
class AcpTestClient:
    updates: list[dict[str, Any]] = field(default_factory=list)  # {"sessionId", "update"} as sent
    permissions: list[dict[str, Any]] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)  # option ids, consumed first; None = cancelled
    default_answer: str | None = "allow_once"
    writes: list[str] = field(default_factory=list)
    hold_permissions: bool = False  # never answer (a client that hangs)

    async def request_permission(self, options: Any, session_id: str, tool_call: Any, **kwargs: Any) -> Any:
        self.permissions.append({"sessionId": session_id, "toolCall": tool_call.model_dump(by_alias=True,
                                 exclude_none=True), "options": [o.option_id for o in options]})
        if self.hold_permissions:
            await asyncio.Event().wait()
        answer = self.answers.pop(0) if self.answers else self.default_answer
        if answer is None:
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        return RequestPermissionResponse(outcome=AllowedOutcome(outcome="selected", option_id=answer))

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates.append({"sessionId": session_id, "update": update.model_dump(by_alias=True, exclude_none=True)})

    async def write_text_file(self, content: str, path: str, session_id: str, **kwargs: Any) -> Any:
        self.writes.append(path)
        Path(path).write_text(content, encoding="utf-8")
        return WriteTextFileResponse()

    async def read_text_file(self, path: str, session_id: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def kinds(self, session_id: str | None = None) -> list[str]:
        return [u["update"]["sessionUpdate"] for u in self.updates if session_id in (None, u["sessionId"])]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [u["update"] for u in self.updates if u["update"]["sessionUpdate"] == kind]

    def text(self) -> str:
        return "".join(u["content"]["text"] for u in self.of("agent_message_chunk"))


@asynccontextmanager
async def acp_agent(root: Path, client: AcpTestClient, *, home: Path | None = None, fs_write: bool = True,
                    env: dict[str, str] | None = None) -> AsyncIterator[Any]:
    home = home or root.parent / "home"
    async with spawn_agent_process(client, *AGENT_CMD, env=server_env(home, env), cwd=str(root)) as (conn, proc):
        await conn.initialize(protocol_version=PROTOCOL_VERSION, client_capabilities=ClientCapabilities(
            fs=FileSystemCapabilities(read_text_file=False, write_text_file=fs_write)))
        conn.process = proc
        yield conn
