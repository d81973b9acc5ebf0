"""Walk a workspace directory honouring .gitignore files (root and nested), skipping .git."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pathspec

from ..fileio import read_regular
from .paths import inside_folded, is_git_name

ALWAYS_SKIPPED = frozenset({".git"})


def glob_spec(pattern: str) -> pathspec.GitIgnoreSpec:
    """A gitignore-style glob: ``*.py`` matches at any depth, ``src/**/*.py`` under src."""
    return pathspec.GitIgnoreSpec.from_lines([pattern])


def _load_ignore(directory: Path) -> pathspec.GitIgnoreSpec | None:
    try:  # a FIFO named .gitignore must not hang the walk: regular files only
        data = read_regular(directory / ".gitignore", 1024 * 1024)
    except OSError:
        return None
    if data is None:
        return None
    lines = data.decode("utf-8", errors="replace").splitlines()
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


def walk_files(start: Path, root: Path, *, links: list[Path] | None = None,
               forbidden: list[Path] | None = None) -> Iterator[Path]:
    """Yield regular files under ``start`` (sorted, depth-first) that git would not ignore.

    ``.gitignore`` files from ``root`` down to ``start`` and below apply. Symbolic links are
    never followed nor yielded: they are appended to ``links`` (when given) for the caller
    to show as links. ``.git`` (any spelling) and the ``forbidden`` folders are skipped.
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
    yield from _walk(start, specs, links, [Path(os.path.realpath(f)) for f in forbidden or []])


def _walk(directory: Path, specs: list[tuple[Path, pathspec.GitIgnoreSpec]], links: list[Path] | None,
          forbidden: list[Path]) -> Iterator[Path]:
    own = _load_ignore(directory)
    if own is not None:
        specs = [*specs, (directory, own)]
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name in ALWAYS_SKIPPED or is_git_name(entry.name):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            is_link = entry.is_symlink()
        except OSError:
            continue
        if _ignored(path, is_dir, specs):
            continue
        if is_link:
            if links is not None:
                links.append(path)
        elif is_dir:
            if any(inside_folded(path, f) for f in forbidden):
                continue
            yield from _walk(path, specs, links, forbidden)
        else:
            yield path
