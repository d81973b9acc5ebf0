from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from minicode_lsp.agent.budget import TokenCounter
from minicode_lsp.agent.compaction import ContextManager, fallback_summary
from minicode_lsp.agent.loop import TurnSettings, run_turn
from minicode_lsp.agent.messages import Message, ToolCall, ToolResult, Usage
from minicode_lsp.agent.providers.base import ProviderError

from .fakes import FakePorts, ScriptedProvider, call, text


def exchange(i: int, size: int = 600) -> list[Message]:
    return [
        Message(role="user", text=f"question {i}"),
        Message(role="assistant", tool_calls=[ToolCall(f"c{i}", "run_command", {"command": f"make t{i}"})]),
        Message(role="tool", tool_results=[ToolResult(f"c{i}", "run_command", f"exit {i}\n" + "o" * size)]),
        Message(role="assistant", tool_calls=[ToolCall(f"e{i}", "edit_file", {"path": f"f{i}.py"})]),
        Message(role="tool", tool_results=[ToolResult(f"e{i}", "edit_file", f"edited f{i}.py")]),
        Message(role="assistant", text=f"answer {i}"),
    ]


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def emit(self, type: str, data: dict[str, Any]) -> None:
        self.events.append((type, data))

    def of(self, type: str) -> list[dict[str, Any]]:
        return [d for t, d in self.events if t == type]


def manager(provider: ScriptedProvider, sink: Sink, window: int = 4096, state: dict | None = None) -> ContextManager:
    return ContextManager(provider=provider, window=window, threshold=0.8, emit=sink.emit,  # type: ignore[arg-type]
                          usage=Usage(), cancel=asyncio.Event(), state=state)


def paired(messages: list[Message]) -> bool:
    calls = {tc.id for m in messages for tc in m.tool_calls}
    results = {tr.tool_call_id for m in messages for tr in m.tool_results}
    return calls == results


def test_fallback_summary_lists_prompts_files_commands() -> None:
    msgs = exchange(1) + exchange(2)
    s = fallback_summary("earlier stuff", msgs, 4000)
    assert "question 1" in s and "question 2" in s and "earlier stuff" in s
    assert "f1.py (edit_file)" in s and "f2.py (edit_file)" in s
    assert "`make t1` -> ok: exit 1" in s and "answer 2" in s
    assert len(fallback_summary("", msgs * 50, 500)) <= 500


async def test_under_threshold_nothing_is_compacted() -> None:
    sink, provider = Sink(), ScriptedProvider()
    conv = exchange(0, size=100)
    req = await manager(provider, sink).prepare(conv, head="sys", memory="", tools=[])
    assert req is not None and req.messages == conv and provider.requests == []
    assert sink.of("context.compacted") == []
    usage = sink.of("context.usage")[0]
    assert usage["window"] == 4096 and usage["ratio"] == round(usage["estimatedTokens"] / 4096, 3)


async def test_compaction_with_model_summary_keeps_tail_memory_and_pairs() -> None:
    sink = Sink()
    provider = ScriptedProvider(text("SUMMARY: ran make, edited files"))
    conv = [m for i in range(20) for m in exchange(i)] + [Message(role="user", text="the new prompt")]
    cm = manager(provider, sink)
    req = await cm.prepare(conv, head="HEAD", memory="Working memory: goal X", tools=[])
    assert req is not None
    (done,) = sink.of("context.compacted")
    assert done["method"] == "model" and done["reason"] == "threshold"
    assert done["afterTokens"] < done["beforeTokens"] and done["afterTokens"] <= 4096 * 0.8
    assert req.estimated <= 4096 * 0.8
    assert done["droppedMessages"] == cm.state.covered and conv[cm.state.covered].role != "tool"
    assert provider.requests[0].tools == [] and "question 0" in provider.requests[0].messages[0].text
    assert "HEAD" in req.system and "goal X" in req.system and "SUMMARY: ran make" in req.system
    assert req.messages[-1].text == "the new prompt" and req.messages[-2].text == "answer 19"  # the tail, intact
    assert paired(req.messages) and req.messages[0].role == "user"
    # a second request reuses the summary: no new summary call
    again = await cm.prepare(conv, head="HEAD", memory="", tools=[])
    assert again is not None and len(provider.requests) == 1 and again.messages == req.messages


async def test_failed_summary_call_falls_back() -> None:
    sink = Sink()
    provider = ScriptedProvider(ProviderError("boom", status=500))
    conv = [m for i in range(20) for m in exchange(i)]
    req = await manager(provider, sink).prepare(conv, head="HEAD", memory="", tools=[])
    assert req is not None
    assert sink.of("context.compacted")[0]["method"] == "fallback"
    assert "without the model" in req.system and "make t14" in req.system


