"""Every command's real result, every notification and every event's data, from the real server
process, is exactly what its model in minicode_lsp/protocol.py says (no field missing, none
extra, none of another type): the contract the clients are generated from is the one on the wire."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from .harness import editor
from .test_agent import call, tools


def conforms(model: type[BaseModel], data: Any, what: str) -> None:
    """``data`` parses as ``model`` and says nothing the model does not: parsing it and writing it
    back gives the same JSON (an unknown field is dropped, a wrong type coerced or refused)."""
    parsed = model.model_validate(data)
    again = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
    assert again == data, f"{what}: the wire differs from {model.__name__}:\n{data}\n!=\n{again}"


async def test_every_result_event_and_notification_matches_the_contract(
    workspace: Path, model: ScriptedModelServer
) -> None:
    model.set_script([
        tools(call("edit_file", path="notes.txt", old_text="second line", new_text="2nd line")),
        tools(call("write_file", path="new.txt", content="made by the agent\n")),
        {"text": "Done."},
    ])
    seen: set[str] = set()

    async with editor(workspace) as ed:
        async def run(command: str, args: dict[str, Any]) -> Any:
            result = await ed.command(command, args)
            conforms(p.COMMANDS[command][1], result, command)
            seen.add(command)
            return result

        ids = await run(p.CMD_TASK_RUN, {"prompt": "shorten the second line, add new.txt"})
        await ed.wait_turn(ids["turnId"])
        sid = ids["sessionId"]
        await run(p.CMD_TASK_CANCEL, {"sessionId": sid})
        await run(p.CMD_SESSION_LIST, {})
        await run(p.CMD_SESSION_REPLAY, {"sessionId": sid})
        await run(p.CMD_SESSION_SUMMARIZE, {"sessionId": sid})
        await run(p.CMD_SESSION_EXPORT, {"sessionId": sid, "format": "jsonl"})
        await run(p.CMD_CHECKPOINT_LIST, {"sessionId": sid})
        preview = await run(p.CMD_REWIND_PREVIEW, {"sessionId": sid, "target": {"session": True}})
        applied = await run(p.CMD_REWIND_APPLY, {"previewId": preview["previewId"]})
        assert applied["applied"] is True and applied["safetyGroupId"]
        # session.show carries the whole tree: the rewind's safety group too
        shown = await run(p.CMD_SESSION_SHOW, {"sessionId": sid})
        assert shown["turnCount"] == 1 and len(shown["turns"]) == 1
        assert [g["id"] for g in shown["safetyGroups"]] == [applied["safetyGroupId"]]
        assert all(g["rewound"] for g in shown["turns"][0]["groups"])
        await run(p.CMD_REWIND_UNDO, {"sessionId": sid})
        await run(p.CMD_READINESS, {})
        entry = (await run(p.CMD_MEMORY_ADD, {"text": "the tests run with pytest", "tags": ["tests"]}))["entry"]
        await run(p.CMD_MEMORY_SHOW, {})
        await run(p.CMD_MEMORY_ACCEPT, {"id": entry["id"]})
        await run(p.CMD_MEMORY_REMOVE, {"id": entry["id"]})
        await run(p.CMD_WORKSPACE_TRUST, {"sha256": "0" * 64})
        await run(p.CMD_SESSION_DELETE, {"sessionId": sid})

        assert seen == set(p.COMMANDS), f"not exercised: {set(p.COMMANDS) - seen}"
        for event in ed.events:
            conforms(p.MinicodeEvent, event, "minicode/event")
            conforms(p.EVENT_DATA[event["type"]], event["data"], event["type"])
        types = {e["type"] for e in ed.events}
        assert {p.EV_TURN_STARTED, p.EV_TOOL_STARTED, p.EV_TOOL_FINISHED, p.EV_FILES_CHANGED,
                p.EV_TURN_FINISHED} <= types, types
        for change in ed.session_changes:
            conforms(p.SessionsChanged, change, "minicode/sessions")
        assert ed.readiness
        for report in ed.readiness:
            conforms(p.ReadinessReport, report, "minicode/readiness")
