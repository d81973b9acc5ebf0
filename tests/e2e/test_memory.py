"""Memory entries through the real server: added in one session, injected into the next."""

from __future__ import annotations

import json
from pathlib import Path

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from .harness import editor


async def test_memory_added_then_injected_into_the_next_session(workspace: Path, model: ScriptedModelServer) -> None:
    async with editor(workspace) as ed:
        added = await ed.command(p.CMD_MEMORY_ADD, {"text": "The deploy script lives in tools/deploy.sh",
                                                    "tags": ["deploy"]})
        user = await ed.command(p.CMD_MEMORY_ADD, {"text": "Prefer tabs over spaces", "scope": "user"})
        shown = await ed.command(p.CMD_MEMORY_SHOW, {})
        assert {e["id"] for e in shown["entries"]} == {added["entry"]["id"], user["entry"]["id"]}
        assert {e["scope"] for e in shown["entries"]} == {"project", "user"}
        ids = await ed.run_task("how do I run the deploy?")
        await ed.wait_turn(ids["turnId"])
        system = json.dumps(model.model_requests[-1].body["messages"][0])
        assert "tools/deploy.sh" in system
        injected = [e["data"] for e in ed.turn_events(ids["turnId"]) if e["type"] == p.EV_MEMORY_INJECTED]
        assert added["entry"]["id"] in {e["id"] for e in injected[0]["entries"]}
        removed = await ed.command(p.CMD_MEMORY_REMOVE, {"id": added["entry"]["id"][:12]})
        assert removed == {"removed": True}
        ids = await ed.run_task("and the deploy again?")
        await ed.wait_turn(ids["turnId"])
        assert "tools/deploy.sh" not in json.dumps(model.model_requests[-1].body["messages"][0])
