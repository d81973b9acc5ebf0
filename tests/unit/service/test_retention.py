"""Retention prunes the oldest sessions, their groups and unreferenced blobs, never the current one."""

from __future__ import annotations

import os
from pathlib import Path

from minicode_lsp.config import ConfigLoader
from minicode_lsp.protocol import TaskRunArgs
from minicode_lsp.service import HeadlessFrontend, Service
from minicode_lsp.testing.model_server import ScriptedModelServer


def make_service(tmp_path: Path, **store: object) -> Service:
    root = tmp_path / "ws"
    root.mkdir(exist_ok=True)
    loader = ConfigLoader()
    # no newest-N / minimum-age protection here: these tests are about the caps themselves
    loader.set_layer("initializationOptions", {"store": {"path": str(tmp_path / "store"), "keepSessions": 0,
                                                         "keepDays": 0, **store}})
    return Service(root, HeadlessFrontend(interactive=False), loader=loader, watch=False)


def add_session_with_blob(svc: Service, title: str, content: bytes) -> str:
    sid = svc.workspace.sessions.create_session(title, str(svc.workspace.root)).id
    writer = svc.workspace.checkpoints.begin_group(sid, None, None, "edit", "x")
    path = svc.workspace.root / f"{title}.txt"
    writer.before_write(path, None)
    writer.after_write(path, content)
    writer.commit()
    return sid


def test_count_cap_removes_oldest_sessions_groups_and_blobs(tmp_path: Path) -> None:
    svc = make_service(tmp_path, maxSessions=2)
    try:
        old = add_session_with_blob(svc, "old", b"old content")
        mid = add_session_with_blob(svc, "mid", b"mid content")
        new = add_session_with_blob(svc, "new", b"new content")
        svc.tasks.apply_retention(keep={old})
        remaining = {r.id for r in svc.workspace.sessions.list_sessions(limit=10)[0]}
        assert remaining == {old, new}, "the kept session survives, the oldest other one goes"
        assert mid not in {g.session_id for g in svc.workspace.checkpoints.list_groups(limit=100)}
        assert len(svc.workspace.checkpoints.referenced_blobs()) == 2
        assert sum(1 for _ in (svc.workspace.store_dir / "blobs").rglob("*") if _.is_file()) == 2
    finally:
        svc.close()


def test_size_cap_prunes_until_under_the_cap(tmp_path: Path) -> None:
    svc = make_service(tmp_path, maxBytes=1024 * 1024)
    try:
        ids = [add_session_with_blob(svc, f"s{i}", os.urandom(400_000)) for i in range(6)]
        svc.tasks.apply_retention(keep={ids[-1]})
        remaining = {r.id for r in svc.workspace.sessions.list_sessions(limit=10)[0]}
        assert ids[-1] in remaining and ids[0] not in remaining
        assert svc.workspace.db.size_bytes() + svc.workspace.blobs.size_on_disk() <= 1024 * 1024
    finally:
        svc.close()


async def test_a_new_task_applies_retention(tmp_path: Path) -> None:
    with ScriptedModelServer([{"text": "hi"}]) as model:
        root = tmp_path / "ws"
        root.mkdir()
        loader = ConfigLoader()
        loader.set_layer("initializationOptions", {
            "store": {"path": str(tmp_path / "store"), "maxSessions": 1, "keepSessions": 0, "keepDays": 0},
            "providers": [{"name": "m", "baseUrl": model.openai_base_url, "model": "m"}],
        })
        svc = Service(root, HeadlessFrontend(interactive=False), loader=loader, watch=False)
        try:
            old = add_session_with_blob(svc, "old", b"a")
            ids = svc.tasks.run(TaskRunArgs(prompt="hello", permission_mode="plan")).wire()
            await svc.tasks.wait_idle(timeout=20)
            assert [r.id for r in svc.workspace.sessions.list_sessions(limit=10)[0]] == [ids["sessionId"]]
            assert old not in {g.session_id for g in svc.workspace.checkpoints.list_groups(limit=100)}
        finally:
            await svc.shutdown()
            svc.close()
