"""Finding 2 (second half): the verification gate's testCommand is a command like any other:
approved in ask mode, never run in plan mode, shown in the transcript."""

from __future__ import annotations

import asyncio
from pathlib import Path

from minicode_lsp.agent.loop import TurnSettings, run_turn

from ..unit.agent.fakes import FakePorts, ScriptedProvider, call, make_ports, text


async def _turn(fake: FakePorts, provider: ScriptedProvider, mode: str, test_command: str):  # type: ignore[no-untyped-def]
    return await run_turn(prompt="fix it", history=[], provider=provider, ports=fake.ports,  # type: ignore[arg-type]
                          settings=TurnSettings(permission_mode=mode, test_command=test_command),  # type: ignore[arg-type]
                          cancel=asyncio.Event())


def _edit_then_answer() -> ScriptedProvider:
    return ScriptedProvider(call("write_file", path="a.txt", content="fixed\n"), text("Fixed."))


async def test_ask_mode_asks_before_the_gate_runs_the_test_command(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    fake = make_ports(ws, decisions=("deny",))
    command = f"touch {ws / 'PWNED'}"
    out = await _turn(fake, _edit_then_answer(), "ask", command)
    assert fake.approver.asked == [command]
    assert not (ws / "PWNED").exists(), "the test command ran without the user's approval"
    assert out.stop_reason == "await_user" and out.error and "declined" in out.error
    requested = [e for e in fake.events.of("approval.requested") if e.get("kind") == "command"]
    assert requested and requested[0]["command"] == command


async def test_an_approved_test_command_runs_and_is_in_the_transcript(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    fake = make_ports(ws, decisions=("once",))
    out = await _turn(fake, _edit_then_answer(), "ask", "grep -q fixed a.txt")
    assert out.stop_reason == "done" and out.verified
    started = [e for e in fake.events.of("tool.started") if e["name"] == "run_command"]
    assert started and started[-1]["arguments"]["command"] == "grep -q fixed a.txt"


async def test_plan_mode_never_runs_the_test_command(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    fake = make_ports(ws)
    out = await _turn(fake, _edit_then_answer(), "plan", f"touch {ws / 'PWNED'}")
    assert not (ws / "PWNED").exists() and not (ws / "a.txt").exists()
    assert out.stop_reason != "verification_failed"
