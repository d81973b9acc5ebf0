"""Memory proposals through the service and the CLI; working memory carried between turns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minicode_lsp import cli
from minicode_lsp.protocol import MemoryAcceptArgs, MemoryShowArgs
from minicode_lsp.service.errors import NotFound

from ...trusting import allow_workspace_config
from .test_retention import make_service


def test_show_lists_proposals_and_accept_activates(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    try:
        proposed = svc.workspace.memory.add("Tests run with make check", proposed=True)
        assert [(e["id"], e["status"]) for e in svc.memory.show(MemoryShowArgs()).wire()["entries"]] == [
            (proposed.id, "proposed")
        ]
        assert svc.memory.select("how do tests run with make") == []  # never injected while proposed
        out = svc.memory.accept(MemoryAcceptArgs(id=proposed.id[:10]))
        assert out.entry.status == "active"
        assert [e.id for e in svc.memory.select("how do tests run with make")] == [proposed.id]
        with pytest.raises(NotFound):
            svc.memory.accept(MemoryAcceptArgs(id="zzzzzzzz"))
    finally:
        svc.close()


def test_working_memory_comes_from_the_latest_finished_turn(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    try:
        sid = svc.workspace.sessions.create_session("s", str(svc.workspace.root)).id
        assert svc.memory.working_memory(sid) is None
        svc.workspace.sessions.append_event(sid, None, "turn.finished", {"stopReason": "done", "workingMemory": {"goal": "a"}})
        svc.workspace.sessions.append_event(sid, None, "turn.finished", {"stopReason": "interrupted"})
        assert svc.memory.working_memory(sid) == {"goal": "a"}
        svc.workspace.sessions.append_event(sid, None, "turn.finished", {"stopReason": "done", "workingMemory": {"goal": "b"}})
        assert svc.memory.working_memory(sid) == {"goal": "b"}
    finally:
        svc.close()


def test_cli_memory_accept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / ".minicode.toml").write_text(f'[store]\npath = "{tmp_path / "store"}"\n', encoding="utf-8")
    monkeypatch.setenv("MINICODE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    allow_workspace_config(ws)
    svc = make_service(tmp_path)
    try:
        entry = svc.workspace.memory.add("Deploy with tools/deploy.sh", proposed=True)
    finally:
        svc.close()
    assert cli.main(["memory", "list", "--workspace", str(ws)]) == 0
    assert "(proposed) Deploy with tools/deploy.sh" in capsys.readouterr().out
    assert cli.main(["memory", "accept", entry.id[:12], "--workspace", str(ws), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entry"]["status"] == "active"
