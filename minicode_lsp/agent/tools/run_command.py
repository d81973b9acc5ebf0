"""run_command: ``bash -c`` in the workspace root, its whole process tree contained.

Each command runs under a supervisor process (``supervisor.py``, a child subreaper) that
owns every process the command starts, detached or not; they all end when the command
ends: bash exits, the timeout (``agent.commandTimeoutS`` at most) passes, the turn is
cancelled or ends, or the server dies. Output so far is still returned; it is capped (head
and tail kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
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
        "The user's command timeout (120 s unless configured) is the default and the longest "
        "allowed; on timeout every process the command started is ended."
    ),
    parameters={
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The shell command."},
            "timeout_s": {"type": "number", "description": "Timeout in seconds (at most the user's limit)."},
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


SUPERVISOR = Path(__file__).with_name("supervisor.py")
STOP_WAIT_S = 3.0  # the supervisor's TERM grace and kill rounds take well under a second


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _exited(proc: asyncio.subprocess.Process) -> None:
    """Wait for the process itself to exit (``Process.wait()`` also waits for its pipes)."""
    delay = 0.001
    while proc.returncode is None:
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.02)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Ask the supervisor to end the command's whole tree and wait for it; SIGKILL it last."""
    if proc.stdin is not None and not proc.stdin.is_closing():
        with contextlib.suppress(OSError, RuntimeError):
            proc.stdin.write(b"stop\n")
            proc.stdin.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_exited(proc), STOP_WAIT_S)
    if proc.returncode is None:  # never seen: the supervisor is stuck; its tree then goes to init
        log.warning("run_command supervisor %d did not stop in %.0f s; killing it", proc.pid, STOP_WAIT_S)
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_exited(proc), TERM_GRACE_S)


async def _spawn(command: str, cwd: Path, env: dict[str, str] | None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-S", str(SUPERVISOR), command,
        cwd=str(cwd), env=env,
        stdin=asyncio.subprocess.PIPE,  # the control pipe: a line or EOF ends the tree
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


async def run_shell(
    command: str,
    *,
    cwd: Path,
    env: dict[str, str] | None,
    timeout_s: float,
    cancel: asyncio.Event | None = None,
    cap: int = OUTPUT_CAP,
) -> ShellResult:
    """Run ``bash -c command`` under a supervisor (``supervisor.py``) that owns every process
    the command starts: they all end when bash exits, on timeout, on cancel, when this
    coroutine is cancelled and when the server dies."""
    spawn = asyncio.ensure_future(_spawn(command, cwd, env))
    try:
        # Shielded: cancelled mid-spawn, asyncio would kill the supervisor but not its tree.
        proc = await asyncio.shield(spawn)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await _stop(await spawn)
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
            log.info("run_command %s; ending its process tree (supervisor %d)",
                     "cancelled" if cancelled else "timed out", proc.pid)
            await _stop(proc)
    finally:
        if proc.returncode is None:  # asyncio cancellation: end the tree before anything else
            await _stop(proc)
        if stopper is not None:
            stopper.cancel()
        waiter.cancel()
        try:  # every holder of the pipe is gone with the tree: EOF comes at once
            await asyncio.wait_for(asyncio.shield(reader), DRAIN_S)
        except TimeoutError:
            log.warning("run_command output still open after its tree ended")
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


def timeout_arg(args: dict[str, Any], limit: float | None = None) -> float:
    """The model's ``timeout_s``, at most ``limit`` (the user's ``agent.commandTimeoutS``,
    which is also the default)."""
    cap = min(limit, MAX_TIMEOUT_S) if limit else MAX_TIMEOUT_S
    raw = args.get("timeout_s")
    if raw is None:
        return min(DEFAULT_TIMEOUT_S, cap) if not limit else cap
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ToolError("timeout_s must be a number of seconds") from None
    if value != value:  # NaN
        raise ToolError("timeout_s must be a number of seconds")
    return min(max(value, 0.1), cap)


async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    command = str_arg(args, "command")
    if not command.strip():
        raise ToolError("command is empty")
    timeout_s = timeout_arg(args, ctx.ports.command_timeout_s)
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
