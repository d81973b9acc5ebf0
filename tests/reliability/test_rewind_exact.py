"""Exact rewinds (issue #15, finding 5): what a command did to modes, links and folders comes back.

Each test runs real shell commands through the checkpointing a ``run_command`` uses (a workspace
snapshot before and after) and rewinds through the service, in a folder that is not a git
repository (so the snapshot walks the tree with its stat cache, no watcher).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .rewinding import World, tree


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = World(tmp_path)
    try:
        yield w
    finally:
        w.svc.close()


async def test_rewind_all_removes_folders_a_command_created(world: World) -> None:
    (world.root / "keep.txt").write_text("keep\n")
    before = tree(world.root)
    await world.shell("mkdir -p build/out/empty && echo x > build/out/f.txt && mkdir made")
    assert (world.root / "build/out/empty").is_dir()
    after = tree(world.root)
    result = await world.rewind_all()
    assert result["applied"], result
    assert tree(world.root) == before, "the folders the command created are still there"
    await world.undo_gives_back(after)


async def test_rewind_recreates_folders_a_command_removed(world: World) -> None:
    (world.root / "docs/empty").mkdir(parents=True)
    (world.root / "docs/a.txt").write_text("a\n")
    os.chmod(world.root / "docs", 0o750)
    before = tree(world.root)
    await world.shell("rm -rf docs")
    after = tree(world.root)
    result = await world.rewind_all()
    assert result["applied"], result
    assert tree(world.root) == before, "a removed folder (or its empty sub-folder, or its mode) is missing"
    await world.undo_gives_back(after)


async def test_rewind_restores_file_modes(world: World) -> None:
    script = world.root / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    os.chmod(script, 0o750)
    other = world.root / "same.txt"
    other.write_text("same\n")
    os.chmod(other, 0o600)
    before = tree(world.root)
    await world.shell("echo changed > run.sh && chmod 0644 run.sh && chmod 0666 same.txt")
    assert script.stat().st_mode & 0o7777 == 0o644
    after = tree(world.root)
    result = await world.rewind_all()
    assert result["applied"], result
    assert tree(world.root) == before, "0750 did not come back 0750 (or a mode-only change was not undone)"
    await world.undo_gives_back(after)


async def test_rewind_restores_removes_and_retargets_symbolic_links(world: World) -> None:
    (world.root / "a.txt").write_text("a\n")
    (world.root / "b.txt").write_text("b\n")
    os.symlink("a.txt", world.root / "gone")
    os.symlink("a.txt", world.root / "moved")
    os.symlink(str(world.outside), world.root / "out")  # a link leaving the workspace: never followed
    (world.outside / "secret.txt").write_text("outside\n")
    before = tree(world.root)
    outside_before = tree(world.outside)
    await world.shell("rm gone && ln -sfn b.txt moved && ln -s a.txt new && rm out && mkdir out"
                      " && echo mine > out/secret.txt")
    after = tree(world.root)
    result = await world.rewind_all()
    assert result["applied"], result
    assert tree(world.root) == before, "links were not restored, removed or retargeted"
    assert tree(world.outside) == outside_before, "the rewind wrote through a link out of the workspace"
    await world.undo_gives_back(after)
    assert tree(world.outside) == outside_before


async def test_snapshot_sees_a_same_size_same_mtime_rewrite(world: World) -> None:
    f = world.root / "data.bin"
    f.write_bytes(b"AAAA\n")
    os.utime(f, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))  # long ago: not racy
    await world.shell("true")  # a first command: the baseline holds data.bin's hash and stat
    group = await world.shell("cp -p data.bin .keep && printf 'BBBB\\n' > data.bin && touch -r .keep data.bin"
                              " && rm .keep")
    assert f.stat().st_mtime_ns == 1_600_000_000_000_000_000 and f.read_bytes() == b"BBBB\n"
    assert group is not None and [c.path.name for c in group.files] == ["data.bin"], \
        "an in-place rewrite keeping size and mtime was not recorded"
    result = await world.rewind_all()
    assert result["applied"], result
    assert f.read_bytes() == b"AAAA\n"
