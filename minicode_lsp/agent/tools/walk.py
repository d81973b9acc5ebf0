"""Walk a workspace directory honouring .gitignore files (root and nested), skipping .git."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pathspec

ALWAYS_SKIPPED = frozenset({".git"})


def glob_spec(pattern: str) -> pathspec.GitIgnoreSpec:
    """A gitignore-style glob: ``*.py`` matches at any depth, ``src/**/*.py`` under src."""
    return pathspec.GitIgnoreSpec.from_lines([pattern])


def _load_ignore(directory: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        lines = (directory / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _ignored(path: Path, is_dir: bool, specs: list[tuple[Path, pathspec.GitIgnoreSpec]]) -> bool:
    ignored = False
    for base, spec in specs:
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            continue
        result = spec.check_file(rel + "/" if is_dir else rel)
        if result.include is not None:
            ignored = result.include
    return ignored


def walk_files(start: Path, root: Path) -> Iterator[Path]:
    """Yield files under ``start`` (sorted, depth-first) that git would not ignore.

    ``.gitignore`` files from ``root`` down to ``start`` and below apply. Symlinked
    directories are not followed.
    """
    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    chain = [root]
    if start != root and start.is_relative_to(root):
        for part in start.relative_to(root).parts[:-1]:
            chain.append(chain[-1] / part)
    for d in chain:
        spec = _load_ignore(d)
        if spec is not None:
            specs.append((d, spec))
    yield from _walk(start, specs)


def _walk(directory: Path, specs: list[tuple[Path, pathspec.GitIgnoreSpec]]) -> Iterator[Path]:
    own = _load_ignore(directory)
    if own is not None:
        specs = [*specs, (directory, own)]
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name in ALWAYS_SKIPPED:
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if _ignored(path, is_dir, specs):
            continue
        if is_dir:
            yield from _walk(path, specs)
        else:
            yield path
