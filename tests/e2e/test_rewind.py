"""Checkpoints and rewind through the real server: previews, apply, decline, stale, merge, bytes, shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lsprotocol import types as t
from pygls.exceptions import JsonRpcException

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from .harness import Editor, editor
from .test_agent import call, tools

ORIGINAL_CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"


async def agent_turn(ed: Editor, model: ScriptedModelServer, *calls: dict, prompt: str = "change things") -> dict:
    model.set_script([*[tools(c) for c in calls], tools(call("run_command", command="true")), {"text": "Done."}])
    ids = await ed.run_task(prompt)
    done = await ed.wait_turn(ids["turnId"])
    assert done["stopReason"] == "done", done
    return ids


async def test_preview_then_apply_restores_buffers_and_disk_and_undo_brings_it_back(
    workspace: Path, model: ScriptedModelServer, profile: str
) -> None:
    async with editor(workspace, profile=profile) as ed:
        uri = ed.open("calc.py")
        ids = await agent_turn(
            ed, model,
            call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b"),
            call("write_file", path="created.txt", content="new\n"),
            call("delete_file", path="notes.txt"),
        )
        preview = await ed.command(p.CMD_REWIND_PREVIEW, {"sessionId": ids["sessionId"], "target": {"session": True}})
        by_name = {Path(f["path"]).name: f for f in preview["files"]}
        assert {n: (f["action"], f["status"]) for n, f in by_name.items()} == {
            "calc.py": ("restore", "clean"), "created.txt": ("delete", "clean"), "notes.txt": ("recreate", "clean")}
        assert "-    return a + b" in by_name["calc.py"]["diff"] and "+    return a - b" in by_name["calc.py"]["diff"]
        assert by_name["calc.py"]["newText"] == ORIGINAL_CALC
        # each file's restored text once: in its entry, not again in a WorkspaceEdit
        assert "edit" not in preview
        assert json.dumps(preview).count(json.dumps(ORIGINAL_CALC)[1:-1]) == 1
        before_apply, asked = len(ed.applied), len(ed.questions)
        result = await ed.command(p.CMD_REWIND_APPLY, {"previewId": preview["previewId"]})
        assert result["applied"] is True and result["safetyGroupId"]
        assert ed.text(uri) == ORIGINAL_CALC  # the open buffer, through applyEdit
        sent = ed.applied[before_apply]
        # the preview was the one confirmation: no Refactor Preview, no question
        assert not any(a.needs_confirmation for a in (sent.edit.change_annotations or {}).values())
        assert len(ed.questions) == asked, ed.questions[asked:]
        assert not (workspace / "created.txt").exists()
        assert (workspace / "notes.txt").read_text() == "first line\nsecond line\n"
        groups = await ed.command(p.CMD_CHECKPOINT_LIST, {"sessionId": ids["sessionId"]})
        assert groups["groups"][0]["kind"] == "rewind"
        # a rewind is itself rewindable (an undo is asked for, as rewind.confirm says)
        if profile == "neovim":  # no changeAnnotationSupport: the server asks before applying
            ed.answers = ["Apply"]
        undone = await ed.command(p.CMD_REWIND_UNDO, {"sessionId": ids["sessionId"]})
        assert undone["applied"] is True
        assert "return a + b" in ed.text(uri)
        assert (workspace / "created.txt").read_text() == "new\n" and not (workspace / "notes.txt").exists()


async def test_apply_without_a_preview_still_asks(workspace: Path, model: ScriptedModelServer, profile: str) -> None:
    async with editor(workspace, profile=profile) as ed:
        uri = ed.open("calc.py")
        ids = await agent_turn(ed, model, call("edit_file", path="calc.py", old_text="a - b", new_text="a + b"))
        before_apply, asked = len(ed.applied), len(ed.questions)
        if profile == "neovim":  # no changeAnnotationSupport: the server asks before applying
            ed.answers = ["Apply"]
        result = await ed.command(p.CMD_REWIND_APPLY, {"sessionId": ids["sessionId"], "target": {"latest": True}})
        assert result["applied"] is True
        assert ed.text(uri) == ORIGINAL_CALC
        if profile == "vscode":
            sent = ed.applied[before_apply]
            assert any(a.needs_confirmation for a in (sent.edit.change_annotations or {}).values())
        else:
            assert len(ed.questions) == asked + 1, "a client without annotation support is asked first"


async def test_declined_apply_changes_nothing(workspace: Path, model: ScriptedModelServer) -> None:
    async with editor(workspace) as ed:
        uri = ed.open("calc.py")
        ids = await agent_turn(ed, model, call("edit_file", path="calc.py", old_text="a - b", new_text="a + b"))
        ed.apply_answers = [False]
        result = await ed.command(p.CMD_REWIND_APPLY, {"sessionId": ids["sessionId"], "target": {"latest": True}})
        assert result["applied"] is False
        assert "a + b" in ed.text(uri)
        kinds = [g["kind"] for g in (await ed.command(p.CMD_CHECKPOINT_LIST, {}))["groups"]]
        assert "rewind" not in kinds
        with pytest.raises(JsonRpcException):
            await ed.command(p.CMD_REWIND_UNDO, {})


async def test_stale_preview_is_refused(workspace: Path, model: ScriptedModelServer) -> None:
    async with editor(workspace) as ed:
        uri = ed.open("calc.py")
        ids = await agent_turn(ed, model, call("edit_file", path="calc.py", old_text="a - b", new_text="a + b"))
        preview = await ed.command(p.CMD_REWIND_PREVIEW, {"sessionId": ids["sessionId"]})
        ed.type_text(uri, ed.text(uri) + "# typed after the preview\n")
        with pytest.raises(JsonRpcException) as err:
            await ed.command(p.CMD_REWIND_APPLY, {"previewId": preview["previewId"]})
        assert err.value.code == p.ERR_STALE_PREVIEW
        assert "changed since the preview" in err.value.message and "preview again" in err.value.message
        assert ed.text(uri).endswith("# typed after the preview\n")
        with pytest.raises(JsonRpcException) as err:  # an unknown (or expired) preview: the same advice
            await ed.command(p.CMD_REWIND_APPLY, {"previewId": "0" * 32})
        assert err.value.code == p.ERR_NOT_FOUND and "preview again" in err.value.message


async def test_user_edits_survive_and_overlaps_are_conflicts(workspace: Path, model: ScriptedModelServer) -> None:
    async with editor(workspace) as ed:
        uri = ed.open("calc.py")
        ids = await agent_turn(ed, model, call("edit_file", path="calc.py", old_text="return a - b",
                                                 new_text="return a + b"))
        # the user edits elsewhere in the buffer: the rewind merges
        ed.type_text(uri, ed.text(uri).replace("return a * b", "return b * a  # user"))
        preview = await ed.command(p.CMD_REWIND_PREVIEW, {"sessionId": ids["sessionId"]})
        assert preview["files"][0]["status"] == "merged"
        await ed.command(p.CMD_REWIND_APPLY, {"previewId": preview["previewId"]})
        assert ed.text(uri) == ORIGINAL_CALC.replace("return a * b", "return b * a  # user")
        # now the user changes the very line the agent changed: a conflict, left alone without force
        ids = await agent_turn(ed, model, call("edit_file", path="calc.py", old_text="return a - b",
                                                 new_text="return a + b"))
        ed.type_text(uri, ed.text(uri).replace("return a + b", "return a + b + 0  # user"))
        mine = ed.text(uri)
        result = await ed.command(p.CMD_REWIND_APPLY, {"sessionId": ids["sessionId"], "target": {"latest": True}})
        assert result["files"][0]["status"] == "conflict" and result["files"][0]["willApply"] is False
        assert result["applied"] is False and "conflict" in result["reason"] and not result["safetyGroupId"]
        assert ed.text(uri) == mine
        forced = await ed.command(p.CMD_REWIND_APPLY, {"sessionId": ids["sessionId"], "target": {"latest": True},
                                                       "force": True})
        assert forced["applied"] is True
        assert "<<<<<<<" in ed.text(uri) and "return a + b + 0  # user" in ed.text(uri)


async def test_crlf_and_latin1_files_round_trip_byte_for_byte(workspace: Path, model: ScriptedModelServer) -> None:
    crlf = b"line one\r\nline two\r\nline three\r\n"
    latin = "caf\xe9 cr\xe8me\nna\xefve\n".encode("latin-1")
    (workspace / "win.txt").write_bytes(crlf)
    (workspace / "latin.txt").write_bytes(latin)
    async with editor(workspace) as ed:
        ids = await agent_turn(
            ed, model,
            call("edit_file", path="win.txt", old_text="line two", new_text="line 2\nline 2b"),
            call("edit_file", path="latin.txt", old_text="na\xefve", new_text="naive"),
        )
        assert (workspace / "win.txt").read_bytes() == b"line one\r\nline 2\r\nline 2b\r\nline three\r\n"
        assert (workspace / "latin.txt").read_bytes() == "caf\xe9 cr\xe8me\nnaive\n".encode("latin-1")
        await ed.command(p.CMD_REWIND_APPLY, {"sessionId": ids["sessionId"], "target": {"session": True}})
        assert (workspace / "win.txt").read_bytes() == crlf
        assert (workspace / "latin.txt").read_bytes() == latin


async def test_shell_command_side_effects_are_rewound(workspace: Path, model: ScriptedModelServer) -> None:
    async with editor(workspace) as ed:
        ids = await agent_turn(
            ed, model,
            call("run_command", command="echo generated > gen.txt && rm notes.txt && echo more >> README.md"),
        )
        changed = [e["data"] for e in ed.turn_events(ids["turnId"]) if e["type"] == p.EV_FILES_CHANGED]
        assert len(changed) == 1
        actions = {Path(f["uri"]).name: f["action"] for f in changed[0]["files"]}
        assert actions == {"gen.txt": "create", "notes.txt": "delete", "README.md": "modify"}
        groups = await ed.command(p.CMD_CHECKPOINT_LIST, {"sessionId": ids["sessionId"]})
        assert groups["groups"][0]["kind"] == "shell"
        result = await ed.command(p.CMD_REWIND_APPLY, {"sessionId": ids["sessionId"], "target": {"latest": True}})
        assert result["applied"]
        assert not (workspace / "gen.txt").exists()
        assert (workspace / "notes.txt").read_text() == "first line\nsecond line\n"
        assert (workspace / "README.md").read_text() == "# sample\n"


async def test_user_edits_between_turns_are_not_the_agents(workspace: Path, model: ScriptedModelServer) -> None:
    async with editor(workspace) as ed:
        await agent_turn(ed, model, call("write_file", path="agent.txt", content="agent\n"))
        (workspace / "mine.txt").write_text("the user's own file\n")  # outside any turn
        ids = await agent_turn(ed, model, call("run_command", command="echo x > shell.txt"))
        changed = [e["data"] for e in ed.turn_events(ids["turnId"]) if e["type"] == p.EV_FILES_CHANGED]
        assert [Path(f["uri"]).name for f in changed[0]["files"]] == ["shell.txt"]


async def test_code_actions_on_a_file_the_agent_changed(workspace: Path, model: ScriptedModelServer) -> None:
    async with editor(workspace) as ed:
        uri = ed.open("calc.py")
        await agent_turn(ed, model, call("edit_file", path="calc.py", old_text="a - b", new_text="a + b"))
        actions = await ed.client.text_document_code_action_async(t.CodeActionParams(
            text_document=t.TextDocumentIdentifier(uri=uri),
            range=t.Range(t.Position(0, 0), t.Position(0, 0)),
            context=t.CodeActionContext(diagnostics=[], only=[t.CodeActionKind.Source]),
        ))
        titles = [a.title for a in actions]
        assert titles == ["MiniCode: preview rewind of agent edits in this file",
                          "MiniCode: rewind agent edits in this file"]
        assert [a.kind for a in actions] == ["source.minicode.rewindPreview", "source.minicode.rewind"]
        preview = actions[0].command
        shown = await ed.command(preview.command, preview.arguments[0])
        assert ed.shown_documents == [shown["documentUri"]]
        assert "+    return a - b" in Path(shown["documentUri"][len("file://"):]).read_text()
        rewind = actions[1].command
        await ed.command(rewind.command, rewind.arguments[0])
        assert ed.text(uri) == ORIGINAL_CALC

        async def offered() -> list[str]:
            found = await ed.client.text_document_code_action_async(t.CodeActionParams(
                text_document=t.TextDocumentIdentifier(uri=uri), range=t.Range(t.Position(0, 0), t.Position(0, 0)),
                context=t.CodeActionContext(diagnostics=[], only=[t.CodeActionKind.Source])))
            return [a.title for a in found or []]

        assert await offered() == []  # everything taken back: nothing to offer
        await ed.command(p.CMD_REWIND_UNDO, {})
        assert "a + b" in ed.text(uri)
        assert len(await offered()) == 2  # the agent's edit is live again


async def test_a_partial_rewind_leaves_the_rest_of_the_group_rewindable(workspace: Path,
                                                                       model: ScriptedModelServer) -> None:
    async with editor(workspace) as ed:
        ids = await agent_turn(ed, model, call("run_command", command="echo x >> notes.txt && echo y >> README.md"))
        only_notes = await ed.command(p.CMD_REWIND_APPLY, {
            "sessionId": ids["sessionId"], "target": {"latest": True}, "uris": [(workspace / "notes.txt").as_uri()]})
        assert only_notes["applied"]
        assert (workspace / "notes.txt").read_text() == "first line\nsecond line\n"
        assert (workspace / "README.md").read_text() == "# sample\ny\n"
        rest = await ed.command(p.CMD_REWIND_APPLY, {"sessionId": ids["sessionId"], "target": {"latest": True}})
        assert rest["applied"]
        assert (workspace / "README.md").read_text() == "# sample\n"
        assert (workspace / "notes.txt").read_text() == "first line\nsecond line\n"
        # now the whole group is rewound: nothing is left to take back
        nothing = await ed.command(p.CMD_REWIND_PREVIEW, {"sessionId": ids["sessionId"], "target": {"session": True}})
        assert nothing["files"] == []


async def test_exit_flushes_staged_images_to_blob_files(workspace: Path, model: ScriptedModelServer) -> None:
    """Checkpoint images are staged in SQLite first; a clean exit leaves none staged."""
    import sqlite3

    async with editor(workspace) as ed:
        await agent_turn(ed, model, call("write_file", path="new.txt", content="fresh\n" * 100),
                         call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b"))
    (db_path,) = (workspace.parent / "store").glob("*/sessions.db")
    with sqlite3.connect(db_path) as db:
        staged = db.execute("SELECT COUNT(*) FROM pending_blobs").fetchone()[0]
        shas = {r[0] for r in db.execute("SELECT pre_sha FROM group_files UNION SELECT post_sha FROM group_files")
                if r[0]}
    assert staged == 0 and shas
    blobs = db_path.parent / "blobs"
    assert all((blobs / sha[:2] / sha[2:]).is_file() for sha in shas), shas
