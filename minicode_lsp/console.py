"""The terminal as a frontend: the event timeline, colored diffs, approval prompts, and the
"waiting for the model" line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from . import protocol as p
from .wording import stop_label

RESET, DIM, RED, GREEN, CYAN, BOLD = "\033[0m", "\033[2m", "\033[31m", "\033[32m", "\033[36m", "\033[1m"


def wants_color(stream: Any) -> bool:
    """A terminal, and no ``NO_COLOR`` (https://no-color.org: set to anything but empty)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def color(text: str, code: str, stream: Any = None) -> str:
    return f"{code}{text}{RESET}" if wants_color(stream or sys.stdout) else text


def color_diff(diff: str, stream: Any = None) -> str:
    out = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            out.append(color(line, BOLD, stream))
        elif line.startswith("+"):
            out.append(color(line, GREEN, stream))
        elif line.startswith("-"):
            out.append(color(line, RED, stream))
        elif line.startswith("@@"):
            out.append(color(line, CYAN, stream))
        else:
            out.append(line)
    return "\n".join(out)


ANSWERS = {"y": "yes", "yes": "yes", "1": "yes", "n": "no", "no": "no", "2": "no",
           "a": "always", "always": "always", "3": "always", "d": "diff", "diff": "diff", "4": "diff"}


class TerminalPrompt:
    """Approval questions on the terminal: ``[y]es / [n]o / [a]lways for this session / [d]iff``
    (any case, or 1-4). The answer is read without blocking the event loop, so Ctrl-C (which
    cancels the turn) ends a pending question at once; a closed stdin answers "no"."""

    def __init__(self, stdin: IO[Any] | None = None, out: Any = None, printer: EventPrinter | None = None) -> None:
        self.stdin = stdin or sys.stdin
        self.out = out or sys.stderr
        self.printer = printer
        self._buffer = bytearray()
        self._eof = False
        self.waiting = False  # a question is on screen, its answer not typed yet

    def interrupted(self) -> None:
        """Ctrl-C: a question on screen gets its line ended (the terminal echoed ``^C`` after it),
        so what is printed next starts on a line of its own."""
        if self.waiting:
            self.waiting = False
            self.out.write("\n")
            self.out.flush()

    async def ask(self, question: str, *, diff: str = "") -> str:
        if self.printer is not None:
            self.printer.pause()
        try:
            return await self._ask(question, diff)
        finally:
            if self.printer is not None:
                self.printer.resume()

    async def _ask(self, question: str, diff: str) -> str:
        if diff:
            self.out.write(color_diff(diff, self.out) + "\n")
        options = "[y]es / [n]o / [a]lways for this session" + (" / [d]iff" if diff else "")
        while True:
            self.out.write(f"{color(question, BOLD, self.out)} {options}: ")
            self.out.flush()
            self.waiting = True
            try:
                line = await self.readline()
            finally:
                self.waiting = False
            if line is None:
                self.out.write("no (stdin is closed)\n")
                self.out.flush()
                return "no"
            answer = ANSWERS.get(line.strip().lower())
            if not self._echoed():  # a terminal echoes what was typed; a pipe does not
                self.out.write(f"{line.strip()}\n")
            if answer == "diff":
                self.out.write((color_diff(diff, self.out) if diff else "(no diff for this question)") + "\n")
            elif answer is not None:
                return answer
            else:
                self.out.write("please answer y (yes), n (no), a (always for this session)"
                               + (" or d (show the diff)" if diff else "") + "\n")

    def _echoed(self) -> bool:
        try:
            return self.stdin.isatty()
        except (ValueError, OSError):
            return False

    async def readline(self) -> str | None:
        """The next line (without its newline), or None at the end of input."""
        while b"\n" not in self._buffer and not self._eof:
            chunk = await self._read_chunk()
            if chunk:
                self._buffer.extend(chunk)
            else:
                self._eof = True
        if not self._buffer:
            return None
        line, sep, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line.decode("utf-8", "replace")

    async def _read_chunk(self) -> bytes:
        try:
            fd = self.stdin.fileno()
        except (ValueError, OSError):
            return b""
        loop = asyncio.get_running_loop()
        while True:
            ready: asyncio.Future[None] = loop.create_future()
            try:
                loop.add_reader(fd, _settle, ready)
            except (PermissionError, ValueError, OSError):  # a regular file: reading it never blocks
                return _read(fd) or b""
            try:
                await ready
            finally:
                loop.remove_reader(fd)
            chunk = _read(fd)
            if chunk is not None:
                return chunk


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _read(fd: int) -> bytes | None:
    """Up to 4 KiB; b"" at the end of input; None when nothing is there after all."""
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return None
    except OSError:
        return b""


class EventPrinter:
    """Streams the turn's events to stderr as a readable timeline.

    ``live``: a turn is running now (not a replay): the approval prompt stands for the
    approval events, and ``tick()`` shows how long the model (or a tool) has been silent."""

    WAIT_AFTER_S = 2.0  # silence before the waiting line appears
    PLAIN_EVERY_S = 10.0  # without a terminal: one plain line this often

    def __init__(self, stream: Any = None, *, live: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.live = live
        self.finished: dict[str, Any] = {}
        self.errors: list[str] = []
        self._in_text = False
        self._reply_break = False  # the text shown came from an earlier model request
        self.streamed = False  # some answer text was shown as it came
        self._last_event = time.monotonic()
        self._tool: str | None = None
        self._provider = ""
        self._status_shown = False  # a terminal's progress line is on screen
        self._plain_shown = 0  # without a terminal: how many waiting lines so far
        self._paused = 0

    def __call__(self, method: str, payload: dict[str, Any]) -> None:
        if method != p.NOTIFY_EVENT:
            return
        kind, data = payload["type"], payload.get("data", {})
        if kind in (p.EV_MODEL_WAITING, p.EV_CONTEXT_USAGE):  # no progress: the silence goes on
            if kind == p.EV_MODEL_WAITING and data.get("provider"):
                self._provider = str(data["provider"])
            if kind == p.EV_CONTEXT_USAGE and self._in_text:  # a new model request: its text starts a line
                self._reply_break = True
            return
        self._last_event = time.monotonic()
        self._plain_shown = 0
        self._clear_status()
        if kind == p.EV_TOOL_STARTED:
            self._tool = str(data.get("name") or "a tool")
        elif kind == p.EV_TOOL_FINISHED:
            self._tool = None
        if kind == p.EV_TEXT_DELTA:
            if self._reply_break and self._in_text:
                self.stream.write("\n")
            self._reply_break = False
            self.stream.write(data.get("text", ""))
            self._in_text = self.streamed = True
            return
        if self._in_text:
            self.stream.write("\n")
            self._in_text = False
        if kind == p.EV_ERROR:
            message = str(data.get("message", ""))
            if message in self.errors:  # the same failure, retried: said once
                return
            self.errors.append(message)
        if kind == p.EV_APPROVAL_REQUESTED and self.live:
            return  # the prompt asks it
        line = self.describe(kind, data)
        if line:
            self.stream.write(f"[{payload['seq']:>3}] {line}\n")
        self.stream.flush()
        if kind == p.EV_TURN_FINISHED:
            self.finished = data

    # ------------------------------------------------------------------ waiting
    def pause(self) -> None:
        """A question is on screen: no waiting line meanwhile."""
        self._clear_status()
        self._paused += 1

    def resume(self) -> None:
        self._paused -= 1
        self._last_event = time.monotonic()

    def tick(self, now: float | None = None) -> None:
        """Called about twice a second while the turn runs: after ``WAIT_AFTER_S`` of silence,
        an elapsed-time line (rewritten in place on a terminal, a plain line every
        ``PLAIN_EVERY_S`` otherwise)."""
        if self._paused or self.finished:
            return
        silent = (time.monotonic() if now is None else now) - self._last_event
        if silent < self.WAIT_AFTER_S:
            return
        what = f"running {self._tool}" if self._tool else "waiting for the model" + (
            f" ({self._provider})" if self._provider else "")
        tty = getattr(self.stream, "isatty", None)
        if tty is not None and tty():
            prefix = "\n" if self._in_text else ""
            self._in_text = False
            self.stream.write(f"{prefix}\r\033[K{color(f'{what}... {silent:.0f} s (Ctrl-C stops the turn)', DIM, self.stream)}")
            self._status_shown = True
        elif silent >= self.PLAIN_EVERY_S * (self._plain_shown + 1):
            self._plain_shown += 1
            prefix = "\n" if self._in_text else ""
            self._in_text = False
            self.stream.write(f"{prefix}{what}: {silent:.0f} s so far\n")
        else:
            return
        self.stream.flush()

    def _clear_status(self) -> None:
        if self._status_shown:
            self.stream.write("\r\033[K")
            self._status_shown = False

    @staticmethod
    def describe(kind: str, data: dict[str, Any]) -> str:
        if kind == p.EV_TURN_STARTED:
            return f"turn started ({data.get('permissionMode')}, {data.get('profile')}): {data.get('prompt', '')[:100]}"
        if kind == p.EV_TOOL_STARTED:
            args = json.dumps(data.get("arguments", {}), ensure_ascii=False)
            return f"tool {data.get('name')} {args[:160]}"
        if kind == p.EV_TOOL_FINISHED:
            mark = "failed" if data.get("isError") else "ok"
            line = f"  -> {mark}: {str(data.get('summary', ''))[:160]}"
            if data.get("name") == "run_command":  # the command's last lines: what a user looks for
                tail = str(data.get("output", "")).rstrip().splitlines()[1:][-6:]
                line += "".join(f"\n       | {t[:160]}" for t in tail)
            return line
        if kind == p.EV_FILES_CHANGED:
            files = ", ".join(f"{f.get('action')} {Path(f.get('uri', '')).name}" for f in data.get("files", []))
            return f"  checkpoint {str(data.get('groupId'))[:8]}: {files}"
        if kind == p.EV_TURN_FINISHED:
            usage = data.get("usage", {})
            return (f"turn finished: {stop_label(data.get('stopReason'))} "
                    f"(tokens in {usage.get('inputTokens', 0)}, out {usage.get('outputTokens', 0)})")
        if kind == p.EV_ERROR:
            line = f"error: {data.get('message', '')}"
            return line + (f"\n       hint: {data['hint']}" if data.get("hint") else "")
        if kind == p.EV_PROVIDER_FALLBACK:
            return (f"provider {data.get('fromProvider')} failed ({data.get('reason', '')}); "
                    f"trying {data.get('toProvider')}")
        if kind == p.EV_APPROVAL_REQUESTED:
            what = data.get("command") if data.get("kind") == "command" else data.get("path")
            return f"approval asked: {data.get('kind')} {what}"
        if kind == p.EV_CONTEXT_COMPACTED:
            return f"{kind}: {json.dumps(data, ensure_ascii=False)[:200]}"
        return ""


