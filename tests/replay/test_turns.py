"""Whole turns through the real httpx providers against vendor replies on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from minicode_lsp.agent.loop import TurnSettings, run_turn
from minicode_lsp.agent.messages import Message, ToolCall, ToolResult
from minicode_lsp.agent.providers.base import ProviderError
from minicode_lsp.agent.providers.fallback import FallbackChain
from tests.unit.agent.fakes import make_ports

from .conftest import make
from .server import ReplayServer
from .wire import anthropic_text, anthropic_thinking_then_call, error, openai_text


def _history(n: int) -> list[Message]:
    out: list[Message] = []
    for i in range(n):
        out += [Message(role="user", text=f"question {i}"),
                Message(role="assistant", tool_calls=[ToolCall(f"c{i}", "run_command", {"command": f"make t{i}"})]),
                Message(role="tool", tool_results=[ToolResult(f"c{i}", "run_command", "o" * 600)]),
                Message(role="assistant", text=f"answer {i}")]
    return out


async def test_llamacpp_500_context_overflow_compacts_and_retries_once_without_retrying_the_500(
        tmp_path: Path, replay: ReplayServer, client: httpx.AsyncClient) -> None:
    fake = make_ports(tmp_path)
    replay.add(error(500, {"error": {"code": 500, "type": "server_error", "message":
                                     "the request exceeds the available context size, try increasing the context "
                                     "size or enable context shift"}}),
               openai_text("summary of the earlier work"), openai_text("finished"))
    provider = make(replay, "openai", client, max_retries=2)
    out = await run_turn(prompt="go on", history=_history(6), provider=provider, ports=fake.ports,
                         settings=TurnSettings(permission_mode="auto", context_window=8192), cancel=asyncio.Event())
    assert out.stop_reason == "done" and out.text == "finished"
    assert len(replay.requests) == 3  # the overflow, the summary, the retry: the 500 was not retried
    (compacted,) = fake.events.of("context.compacted")
    assert compacted["reason"] == "context_too_long"


async def test_openrouter_wrapped_error_shows_the_upstream_reason(replay: ReplayServer,
                                                                  client: httpx.AsyncClient) -> None:
    replay.add(error(400, {"error": {"message": "Provider returned error", "code": 400, "metadata": {
        "raw": '{"error":{"message":"Model supports at most 1 image per prompt."}}', "provider_name": "Crucible"}}}))
    with pytest.raises(ProviderError) as info:
        await make(replay, "openai", client).complete(system="", messages=[Message(role="user", text="x")], tools=[])
    assert "Crucible: Model supports at most 1 image per prompt." in str(info.value)


async def test_a_failing_chain_reports_its_error_once(tmp_path: Path, replay: ReplayServer,
                                                      client: httpx.AsyncClient,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    fake = make_ports(tmp_path)
    quota = {"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
                       "type": "insufficient_quota", "code": "insufficient_quota"}}
    replay.add(error(429, quota), error(429, quota))
    chain = FallbackChain([make(replay, "openai", client, name="first", max_retries=2),
                           make(replay, "openai", client, name="second", max_retries=2)])
    caplog.set_level("INFO")
    out = await run_turn(prompt="hi", history=[], provider=chain, ports=fake.ports,
                         settings=TurnSettings(permission_mode="auto"), cancel=asyncio.Event())
    assert out.stop_reason == "provider_error"
    assert len(replay.requests) == 2  # quota is not retried; the fallback was tried once
    (err,) = fake.events.of("error")
    shown = err["message"] + " " + err["hint"]
    assert shown.count("out of quota") == 1
    warnings = [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    assert len(warnings) == 1


async def test_waiting_for_a_loading_model_is_shown(tmp_path: Path, replay: ReplayServer,
                                                    client: httpx.AsyncClient) -> None:
    from minicode_lsp.agent.providers import _transport

    fake = make_ports(tmp_path)
    reply = openai_text("loaded")
    reply.hold_s = 0.5  # the server says nothing for half a second (a model loading)
    replay.add(reply)
    tick, _transport.WAIT_TICK_S = _transport.WAIT_TICK_S, 0.1
    try:
        out = await run_turn(prompt="hi", history=[], provider=make(replay, "openai", client), ports=fake.ports,
                             settings=TurnSettings(permission_mode="auto"), cancel=asyncio.Event())
    finally:
        _transport.WAIT_TICK_S = tick
    assert out.text == "loaded"
    waits = fake.events.of("model.waiting")
    assert len(waits) >= 2 and all(w["provider"] == "openai-replay" for w in waits)
    types = [t for t, _ in fake.events.events]
    assert types.index("text.delta") > max(i for i, t in enumerate(types) if t == "model.waiting")


async def test_thinking_is_a_thought_and_goes_back_with_its_signature(tmp_path: Path, replay: ReplayServer,
                                                                      client: httpx.AsyncClient) -> None:
    fake = make_ports(tmp_path)
    (tmp_path / "a.py").write_text("x = 1\n")
    replay.add(anthropic_thinking_then_call("I should read a.py first.", "sig-EqQBCgIYAh", "read_file",
                                            {"path": "a.py"}),
               anthropic_text("x is 1."))
    out = await run_turn(prompt="what is x?", history=[], provider=make(replay, "anthropic", client),
                         ports=fake.ports, settings=TurnSettings(permission_mode="auto"), cancel=asyncio.Event())
    assert out.text == "x is 1."
    assert "".join(e["text"] for e in fake.events.of("thought.delta")) == "I should read a.py first."
    assert "I should read" not in "".join(e["text"] for e in fake.events.of("text.delta"))
    second = replay.requests[1]["body"]["messages"]
    assistant = next(m for m in second if m["role"] == "assistant")
    assert assistant["content"][0] == {"type": "thinking", "thinking": "I should read a.py first.",
                                       "signature": "sig-EqQBCgIYAh"}
    assert assistant["content"][1]["type"] == "tool_use"
    # stored with the turn, so a resumed session sends it back too
    assert out.messages[1].reasoning == [assistant["content"][0]]
