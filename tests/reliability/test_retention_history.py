"""Retention keeps what is rewindable (issue #15, finding 6): a workspace bigger than
``store.maxBytes`` no longer wipes every older session; the newest ``store.keepSessions`` and
those younger than ``store.keepDays`` always stay; what retention deleted is reported once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from minicode_lsp.config import ConfigLoader
from minicode_lsp.service import HeadlessFrontend, Service

MiB = 1024 * 1024


def make_service(tmp_path: Path, **store: Any) -> Service:
    root = tmp_path / "ws"
    root.mkdir(parents=True, exist_ok=True)
    loader = ConfigLoader()
    loader.set_layer("initializationOptions", {"store": {"path": str(tmp_path / "store"), **store}})
    return Service(root, HeadlessFrontend(interactive=False), loader=loader, watch=False)


def old_session(svc: Service, name: str, content: bytes) -> str:
    """A session whose agent edited one file (a rewindable edit group)."""
    sid = svc.workspace.sessions.create_session(name, str(svc.workspace.root)).id
    path = svc.workspace.root / f"{name}.txt"
    writer = svc.workspace.checkpoints.begin_group(sid, None, None, "edit", name)
    writer.before_write(path, None)
    path.write_bytes(content)
    writer.after_write(path, content)
    writer.commit()
    return sid


def sessions(svc: Service) -> set[str]:
    return {r.id for r in svc.workspace.sessions.list_sessions(limit=1000)[0]}


async def test_a_workspace_bigger_than_the_cap_keeps_its_older_sessions(tmp_path: Path) -> None:
    """4 MiB cap, 6 MiB workspace: the workspace's own snapshot is not history."""
    svc = make_service(tmp_path, maxBytes=4 * MiB, keepSessions=0, keepDays=0)
    try:
        for i in range(12):
            (svc.workspace.root / f"data{i}.bin").write_bytes(os.urandom(MiB // 2))
        olds = [old_session(svc, f"s{i}", f"edit {i}\n".encode()) for i in range(3)]
        svc.workspace.snapshotter.take()  # the snapshot a command takes: 6 MiB of blobs in the store
        new = svc.workspace.sessions.create_session("new", str(svc.workspace.root)).id
        svc.tasks.apply_retention(keep={new})
        assert sessions(svc) == {*olds, new}, "retention deleted rewindable history for the workspace's size"
        groups = svc.workspace.checkpoints.groups_for_target(olds[0], {"session": True})
        assert groups and groups[0].files, "the oldest session's edit can no longer be rewound"
    finally:
        svc.close()


async def test_newest_and_young_sessions_stay_and_the_deletion_is_reported_once(tmp_path: Path) -> None:
    svc = make_service(tmp_path, maxBytes=1 * MiB, keepSessions=3, keepDays=0)
    try:
        ids = [old_session(svc, f"s{i}", os.urandom(400_000)) for i in range(6)]
        svc.tasks.apply_retention(keep=set())
        left = sessions(svc)
        assert set(ids[-3:]) <= left, "one of the newest store.keepSessions sessions was deleted"
        assert ids[0] not in left, "the history over the cap was not pruned at all"
        first = await svc.readiness.refresh(probe=False)
        note = [c for c in first.checks if c.name == "retention"]
        assert note and "deleted" in note[0].detail and "store.maxBytes" in note[0].detail
        second = await svc.readiness.refresh(probe=False)
        assert not [c for c in second.checks if c.name == "retention"], "reported more than once"
    finally:
        svc.close()
    young = make_service(tmp_path / "young", maxBytes=1 * MiB, keepSessions=0, keepDays=7)
    try:
        ids = [old_session(young, f"s{i}", os.urandom(400_000)) for i in range(4)]
        young.tasks.apply_retention(keep=set())
        assert sessions(young) == set(ids), "a session younger than store.keepDays was deleted"
    finally:
        young.close()
