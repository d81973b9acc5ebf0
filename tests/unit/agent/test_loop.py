from __future__ import annotations

import asyncio
from pathlib import Path

from minicode_lsp.agent.loop import TurnSettings, run_turn
from minicode_lsp.agent.messages import Message, ToolCall, Usage
from minicode_lsp.agent.providers.base import ModelReply, ProviderError

from .fakes import FakePorts, ScriptedProvider, call, calls, make_ports, text


async def turn(fake: FakePorts, provider: ScriptedProvider, prompt: str = "do it", **settings: object):
    mode = settings.pop("permission_mode", "auto")
    history = settings.pop("history", [])
    cancel = settings.pop("cancel", None) or asyncio.Event()
    return await run_turn(
        prompt=prompt,
        history=history,  # type: ignore[arg-type]
        provider=provider,  # type: ignore[arg-type]
        ports=fake.ports,
        settings=TurnSettings(permission_mode=mode, **settings),  # type: ignore[arg-type]
        cancel=cancel,  # type: ignore[arg-type]
        instructions="Use tabs.",
        context_note="The user is looking at a.py.",
    )


async def _wait_for_pid(pidfile: Path, task: asyncio.Task) -> None:
    async with asyncio.timeout(10):
        while not pidfile.exists() or not pidfile.read_text().strip():
            assert not task.done(), task.result()
            await asyncio.sleep(0.02)


async def test_read_edit_check_answer_is_done(ws: Path, fake: FakePorts) -> None:
    (ws / "a.py").write_text("x = 1\n")
    provider = ScriptedProvider(
        call("read_file", path="a.py"),
        call("edit_file", path="a.py", old_text="x = 1", new_text="x = 2"),
        call("run_command", command="cat a.py"),
        text("Changed x to 2 and checked it."),
    )
    out = await turn(fake, provider)
    assert out.stop_reason == "done", out
    assert out.text == "Changed x to 2 and checked it."
    assert (ws / "a.py").read_text() == "x = 2\n"
    assert out.files_changed == [str(ws / "a.py")]
    assert out.steps == 4 and out.provider == "scripted" and out.verified
    assert out.usage.input_tokens == 40 and out.usage.output_tokens == 20
    assert out.messages[0] == Message(role="user", text="do it")
    assert [m.role for m in out.messages] == ["user"] + ["assistant", "tool"] * 3 + ["assistant"]
    types = fake.events.types()
    assert types.count("context.usage") == 4
    assert types.count("tool.started") == 3 and types.count("tool.finished") == 3
    changed = fake.events.of("files.changed")
    assert changed == [
        {
            "groupId": "g1",
            "uris": [(ws / "a.py").as_uri()],
            "files": [{"uri": (ws / "a.py").as_uri(), "action": "modify"}],
        }
    ]
    assert fake.events.of("text.delta")[-1] == {"text": "Changed x to 2 and checked it."}
    finished = fake.events.of("tool.finished")[1]
    assert (
        finished["name"] == "edit_file"
        and finished["isError"] is False
        and "edited a.py" in finished["summary"]
    )
    # the summary is shown alone: not "... Lines 1-1 now read:" with nothing after it
    assert finished["summary"] == "edited a.py: replaced 1 occurrence.", finished["summary"]
    assert [g.kind for g in fake.checkpoints.groups] == ["edit", "shell"]
    system = provider.requests[0].system
    assert str(ws) in system and "Use tabs." in system and "looking at a.py" in system


