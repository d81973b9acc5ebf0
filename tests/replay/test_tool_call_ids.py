"""Tool-call ids that cross vendors are sent in the form each vendor accepts, the same every time."""

from __future__ import annotations

import re

import httpx

from minicode_lsp.agent.messages import Message, ToolCall, ToolResult
from minicode_lsp.agent.providers.fallback import FallbackChain

from .conftest import make
from .server import Canned, ReplayServer
from .wire import error, openai_text

KIMI = "functions.add:0"  # Kimi K2 style: breaks Anthropic's pattern
VLLM = "chatcmpl-tool-6a1f0c3d2b9e4f8a8c7d6e5f4a3b2c1d"  # 46 characters: breaks OpenAI's 40
OK = "toolu_01A09q90qw90lq917835lq9"


def conversation() -> list[Message]:
    return [Message(role="user", text="add"),
            Message(role="assistant", tool_calls=[ToolCall(KIMI, "run_command", {"command": "ls"}),
                                                  ToolCall(VLLM, "read_file", {"path": "a"}),
                                                  ToolCall(OK, "read_file", {"path": "b"})]),
            Message(role="tool", tool_results=[ToolResult(KIMI, "run_command", "a b"),
                                               ToolResult(VLLM, "read_file", "x"),
                                               ToolResult(OK, "read_file", "y")]),
            Message(role="user", text="go on")]


def anthropic_ids(body: dict) -> tuple[list[str], list[str]]:
    uses = [b["id"] for m in body["messages"] for b in m["content"] if b["type"] == "tool_use"]
    results = [b["tool_use_id"] for m in body["messages"] for b in m["content"] if b["type"] == "tool_result"]
    return uses, results


def openai_ids(body: dict) -> tuple[list[str], list[str]]:
    calls = [c["id"] for m in body["messages"] for c in m.get("tool_calls") or []]
    results = [m["tool_call_id"] for m in body["messages"] if m["role"] == "tool"]
    return calls, results


async def test_a_fallback_to_anthropic_sends_ids_it_accepts_paired_and_stable(
        replay: ReplayServer, client: httpx.AsyncClient) -> None:
    anthropic_reply = (b'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5}}}\n\n'
                       b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
                       b'"content_block":{"type":"text","text":""}}\n\n'
                       b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                       b'"delta":{"type":"text_delta","text":"ok"}}\n\n'
                       b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
                       b'"usage":{"output_tokens":1}}\n\n'
                       b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    for _ in range(2):  # the turn, then the same history resumed later
        replay.add(error(503, {"error": {"message": "overloaded"}}), Canned(body=anthropic_reply))
        chain = FallbackChain([make(replay, "openai", client), make(replay, "anthropic", client)])
        reply = await chain.complete(system="s", messages=conversation(), tools=[])
        assert reply.message.text == "ok"
    bodies = [r["body"] for r in replay.requests if r["path"].endswith("/messages")]
    uses, results = anthropic_ids(bodies[0])
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]+", i) for i in uses)
    assert uses == results and len(set(uses)) == 3
    assert uses[2] == OK  # an id that fits is sent as it is
    assert anthropic_ids(bodies[1]) == (uses, results)  # resumed: the very same ids


async def test_openai_gets_ids_of_at_most_40_characters(replay: ReplayServer, client: httpx.AsyncClient) -> None:
    for _ in range(2):
        replay.add(openai_text("ok"))
        await make(replay, "openai", client).complete(system="s", messages=conversation(), tools=[])
    calls, results = openai_ids(replay.requests[0]["body"])
    assert all(len(i) <= 40 for i in calls) and calls == results and len(set(calls)) == 3
    assert calls[0] == KIMI and calls[2] == OK
    assert openai_ids(replay.requests[1]["body"]) == (calls, results)
