"""list_files: files under a directory, honouring .gitignore, optionally filtered by a glob."""

from __future__ import annotations

from typing import Any

from ..messages import ToolSpec
from .base import ToolContext, ToolError, ToolOutput, root_of, str_arg
from .walk import glob_spec, walk_files

KIND = "read"
MAX_ENTRIES = 1000

SPEC = ToolSpec(
    name="list_files",
    description=(
        "List files under a directory of the workspace (recursively), skipping files ignored "
        "by .gitignore and the .git directory. Optional glob pattern, e.g. '*.py' or 'src/**/*.ts'."
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
    spec = glob_spec(pattern) if pattern else None
    found: list[str] = []
    more = False
    for path in walk_files(start, root):
        rel = path.relative_to(root).as_posix()
        if spec is not None and not (
            spec.match_file(rel) or spec.match_file(path.relative_to(start).as_posix())
        ):
            continue
        if len(found) >= MAX_ENTRIES:
            more = True
            break
        found.append(ctx.show(path))
    if not found:
        what = f" matching '{pattern}'" if pattern else ""
        return ToolOutput(f"no files{what} under {shown}")
    if more:
        found.append(f"[listing capped at {MAX_ENTRIES} files; narrow it with path or pattern]")
    return ToolOutput("\n".join(found))
