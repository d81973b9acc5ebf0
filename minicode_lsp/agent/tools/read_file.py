"""read_file: a file's text with line numbers, optionally a line range, size-capped."""

from __future__ import annotations

import asyncio
from typing import Any

from ..fileio import is_binary
from ..messages import ToolSpec
from .base import ToolContext, ToolError, ToolOutput, decode, int_arg, str_arg

KIND = "read"
MAX_BYTES = 256 * 1024
MAX_LINE_CHARS = 2000

SPEC = ToolSpec(
    name="read_file",
    description=(
        "Read a text file of the workspace. Output lines are prefixed with their line number "
        "and a tab (the prefix is not part of the file). Use start_line/end_line (1-based, "
        "inclusive) for a part of a large file."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path relative to the workspace root."},
            "start_line": {"type": "integer", "description": "First line to show (1-based)."},
            "end_line": {"type": "integer", "description": "Last line to show (inclusive)."},
        },
        "required": ["path"],
    },
)


def number_lines(lines: list[str], first: int, max_chars: int = MAX_BYTES) -> tuple[str, int]:
    """Numbered lines up to ``max_chars`` of output; returns the text and the last line shown."""
    out: list[str] = []
    size = 0
    last = first - 1
    for i, line in enumerate(lines, start=first):
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + f" ... [line truncated, {len(line)} chars]"
        entry = f"{i:>6}\t{line}"
        if out and size + len(entry) > max_chars:
            break
        out.append(entry)
        size += len(entry) + 1
        last = i
    return "\n".join(out), last


async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    path = ctx.resolve(str_arg(args, "path"))
    shown = ctx.show(path)
    if path.is_dir():
        raise ToolError(f"{shown} is a directory; use list_files to see its contents")
    data = await ctx.ports.fs.read(path)
    if data is None:
        raise ToolError(f"{shown} does not exist")
    # Decoding and numbering a big file takes a while: off the event loop.
    return await asyncio.to_thread(_render, data, shown, args, {"path": str(path)})


def _render(data: bytes, shown: str, args: dict[str, Any], meta: dict[str, Any]) -> ToolOutput:
    if is_binary(data):
        return ToolOutput(f"{shown} is a binary file ({len(data)} bytes); not shown", meta=meta)
    lines = decode(data).text.splitlines()
    total = len(lines)
    if total == 0:
        return ToolOutput(f"{shown} is empty", meta=meta)
    start = max(int_arg(args, "start_line") or 1, 1)
    end = int_arg(args, "end_line") or total
    if start > total:
        raise ToolError(f"start_line {start} is past the end of {shown} ({total} lines)")
    end = min(max(end, start), total)
    body, last = number_lines(lines[start - 1 : end], start)
    notes = []
    if last < end:
        notes.append(
            f"[output truncated at {MAX_BYTES // 1024} KiB after line {last} of {total}; "
            f"read on with start_line={last + 1}]"
        )
    elif start > 1 or end < total:
        notes.append(f"[lines {start}-{end} of {total}]")
    meta["full"] = not notes
    return ToolOutput(body + ("\n" + "\n".join(notes) if notes else ""), meta=meta)
