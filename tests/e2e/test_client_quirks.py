"""Quirks of LSP clients that CI cannot run, emulated against the real server process.

Eglot sends the didChange for an applied edit on its idle timer and answers "n" with an
error; ALE declares ``applyEdit: false`` and answers no request at all; Eglot 1.9 answers
``window/showDocument`` with null; many clients declare no showDocument support.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lsprotocol import types as t

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import write_config
from .harness import editor


def call(name: str, **arguments: object) -> dict:
    return {"name": name, "arguments": arguments}


def tools(*calls: dict, text: str = "") -> dict:
    return {"text": text, "tool_calls": list(calls)}


def results(ed: Any, turn_id: str) -> list[dict[str, Any]]:
    return [e["data"] for e in ed.turn_events(turn_id) if e["type"] == p.EV_TOOL_FINISHED]


async def test_late_did_change_second_edit_keeps_the_first(workspace: Path, model: ScriptedModelServer) -> None:
    """Finding 1: the editor's didChange for edit 1 arrives after edit 2 was computed."""
    model.set_script([
        tools(call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b")),
        # made from the text with edit 1 in it: fails if the server's copy lacks edit 1
        tools(call("edit_file", path="calc.py", old_text="return a + b\n\n\ndef mul",
                   new_text="return a + b  # fixed\n\n\ndef mul")),
        tools(call("run_command", command="true")),
        {"text": "Done."},
    ])
    async with editor(workspace) as ed:
        uri = ed.open("calc.py")
        ed.echo_delay_s = 2.5  # longer than the server waits for it (2 s)
        ids = await ed.run_task("fix add")
        done = await ed.wait_turn(ids["turnId"])
        assert done["stopReason"] == "done", done
        assert all(not r["isError"] for r in results(ed, ids["turnId"])), results(ed, ids["turnId"])
        assert "return a + b  # fixed\n" in ed.text(uri) and "return a * b" in ed.text(uri)


async def test_no_apply_edit_capability_server_writes_open_files(workspace: Path, model: ScriptedModelServer) -> None:
    """Finding 3 (ALE): applyEdit false; the server writes the file itself and sends no applyEdit."""
    model.set_script([
        tools(call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b")),
        tools(call("run_command", command="true")),
        {"text": "Done."},
    ])

    def no_apply(caps: t.ClientCapabilities) -> None:
        assert caps.workspace is not None
        caps.workspace.apply_edit = False

    async with editor(workspace, capabilities=no_apply) as ed:
        ed.open("calc.py")
        ids = await ed.run_task("fix add")
        done = await ed.wait_turn(ids["turnId"], timeout=30)
        assert done["stopReason"] == "done", done
        assert ed.applied == []
        assert "return a + b" in (workspace / "calc.py").read_text()


async def test_prompt_never_answered_cancel_withdraws_it_within_a_second(workspace: Path,
                                                                       model: ScriptedModelServer) -> None:
    """Finding 3: a client that never answers; cancelling the turn withdraws the prompt."""
    write_config(workspace, model, mode="ask")
    model.set_script([
        tools(call("edit_file", path="notes.txt", old_text="first line", new_text="FIRST")),
        {"text": "Done."},
    ])
    async with editor(workspace, profile="neovim") as ed:
        ed.questions_hang = True
        ids = await ed.run_task("edit notes")
        await ed.wait_for(lambda: ed.questions, what="the approval prompt")
        started = time.monotonic()
        result = await ed.command(p.CMD_TASK_CANCEL, {"sessionId": ids["sessionId"]})
        done = await ed.wait_turn(ids["turnId"], timeout=10)
        assert result["cancelled"] is True
        assert time.monotonic() - started < 1.5  # 1 s, and the test's own round trips
        assert done["stopReason"] == "cancelled", done
        await ed.wait_for(lambda: ed.withdrawn, timeout=5, what="$/cancelRequest")
        assert ed.withdrawn == [t.WINDOW_SHOW_MESSAGE_REQUEST]
        assert (workspace / "notes.txt").read_text().startswith("first line")
        # the session is free: a follow-up runs
        ed.questions_hang = False
        model.set_script([{"text": "Still here."}])
        again = await ed.run_task("anything else?", sessionId=ids["sessionId"])
        assert (await ed.wait_turn(again["turnId"]))["stopReason"] == "done"


async def test_prompt_never_answered_times_out_as_a_decline(workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="ask", extra="")
    cfg = workspace / ".minicode.toml"
    cfg.write_text(cfg.read_text().replace("[agent]\n", "[agent]\napprovalTimeoutS = 1\n"))
    from ..trusting import allow_workspace_config

    allow_workspace_config(workspace)
    model.set_script([
        tools(call("edit_file", path="notes.txt", old_text="first line", new_text="FIRST")),
        {"text": "The edit was not approved."},
    ])
    async with editor(workspace, profile="neovim") as ed:
        ed.questions_hang = True
        ids = await ed.run_task("edit notes")
        done = await ed.wait_turn(ids["turnId"], timeout=20)
        assert done["stopReason"] in ("done", "await_user"), done
        res = results(ed, ids["turnId"])
        assert res[0]["isError"] and "declined" in res[0]["summary"].lower(), res
        assert ed.withdrawn == [t.WINDOW_SHOW_MESSAGE_REQUEST]
        assert (workspace / "notes.txt").read_text().startswith("first line")


async def test_error_answer_to_apply_edit_is_a_decline(workspace: Path, model: ScriptedModelServer) -> None:
    """Finding 5: Eglot's "n" is an error answer: a decline, not an internal error."""
    model.set_script([
        tools(call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b")),
        {"text": "You declined."},
    ])
    async with editor(workspace) as ed:
        uri = ed.open("calc.py")
        ed.apply_error = "User cancelled server edit"
        ids = await ed.run_task("fix add")
        await ed.wait_turn(ids["turnId"])
        res = results(ed, ids["turnId"])
        assert res[0]["isError"] and "declined" in res[0]["summary"].lower(), res
        assert "internal error" not in res[0]["summary"]
        assert "return a - b" in ed.text(uri)


async def test_show_result_without_show_document_support(workspace: Path, model: ScriptedModelServer) -> None:
    """Finding 2: no showDocument support: not sent; the answer comes as a message; the session is free."""
    model.set_script([{"text": "This code adds two numbers."}])

    def no_show(caps: t.ClientCapabilities) -> None:
        assert caps.window is not None
        caps.window.show_document = None

    async with editor(workspace, capabilities=no_show) as ed:
        ids = await ed.run_task("explain", showResult=True)
        await ed.wait_turn(ids["turnId"])
        await ed.wait_for(lambda: any("adds two numbers" in m.message for m in ed.client.messages),
                          timeout=10, what="the answer as window/showMessage")
        assert ed.shown_documents == []
        model.set_script([{"text": "Sure."}])
        again = await ed.run_task("and more?", sessionId=ids["sessionId"])
        assert (await ed.wait_turn(again["turnId"]))["stopReason"] == "done"
        shown = await ed.command(p.CMD_SESSION_SHOW, {"sessionId": ids["sessionId"], "openDocument": True})
        assert shown["documentUri"]


async def test_null_error_or_no_answer_to_show_document_never_holds_the_session(
        workspace: Path, model: ScriptedModelServer) -> None:
    """Finding 2 (Eglot 1.9 answers null): the session takes a follow-up, delete works."""
    async with editor(workspace) as ed:
        for answer in ("null", "error", "hang"):
            ed.show_document_answer = answer
            model.set_script([{"text": f"Answer {answer}."}])
            ids = await ed.run_task("explain", showResult=True)
            await ed.wait_turn(ids["turnId"])
            model.set_script([{"text": "Follow-up."}])
            again = await ed.run_task("more", sessionId=ids["sessionId"])
            assert (await ed.wait_turn(again["turnId"]))["stopReason"] == "done"
            await ed.wait_for(lambda: not (ed.questions), timeout=1, what="nothing asked")
        shown = await ed.command(p.CMD_SESSION_SHOW, {"sessionId": ids["sessionId"]})
        assert shown["running"] is False
        assert (await ed.command(p.CMD_SESSION_DELETE, {"sessionId": ids["sessionId"]})) is not None


async def test_rewind_of_closed_files_never_goes_through_a_client_without_annotations(
        workspace: Path, model: ScriptedModelServer) -> None:
    """Finding 4 for rewinds: approved once, then written on disk by the server."""
    model.set_script([
        tools(call("edit_file", path="notes.txt", old_text="first line", new_text="FIRST")),
        tools(call("run_command", command="true")),
        {"text": "Done."},
    ])
    async with editor(workspace, profile="neovim") as ed:
        ids = await ed.run_task("edit notes")
        assert (await ed.wait_turn(ids["turnId"]))["stopReason"] == "done"
        assert (workspace / "notes.txt").read_text().startswith("FIRST")
        ed.answers = ["Apply"]
        result = await ed.command(p.CMD_REWIND_APPLY, {"sessionId": ids["sessionId"], "target": {"session": True}})
        assert result["applied"] is True, result
        assert len(ed.questions) == 1 and "notes.txt" in ed.questions[0].message
        assert ed.applied == []  # nothing sent to the editor
        assert (workspace / "notes.txt").read_text() == "first line\nsecond line\n"
