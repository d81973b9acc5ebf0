from __future__ import annotations

import os
import stat
from pathlib import Path

from .localfs import LocalFileSystem


async def test_atomic_write_keeps_mode_and_calls_hook(tmp_path: Path) -> None:
    seen: list[Path] = []
    fs = LocalFileSystem(on_before_write=seen.append)
    f = tmp_path / "script.sh"
    f.write_text("old")
    os.chmod(f, 0o750)
    await fs.write(f, b"new", confirm=False, label="t")
    assert f.read_bytes() == b"new"
    assert stat.S_IMODE(f.stat().st_mode) == 0o750
    assert seen == [f]
    assert [p.name for p in tmp_path.iterdir()] == ["script.sh"]  # no temp file left


async def test_async_hook_create_read_delete(tmp_path: Path) -> None:
    seen: list[Path] = []

    async def hook(p: Path) -> None:
        seen.append(p)

    fs = LocalFileSystem(on_before_write=hook)
    f = tmp_path / "a" / "b.txt"
    assert await fs.read(f) is None
    await fs.write(f, b"x", confirm=True, label="t")
    assert await fs.read(f) == b"x"
    await fs.delete(f, confirm=False, label="t")
    assert await fs.read(f) is None
    assert seen == [f, f]
