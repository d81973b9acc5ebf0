"""All-or-nothing rewinds (issue #15, finding 5): a rewind that fails half way, or is killed
half way, changes nothing and leaves no temporary file; one never writes or deletes through a
linked folder out of the workspace; one never interleaves with a running turn of its session."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from minicode_lsp.config import ConfigLoader
from minicode_lsp.protocol import RewindApplyArgs, RewindPreviewArgs, RewindTarget, TaskRunArgs
from minicode_lsp.service import HeadlessFrontend, Service
from minicode_lsp.service.errors import Busy
from minicode_lsp.testing.model_server import ScriptedModelServer

from .rewinding import World, tree


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = World(tmp_path)
    try:
        yield w
    finally:
        w.svc.close()


def temps(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in root.rglob("*") if "minicode-tmp" in p.name]


async def test_a_rewind_that_fails_half_way_changes_nothing(world: World) -> None:
    (world.root / "a.txt").write_text("a\n")
    (world.root / "sub").mkdir()
    (world.root / "sub/c.txt").write_text("c\n")
    await world.shell("echo changed > a.txt && rm -r sub && echo x > x.txt")
    (world.root / "sub").write_text("the user's file where the folder was\n")  # sub/c.txt cannot come back
    before = tree(world.root)
    result = await world.rewind_all()
    assert not result["applied"], result
    assert "sub" in result["reason"], result
    assert tree(world.root) == before, "a failed rewind left some files rewound and some not"
    assert temps(world.root) == []
    (world.root / "sub").unlink()
    result = await world.rewind_all()  # once the obstacle is gone the whole rewind goes through
    assert result["applied"], result
    assert (world.root / "a.txt").read_text() == "a\n" and (world.root / "sub/c.txt").read_text() == "c\n"
    assert not (world.root / "x.txt").exists()


async def test_a_rewind_never_deletes_through_a_linked_folder(world: World) -> None:
    await world.shell("mkdir sub && echo made > sub/f.txt")
    # the user moves the folder out of the workspace and leaves a link to it
    os.rename(world.root / "sub", world.outside / "sub")
    os.symlink(world.outside / "sub", world.root / "sub")
    outside_before = tree(world.outside)
    result = await world.rewind_all()
    assert not result["applied"], result
    assert tree(world.outside) == outside_before, "the rewind deleted a file outside the workspace"
    forced = await world.svc.rewind.apply(RewindApplyArgs(session_id=world.session, force=True,
                                                           target=RewindTarget(session=True)))
    assert tree(world.outside) == outside_before, f"a forced rewind deleted a file outside the workspace: {forced}"


async def test_a_rewind_is_refused_while_a_turn_of_its_session_runs(tmp_path: Path) -> None:
    with ScriptedModelServer([{"fault": "delay", "seconds": 30, "text": "late"}]) as model:
        root = tmp_path / "ws"
        root.mkdir()
        (root / "a.txt").write_text("a\n")
        loader = ConfigLoader()
        loader.set_layer("initializationOptions", {
            "store": {"path": str(tmp_path / "store")}, "rewind": {"confirm": False},
            "providers": [{"name": "m", "baseUrl": model.openai_base_url, "model": "m"}]})
        svc = Service(root, HeadlessFrontend(interactive=False), loader=loader, watch=False)
        try:
            sid = svc.workspace.sessions.create_session("s", str(root)).id
            writer = svc.workspace.checkpoints.begin_group(sid, None, None, "edit", "edit a")
            writer.before_write(root / "a.txt", b"a\n")
            (root / "a.txt").write_text("agent\n")
            writer.after_write(root / "a.txt", b"agent\n")
            writer.commit()
            svc.tasks.run(TaskRunArgs(prompt="go on", session_id=sid, permission_mode="auto"))
            target = RewindTarget(latest=True)
            preview = svc.rewind.preview(RewindPreviewArgs(session_id=sid, target=target))
            with pytest.raises(Busy, match="running turn"):
                await svc.rewind.apply(RewindApplyArgs(preview_id=preview.preview_id))
            with pytest.raises(Busy, match="running turn"):
                await svc.rewind.apply(RewindApplyArgs(session_id=sid, target=target))
            assert (root / "a.txt").read_text() == "agent\n", "the rewind ran during the turn"
            await svc.tasks.cancel(sid)
            await svc.tasks.wait_idle(timeout=10)
            result = (await svc.rewind.apply(RewindApplyArgs(session_id=sid, target=target))).wire()
            assert result["applied"] and (root / "a.txt").read_text() == "a\n"
        finally:
            await svc.shutdown()
            svc.close()


KILLER = textwrap.dedent("""
    import asyncio, os, signal, sys
    from pathlib import Path
    from minicode_lsp.config import ConfigLoader
    from minicode_lsp.protocol import RewindApplyArgs, RewindTarget
    from minicode_lsp.service import HeadlessFrontend, Service

    root, store, sid, after = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    calls = 0
    def killing(real):
        def wrapped(*args, **kwargs):
            global calls
            if any("/blobs/" in str(a) for a in args):  # the blob flusher's renames: not the rewind's
                return real(*args, **kwargs)
            calls += 1
            if calls > after:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return wrapped
    loader = ConfigLoader()
    loader.set_layer("initializationOptions", {"store": {"path": store}, "rewind": {"confirm": False}})
    svc = Service(root, HeadlessFrontend(interactive=False), loader=loader, watch=False)
    os.rename, os.replace = killing(os.rename), killing(os.replace)
    asyncio.run(svc.rewind.apply(RewindApplyArgs(session_id=sid, target=RewindTarget(session=True))))
    print("not killed")
