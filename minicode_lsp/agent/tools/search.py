"""search: a regular expression (RE2 syntax, linear time) over the workspace's files, buffer-aware, capped.

The engine is RE2 (google-re2): matching takes time linear in the text whatever the pattern,
so a catastrophic pattern such as ``(a+)+$`` cannot freeze anything. The walk and the matching
run in a worker thread, file by file, between awaits: the event loop stays free, a cancelled
turn stops the search at the next file, and a time budget ends a search that is merely big.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import re2

from ...wording import plural
from ..fileio import is_binary
from ..messages import ToolSpec
from .base import ToolContext, ToolError, ToolOutput, decode, root_of, str_arg
from .paths import PathRefused, is_secret_file
from .walk import glob_spec, walk_files

KIND = "read"
MAX_MATCHES = 200
MAX_FILES = 5000
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_LINE_CHARS = 300
MAX_PATTERN_CHARS = 2000
TIME_BUDGET_S = 15.0

SPEC = ToolSpec(
    name="search",
    description=(
        "Search file contents with a regular expression (RE2 syntax: like Python's re, without "
        "lookaround or backreferences; ^ and $ match at line ends). Returns 'path:line: text' for "
        "each matching line. Skips .gitignore'd files, .git, binary files and symbolic links. Optional path "
        "(a directory or file) and glob (e.g. '*.py') narrow the search."
    ),
    parameters={
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Regular expression (RE2 syntax)."},
            "path": {"type": "string", "description": "Directory or file to search (default: the root)."},
            "glob": {"type": "string", "description": "Only files matching this glob."},
        },
        "required": ["pattern"],
    },
)


def compile_pattern(pattern: str) -> Any:
    """The pattern compiled for line-wise search over UTF-8 bytes; ``ToolError`` when invalid."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ToolError(f"the pattern is {len(pattern)} characters long; at most {MAX_PATTERN_CHARS}")
    options = re2.Options()
    options.log_errors = False
    options.never_nl = True  # a match never spans lines, as in a line-by-line search
    try:
        return re2.compile(("(?m)" + pattern).encode("utf-8"), options)
    except re2.error as e:
        reason = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise ToolError(f"invalid regular expression {pattern!r}: {reason} (RE2 syntax: no lookaround "
                        "or backreferences)") from None
    except UnicodeEncodeError:
        raise ToolError(f"invalid regular expression {pattern!r}: not valid text") from None


def matching_lines(regex: Any, data: bytes, limit: int) -> list[tuple[int, str]]:
    """(line number, line) of up to ``limit`` lines of ``data`` that contain a match."""
    text = decode(data).text.replace("\r\n", "\n").encode("utf-8")
    found: list[tuple[int, str]] = []
    pos = counted_to = 0
    line_no = 1  # the line number at ``counted_to``
    while len(found) < limit and (m := regex.search(text, pos)) is not None:
        start = text.rfind(b"\n", 0, m.start()) + 1
        if start == len(text) and start:  # the empty "line" after a final newline
            break
        end = text.find(b"\n", m.start())
        end = len(text) if end == -1 else end
        line_no += text.count(b"\n", counted_to, start)
        counted_to = start
        found.append((line_no, text[start:end].decode("utf-8", "replace")))
        pos = end + 1
        if pos > len(text):
            break
    return found


def _files(start: Path, root: Path, glob: str | None, stop: list[bool],
           forbidden: list[Path] | None = None, secret_files: list[str] | None = None) -> tuple[list[Path], bool]:
    """The files to search (at most ``MAX_FILES``) and whether there were more. Symbolic
    links are never searched (a link inside the workspace has its target searched anyway)."""
    spec = glob_spec(glob) if glob else None
    out: list[Path] = []
    deadline = time.monotonic() + TIME_BUDGET_S  # a huge tree and a glob that matches little
    for path in [start] if start.is_file() else walk_files(start, root, forbidden=forbidden):
        if stop[0] or time.monotonic() > deadline:
            return out, True
        if spec is not None and not spec.match_file(path.relative_to(root).as_posix()):
            continue
        if is_secret_file(path, secret_files):  # .env, keys: never read
            continue
        if len(out) >= MAX_FILES:
            return out, True
        out.append(path)
    return out, False


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    pattern = str_arg(args, "pattern")
    regex = compile_pattern(pattern)
    start = ctx.resolve(str_arg(args, "path", required=False, default=".") or ".")
    glob = str_arg(args, "glob", required=False)
    if not start.exists():
        raise ToolError(f"{ctx.show(start)} does not exist")
    root = root_of(start, ctx.ports.roots)
    stop = [False]  # set when this coroutine is cancelled: the worker thread ends its walk
    deadline = time.monotonic() + TIME_BUDGET_S
    try:
        files, capped = await asyncio.to_thread(_files, start, root, glob or None, stop,
                                                ctx.ports.forbidden, ctx.ports.secret_files)
        out: list[str] = []
        scanned = skipped = 0
        out_of_time = False
        for path in files:
            if time.monotonic() > deadline:
                out_of_time = True
                break
            size = await asyncio.to_thread(_size, path)
            if size is None:
                continue
            if size > MAX_FILE_BYTES:
                skipped += 1
                continue
            scanned += 1
            try:
                data = await ctx.ports.fs.read(path)  # open buffer first; regular files only
            except (OSError, PathRefused):  # not regular, swapped for a link, hard-linked: never read
                continue
            if data is None or is_binary(data):
                continue
            room = MAX_MATCHES - len(out)
            for n, line in await asyncio.to_thread(matching_lines, regex, data, room + 1):
                if len(out) >= MAX_MATCHES:
                    capped = True
                    break
                text = line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " ..."
                out.append(f"{ctx.show(path)}:{n}: {text}")
            if capped and len(out) >= MAX_MATCHES:
                break
    finally:
        stop[0] = True
    notes = []
    if capped:
        notes.append(f"[results capped ({MAX_MATCHES} matches / {MAX_FILES} files); narrow the search]")
    if out_of_time:
        notes.append(f"[search stopped after its {TIME_BUDGET_S:g} s budget ({plural(scanned, 'file')} searched); "
                     "narrow it with path or glob]")
    if skipped:
        notes.append(f"[{plural(skipped, 'file')} over {MAX_FILE_BYTES // (1024 * 1024)} MiB not searched]")
    if not out:
        return ToolOutput("\n".join([f"no matches for {pattern!r} in {plural(scanned, 'file')}", *notes]))
    return ToolOutput("\n".join(out + notes))
