"""write_file: create or overwrite a file (an existing file keeps its line endings and encoding)."""

from __future__ import annotations

from typing import Any

from ..fileio import is_binary
from ..messages import ToolSpec
from .base import ToolContext, ToolError, ToolOutput, decode, str_arg

KIND = "edit"

SPEC = ToolSpec(
    name="write_file",
    description=(
        "Create a file, or replace the whole content of an existing one. Parent directories "
        "are created. Prefer edit_file for changing part of an existing file."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path relative to the workspace root."},
            "content": {"type": "string", "description": "The complete new content."},
        },
        "required": ["path", "content"],
    },
)


async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    path = ctx.resolve(str_arg(args, "path"))
    content = str_arg(args, "content")
    shown = ctx.show(path)
    if path.is_dir():
        raise ToolError(f"{shown} is a directory")
    existing = await ctx.ports.fs.read(path)
    if existing is not None and not is_binary(existing):
        tf = decode(existing)
        try:
            data = tf.encode(tf.to_file_newlines(content))
        except UnicodeEncodeError:
            data = content.encode("utf-8")
    else:
        data = content.encode("utf-8")
    await ctx.ports.fs.write(path, data, confirm=ctx.confirm, label=f"write_file {shown}")
    action = "create" if existing is None else "modify"
    lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
    verb = "created" if action == "create" else "overwrote"
    return ToolOutput(f"{verb} {shown} ({lines} lines)", meta={"path": str(path), "action": action})
