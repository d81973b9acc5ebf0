"""run_command: ``bash -c`` in the workspace root, its whole process tree contained.

Each command runs under a supervisor process (``supervisor.py``, a child subreaper) that
owns every process the command starts, detached or not (``&``, ``nohup``, ``setsid``, a
double fork). In a turn (``Ports.processes`` set), the processes a command leaves behind
when bash exits keep running until the turn ends, or the command's time
(``agent.commandTimeoutS`` at most) is up, whichever comes first; the files they change
meanwhile count as that command's (``TurnCheckpoints``; while processes of several
commands run, as a group naming them all). A command that matches
``agent.keepRunning`` (a dev server) is not ended with the turn nor on its timeout: it runs
until the server exits, and the transcript says so. Without a turn (``processes`` None)
they end with bash. The server dying ends them all. Output so far is still returned; it is
capped (head and tail kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
    # bash exited (or, kept, still runs) while processes it started run on: hand to ``CommandProcesses``
    lingering: Lingering | None = None


@dataclass
class Lingering:
    """A command whose processes still run under its supervisor after ``run_shell`` returned."""

    command: str
    proc: asyncio.subprocess.Process
    reader: asyncio.Task[None]
    deadline: float  # time.monotonic() when the command's time is up
    keep: bool = False  # agent.keepRunning: runs until the server exits
    _timer: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def stop(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        if self.alive:
            await _stop(self.proc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.reader), DRAIN_S)
        self.reader.cancel()


# Commands kept past their turn (agent.keepRunning): their supervisors end them when the
# server process exits (their control pipe reaches EOF), however it exits.
KEPT: list[Lingering] = []


class CommandProcesses:
    """A turn's commands whose processes still run after bash exited."""

    def __init__(self, keep_running: list[str] | tuple[str, ...] = ()) -> None:
        self.keep_running = [p.strip() for p in keep_running if p.strip()]
        self._live: list[Lingering] = []
        self._kept: list[Lingering] = []  # this turn's kept commands (their changes count until it ends)
        self._last: Lingering | None = None  # adopted since the last ``take_left``

    def keeps(self, command: str) -> bool:
        """Whether ``command`` matches an ``agent.keepRunning`` pattern (a glob on the whole command)."""
        text = command.strip()
        return any(fnmatch.fnmatchcase(text, pattern) for pattern in self.keep_running)

    def adopt(self, handle: Lingering) -> None:
        self._last = handle
        if handle.keep:
            KEPT[:] = [h for h in KEPT if h.alive] + [handle]
            self._kept.append(handle)
            return
        self._live.append(handle)
        handle._timer = asyncio.ensure_future(self._end_at_deadline(handle))

    @staticmethod
    async def _end_at_deadline(handle: Lingering) -> None:
        await asyncio.sleep(max(0.0, handle.deadline - time.monotonic()))
        log.info("the processes of %r reached the command's time limit; ending them", handle.command[:80])
        await handle.stop()

    def take_left(self) -> Callable[[], bool] | None:
        """Whether the processes the command that just returned left behind still run (a
        callable: asked again later); None when it left none. Its changes are told apart
        from other commands' by this (``TurnCheckpoints``)."""
        handle, self._last = self._last, None
        if handle is None:
            return None
        return lambda: handle.alive

    def alive(self) -> bool:
        """Whether processes this turn's commands left (kept ones included) still run."""
        return any(h.alive for h in self._live) or any(h.alive for h in self._kept)

    async def end_turn(self) -> None:
        """End every process the turn's commands left running (not the kept ones)."""
        live, self._live, self._kept = self._live, [], []
        await asyncio.gather(*(h.stop() for h in live), return_exceptions=True)


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


async def _spawn(command: str, cwd: Path, env: dict[str, str] | None,
                 report: int | None = None) -> asyncio.subprocess.Process:
    linger = ["--linger", str(report)] if report is not None else []
    return await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-S", str(SUPERVISOR), *linger, command,
        cwd=str(cwd), env=env,
        stdin=asyncio.subprocess.PIPE,  # the control pipe: a line or EOF ends the tree
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        pass_fds=(report,) if report is not None else (),
    )  # fmt: skip


