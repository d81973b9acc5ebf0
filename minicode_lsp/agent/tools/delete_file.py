"""delete_file: remove one file (never a directory)."""

from __future__ import annotations

from typing import Any

from ..messages import ToolSpec
from .base import ToolContext, ToolError, ToolOutput, str_arg

KIND = "edit"

SPEC = ToolSpec(
    name="delete_file",
    description="Delete a file of the workspace (files only, not directories).",
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path relative to the workspace root."}
        },
        "required": ["path"],
    },
)


async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    path = ctx.resolve(str_arg(args, "path"))
    shown = ctx.show(path)
    if path.is_dir():
        raise ToolError(f"{shown} is a directory; delete_file deletes files only")
    if await ctx.ports.fs.read(path) is None:
        raise ToolError(f"{shown} does not exist")
    await ctx.ports.fs.delete(path, confirm=ctx.confirm, label=f"delete_file {shown}")
    return ToolOutput(f"deleted {shown}", meta={"path": str(path), "action": "delete"})
