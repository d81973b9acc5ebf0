"""Config and store that cannot crash (issue #15, finding 7): a deeply nested config is one
warning, a store path that cannot be used is a clear error with a fix, a damaged sessions.db
is moved aside with a message and a fresh one made; never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from minicode_lsp.config import ConfigLoader
from minicode_lsp.service import HeadlessFrontend, Service, ServiceError


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MINICODE_CONFIG=str(home / "user-config.toml"), XDG_STATE_HOME=str(home / "state"),
               XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"))
    return subprocess.run([sys.executable, "-m", "minicode_lsp", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_a_deeply_nested_config_is_one_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINICODE_CONFIG", str(tmp_path / "none.toml"))
    root = tmp_path / "ws"
    root.mkdir()
    (root / ".minicode.toml").write_text("x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    deep: list[object] = []
    for _ in range(10_000):
        deep = [deep]
    loader = ConfigLoader()
    loader.set_layer("initializationOptions", {"store": {"path": str(tmp_path / "store")},
                                               "agent": {"testCommand": deep}})
    svc = Service(root, HeadlessFrontend(interactive=False), loader=loader, watch=False)  # the store opens
    try:
        problems = svc.workspace.loader.all_problems()
        by_source = {p.source: p for p in problems}
        assert len(problems) == 2 and set(by_source) == {"workspace", "initializationOptions"}, problems
        assert all("nested" in p.message for p in problems), problems
        svc.workspace.sessions.create_session("still works", str(root))
    finally:
        svc.close()


@pytest.mark.parametrize("where", ["file", "proc"])
def test_a_store_path_that_cannot_be_used_is_a_clear_error(tmp_path: Path, where: str) -> None:
    home, ws = tmp_path / "home", tmp_path / "ws"
    home.mkdir()
    ws.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    path = str(blocker) if where == "file" else "/proc/minicode-store"
    (home / "user-config.toml").write_text(f'[store]\npath = "{path}"\n')
    out = cli(home, "sessions", "list", "--workspace", str(ws))
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "store" in out.stderr and "store.path" in out.stderr, out.stderr  # the reason and the fix


def test_a_junk_sessions_db_is_moved_aside_and_a_fresh_one_made(tmp_path: Path) -> None:
    home, ws = tmp_path / "home", tmp_path / "ws"
    home.mkdir()
    ws.mkdir()
    (home / "user-config.toml").write_text(f'[store]\npath = "{tmp_path / "store"}"\n')
    assert cli(home, "sessions", "list", "--workspace", str(ws)).returncode == 0
    (db,) = (tmp_path / "store").glob("*/sessions.db")
    for side in db.parent.glob("sessions.db-*"):
        side.unlink()
    db.write_bytes(b"this is not a database, just junk\n" * 200)
    out = cli(home, "sessions", "list", "--workspace", str(ws))
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert "moved aside" in out.stderr, out.stderr
    (aside,) = db.parent.glob("sessions.db.damaged-*")
    assert aside.read_bytes().startswith(b"this is not a database")  # nothing of it is lost
    again = cli(home, "sessions", "list", "--workspace", str(ws))
    assert again.returncode == 0 and "moved aside" not in again.stderr, again.stderr


def test_the_service_says_why_it_cannot_open_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINICODE_CONFIG", str(tmp_path / "none.toml"))
    root = tmp_path / "ws"
    root.mkdir()
    (tmp_path / "a-file").write_text("x")
    loader = ConfigLoader()
    loader.set_layer("initializationOptions", {"store": {"path": str(tmp_path / "a-file")}})
    with pytest.raises(ServiceError, match="store.path"):
        Service(root, HeadlessFrontend(interactive=False), loader=loader, watch=False)


@pytest.mark.timeout(90)
def test_a_server_that_cannot_open_its_store_logs_one_line_and_readiness_says_why(tmp_path: Path) -> None:
    from minicode_lsp import protocol as p

    from .rpc import RawServer

    home, ws = tmp_path / "home", tmp_path / "ws"
    home.mkdir()
    ws.mkdir()
    (tmp_path / "a-file").write_text("not a folder\n")
    (home / "user-config.toml").write_text(f'[store]\npath = "{tmp_path / "a-file"}"\n')
    srv = RawServer(ws, home)
    try:
        srv.initialize()
        report = srv.result(p.CMD_READINESS, {})
        assert report["state"] == "blocked", report
        (check,) = [c for c in report["checks"] if c["name"] == "store"]
        assert check["status"] == "fail" and "store.path" in check["detail"], check
        answer = srv.command(p.CMD_SESSION_LIST, {})
        assert "error" in answer and "store.path" in answer["error"]["message"], answer
    finally:
        srv.close()
    log = srv.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log
    assert "cannot open the store" in log, log


def test_a_damaged_user_memory_database_is_moved_aside_and_a_fresh_one_made(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from minicode_lsp.protocol import MemoryAddArgs, MemoryShowArgs

    monkeypatch.setenv("MINICODE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    memory_db = tmp_path / "data" / "minicode-lsp" / "memory.sqlite3"
    memory_db.parent.mkdir(parents=True)
    memory_db.write_bytes(b"this is not a database\x00" * 200)
    root = tmp_path / "ws"
    root.mkdir()
    loader = ConfigLoader()
    loader.set_layer("initializationOptions", {"store": {"path": str(tmp_path / "store")}})
    svc = Service(root, HeadlessFrontend(interactive=False), loader=loader, watch=False)
    try:
        assert svc.memory.show(MemoryShowArgs(scope="user")).wire() == {"entries": []}
        svc.memory.add(MemoryAddArgs(text="tabs, not spaces", scope="user"))
        assert [e["text"] for e in svc.memory.show(MemoryShowArgs(scope="user")).wire()["entries"]] == ["tabs, not spaces"]
        (aside,) = memory_db.parent.glob("memory.sqlite3.damaged-*")
        assert aside.read_bytes().startswith(b"this is not a database")  # kept
        report = asyncio.run(svc.readiness.refresh(probe=False))
        (note,) = [c for c in report.checks if c.name == "store:recovered"]
        assert "memory.sqlite3" in note.detail and "moved aside" in note.detail, note
    finally:
        svc.close()