""")


@pytest.mark.parametrize("after", [0, 1, 3])
async def test_a_rewind_killed_half_way_is_undone_at_the_next_start(world: World, after: int) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        (world.root / name).write_text(f"{name}\n")
    await world.shell("echo 1 > a.txt && echo 2 > b.txt && rm c.txt && mkdir d && echo 4 > d/e.txt")
    world.svc.workspace.sessions.finish_turn(world.turn, "done")
    world.svc.close()
    before = tree(world.root)
    proc = subprocess.run([sys.executable, "-c", KILLER, str(world.root), str(world.root.parent / "store"),
                           world.session, str(after)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    if after:
        assert tree(world.root) != before, "the kill did not land half way through the rewind"
    # the next start undoes what the killed rewind had done, and leaves no temporary file
    world.svc = Service(world.root, HeadlessFrontend(interactive=False), loader=world.svc.workspace.loader, watch=False)
    world.svc.workspace.settings.rewind.confirm = False
    assert tree(world.root) == before, "a rewind killed half way left the workspace half rewound"
    assert temps(world.root) == [] and temps(world.root.parent / "store") == []
    result = await world.rewind_all()
    assert result["applied"], result
    assert (world.root / "c.txt").read_text() == "c.txt\n" and not (world.root / "d").exists()


class OpenBuffers(HeadlessFrontend):
    """An editor with open buffers: rewinds change their text, not the disk. ``meanwhile`` runs
    while it applies an edit (the user, or another program, acting at that moment)."""

    def __init__(self, meanwhile: Any = None) -> None:
        super().__init__(interactive=False)
        self.buffers: dict[Path, str] = {}
        self.meanwhile = meanwhile

    def open_text(self, path: Path) -> str | None:
        return self.buffers.get(path)

    async def apply_edits(self, edits: list[Any], *, label: str, description: str, confirm: bool) -> bool:
        for e in edits:
            if e.path in self.buffers:
                assert e.new is not None
                self.buffers[e.path] = e.new.decode()
        if self.meanwhile is not None:
            self.meanwhile()
            self.meanwhile = None
        return True


async def test_a_rewind_that_fails_on_disk_leaves_the_editors_buffers_as_they_were(world: World) -> None:
    """The editor applied its part (the open file's buffer), then the disk step failed (a file
    appeared where a folder comes back): the buffer is put back too."""
    (world.root / "a.txt").write_text("a\n")
    (world.root / "sub").mkdir()
    (world.root / "sub/c.txt").write_text("c\n")
    await world.shell("echo changed > a.txt && rm -r sub")
    obstacle = world.root / "sub"
    editor = OpenBuffers(meanwhile=lambda: obstacle.write_text("the user's file where the folder was\n"))
    editor.buffers[world.root / "a.txt"] = "changed\n"  # a.txt is open in the editor
    world.svc.workspace.frontend = editor
    result = await world.rewind_all()
    assert not result["applied"] and "sub" in result["reason"], result
    assert editor.buffers[world.root / "a.txt"] == "changed\n", "the failed rewind left the buffer rewound"
    assert obstacle.read_text() == "the user's file where the folder was\n"
    obstacle.unlink()
    result = await world.rewind_all()
    assert result["applied"], result
    assert editor.buffers[world.root / "a.txt"] == "a\n" and (world.root / "sub/c.txt").read_text() == "c\n"


@contextlib.contextmanager
def mounted(target: Path, kind: str, source: Path | None = None) -> Iterator[None]:
    """A tmpfs (another file system) or a bind mount (the same file system, another mount) at
    ``target``; skipped where mounting is not allowed (not root)."""
    target.mkdir(exist_ok=True)
    args = ["mount", "-t", "tmpfs", "tmpfs", str(target)] if kind == "tmpfs" else \
        ["mount", "--bind", str(source), str(target)]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("no mount command")
    if proc.returncode != 0:
        pytest.skip(f"cannot mount here ({proc.stderr.strip()}): needs root")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=30)


CROSS_MOUNT = ("echo A > a.txt && echo changed > m/f.txt && echo new > m/new.txt && rm m/gone.txt"
               " && chmod 600 m/mode.txt && mkdir m/d && echo e > m/d/e.txt && ln -sfn other m/link")


def fill_mount(root: Path) -> None:
    (root / "a.txt").write_text("a\n")
    (root / "m/f.txt").write_text("f\n")
    (root / "m/gone.txt").write_text("gone\n")
    (root / "m/mode.txt").write_text("mode\n")
    os.chmod(root / "m/mode.txt", 0o644)
    os.symlink("f.txt", root / "m/link")


@pytest.mark.parametrize("kind", ["tmpfs", "bind"])
async def test_a_rewind_of_files_on_another_mount_inside_the_workspace(tmp_path: Path, kind: str) -> None:
    """A folder of the workspace is another file system (tmpfs), or a bind mount of a folder on
    the store's own file system (same device, but a rename across mounts still fails with
    EXDEV): the rewind stages those files on their own mount, and goes through, exactly."""
    world = World(tmp_path)
    try:
        with mounted(world.root / "m", kind, source=world.outside):
            fill_mount(world.root)
            before = tree(world.root)
            await world.shell(CROSS_MOUNT)
            after = tree(world.root)
            assert after != before
            result = await world.rewind_all()
            assert result["applied"], result
            assert tree(world.root) == before, "the rewind did not bring back the files on the other mount"
            assert temps(world.root) == [] and temps(tmp_path / "store") == []
            await world.undo_gives_back(after)  # the backups, moved aside on that mount, come back too
            assert temps(world.root) == []
    finally:
        world.svc.close()


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no /dev/shm")
async def test_a_rewind_of_a_workspace_on_tmpfs_with_the_store_elsewhere(tmp_path: Path) -> None:
    """The whole workspace on tmpfs (/dev/shm), the store under the temporary folder."""
    shm = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="minicode-test-"))
    if os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        shutil.rmtree(shm)
        pytest.skip("/dev/shm is on the same file system as the temporary folder")
    world = World(tmp_path, root=shm / "ws")
    try:
        (world.root / "m").mkdir()
        fill_mount(world.root)
        before = tree(world.root)
        await world.shell(CROSS_MOUNT)
        result = await world.rewind_all()
        assert result["applied"], result
        assert tree(world.root) == before
        assert temps(world.root) == [] and temps(tmp_path / "store") == []
    finally:
        world.svc.close()
        shutil.rmtree(shm, ignore_errors=True)


@pytest.mark.parametrize("after", [1, 4])
async def test_a_rewind_across_mounts_killed_half_way_is_undone_at_the_next_start(tmp_path: Path,
                                                                                   after: int) -> None:
    world = World(tmp_path)
    svc: Service | None = world.svc
    try:
        with mounted(world.root / "m", "tmpfs"):
            fill_mount(world.root)
            (world.root / "b.txt").write_text("b\n")
            await world.shell(CROSS_MOUNT + " && echo B > b.txt")
            world.svc.workspace.sessions.finish_turn(world.turn, "done")
            world.svc.close()
            svc = None
            before = tree(world.root)
            proc = subprocess.run([sys.executable, "-c", KILLER, str(world.root), str(tmp_path / "store"),
                                   world.session, str(after)], capture_output=True, text=True, timeout=60)
            assert proc.returncode == -9, proc.stdout + proc.stderr
            assert tree(world.root) != before, "the kill did not land half way through the rewind"
            world.svc = svc = Service(world.root, HeadlessFrontend(interactive=False),
                                      loader=world.svc.workspace.loader, watch=False)
            world.svc.workspace.settings.rewind.confirm = False
            assert tree(world.root) == before, "a rewind killed half way left the workspace half rewound"
            assert temps(world.root) == [] and temps(tmp_path / "store") == [], "staging left behind"
            result = await world.rewind_all()
            assert result["applied"], result
            assert (world.root / "m/gone.txt").read_text() == "gone\n" and not (world.root / "m/d").exists()
    finally:
        if svc is not None:
            svc.close()