def _bash_exit(fd: int) -> asyncio.Future[int | None]:
    """bash's exit code as the supervisor reports it on ``fd`` when leftovers keep running;
    None when it closes the pipe without one (it exited: its own status says it all)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[int | None] = loop.create_future()
    data = bytearray()

    def readable() -> None:
        try:
            chunk = os.read(fd, 64)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        data.extend(chunk)
        if not chunk or b"\n" in data:
            loop.remove_reader(fd)
            if not fut.done():
                text = bytes(data).split(b"\n", 1)[0].strip()
                fut.set_result(int(text) if text.isdigit() else None)

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)

    def close(_: object) -> None:
        loop.remove_reader(fd)
        os.close(fd)

    fut.add_done_callback(close)
    return fut


async def run_shell(
    command: str,
    *,
    cwd: Path,
    env: dict[str, str] | None,
    timeout_s: float,
    cancel: asyncio.Event | None = None,
    cap: int = OUTPUT_CAP,
    linger: bool = False,
    keep: bool = False,
) -> ShellResult:
    """Run ``bash -c command`` under a supervisor (``supervisor.py``) that owns every process
    the command starts. They all end when bash exits, on timeout, on cancel, when this
    coroutine is cancelled and when the server dies; but with ``linger``, the processes bash
    leaves behind keep running and come back as ``ShellResult.lingering`` (the caller ends
    them), and with ``keep`` (``agent.keepRunning``) a command still running at its timeout
    is left running the same way instead of being ended."""
    started = time.monotonic()
    report_r = report_w = None
    if linger or keep:
        report_r, report_w = os.pipe()
    spawn = asyncio.ensure_future(_spawn(command, cwd, env, report_w))
    try:
        # Shielded: cancelled mid-spawn, asyncio would kill the supervisor but not its tree.
        proc = await asyncio.shield(spawn)
    except BaseException:
        if report_r is not None:
            os.close(report_r)
        if not spawn.cancelled() and spawn.done() and spawn.exception() is None:
            with contextlib.suppress(Exception):
                await _stop(spawn.result())
        elif not spawn.done():
            with contextlib.suppress(Exception):
                await _stop(await spawn)
        raise
    finally:
        if report_w is not None:
            os.close(report_w)
    out = _CappedOutput(cap)

    async def pump() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            out.add(chunk)

    reader = asyncio.create_task(pump())
    waiter = asyncio.ensure_future(_exited(proc))
    reported = _bash_exit(report_r) if report_r is not None else None
    stopper = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    timed_out = cancelled = False
    lingering: Lingering | None = None
    exit_code: int | None = None
    try:
        pending = {f for f in (waiter, stopper, reported) if f is not None}
        deadline = started + timeout_s
        while True:
            done, _ = await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()),
                                         return_when=asyncio.FIRST_COMPLETED)
            if reported is not None and reported in done:
                pending.discard(reported)
                if reported.result() is not None and proc.returncode is None:  # bash exited, leftovers run
                    exit_code = reported.result()
                    lingering = Lingering(command, proc, reader, deadline, keep=keep)
                    break
                continue
            break
        if lingering is None and waiter not in done:
            cancelled = stopper is not None and stopper in done
            timed_out = not cancelled
            if timed_out and keep:  # a dev server: it keeps running until the server exits
                lingering = Lingering(command, proc, reader, deadline, keep=True)
            else:
                log.info("run_command %s; ending its process tree (supervisor %d)",
                         "cancelled" if cancelled else "timed out", proc.pid)
                await _stop(proc)
    finally:
        if proc.returncode is None and lingering is None:  # asyncio cancellation: end the tree first
            await _stop(proc)
        if stopper is not None:
            stopper.cancel()
        if reported is not None:
            reported.cancel()
        waiter.cancel()
        if lingering is None:
            try:  # every holder of the pipe is gone with the tree: EOF comes at once
                await asyncio.wait_for(asyncio.shield(reader), DRAIN_S)
            except TimeoutError:
                log.warning("run_command output still open after its tree ended")
            reader.cancel()
        else:  # what bash wrote before it exited is in the pipe already; later output is not shown
            await asyncio.sleep(0.05)
    text, omitted = out.text(), out.omitted
    if lingering is not None and lingering.keep and timed_out:
        timed_out = False
    return ShellResult(
        output=text,
        exit_code=proc.returncode if lingering is None else exit_code,
        timed_out=timed_out,
        cancelled=cancelled,
        omitted_bytes=omitted,
        lingering=lingering,
    )


def format_result(command: str, r: ShellResult, timeout_s: float) -> str:
    lines = [f"$ {command}", r.output.rstrip("\n")] if r.output.strip() else [f"$ {command}", "(no output)"]
    if r.lingering is not None and r.lingering.keep:
        running = "still running" if r.exit_code is None else f"exit code {r.exit_code}; processes it started still run"
        lines.append(f"[{running}: kept running (agent.keepRunning) until the server exits; later output is not shown]")
    elif r.lingering is not None:
        lines.append(f"[exit code {r.exit_code}; processes it started still run: they are ended when this turn ends "
                     f"or {timeout_s:g} s after the command started; the files they change count as this command's, "
                     "or, while processes of other commands run too, as all of theirs]")
    elif r.timed_out:
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
    processes: CommandProcesses | None = ctx.ports.processes
    keep = processes is not None and processes.keeps(command)
    try:
        r = await run_shell(
            command, cwd=ctx.root, env=ctx.ports.command_env, timeout_s=timeout_s, cancel=ctx.cancel,
            linger=processes is not None, keep=keep,
        )
    except OSError as e:
        raise ToolError(f"could not start the command: {e}") from None
    if r.lingering is not None and processes is not None:
        processes.adopt(r.lingering)
    return ToolOutput(
        format_result(command, r, timeout_s),
        is_error=r.timed_out or r.cancelled,
        meta={
            "exit_code": r.exit_code,
            "timed_out": r.timed_out,
            "cancelled": r.cancelled,
            "command": command,
            "still_running": r.lingering is not None,
        },
    )
