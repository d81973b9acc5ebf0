"""edit_file: exact search and replace in one file, keeping its line endings and encoding."""

from __future__ import annotations

import asyncio
import re
import time
from difflib import SequenceMatcher
from typing import Any

from ...wording import plural
from ..fileio import is_binary
from ..messages import ToolSpec
from ..ports import EditConflict
from .base import ToolContext, ToolError, ToolOutput, bool_arg, decode, str_arg
from .read_file import number_lines

KIND = "edit"
# A miss shows the closest text; finding it is bounded (a 2,000-line file once took 32 s).
FUZZY_BUDGET_S = 1.0
FUZZY_CANDIDATES = 8
FUZZY_CHARS = 4000
SNIPPET_LINES = 12

SPEC = ToolSpec(
    name="edit_file",
    description=(
        "Replace old_text with new_text in a file. old_text must match the file exactly "
        "(whitespace included, without the line-number prefixes read_file shows) and be "
        "unique unless replace_all is true. Include enough surrounding lines to make it unique."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path relative to the workspace root."},
            "old_text": {"type": "string", "description": "Exact text to replace."},
            "new_text": {"type": "string", "description": "Replacement text."},
            "replace_all": {"type": "boolean", "description": "Replace every occurrence (default false)."},
        },
        "required": ["path", "old_text", "new_text"],
    },
)


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def closest_lines(text: str, old: str, budget_s: float = FUZZY_BUDGET_S) -> tuple[int, list[str], float] | None:
    """The window of lines most similar to ``old``: (first line number, lines, ratio).

    Bounded work whatever the sizes: every window gets a cheap score (the lines of ``old``
    it holds exactly, ignoring indentation, plus how alike its first line is to ``old``'s),
    and only the best ``FUZZY_CANDIDATES`` windows get the costly ``SequenceMatcher`` ratio,
    on at most ``FUZZY_CHARS`` characters each, within ``budget_s`` seconds.
    """
    deadline = time.monotonic() + budget_s
    lines = text.splitlines()
    if not lines:
        return None
    old_lines = old.splitlines() or [old]
    n = len(old_lines)
    target_lines = [s.strip() for s in old_lines]
    target = "\n".join(target_lines)[:FUZZY_CHARS]
    stripped = [s.strip() for s in lines]
    windows = max(1, len(lines) - n + 1)
    wanted = {t for t in target_lines if t}
    hits = [0]
    for s in stripped:
        hits.append(hits[-1] + (s in wanted))
    first = next((t for t in target_lines if t), "")
    scores: list[tuple[float, int]] = []
    for i in range(windows):
        exact = hits[min(i + n, len(lines))] - hits[i]
        alike = 0.0
        if first and time.monotonic() < deadline:
            alike = SequenceMatcher(None, first[:200], stripped[i][:200], autojunk=False).quick_ratio()
        scores.append((exact + alike, i))
    scores.sort(key=lambda si: (-si[0], si[1]))
    best: tuple[int, float] = (0, 0.0)
    for _, i in scores[:FUZZY_CANDIDATES]:
        if time.monotonic() > deadline and best[1] > 0:
            break
        cand = "\n".join(stripped[i : i + n])[:FUZZY_CHARS]
        sm = SequenceMatcher(None, target, cand, autojunk=False)
        if sm.real_quick_ratio() <= best[1] or sm.quick_ratio() <= best[1]:
            continue
        ratio = sm.ratio()
        if ratio > best[1]:
            best = (i, ratio)
    if best[1] < 0.5:
        return None
    i = best[0]
    return i + 1, lines[i : i + n], best[1]


_NUMBERED = re.compile(r"^ *\d+\t")


def _strip_line_numbers(text: str) -> str | None:
    """``text`` without read_file's line-number prefixes, when every line carries one."""
    lines = text.split("\n")
    body = lines[:-1] if lines and lines[-1] == "" else lines
    if not body or not all(_NUMBERED.match(line) for line in body):
        return None
    return "\n".join(_NUMBERED.sub("", line, count=1) for line in lines)


def _miss_message(shown: str, text: str, old: str) -> str:
    msg = f"old_text was not found in {shown}; nothing was changed."
    near = closest_lines(text, old)
    if near is None:
        return msg + " Read the file again and copy the exact text to replace."
    first, lines, ratio = near
    kind = "differs only in whitespace" if ratio == 1.0 else f"is {ratio:.0%} similar"
    body, _ = number_lines(lines, first)
    return (
        f"{msg} The closest text (lines {first}-{first + len(lines) - 1}) {kind}:\n{body}\n"
        "Retry with old_text copied exactly from the file (without the line-number prefixes)."
    )


