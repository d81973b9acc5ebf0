from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from minicode_lsp.agent.tools.base import ToolContext
from minicode_lsp.agent.tools.run_command import OUTPUT_CAP, run_shell

from .fakes import FakePorts, make_ports, run_tool


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


async def _wait_gone(pid: int, within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_output_and_exit_code(ws: Path, fake: FakePorts) -> None:
    out = await run_tool(fake, "run_command", command="echo hello; pwd; exit 3")
    assert not out.is_error
    assert "hello" in out.content and str(ws) in out.content
    assert "[exit code 3]" in out.content and out.meta["exit_code"] == 3


async def test_env_is_the_given_one(ws: Path) -> None:
    fake = make_ports(ws, command_env={"PATH": os.environ["PATH"], "ONLY": "this"})
    os.environ["MINICODE_TEST_SECRET"] = "s3cret"
    try:
        out = await run_tool(fake, "run_command", command="env")
    finally:
        del os.environ["MINICODE_TEST_SECRET"]
    assert "ONLY=this" in out.content and "s3cret" not in out.content


async def test_timeout_kills_group_and_keeps_output(ws: Path, fake: FakePorts) -> None:
    pidfile = ws / "child.pid"
    start = time.monotonic()
    out = await run_tool(
        fake, "run_command", command=f"echo started; sleep 60 & echo $! > {pidfile}; wait", timeout_s=0.5
    )
    assert time.monotonic() - start < 3
    assert out.is_error and out.meta["timed_out"]
    assert "started" in out.content and "timed out" in out.content
    assert await _wait_gone(int(pidfile.read_text()))


async def test_background_child_does_not_hang(ws: Path, fake: FakePorts) -> None:
    start = time.monotonic()
    out = await run_tool(fake, "run_command", command="sleep 30 & echo bg", timeout_s=10)
    assert time.monotonic() - start < 3
    assert "bg" in out.content


async def test_output_cap_keeps_head_and_tail(ws: Path, fake: FakePorts) -> None:
    out = await run_tool(
        fake, "run_command", command="echo FIRST; head -c 200000 /dev/zero | tr '\\0' x; echo; echo LAST"
    )
    assert "FIRST" in out.content and "LAST" in out.content
    assert "bytes of output omitted" in out.content
    assert len(out.content) < OUTPUT_CAP + 500


async def test_cancel_event_kills_group_fast(ws: Path, fake: FakePorts) -> None:
    pidfile = ws / "child.pid"
    cancel = asyncio.Event()
    ctx = ToolContext(ports=fake.ports, cancel=cancel)
    from minicode_lsp.agent.messages import ToolCall
    from minicode_lsp.agent.tools.registry import dispatch

    task = asyncio.create_task(
        dispatch(ToolCall("c", "run_command", {"command": f"sleep 60 & echo $! > {pidfile}; wait"}), ctx)
    )
    while not pidfile.exists() or not pidfile.read_text().strip():
        await asyncio.sleep(0.02)
    t0 = time.monotonic()
    cancel.set()
    out = await task
    assert time.monotonic() - t0 < 1.0
    assert out.meta["cancelled"] and "cancelled" in out.content
    assert await _wait_gone(int(pidfile.read_text()), 1.0)


async def test_task_cancellation_kills_group(ws: Path) -> None:
    pidfile = ws / "child.pid"
    task = asyncio.create_task(
        run_shell(f"sleep 60 & echo $! > {pidfile}; wait", cwd=ws, env=None, timeout_s=60)
    )
    while not pidfile.exists() or not pidfile.read_text().strip():
        await asyncio.sleep(0.02)
    t0 = time.monotonic()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert time.monotonic() - t0 < 1.0
    assert await _wait_gone(int(pidfile.read_text()), 1.0)
