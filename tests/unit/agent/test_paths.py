from __future__ import annotations

from pathlib import Path

import pytest

from minicode_lsp.agent.tools.paths import PathRefused, display_path, resolve_path


def test_relative_and_absolute_inside(ws: Path) -> None:
    assert resolve_path("a/b.txt", [ws]) == ws / "a" / "b.txt"
    assert resolve_path(str(ws / "x.py"), [ws]) == ws / "x.py"
    assert resolve_path("a/../c.txt", [ws]) == ws / "c.txt"


@pytest.mark.parametrize("raw", ["../outside.txt", "a/../../x", "/etc/passwd", ""])
def test_outside_refused(ws: Path, raw: str) -> None:
    with pytest.raises(PathRefused):
        resolve_path(raw, [ws])


def test_outside_message_names_the_workspace(ws: Path) -> None:
    with pytest.raises(PathRefused, match="outside the workspace"):
        resolve_path("../x", [ws])


def test_symlink_escape_refused(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "key").write_text("k")
    (ws / "link").symlink_to(outside)
    (ws / "filelink").symlink_to(outside / "key")
    with pytest.raises(PathRefused):
        resolve_path("link/key", [ws])
    with pytest.raises(PathRefused):
        resolve_path("filelink", [ws])
    with pytest.raises(PathRefused):
        resolve_path("link/new.txt", [ws])


def test_symlink_inside_allowed(ws: Path) -> None:
    (ws / "real").mkdir()
    (ws / "alias").symlink_to(ws / "real")
    assert resolve_path("alias/f", [ws]) == ws / "real" / "f"


def test_git_dir_refused(ws: Path) -> None:
    (ws / ".git").mkdir()
    for raw in (".git/config", ".git", "sub/.git/HEAD"):
        with pytest.raises(PathRefused, match=r"\.git"):
            resolve_path(raw, [ws])
    assert resolve_path(".gitignore", [ws]) == ws / ".gitignore"


def test_forbidden_store_refused(ws: Path) -> None:
    store = ws / ".store"
    store.mkdir()
    with pytest.raises(PathRefused, match="store"):
        resolve_path(".store/db.sqlite", [ws], [store])


def test_second_root(ws: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    p = resolve_path(str(other / "f"), [ws, other])
    assert p == other.resolve() / "f"
    assert display_path(p, [ws, other]) == "other/f"
    assert display_path(ws / "a" / "b", [ws]) == "a/b"


def test_nul_refused(ws: Path) -> None:
    with pytest.raises(PathRefused):
        resolve_path("a\x00b", [ws])
