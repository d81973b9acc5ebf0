"""Anthropic prompt caching: breakpoints on the tools, the system prompt and the conversation; cache
reads and writes reported in usage."""

from __future__ import annotations

import httpx

from minicode_lsp.agent.messages import Message, ToolSpec

from .conftest import make
from .server import Canned, ReplayServer
from .wire import anthropic_sse

TOOLS = [ToolSpec("read_file", "Read", {"type": "object"}), ToolSpec("search", "Search", {"type": "object"})]


async def test_breakpoints_and_cache_usage(replay: ReplayServer, client: httpx.AsyncClient) -> None:
    replay.add(anthropic_sse([
        {"type": "message_start", "message": {"usage": {"input_tokens": 12, "cache_creation_input_tokens": 300,
                                                        "cache_read_input_tokens": 2000, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
        {"type": "message_stop"}]))
    reply = await make(replay, "anthropic", client).complete(
        system="be brief", messages=[Message(role="user", text="a"), Message(role="assistant", text="b"),
                                     Message(role="user", text="c")], tools=TOOLS)
    body = replay.requests[0]["body"]
    assert body["system"] == [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]
    assert "cache_control" not in body["tools"][0] and body["tools"][1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["messages"][0]["content"][-1]
    u = reply.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (2312, 3, 2000, 300)
    assert u.to_dict() == {"inputTokens": 2312, "outputTokens": 3, "cacheReadTokens": 2000, "cacheWriteTokens": 300}


async def test_openai_cached_tokens_are_reported(replay: ReplayServer, client: httpx.AsyncClient) -> None:
    body = (b'data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\n'
            b'data: {"choices":[],"usage":{"prompt_tokens":2006,"completion_tokens":300,'
            b'"prompt_tokens_details":{"cached_tokens":1920}}}\n\ndata: [DONE]\n\n')
    replay.add(Canned(body=body))
    reply = await make(replay, "openai", client).complete(system="", messages=[Message(role="user", text="x")],
                                                          tools=[])
    assert (reply.usage.input_tokens, reply.usage.cache_read_tokens) == (2006, 1920)


def _strip(blocks: list) -> list:
    return [{k: v for k, v in b.items() if k != "cache_control"} for b in blocks]


async def test_the_conversation_prefix_is_stable_from_step_to_step(tmp_path, replay: ReplayServer,
                                                                   client: httpx.AsyncClient) -> None:
    import asyncio

    from minicode_lsp.agent.loop import TurnSettings, run_turn
    from tests.unit.agent.fakes import make_ports

    from .wire import anthropic_text, anthropic_thinking_then_call

    (tmp_path / "a.py").write_text("x = 1\n")
    replay.add(anthropic_thinking_then_call("read it", "sig", "read_file", {"path": "a.py"}),
               anthropic_text("x is 1"))
    fake = make_ports(tmp_path)
    out = await run_turn(prompt="what is x?", history=[], provider=make(replay, "anthropic", client),
                         ports=fake.ports, settings=TurnSettings(permission_mode="auto"), cancel=asyncio.Event())
    assert out.text == "x is 1"
    first, second = (r["body"] for r in replay.requests)
    assert first["system"] == second["system"]  # the per-step context is not in the system prompt
    # the first request's breakpoint is on the prompt, before the per-step context block
    content = first["messages"][0]["content"]
    assert content[0]["cache_control"] and content[-1]["text"].startswith("<turn-context>")
    # so the second request starts with exactly the prefix the first one cached
    assert _strip(second["messages"][0]["content"])[0] == _strip(content)[0]
    assert second["messages"][-1]["content"][-1]["text"].startswith("<turn-context>")
    assert "cache_control" in second["messages"][-1]["content"][-2]
