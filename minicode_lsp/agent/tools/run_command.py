"""run_command: ``bash -c`` in the workspace root, in its own process group.

A timeout or a cancellation kills the whole group (SIGTERM, then SIGKILL) and still
returns the output so far. Output is capped (head and tail kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..messages import ToolSpec
from .base import ToolContext, ToolError, ToolOutput, str_arg

log = logging.getLogger(__name__)

KIND = "shell"
DEFAULT_TIMEOUT_S = 120.0
MAX_TIMEOUT_S = 1800.0
OUTPUT_CAP = 32 * 1024
TERM_GRACE_S = 0.2
DRAIN_S = 0.15

SPEC = ToolSpec(
    name="run_command",
    description=(
        "Run a shell command (bash -c) in the workspace root and return its combined "
        "stdout/stderr and exit code. Use it to run tests, linters and builds. "
        f"Default timeout {int(DEFAULT_TIMEOUT_S)} s; on timeout the process group is killed."
    ),
    parameters={
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The shell command."},
            "timeout_s": {"type": "number", "description": "Timeout in seconds (default 120)."},
        },
        "required": ["command"],
    },
)


class _CappedOutput:
    """Keeps the first 3/4 and the last 1/4 of ``cap`` bytes."""

    def __init__(self, cap: int) -> None:
        self.head_cap = cap * 3 // 4
        self.tail_cap = cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.tail_cap:
                del self.tail[: len(self.tail) - self.tail_cap]

    @property
    def omitted(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        if not self.omitted:
            return head + self.tail.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        return f"{head}\n[... {self.omitted} bytes of output omitted ...]\n{tail}"


@dataclass
class ShellResult:
    output: str
    exit_code: int | None
    timed_out: bool = False
    cancelled: bool = False
    omitted_bytes: int = 0


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _exited(proc: asyncio.subprocess.Process) -> None:
    """Wait for the process itself to exit.

    ``Process.wait()`` also waits for its pipes to close, which a background child
    holding stdout would delay forever; ``returncode`` is set as soon as it exits.
    """
    delay = 0.002
    while proc.returncode is None:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the group, give it a moment, then SIGKILL whatever is left."""
    _signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_exited(proc), TERM_GRACE_S)
    _signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_exited(proc), TERM_GRACE_S)


async def run_shell(
    command: str,
    *,
    cwd: Path,
    env: dict[str, str] | None,
    timeout_s: float,
    cancel: asyncio.Event | None = None,
    cap: int = OUTPUT_CAP,
) -> ShellResult:
    spawn = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            "bash",
            "-c",
            command,
            cwd=str(cwd),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    )
    try:
        # Shielded: cancelled mid-spawn, asyncio would kill bash but not its group.
        proc = await asyncio.shield(spawn)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await _kill_group(await spawn)
        raise
    out = _CappedOutput(cap)

    async def pump() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            out.add(chunk)

    reader = asyncio.create_task(pump())
    waiter = asyncio.ensure_future(_exited(proc))
    stopper = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    timed_out = cancelled = False
    try:
        pending = {waiter} if stopper is None else {waiter, stopper}
        done, _ = await asyncio.wait(pending, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            cancelled = stopper is not None and stopper in done
            timed_out = not cancelled
            log.info(
                "run_command %s; killing process group %d",
                "cancelled" if cancelled else "timed out",
                proc.pid,
            )
            await _kill_group(proc)
    finally:
        if proc.returncode is None:  # asyncio cancellation: kill before anything else
            await _kill_group(proc)
        if stopper is not None:
            stopper.cancel()
        waiter.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(reader), DRAIN_S)
        except TimeoutError:
            # Something in the group still holds the pipe (a background child): end it.
            _signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader, DRAIN_S)
        reader.cancel()
    return ShellResult(
        output=out.text(),
        exit_code=proc.returncode,
        timed_out=timed_out,
        cancelled=cancelled,
        omitted_bytes=out.omitted,
    )


def format_result(command: str, r: ShellResult, timeout_s: float) -> str:
    lines = [f"$ {command}", r.output.rstrip("\n")] if r.output.strip() else [f"$ {command}", "(no output)"]
    if r.timed_out:
        lines.append(f"[timed out after {timeout_s:g} s; the process group was killed; output so far shown]")
    elif r.cancelled:
        lines.append("[cancelled; the process group was killed]")
    else:
        lines.append(f"[exit code {r.exit_code}]")
    return "\n".join(lines)


def timeout_arg(args: dict[str, Any]) -> float:
    raw = args.get("timeout_s")
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ToolError("timeout_s must be a number of seconds") from None
    return min(max(value, 0.1), MAX_TIMEOUT_S)


async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    command = str_arg(args, "command")
    if not command.strip():
        raise ToolError("command is empty")
    timeout_s = timeout_arg(args)
    try:
        r = await run_shell(
            command, cwd=ctx.root, env=ctx.ports.command_env, timeout_s=timeout_s, cancel=ctx.cancel
        )
    except OSError as e:
        raise ToolError(f"could not start the command: {e}") from None
    return ToolOutput(
        format_result(command, r, timeout_s),
        is_error=r.timed_out or r.cancelled,
        meta={
            "exit_code": r.exit_code,
            "timed_out": r.timed_out,
            "cancelled": r.cancelled,
            "command": command,
        },
    )