async def test_gate_nudges_then_read_back_is_done(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(
        call("write_file", path="new.txt", content="hello\n"),
        text("Created it."),
        call("read_file", path="new.txt"),
        text("Created and checked."),
    )
    out = await turn(fake, provider)
    assert out.stop_reason == "done" and out.verified and out.phase == "verify"
    nudge = provider.requests[2].messages[-1]
    assert nudge.role == "user" and "did not verify" in nudge.text and "new.txt" in nudge.text


async def test_gate_fails_when_model_will_not_verify(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(
        call("write_file", path="new.txt", content="hello\n"),
        text("Done."),
        text("Really done."),
    )
    out = await turn(fake, provider)
    assert out.stop_reason == "verification_failed"
    assert out.error and "new.txt" in out.error and "testCommand" in out.error  # says why and what to do


async def test_gate_runs_test_command_itself(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(call("write_file", path="a.txt", content="fixed\n"), text("Fixed."))
    out = await turn(fake, provider, test_command="grep -q fixed a.txt")
    assert out.stop_reason == "done" and out.verified
    started = fake.events.of("tool.started")[-1]
    assert started["toolCallId"] == "verify-1" and started["arguments"]["command"] == "grep -q fixed a.txt"
    assert fake.approver.asked == []


async def test_gate_test_command_failing_twice(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(
        call("write_file", path="a.txt", content="broken\n"),
        text("Fixed."),
        call("write_file", path="a.txt", content="still broken\n"),
        text("Fixed now."),
    )
    out = await turn(fake, provider, test_command="echo FAILING-TEST; false")
    assert out.stop_reason == "verification_failed"
    assert out.error and "echo FAILING-TEST; false" in out.error
    feedback = provider.requests[2].messages[-1]
    assert feedback.role == "user" and "FAILING-TEST" in feedback.text


async def test_model_running_the_test_command_satisfies_gate(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(
        call("write_file", path="a.txt", content="ok\n"),
        call("run_command", command="true"),
        text("Done and tested."),
    )
    out = await turn(fake, provider, test_command="true")
    assert out.stop_reason == "done"
    assert [d["toolCallId"] for d in fake.events.of("tool.started")][-1].startswith("call_")


async def test_plan_mode_is_read_only(ws: Path, fake: FakePorts) -> None:
    (ws / "a.py").write_text("x = 1\n")
    provider = ScriptedProvider(
        call("read_file", path="a.py"),
        call("write_file", path="a.py", content="x = 2\n"),
        text("Plan: change x to 2 in a.py."),
    )
    out = await turn(fake, provider, permission_mode="plan")
    assert out.stop_reason == "done"
    assert provider.requests[0].tools == ["read_file", "list_files", "search", "remember"]
    refusal = out.messages[4].tool_results[0]
    assert refusal.is_error and "plan mode is read-only" in refusal.content
    assert (ws / "a.py").read_text() == "x = 1\n" and fake.fs.writes == []


async def test_plan_mode_insisting_on_edits_is_blocked(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(
        call("write_file", path="a.py", content="x"),
        call("run_command", command="touch b"),
        text("unreachable"),
    )
    out = await turn(fake, provider, permission_mode="plan")
    assert out.stop_reason == "blocked" and not (ws / "b").exists()
    assert out.error and "plan mode is read-only" in out.error and "auto" in out.error, out.error  # says why


async def test_ask_mode_edit_confirmed(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(
        call("write_file", path="a.txt", content="x\n"),
        call("read_file", path="a.txt"),
        text("ok"),
    )
    out = await turn(fake, provider, permission_mode="ask")
    assert out.stop_reason == "done"
    assert fake.fs.writes[0][1] is True  # confirm=True
    assert fake.events.of("approval.requested")[0]["kind"] == "edit"


async def test_ask_mode_edit_declined_then_await_user(ws: Path) -> None:
    fake = make_ports(ws, decline=True)
    provider = ScriptedProvider(
        call("write_file", path="a.txt", content="x\n"),
        text("You declined; should I try something else?"),
    )
    out = await turn(fake, provider, permission_mode="ask")
    assert out.stop_reason == "await_user"
    assert out.error == "you declined the edit to a.txt; the agent is waiting for your next message"
    assert "declined" in out.messages[2].tool_results[0].content
    assert not (ws / "a.txt").exists() and out.files_changed == []
    # the clients are told in a field, not left to read the summary's words
    assert fake.events.of("tool.finished")[0]["declined"] is True


async def test_ask_mode_command_denied(ws: Path) -> None:
    fake = make_ports(ws, decisions=("deny",))
    provider = ScriptedProvider(call("run_command", command="touch made"), text("OK, not running it."))
    out = await turn(fake, provider, permission_mode="ask")
    assert out.stop_reason == "await_user" and out.error and "you declined the command `touch made`" in out.error
    assert out.messages[2].tool_results[0].content == "the user refused to run this command; it was not run"
    assert not (ws / "made").exists()
    assert fake.events.of("tool.finished")[0]["declined"] is True
    req = fake.events.of("approval.requested")[0]
    assert req["command"] == "touch made" and req["cwd"] == str(ws)


async def test_ask_mode_command_session_approval_is_remembered(ws: Path) -> None:
    fake = make_ports(ws, decisions=("session", "once"))
    provider = ScriptedProvider(
        call("run_command", command="echo a"),
        call("run_command", command="echo a"),
        call("run_command", command="echo b"),
        call("run_command", command="echo b"),
        text("ok"),
    )
    settings_set: set[str] = set()
    out = await turn(fake, provider, permission_mode="ask", approved_commands=settings_set)
    assert out.stop_reason == "done"
    assert fake.approver.asked == ["echo a", "echo b", "echo b"]
    assert settings_set == {"echo a"}


async def test_auto_mode_asks_nothing(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(call("run_command", command="echo hi"), text("ok"))
    out = await turn(fake, provider, permission_mode="auto")
    assert out.stop_reason == "done" and fake.approver.asked == []
    assert "approval.requested" not in fake.events.types()


async def test_max_steps(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(*[call("list_files") for _ in range(10)])
    out = await turn(fake, provider, max_steps=3)
    assert out.stop_reason == "max_steps" and out.steps == 3
    assert out.messages[-1].role == "tool"
    # the turn says why it stopped and how to go on (agent.maxSteps set this budget)
    assert out.error and out.error.startswith("the agent used this turn's whole budget of 3 steps without finishing")
    assert 'say "continue" in a follow-up' in out.error and "agent.maxSteps caps a turn at 3 steps" in out.error


async def test_single_deep_widens_once_when_progressing(ws: Path, fake: FakePorts) -> None:
    (ws / "a.txt").write_text("\n".join(str(i) for i in range(200)))
    counter = iter(range(1000))

    def reading(_: list[Message]) -> ModelReply:
        n = next(counter)
        return call("read_file", path="a.txt", start_line=n + 1, end_line=n + 1)

    provider = ScriptedProvider(*[reading] * 200)
    out = await turn(fake, provider, profile="single-deep")
    assert out.stop_reason == "max_steps" and out.steps == 100
    assert any("extended by 20" in r.system for r in provider.requests)


async def test_single_deep_no_widening_without_progress(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(*[call("list_files") for _ in range(200)])
    out = await turn(fake, provider, profile="single-deep")
    assert out.stop_reason == "max_steps" and out.steps == 80
    assert out.error and "budget of 80 steps" in out.error and "single-deep" not in out.error and "maxSteps" not in out.error


async def test_single_profile_budget(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(*[call("list_files") for _ in range(60)])
    out = await turn(fake, provider, profile="single")
    assert out.steps == 50 and out.stop_reason == "max_steps"
    assert "Step budget: 1 step left." in provider.requests[-1].system
    assert out.error and "budget of 50 steps" in out.error and "--profile single-deep" in out.error


async def test_provider_error_and_hint(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(
        ProviderError("429 Too Many Requests", status=429, hint="wait or add a fallback")
    )
    out = await turn(fake, provider)
    assert out.stop_reason == "provider_error"
    assert out.error == "429 Too Many Requests (wait or add a fallback)"
    assert fake.events.of("error")[0]["status"] == 429


async def test_context_too_long(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(ProviderError("prompt is too long", status=400, context_too_long=True))
    out = await turn(fake, provider)
    assert out.stop_reason == "context_exhausted"


async def test_unexpected_provider_exception(ws: Path, fake: FakePorts) -> None:
    def boom(_: list[Message]) -> ModelReply:
        raise RuntimeError("bug")

    out = await turn(fake, ScriptedProvider(boom))
    assert out.stop_reason == "provider_error" and "RuntimeError: bug" in (out.error or "")


async def test_unknown_tool_and_bad_json_are_results(ws: Path, fake: FakePorts) -> None:
    bad = ModelReply(
        Message(
            role="assistant",
            tool_calls=[
                ToolCall("c1", "format_disk", {}),
                ToolCall("c2", "read_file", {}, arguments_error="Expecting ',' delimiter"),
            ],
        ),
        Usage(),
    )
    out = await turn(fake, ScriptedProvider(bad, text("sorry")))
    assert out.stop_reason == "done"
    results = out.messages[2].tool_results
    assert [r.is_error for r in results] == [True, True]
    assert "unknown tool" in results[0].content and "not valid JSON" in results[1].content


async def test_repeated_confinement_refusals_block(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(*[call("read_file", path="../../etc/passwd") for _ in range(5)])
    out = await turn(fake, provider)
    assert out.stop_reason == "blocked" and out.steps == 3
    assert out.error and "was refused; the last one: '../../etc/passwd' resolves to" in out.error, out.error


async def test_cancel_during_long_command(ws: Path, fake: FakePorts) -> None:
    pidfile = ws / "pid"
    cancel = asyncio.Event()
    provider = ScriptedProvider(
        calls(("run_command", {"command": f"sleep 60 & echo $! > {pidfile}; wait"}), ("list_files", {}))
    )
    task = asyncio.create_task(turn(fake, provider, cancel=cancel))
    await _wait_for_pid(pidfile, task)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    cancel.set()
    out = await task
    assert loop.time() - t0 < 1.0
    assert out.stop_reason == "cancelled"
    results = out.messages[-1].tool_results
    assert [r.tool_call_id for r in results] == [c.id for c in out.messages[-2].tool_calls]
    assert all(r.is_error for r in results)
    from .test_run_command import _wait_gone

    assert await _wait_gone(int(pidfile.read_text()), 1.0)


async def test_task_cancellation_returns_cancelled(ws: Path, fake: FakePorts) -> None:
    pidfile = ws / "pid"
    provider = ScriptedProvider(call("run_command", command=f"sleep 60 & echo $! > {pidfile}; wait"))
    task = asyncio.create_task(turn(fake, provider))
    await _wait_for_pid(pidfile, task)
    task.cancel()
    out = await asyncio.wait_for(task, 1.5)
    assert out.stop_reason == "cancelled"
    assert fake.checkpoints.open is None  # the shell group was closed
    from .test_run_command import _wait_gone

    assert await _wait_gone(int(pidfile.read_text()), 1.0)


async def test_cancel_while_waiting_for_model(ws: Path, fake: FakePorts) -> None:
    cancel = asyncio.Event()

    async def slow(_: list[Message]) -> ModelReply:
        await asyncio.sleep(30)
        return text("late")

    task = asyncio.create_task(turn(fake, ScriptedProvider(slow), cancel=cancel))
    await asyncio.sleep(0.05)
    cancel.set()
    out = await asyncio.wait_for(task, 1.0)
    assert out.stop_reason == "cancelled" and out.messages == [Message(role="user", text="do it")]


async def test_event_sink_failure_does_not_end_turn(ws: Path, fake: FakePorts) -> None:
    async def broken(type: str, data: dict) -> None:
        raise ConnectionError("client gone")

    fake.ports.events.emit = broken  # type: ignore[method-assign]
    out = await turn(fake, ScriptedProvider(call("list_files"), text("ok")))
    assert out.stop_reason == "done"


async def test_history_is_trimmed_to_the_window(ws: Path, fake: FakePorts) -> None:
    history = []
    for i in range(40):
        history.append(Message(role="user", text=f"old question {i} " + "x" * 400))
        history.append(Message(role="assistant", text="old answer " + "y" * 400))
    provider = ScriptedProvider(text("The user asked old questions."), text("ok"))  # summary, answer
    out = await turn(fake, provider, history=history, context_window=4096)
    assert out.stop_reason == "done"
    assert provider.requests[0].tools == [] and "summary" in provider.requests[0].system
    assert "The user asked old questions." in provider.requests[1].system
    sent = provider.requests[1].messages
    assert len(sent) < len(history) + 1
    assert sent[-1].text == "do it" and sent[0].role == "user"
    usage = fake.events.of("context.usage")[0]
    assert usage["window"] == 4096 and usage["estimatedTokens"] <= 4096


async def test_files_changed_by_a_command_are_recorded_without_gate(ws: Path, fake: FakePorts) -> None:
    provider = ScriptedProvider(call("run_command", command="echo x > made.txt"), text("made it"))
    out = await turn(fake, provider)
    assert out.stop_reason == "done"
    assert out.files_changed == [str(ws / "made.txt")]
    changed = fake.events.of("files.changed")[0]
    assert changed["files"] == [{"uri": (ws / "made.txt").as_uri(), "action": "create"}]
    assert fake.checkpoints.groups[0].kind == "shell"


async def test_store_path_refused_through_the_loop(ws: Path) -> None:
    store = ws / ".minicode-store"
    store.mkdir()
    fake = make_ports(ws, forbidden=[store])
    provider = ScriptedProvider(call("write_file", path=".minicode-store/x", content="y"), text("ok"))
    out = await turn(fake, provider)
    assert out.stop_reason == "done"
    assert "store" in out.messages[2].tool_results[0].content and not (store / "x").exists()


def test_a_summary_drops_only_an_announcing_sentence() -> None:
    from minicode_lsp.agent.tools.base import ToolOutput
    from minicode_lsp.agent.tools.runner import summarize

    edited = ToolOutput("edited a.py: replaced 1 occurrence. Lines 1-2 now read:\n1\tx = 2\n")
    assert summarize(edited) == "edited a.py: replaced 1 occurrence."
    # a file read whose first line of code ends in ":" keeps it (found trying it by hand)
    assert summarize(ToolOutput("1\tdef add(a, b):\n2\t    return a + b\n")) == "1\tdef add(a, b):"
