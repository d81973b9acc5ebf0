"""Agent turns through the real server, the real httpx client and the scripted model server."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from lsprotocol import types as t

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import write_config
from .harness import editor


def alive(pid: int) -> bool:
    """Running, not a zombie (a killed orphan may wait for a reaper that never comes here)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def call(name: str, **arguments: object) -> dict:
    return {"name": name, "arguments": arguments}


def tools(*calls: dict, text: str = "") -> dict:
    return {"text": text, "tool_calls": list(calls)}


async def test_edits_open_buffer_through_apply_edit_and_closed_file_on_disk(
    workspace: Path, model: ScriptedModelServer, profile: str
) -> None:
    model.set_script([
        tools(call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b")),
        tools(call("write_file", path="new.txt", content="created\n")),
        tools(call("read_file", path="calc.py")),
        {"text": "Fixed add()."},
    ])
    async with editor(workspace, profile=profile) as ed:
        uri = ed.open("calc.py")
        ids = await ed.run_task("fix add")
        done = await ed.wait_turn(ids["turnId"])
        assert done["stopReason"] == "done", done
        # the open buffer changed through applyEdit, with the document's version
        assert "return a + b" in ed.text(uri)
        edit = ed.applied[0].edit.document_changes[0]
        assert isinstance(edit, t.TextDocumentEdit)
        assert edit.text_document.uri == uri and edit.text_document.version == 1
        assert len(edit.edits) == 1 and edit.edits[0].new_text.strip() == "+"  # a minimal edit
        # the closed file was written on disk, never through the editor
        assert (workspace / "new.txt").read_text() == "created\n"
        assert all(c.text_document.uri != (workspace / "new.txt").as_uri()
                   for a in ed.applied for c in a.edit.document_changes or [] if isinstance(c, t.TextDocumentEdit))
        changed = [e for e in ed.turn_events(ids["turnId"]) if e["type"] == p.EV_FILES_CHANGED]
        assert [e["data"]["files"][0]["uri"] for e in changed] == [uri, (workspace / "new.txt").as_uri()]
        assert all(e["data"]["groupId"] for e in changed)
        # the model saw the buffer text, not the disk copy, when it read calc.py back
        last = model.model_requests[-1].body["messages"][-1]
        assert "return a + b" in str(last)


async def test_ask_mode_edit_accepted_and_declined(workspace: Path, model: ScriptedModelServer, profile: str) -> None:
    write_config(workspace, model, mode="ask")
    model.set_script([
        tools(call("edit_file", path="notes.txt", old_text="first line", new_text="FIRST LINE")),
        tools(call("edit_file", path="calc.py", old_text="return a * b", new_text="return a ** b")),
        {"text": "You declined the second edit; tell me how to go on."},
    ])
    async with editor(workspace, profile=profile) as ed:
        if profile == "vscode":
            ed.apply_answers = [True, False]
        else:  # no changeAnnotationSupport: the server asks with showMessageRequest
            ed.answers = ["Apply", "Decline"]
        ids = await ed.run_task("edit two files")
        done = await ed.wait_turn(ids["turnId"])
        assert (workspace / "notes.txt").read_text().startswith("FIRST LINE")
        assert "return a * b" in (workspace / "calc.py").read_text()
        assert done["stopReason"] == "await_user", done
        results = [e["data"] for e in ed.turn_events(ids["turnId"]) if e["type"] == p.EV_TOOL_FINISHED]
        assert results[0]["isError"] is False and results[1]["isError"] is True
        assert "declined" in results[1]["summary"].lower()
        if profile == "vscode":
            ann = ed.applied[0].edit.change_annotations
            assert ann and all(a.needs_confirmation for a in ann.values())
        else:
            assert len(ed.questions) == 2 and "notes.txt" in ed.questions[0].message
        # only the accepted edit was checkpointed
        groups = await ed.command(p.CMD_CHECKPOINT_LIST, {"sessionId": ids["sessionId"]})
        assert [Path(f["path"]).name for g in groups["groups"] for f in g["files"]] == ["notes.txt"]


async def test_command_approved_then_denied(workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="ask")
    model.set_script([
        tools(call("run_command", command="echo approved > approved.txt")),
        tools(call("run_command", command="echo denied > denied.txt")),
        {"text": "One ran, one was refused."},
    ])
    async with editor(workspace) as ed:
        ed.answers = ["Allow once", "Deny"]
        ids = await ed.run_task("run two commands")
        await ed.wait_turn(ids["turnId"])
        assert (workspace / "approved.txt").read_text() == "approved\n"
        assert not (workspace / "denied.txt").exists()
        assert [q.message for q in ed.questions] == [
            "MiniCode wants to run: echo approved > approved.txt", "MiniCode wants to run: echo denied > denied.txt"]
        events = ed.turn_events(ids["turnId"])
        assert sum(e["type"] == p.EV_APPROVAL_REQUESTED for e in events) == 2
        shell = [e["data"] for e in events if e["type"] == p.EV_FILES_CHANGED]
        assert len(shell) == 1 and shell[0]["files"][0]["uri"].endswith("/approved.txt")
        refused = [e["data"] for e in events if e["type"] == p.EV_TOOL_FINISHED][1]
        assert refused["isError"] and "refused" in refused["summary"].lower()


async def test_cancel_during_a_long_command_kills_its_process_group(
    workspace: Path, model: ScriptedModelServer
) -> None:
    model.set_script([tools(call("run_command", command="sleep 60 & echo $! > child.pid; wait"))])
    async with editor(workspace) as ed:
        ids = await ed.run_task("wait a minute")
        await ed.wait_for(lambda: (workspace / "child.pid").exists() and (workspace / "child.pid").read_text().strip(),
                          what="the command to start")
        child = int((workspace / "child.pid").read_text())
        start = time.monotonic()
        result = await ed.command(p.CMD_TASK_CANCEL, {"sessionId": ids["sessionId"]})
        assert result == {"cancelled": True}
        done = await ed.wait_turn(ids["turnId"], timeout=5)
        assert time.monotonic() - start < 1.5
        assert done["stopReason"] == "cancelled"
        await asyncio.sleep(0.2)
        assert not alive(child), "the command's child process survived the cancel"


async def test_progress_begin_report_end(workspace: Path, model: ScriptedModelServer) -> None:
    model.set_script([tools(call("list_files")), {"text": "Listed."}])
    async with editor(workspace) as ed:
        ids = await ed.run_task("list the files")
        done = await ed.wait_turn(ids["turnId"])
        await ed.wait_for(lambda: any(type(v).__name__ == "WorkDoneProgressEnd"
                                      for v in ed.client.progress_reports.get(f"minicode-{ids['turnId']}", [])),
                          what="progress end")
        reports = ed.client.progress_reports[f"minicode-{ids['turnId']}"]
        kinds = [type(r).__name__ for r in reports]
        assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
        assert reports[0].message == "list the files" and reports[0].cancellable
        assert any(getattr(r, "message", "") == "list_files" for r in reports[1:-1])
        assert reports[-1].message == done["stopReason"]


async def test_progress_cancel_from_the_client_cancels_the_turn(workspace: Path, model: ScriptedModelServer) -> None:
    model.set_script([{"fault": "delay", "seconds": 20}])
    async with editor(workspace) as ed:
        ids = await ed.run_task("slow")
        token = f"minicode-{ids['turnId']}"
        await ed.wait_for(lambda: token in ed.client.progress_reports, what="progress begin")
        ed.client.protocol.notify(t.WINDOW_WORK_DONE_PROGRESS_CANCEL, t.WorkDoneProgressCancelParams(token=token))
        done = await ed.wait_turn(ids["turnId"], timeout=5)
        assert done["stopReason"] == "cancelled"


async def test_429_then_success(workspace: Path, model: ScriptedModelServer) -> None:
    model.set_script([{"fault": "429", "retry_after": 1}, {"text": "Answer after the rate limit."}])
    async with editor(workspace) as ed:
        ids = await ed.run_task("hello")
        done = await ed.wait_turn(ids["turnId"])
        assert done["stopReason"] == "done" and done["text"] == "Answer after the rate limit."
        assert len(model.model_requests) == 2


async def test_500_falls_back_to_the_second_provider(workspace: Path, model: ScriptedModelServer) -> None:
    with ScriptedModelServer([{"text": "The backup answered."}]) as backup:
        providers = (
            f'[[providers]]\nname = "primary"\nkind = "openai"\nbaseUrl = "{model.openai_base_url}"\n'
            'model = "m"\nmaxRetries = 0\ntimeoutS = 5\n'
            f'[[providers]]\nname = "backup"\nkind = "anthropic"\nbaseUrl = "{backup.base_url}"\n'
            'model = "m"\napiKeyEnv = "MINICODE_E2E_BACKUP_KEY"\n'
        )
        write_config(workspace, model, providers=providers)
        model.set_script([{"fault": "500"}])
        async with editor(workspace, env={"MINICODE_E2E_BACKUP_KEY": "backup-key-value"}) as ed:
            ids = await ed.run_task("hello")
            done = await ed.wait_turn(ids["turnId"])
            assert done["stopReason"] == "done" and done["provider"] == "backup"
            fallbacks = [e["data"] for e in ed.turn_events(ids["turnId"]) if e["type"] == p.EV_PROVIDER_FALLBACK]
            assert fallbacks and fallbacks[0]["fromProvider"] == "primary" and fallbacks[0]["toProvider"] == "backup"
            assert backup.model_requests[0].wire == "anthropic"


async def test_timeout_and_malformed_stream_end_in_provider_error(workspace: Path, model: ScriptedModelServer) -> None:
    providers = (f'[[providers]]\nname = "only"\nkind = "openai"\nbaseUrl = "{model.openai_base_url}"\n'
                 'model = "m"\nmaxRetries = 1\ntimeoutS = 1\nfirstTokenTimeoutS = 1\n')
    write_config(workspace, model, providers=providers)
    model.set_script([{"fault": "delay", "seconds": 4}, {"fault": "delay", "seconds": 4}])
    async with editor(workspace) as ed:
        ids = await ed.run_task("slow model")
        done = await ed.wait_turn(ids["turnId"], timeout=30)
        assert done["stopReason"] == "provider_error" and done["error"]
        model.set_script([{"fault": "malformed_sse"}, {"fault": "malformed_sse"}])
        ids = await ed.run_task("broken stream")
        done = await ed.wait_turn(ids["turnId"], timeout=30)
        assert done["stopReason"] == "provider_error"
        model.set_script([{"fault": "malformed_sse"}, {"text": "Recovered."}])
        ids = await ed.run_task("broken once")
        done = await ed.wait_turn(ids["turnId"], timeout=30)
        assert done["stopReason"] == "done" and done["text"] == "Recovered."


async def test_paths_outside_the_workspace_and_symlink_escapes_are_refused(
    workspace: Path, model: ScriptedModelServer
) -> None:
    outside = workspace.parent / "outside.txt"
    outside.write_text("secret outside\n")
    (workspace / "escape").symlink_to(outside)
    escapes = [
        call("read_file", path="../outside.txt"),
        call("read_file", path="escape"),
        call("write_file", path=str(outside), content="pwned"),
        call("write_file", path=".git/config", content="pwned"),
        call("edit_file", path="escape", old_text="secret", new_text="pwned"),
    ]
    script = []
    for escape in escapes:  # a harmless call between refusals, so the turn goes on
        script += [tools(escape), tools(call("list_files"))]
    model.set_script([*script, {"text": "All refused."}])
    async with editor(workspace) as ed:
        ids = await ed.run_task("try to escape")
        done = await ed.wait_turn(ids["turnId"])
        results = [e["data"] for e in ed.turn_events(ids["turnId"]) if e["type"] == p.EV_TOOL_FINISHED]
        assert [r["isError"] for r in results] == [True, False] * 5, results
        assert all("outside the workspace" in r["summary"] or ".git" in r["summary"] for r in results[::2])
        assert done["stopReason"] == "done"
        assert outside.read_text() == "secret outside\n"
        assert not (workspace / ".git").exists()
        sent = str([r.body for r in model.model_requests])
        assert "secret outside" not in sent
        # refusal after refusal: the turn stops as blocked instead of spinning
        model.set_script([tools(e) for e in escapes[:3]] + [{"text": "unreachable"}])
        ids = await ed.run_task("keep trying")
        done = await ed.wait_turn(ids["turnId"])
        assert done["stopReason"] == "blocked"


async def test_no_api_key_in_logs_events_exports_or_commands(tmp_path: Path, workspace: Path,
                                                            model: ScriptedModelServer) -> None:
    secret = "sk-e2e-SECRET-4f9a1c"
    providers = (f'[[providers]]\nname = "keyed"\nkind = "openai"\nbaseUrl = "{model.openai_base_url}"\n'
                 'model = "m"\napiKeyEnv = "MINICODE_E2E_KEY"\n')
    write_config(workspace, model, providers=providers)
    model.set_script([
        tools(call("run_command", command="env; echo key=$MINICODE_E2E_KEY")),
        tools(call("write_file", path="k.txt", content=f"the model echoes {secret}")),
        tools(call("read_file", path="k.txt")),
        {"text": f"I saw {secret} somewhere"},
    ])
    log = tmp_path / "server.log"
    async with editor(workspace, env={"MINICODE_E2E_KEY": secret}, log_file=log) as ed:
        ids = await ed.run_task(f"use the key {secret}")
        await ed.wait_turn(ids["turnId"])
        assert model.model_requests[0].headers["authorization"] == f"Bearer {secret}"
        command_output = [e["data"]["summary"] for e in ed.turn_events(ids["turnId"])
                          if e["type"] == p.EV_TOOL_FINISHED][0]
        assert "key=" in command_output and secret not in command_output
        assert secret not in str(ed.events)
        for fmt in ("markdown", "jsonl"):
            exported = await ed.command(p.CMD_SESSION_EXPORT, {"sessionId": ids["sessionId"], "format": fmt})
            assert secret not in exported["content"]
        replay = await ed.command(p.CMD_SESSION_REPLAY, {"sessionId": ids["sessionId"]})
        assert secret not in str(replay)
        assert "[REDACTED]" in str(replay)
    assert log.exists() and log.stat().st_size > 0
    assert secret not in log.read_text()


async def test_explain_action_opens_the_answer_as_a_document(workspace: Path, model: ScriptedModelServer) -> None:
    model.set_script([tools(call("read_file", path="calc.py")), {"text": "add() subtracts its arguments."}])
    async with editor(workspace) as ed:
        uri = ed.open("calc.py")
        actions = await ed.client.text_document_code_action_async(t.CodeActionParams(
            text_document=t.TextDocumentIdentifier(uri=uri),
            range=t.Range(t.Position(0, 0), t.Position(1, 16)),
            context=t.CodeActionContext(diagnostics=[], only=[t.CodeActionKind.Refactor]),
        ))
        explain = next(a for a in actions if a.title == "MiniCode: explain this code")
        ids = await ed.command(explain.command.command, explain.command.arguments[0])
        done = await ed.wait_turn(ids["turnId"])
        assert done["stopReason"] == "done"
        await ed.wait_for(lambda: ed.shown_documents, what="window/showDocument")
        shown = Path(ed.shown_documents[0][len("file://"):])
        assert shown.suffix == ".md" and "add() subtracts its arguments." in shown.read_text()
        assert not shown.is_relative_to(workspace)
        # plan mode: the explanation changed nothing
        assert (workspace / "calc.py").read_text().count("return a - b") == 1


async def test_summary_includes_the_models_own_when_a_provider_answers(workspace: Path,
                                                                         model: ScriptedModelServer) -> None:
    model.set_script([{"text": "Hello."}])
    async with editor(workspace) as ed:
        ids = await ed.run_task("say hello")
        await ed.wait_turn(ids["turnId"])
        model.set_script([{"text": "- You asked for a greeting; nothing changed."}])
        summary = await ed.command(p.CMD_SESSION_SUMMARIZE, {"sessionId": ids["sessionId"]})
        assert summary["modelSummary"] is True
        assert "say hello" in summary["markdown"]
        assert "You asked for a greeting; nothing changed." in summary["markdown"]
        model.set_script([{"fault": "401"}])
        plain = await ed.command(p.CMD_SESSION_SUMMARIZE, {"sessionId": ids["sessionId"]})
        assert plain["modelSummary"] is False and "say hello" in plain["markdown"]
