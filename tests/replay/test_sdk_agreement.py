"""The same recorded bytes, parsed by the vendor's own SDK and by our provider, give the same reply.

The official ``openai`` and ``anthropic`` Python SDKs are test-only dependencies; each reads
the fixture from the same 127.0.0.1 replay server (whole, in pieces, with CRLF) as ours does.
Fixtures whose shape the SDK itself gets wrong (Ollama's parallel calls at one index) or
that only we read (reasoning fields the SDK drops) are compared with their independent
expectations in test_replay.py instead.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from minicode_lsp.agent.messages import Message

from .conftest import make
from .fixtures import ROOT, load
from .server import ReplayServer
from .test_replay import _canned

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

AGREE = ["anthropic/sdk_basic_response", "anthropic/sdk_tool_use_response", "anthropic/thinking_stream",
         "openai/parallel_tool_calls", "openrouter/keepalive_comments", "llamacpp/stream_with_timings",
         "deepseek/reasoning_content_stream"]


async def _sdk(kind: str, replay: ReplayServer, http: httpx.AsyncClient) -> dict[str, Any]:
    if kind == "openai":
        client = openai.AsyncOpenAI(base_url=replay.base_url + "/v1", api_key="sk-x", max_retries=0,
                                    http_client=http)
        async with client.chat.completions.stream(model="m", messages=[{"role": "user", "content": "hi"}]) as s:
            done = await s.get_final_completion()
        msg = done.choices[0].message
        calls = [{"id": c.id, "name": c.function.name, "arguments": json.loads(c.function.arguments)}
                 for c in msg.tool_calls or []]
        usage = [done.usage.prompt_tokens, done.usage.completion_tokens] if done.usage else None
        return {"text": msg.content or "", "calls": calls, "finish": done.choices[0].finish_reason, "usage": usage}
    client = anthropic.AsyncAnthropic(base_url=replay.base_url, api_key="sk-x", max_retries=0)
    async with client.messages.stream(model="m", max_tokens=100,
                                      messages=[{"role": "user", "content": "hi"}]) as s:
        final = await s.get_final_message()
    await client.close()
    text = "".join(b.text for b in final.content if b.type == "text")
    calls = [{"id": b.id, "name": b.name, "arguments": b.input} for b in final.content if b.type == "tool_use"]
    u = final.usage
    usage = [u.input_tokens + (u.cache_creation_input_tokens or 0) + (u.cache_read_input_tokens or 0),
             u.output_tokens]
    thinking = "".join(b.thinking for b in final.content if b.type == "thinking")
    return {"text": text, "calls": calls, "finish": final.stop_reason, "usage": usage, "thinking": thinking}


@pytest.mark.parametrize("mode", ["pieces", "crlf"])  # "whole" is the easy case of "pieces"
@pytest.mark.parametrize("name", AGREE)
async def test_our_parse_agrees_with_the_vendor_sdk(name: str, mode: str, replay: ReplayServer,
                                                   client: httpx.AsyncClient) -> None:
    fx = load(ROOT / f"{name}.json")
    replay.add(_canned(fx, mode))
    theirs = await _sdk(fx.kind, replay, client)
    replay.add(_canned(fx, mode))
    thoughts: list[str] = []

    async def on_thought(t: str) -> None:
        thoughts.append(t)

    reply = await make(replay, fx.kind, client).complete(system="", messages=[Message(role="user", text="hi")],
                                                         tools=[], on_thought=on_thought)
    ours = {"text": reply.message.text, "finish": reply.finish_reason,
            "calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in reply.message.tool_calls],
            "usage": [reply.usage.input_tokens, reply.usage.output_tokens]}
    assert ours["text"] == theirs["text"]
    assert ours["calls"] == theirs["calls"]
    assert ours["finish"] == theirs["finish"]
    if theirs["usage"] is not None:
        assert ours["usage"] == theirs["usage"]
    if theirs.get("thinking"):
        assert "".join(thoughts) == theirs["thinking"]
