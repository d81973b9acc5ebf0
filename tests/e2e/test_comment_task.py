"""A task written as a comment (`# minicode: ...`, any comment syntax) is offered as a code
action and runs with the file and line as context: the way to give a prompt in editors that
cannot ask for text (Helix, Eglot, Kate, Sublime)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as t

from minicode_lsp import protocol as p
from minicode_lsp.features.code_actions import comment_task
from minicode_lsp.testing.model_server import ScriptedModelServer

from .harness import editor


@pytest.mark.parametrize(("line", "task"), [
    ("# minicode: add type hints to this module", "add type hints to this module"),
    ("    // MiniCode: handle the empty list", "handle the empty list"),
    ("-- minicode: index this column", "index this column"),
    ("/* minicode: free the buffer */", "free the buffer"),
    ("<!-- minicode: add alt text -->", "add alt text"),
    ("; minicode: use cl-loop", "use cl-loop"),
    ("x = 1  # minicode: not a comment line", None),
    ("# minicode:", None),
    ("# just a comment", None),
])
def test_comment_syntaxes(line: str, task: str | None) -> None:
    assert comment_task(line) == task


async def test_comment_line_code_action_runs_the_task(workspace: Path, model: ScriptedModelServer) -> None:
    (workspace / "calc.py").write_text("def add(a, b):\n    # minicode: add type hints\n    return a - b\n")
    model.set_script([{"text": "Added."}])
    async with editor(workspace) as ed:
        uri = ed.open("calc.py")
        pos = t.Position(line=1, character=5)
        actions = await ed.client.text_document_code_action_async(t.CodeActionParams(
            text_document=t.TextDocumentIdentifier(uri=uri), range=t.Range(start=pos, end=pos),
            context=t.CodeActionContext(diagnostics=[])))
        mine = [a for a in actions or [] if a.title == "MiniCode: add type hints"]
        assert len(mine) == 1 and mine[0].kind == "quickfix.minicode.commentTask"
        # nothing offered on a line without such a comment
        other = t.Position(line=2, character=0)
        none = await ed.client.text_document_code_action_async(t.CodeActionParams(
            text_document=t.TextDocumentIdentifier(uri=uri), range=t.Range(start=other, end=other),
            context=t.CodeActionContext(diagnostics=[])))
        assert not [a for a in none or [] if a.kind == "quickfix.minicode.commentTask"]
        cmd = mine[0].command
        assert cmd is not None and cmd.command == p.CMD_TASK_RUN
        ids = await ed.command(cmd.command, cmd.arguments[0])
        await ed.wait_turn(ids["turnId"])
        sent = str(model.model_requests[0].body["messages"])
        assert "add type hints" in sent and "line 2" in sent and "calc.py" in sent
