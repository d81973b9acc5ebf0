"""service/rewind_disk.py on its own: never through a linked folder; any failure half way is undone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from minicode_lsp.service import rewind_disk
from minicode_lsp.service.rewind_disk import DiskRewind, NodeOp, RewindFailed


def state(root: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        st = p.lstat()
        out[rel] = (os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else "dir",
                    st.st_mode & 0o7777)
    return out


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    root, store, outside = tmp_path / "ws", tmp_path / "store", tmp_path / "outside"
    for d in (root, store, outside):
        d.mkdir()
    return root, store, outside


@pytest.mark.parametrize("op", [
    NodeOp("sub/f.txt", "file", None, None, None),  # delete through the link
    NodeOp("sub/f.txt", "file", "file", b"rewound\n", 0o644),  # replace through it
    NodeOp("sub/new.txt", None, "file", b"new\n", None),  # create through it
    NodeOp("sub/f.txt", "file", "file", None, 0o600, 0o644),  # chmod through it
])
def test_never_through_a_linked_folder(dirs: tuple[Path, Path, Path], op: NodeOp) -> None:
    root, store, outside = dirs
    (outside / "f.txt").write_text("outside\n")
    os.chmod(outside / "f.txt", 0o644)
    os.symlink(outside, root / "sub")
    before = state(outside)
    disk = DiskRewind(root, store, [op])
    with pytest.raises(RewindFailed, match="symbolic link"):
        disk.prepare()
        disk.commit()
    assert state(outside) == before
    assert not list(store.rglob("*")), "staging or journal left behind"


def test_a_failure_half_way_undoes_every_step(dirs: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root, store, _ = dirs
    (root / "a.txt").write_text("a\n")
    (root / "b.txt").write_text("b\n")
    (root / "gone").mkdir(mode=0o750)
    os.symlink("a.txt", root / "link")
    before = state(root)
    ops = [NodeOp("a.txt", "file", "file", b"A\n", 0o600, 0o644),
           NodeOp("b.txt", "file", None, None, None),
           NodeOp("gone", "dir", None, None, None, 0o750),
           NodeOp("link", "link", "link", b"b.txt", None),
           NodeOp("made/deep/c.txt", None, "file", b"c\n", 0o640),
           NodeOp("made2", None, "dir", None, 0o700)]
    real = os.rename
    for fail_at in range(1, 7):  # the commit takes 6 renames: fail at each
        calls = 0

        def failing(*args: object, fail_at: int = fail_at, **kwargs: object) -> None:
            nonlocal calls
            calls += 1
            if calls == fail_at:
                raise OSError(5, "injected I/O error")
            real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(rewind_disk.os, "rename", failing)
        disk = DiskRewind(root, store, [NodeOp(**vars(o)) for o in ops])
        disk.prepare()
        with pytest.raises(RewindFailed, match="nothing was changed: .*injected"):
            disk.commit()
        assert state(root) == before, f"a failure at rename {fail_at} left the workspace changed"
        assert not list(store.rglob("*"))
    monkeypatch.setattr(rewind_disk.os, "rename", real)
    disk = DiskRewind(root, store, [NodeOp(**vars(o)) for o in ops])
    disk.prepare()
    disk.commit()
    after = state(root)
    assert after["a.txt"] == (b"A\n", 0o600) and "b.txt" not in after and "gone" not in after
    assert after["link"] == ("b.txt", 0o777) and after["made/deep/c.txt"] == (b"c\n", 0o640)
    assert after["made2"] == ("dir", 0o700)
