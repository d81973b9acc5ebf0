"""list_files: files under a directory, honouring .gitignore, optionally filtered by a glob."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from ..messages import ToolSpec
from .base import ToolContext, ToolError, ToolOutput, root_of, str_arg
from .walk import glob_spec, walk_files

KIND = "read"
MAX_ENTRIES = 1000
TIME_BUDGET_S = 15.0

SPEC = ToolSpec(
    name="list_files",
    description=(
        "List files under a directory of the workspace (recursively), skipping files ignored "
        "by .gitignore and the .git directory. Symbolic links are listed as 'path -> target (link)' "
        "and never followed. Optional glob pattern, e.g. '*.py' or 'src/**/*.ts'."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "Directory relative to the workspace root (default: the root).",
            },
            "pattern": {"type": "string", "description": "Glob the file paths must match."},
        },
    },
)


async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    start = ctx.resolve(str_arg(args, "path", required=False, default=".") or ".")
    pattern = str_arg(args, "pattern", required=False)
    shown = ctx.show(start)
    if not start.exists():
        raise ToolError(f"{shown} does not exist")
    if start.is_file():
        return ToolOutput(shown)
    root = root_of(start, ctx.ports.roots)
    stop = [False]  # a cancelled turn ends the walk in the worker thread
    try:
        found, more = await asyncio.to_thread(_list, ctx, start, root, pattern or None, stop)
    finally:
        stop[0] = True
    if not found:
        what = f" matching '{pattern}'" if pattern else ""
        return ToolOutput(f"no files{what} under {shown}")
    if more:
        found.append(f"[listing capped ({MAX_ENTRIES} files / {TIME_BUDGET_S:g} s); narrow it with path or pattern]")
    return ToolOutput("\n".join(found))


def _list(ctx: ToolContext, start: Path, root: Path, pattern: str | None, stop: list[bool]) -> tuple[list[str], bool]:
    """Walk off the event loop (a big tree takes seconds), within ``TIME_BUDGET_S``."""
    spec = glob_spec(pattern) if pattern else None
    found: list[str] = []
    links: list[Path] = []
    deadline = time.monotonic() + TIME_BUDGET_S
    for path in walk_files(start, root, links=links, forbidden=ctx.ports.forbidden):
        if stop[0] or time.monotonic() > deadline:
            return found, True
        rel = path.relative_to(root).as_posix()
        if spec is not None and not (
            spec.match_file(rel) or spec.match_file(path.relative_to(start).as_posix())
        ):
            continue
        if len(found) >= MAX_ENTRIES:
            return found, True
        found.append(ctx.show(path))
    for link in links:  # shown as links, never followed
        rel = link.relative_to(root).as_posix()
        if spec is not None and not (spec.match_file(rel) or spec.match_file(link.relative_to(start).as_posix())):
            continue
        if len(found) >= MAX_ENTRIES:
            return found, True
        found.append(describe_link(link, ctx))
    return found, False


def describe_link(link: Path, ctx: ToolContext) -> str:
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    real = Path(os.path.realpath(link))
    roots = [Path(os.path.realpath(r)) for r in ctx.ports.roots]
    inside = any(real == r or real.is_relative_to(r) for r in roots)
    return f"{ctx.show(link)} -> {target} ({'link' if inside else 'link to outside the workspace, not followed'})"
