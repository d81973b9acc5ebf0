"""Memory proposals through the service and the CLI; working memory carried between turns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minicode_lsp import cli
from minicode_lsp.protocol import MemoryAcceptArgs, MemoryShowArgs
from minicode_lsp.service.errors import NotFound
from minicode_lsp.service.turn_memory import load_working_memory

from ...trusting import allow_workspace_config
from .test_retention import make_service


def test_show_lists_proposals_and_accept_activates(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    try:
        proposed = svc.memory.add("Tests run with make check", proposed=True)
        assert [(e["id"], e["status"]) for e in svc.memory_show(MemoryShowArgs())["entries"]] == [
            (proposed.id, "proposed")
        ]
        assert svc.select_memories("how do tests run with make") == []  # never injected while proposed
        out = svc.memory_accept(MemoryAcceptArgs(id=proposed.id[:10]))
        assert out["entry"]["status"] == "active"
        assert [e.id for e in svc.select_memories("how do tests run with make")] == [proposed.id]
        with pytest.raises(NotFound):
            svc.memory_accept(MemoryAcceptArgs(id="zzzzzzzz"))
    finally:
        svc.close()


def test_working_memory_comes_from_the_latest_finished_turn(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    try:
        sid = svc.sessions.create_session("s", str(svc.root)).id
        assert load_working_memory(svc, sid) is None
        svc.sessions.append_event(sid, None, "turn.finished", {"stopReason": "done", "workingMemory": {"goal": "a"}})
        svc.sessions.append_event(sid, None, "turn.finished", {"stopReason": "interrupted"})
        assert load_working_memory(svc, sid) == {"goal": "a"}
        svc.sessions.append_event(sid, None, "turn.finished", {"stopReason": "done", "workingMemory": {"goal": "b"}})
        assert load_working_memory(svc, sid) == {"goal": "b"}
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
        entry = svc.memory.add("Deploy with tools/deploy.sh", proposed=True)
    finally:
        svc.close()
    assert cli.main(["memory", "list", "--workspace", str(ws)]) == 0
    assert "(proposed) Deploy with tools/deploy.sh" in capsys.readouterr().out
    assert cli.main(["memory", "accept", entry.id[:12], "--workspace", str(ws), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entry"]["status"] == "active"