class _NotFound(Exception):
    def __init__(self, text: str) -> None:
        super().__init__("old_text not found")
        self.text = text


def _replace(data: bytes, shown: str, old_text: str, new_text: str, replace_all: bool) -> tuple[bytes, str, int, int, str]:
    """(encoded result, updated text, offset of the first replacement, count, new text as inserted)."""
    if is_binary(data):
        raise ToolError(f"{shown} is a binary file; edit_file edits text files only")
    tf = decode(data)
    old, new = tf.to_file_newlines(old_text), tf.to_file_newlines(new_text)
    count = tf.text.count(old)
    if count == 0 and old_text in tf.text:  # a file with mixed line endings
        old, new, count = old_text, new_text, tf.text.count(old_text)
    if count == 0 and (unnumbered := _strip_line_numbers(old_text)) is not None:
        old = tf.to_file_newlines(unnumbered)
        new = tf.to_file_newlines(_strip_line_numbers(new_text) or new_text)
        count = tf.text.count(old)
    if count == 0:
        raise _NotFound(tf.text)
    if count > 1 and not replace_all:
        starts: list[str]
        at, starts = 0, []
        while (at := tf.text.find(old, at)) != -1 and len(starts) < 10:
            starts.append(str(_line_of(tf.text, at)))
            at += len(old)
        raise ToolError(
            f"old_text matches {count} places in {shown} (lines {', '.join(starts)}); nothing was "
            "changed. Include more surrounding lines to make it unique, or set replace_all to true."
        )
    if old == new:
        raise ToolError("old_text and new_text are identical; nothing to change")
    first_at = tf.text.find(old)
    updated = tf.text.replace(old, new) if replace_all else tf.text.replace(old, new, 1)
    try:
        encoded = tf.encode(updated)
    except UnicodeEncodeError as e:
        raise ToolError(
            f"{shown} is {tf.encoding}-encoded and new_text has characters it cannot hold: {e}"
        ) from None
    return encoded, updated, first_at, count, new


async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    path = ctx.resolve(str_arg(args, "path"))
    old_text = str_arg(args, "old_text")
    new_text = str_arg(args, "new_text")
    replace_all = bool_arg(args, "replace_all")
    shown = ctx.show(path)
    if path.is_dir():
        raise ToolError(f"{shown} is a directory")
    data = await ctx.ports.fs.read(path)
    if data is None:
        raise ToolError(f"{shown} does not exist; use write_file to create it")
    if is_binary(data):
        raise ToolError(f"{shown} is a binary file; edit_file edits text files only")
    if not old_text:
        raise ToolError("old_text is empty; give the exact text to replace (or use write_file)")
    try:
        result = _replace(data, shown, old_text, new_text, replace_all)
    except _NotFound as miss:
        # Off the event loop: even bounded, the similarity search takes up to a second.
        raise ToolError(await asyncio.to_thread(_miss_message, shown, miss.text,
                                                old_text.replace("\r\n", "\n"))) from None

    def rederive(current: bytes | None) -> bytes:
        """The same replacement, made again on the file as it is when the edit lands."""
        nonlocal result
        if current is None:
            raise EditConflict(f"{shown} was deleted before the edit could be applied; nothing was written")
        try:
            result = _replace(current, shown, old_text, new_text, replace_all)
        except _NotFound:
            raise EditConflict(f"{shown} changed before the edit could be applied, and old_text is no "
                               "longer in it; nothing was written. Read the file again.") from None
        except ToolError as e:
            raise EditConflict(f"{shown} changed before the edit could be applied, and {e} "
                               "Read the file again.") from None
        return result[0]

    await ctx.ports.fs.write(path, result[0], confirm=ctx.confirm, label=f"edit_file {shown}", rederive=rederive)
    _, updated, first_at, count, new = result  # as made on the text the edit landed on
    first_line = _line_of(updated, first_at)
    new_lines = updated.splitlines()
    span = max(new.count("\n") + 1, 1)
    lo = max(first_line - 2, 1)
    hi = min(first_line + span + 1, len(new_lines), lo + SNIPPET_LINES - 1)
    snippet, _ = number_lines(new_lines[lo - 1 : hi], lo)
    n = count if replace_all else 1
    return ToolOutput(
        f"edited {shown}: replaced {plural(n, 'occurrence')}. Lines {lo}-{hi} now read:\n{snippet}",
        meta={"path": str(path), "action": "modify"},
    )
