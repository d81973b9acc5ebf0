"""Files mentioned in a chat prompt (`@path`, VS Code's chat view) reach the model as context:
`task.run`'s `context.files`, workspace-relative; a URI outside the workspace is left out."""

from __future__ import annotations

from pathlib import Path

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from .harness import editor


async def test_mentioned_files_reach_the_model_and_outside_ones_do_not(workspace: Path, model: ScriptedModelServer) -> None:
    (workspace / "src").mkdir()
    (workspace / "src" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (workspace / "notes.md").write_text("# notes\n")
    model.set_script([{"text": "Looked."}])
    async with editor(workspace) as ed:
        calc = (workspace / "src" / "calc.py").as_uri()
        ids = await ed.command(p.CMD_TASK_RUN, {
            "prompt": "why does @src/calc.py subtract? see @notes.md",
            "context": {"files": [calc, (workspace / "notes.md").as_uri(), calc, "file:///etc/passwd",
                                  "https://example.com/x.py", (workspace / ".." / "elsewhere.py").as_uri()]},
        })
        await ed.wait_turn(ids["turnId"])
    sent = str(model.model_requests[0].body)
    assert "Files the user mentioned (read them before relying on them): src/calc.py, notes.md" in sent
    assert "/etc/passwd" not in sent and "example.com" not in sent and "elsewhere.py" not in sent