async def test_state_carries_to_the_next_turn_and_is_dropped_when_history_differs() -> None:
    sink = Sink()
    conv = [m for i in range(20) for m in exchange(i)]
    cm = manager(ScriptedProvider(text("S1")), sink)
    await cm.prepare(conv, head="h", memory="", tools=[])
    state = cm.state.to_dict()
    nxt = manager(ScriptedProvider(), Sink(), state=state)
    nxt.restore(conv + [Message(role="user", text="more")])
    assert nxt.state.covered == state["covered"] and nxt.state.summary == "S1"
    other = manager(ScriptedProvider(), Sink(), state=state)
    other.restore(exchange(0))  # a shorter, different history
    assert other.state.covered == 0 and other.state.summary == ""


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["u", "a", "t", "tt"]), min_size=2, max_size=40), st.integers(1024, 6000))
def test_compaction_never_separates_calls_from_results(shape: list[str], window: int) -> None:
    conv: list[Message] = []
    for i, k in enumerate(shape):
        if k == "u":
            conv.append(Message(role="user", text="u" * 300))
        elif k == "a":
            conv.append(Message(role="assistant", text="a" * 300))
        else:
            ids = [f"c{i}-{j}" for j in range(len(k))]
            conv.append(Message(role="assistant", tool_calls=[ToolCall(c, "read_file", {}) for c in ids]))
            conv.append(Message(role="tool", tool_results=[ToolResult(c, "read_file", "r" * 900) for c in ids]))
    cm = manager(ScriptedProvider(text("s")), Sink(), window=window)
    req = asyncio.run(cm.prepare(conv, head="h", memory="", tools=[]))
    assert req is not None and paired(req.messages)
    covered = conv[: cm.state.covered]
    assert paired(covered)
    assert req.messages[-1] is conv[-1]


def test_token_counter_calibrates_and_ignores_outliers() -> None:
    c = TokenCounter.for_provider("openai")
    m = Message(role="user", text="x" * 700)
    assert c.message(m) == 4 + 200 and c.message(m) == 204  # cached
    c.calibrate(1000, 1200)
    assert c.ratio == 1.2 and c.scale(1000) == 1200
    c.calibrate(1000, 10)  # a provider reporting almost nothing: not believed
    assert c.ratio == 1.2
    c.calibrate(1000, 1000)
    assert 1.0 < c.ratio < 1.2
    c.too_low()
    assert c.ratio > 1.1


def _history(n: int) -> list[Message]:
    return [m for i in range(n) for m in exchange(i)]


async def _turn(fake: FakePorts, provider: ScriptedProvider, history: list[Message]):
    return await run_turn(prompt="go on", history=history, provider=provider,  # type: ignore[arg-type]
                          ports=fake.ports, settings=TurnSettings(permission_mode="auto", context_window=8192),
                          cancel=asyncio.Event())


async def test_context_too_long_compacts_and_retries_once(ws: Path, fake: FakePorts) -> None:
    too_long = ProviderError("prompt is too long", status=400, context_too_long=True)
    provider = ScriptedProvider(too_long, text("summary"), call("list_files"), text("finished"))
    out = await _turn(fake, provider, _history(6))  # under the threshold: only the provider's error compacts
    assert out.stop_reason == "done" and out.text == "finished"
    (compacted,) = fake.events.of("context.compacted")
    assert compacted["reason"] == "context_too_long" and compacted["method"] == "model"
    assert out.working_memory["context"]["covered"] == compacted["coveredMessages"]
    assert paired(provider.requests[2].messages) and provider.requests[2].messages[-1].text == "go on"


async def test_context_too_long_twice_is_context_exhausted(ws: Path, fake: FakePorts) -> None:
    too_long = ProviderError("prompt is too long", status=400, context_too_long=True)
    provider = ScriptedProvider(too_long, text("summary"), too_long)
    out = await _turn(fake, provider, _history(6))
    assert out.stop_reason == "context_exhausted"
    assert len(fake.events.of("context.compacted")) == 1


async def test_context_too_long_with_nothing_to_compact_is_exhausted(ws: Path, fake: FakePorts) -> None:
    too_long = ProviderError("prompt is too long", status=400, context_too_long=True)
    provider = ScriptedProvider(too_long)
    out = await _turn(fake, provider, [])
    assert out.stop_reason == "context_exhausted" and len(provider.requests) == 1
