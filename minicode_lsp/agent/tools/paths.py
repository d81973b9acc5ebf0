"""Resolve a path the model gave and confine it to the workspace roots.

Relative paths are taken from the first root; absolute paths are accepted when inside a
root. Symlinks are resolved before the check, so a link pointing outside is refused.
Anything inside a ``.git`` directory — in any case spelling, and the other names a
case-insensitive or Windows file system takes for it (``.GIT``, ``.git.``, ``GIT~1``,
``.git`` with ignorable characters) — or inside a forbidden path (MiniCode's own store,
state, config and data folders, compared without regard to case) is refused too. The
returned path holds no link; ``confined.py`` keeps it that way while it is used.
"""

from __future__ import annotations

import fnmatch
import os
import unicodedata
from pathlib import Path


class PathRefused(Exception):
    """The path is outside the workspace, in ``.git`` or in a forbidden location."""


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or path.is_relative_to(parent)


def _fold(text: str) -> str:
    """A name as a case-insensitive, normalising file system compares it."""
    text = "".join(c for c in unicodedata.normalize("NFC", text) if unicodedata.category(c) != "Cf")
    return text.rstrip(" .").casefold() if text not in (".", "..") else text


def is_git_name(name: str) -> bool:
    folded = _fold(name)
    return folded == ".git" or folded == "git~1"


def inside_folded(path: Path, parent: Path) -> bool:
    """``path`` is ``parent`` or under it, comparing every component without regard to case."""
    a = [_fold(p) for p in path.parts]
    b = [_fold(p) for p in parent.parts]
    return a[: len(b)] == b


def is_secret_file(path: Path, patterns: list[str] | None) -> str | None:
    """The deny-list pattern ``path``'s name matches (case-insensitively), if any."""
    name = path.name.casefold()
    for pattern in patterns or []:
        if fnmatch.fnmatchcase(name, pattern.casefold()):
            return pattern
    return None


def resolve_path(raw: str, roots: list[Path], forbidden: list[Path] | None = None, *,
                 secret_files: list[str] | None = None) -> Path:
    if not roots:
        raise PathRefused("no workspace root is open")
    text = raw.strip()
    if not text:
        raise PathRefused("empty path")
    if "\x00" in text:
        raise PathRefused("path contains a NUL byte")
    real_roots = [Path(os.path.realpath(r)) for r in roots]
    candidate = Path(text)
    if not candidate.is_absolute():
        candidate = real_roots[0] / candidate
    resolved = Path(os.path.realpath(candidate))
    root = next((r for r in real_roots if _inside(resolved, r)), None)
    if root is None:
        where = " or ".join(str(r) for r in real_roots)
        raise PathRefused(
            f"'{raw}' resolves to {resolved}, outside the workspace ({where}); "
            "only paths inside the workspace are allowed"
        )
    if any(is_git_name(part) for part in resolved.relative_to(root).parts):
        raise PathRefused(f"'{raw}' is inside a .git directory, which the agent may not touch")
    for bad in forbidden or []:
        if inside_folded(resolved, Path(os.path.realpath(bad))) or inside_folded(resolved, Path(bad)):
            raise PathRefused(f"'{raw}' is inside MiniCode's own store, state or config, which is off limits")
    for candidate_name in {resolved, Path(text)}:  # the link's own name counts, as its target's
        pattern = is_secret_file(candidate_name, secret_files)
        if pattern:
            raise PathRefused(
                f"'{raw}' matches the secret-file list ({pattern!r} in agent.secretFiles): the agent does not "
                "read or write it. The user can allow it by changing agent.secretFiles in their config")
    return resolved


def display_path(path: Path, roots: list[Path]) -> str:
    """The path relative to its root (posix style), for messages and summaries."""
    for r in roots:
        real = Path(os.path.realpath(r))
        if _inside(path, real):
            rel = path.relative_to(real).as_posix()
            return rel if len(roots) == 1 else f"{real.name}/{rel}"
    return str(path)
