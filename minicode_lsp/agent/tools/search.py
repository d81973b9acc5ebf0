"""search: a Python regular expression over the workspace's files (buffer-aware), capped."""

from __future__ import annotations

import re
from typing import Any

from ..messages import ToolSpec
from .base import ToolContext, ToolError, ToolOutput, decode, is_binary, root_of, str_arg
from .walk import glob_spec, walk_files

KIND = "read"
MAX_MATCHES = 200
MAX_FILES = 5000
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_LINE_CHARS = 300

SPEC = ToolSpec(
    name="search",
    description=(
        "Search file contents with a Python regular expression. Returns 'path:line: text' for "
        "each matching line. Skips .gitignore'd files, .git and binary files. Optional path "
        "(a directory or file) and glob (e.g. '*.py') narrow the search."
    ),
    parameters={
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Python regular expression."},
            "path": {"type": "string", "description": "Directory or file to search (default: the root)."},
            "glob": {"type": "string", "description": "Only files matching this glob."},
        },
        "required": ["pattern"],
    },
)


async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    pattern = str_arg(args, "pattern")
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise ToolError(f"invalid regular expression {pattern!r}: {e}") from None
    start = ctx.resolve(str_arg(args, "path", required=False, default=".") or ".")
    glob = str_arg(args, "glob", required=False)
    if not start.exists():
        raise ToolError(f"{ctx.show(start)} does not exist")
    root = root_of(start, ctx.ports.roots)
    spec = glob_spec(glob) if glob else None
    files = [start] if start.is_file() else walk_files(start, root)
    out: list[str] = []
    scanned = skipped = 0
    capped = False
    for path in files:
        rel = path.relative_to(root).as_posix()
        if spec is not None and not spec.match_file(rel):
            continue
        if scanned >= MAX_FILES:
            capped = True
            break
        scanned += 1
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                skipped += 1
                continue
        except OSError:
            continue
        data = await ctx.ports.fs.read(path)
        if data is None or is_binary(data):
            continue
        for n, line in enumerate(decode(data).text.splitlines(), start=1):
            if regex.search(line):
                if len(out) >= MAX_MATCHES:
                    capped = True
                    break
                text = line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " ..."
                out.append(f"{ctx.show(path)}:{n}: {text}")
        if capped:
            break
    notes = []
    if capped:
        notes.append(f"[results capped ({MAX_MATCHES} matches / {MAX_FILES} files); narrow the search]")
    if skipped:
        notes.append(f"[{skipped} file(s) over {MAX_FILE_BYTES // (1024 * 1024)} MiB not searched]")
    if not out:
        return ToolOutput("\n".join([f"no matches for {pattern!r} in {scanned} file(s)", *notes]))
    return ToolOutput("\n".join(out + notes))
