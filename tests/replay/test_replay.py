"""Recorded vendor traffic replayed through our real httpx providers: whole, in small pieces, with CRLF.

Every fixture under ``fixtures/`` names its public source; the expected values were derived
from that source (the vendor's documented or SDK-parsed result), not from our parser.
"""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from minicode_lsp.agent.messages import Message
from minicode_lsp.agent.providers.base import ProviderError

from .conftest import make
from .fixtures import Fixture, all_fixtures
from .server import Canned, ReplayServer, crlf

FIXTURES = all_fixtures()
MODES = ["whole", "pieces", "crlf"]


def _canned(fx: Fixture, mode: str) -> Canned:
    body = crlf(fx.body) if mode == "crlf" else fx.body
    headers = {"content-type": fx.content_type}
    if mode != "pieces":
        return Canned(fx.status, headers, body, piece=0 if mode == "whole" else 64)
    rng = random.Random(fx.name)  # 1-64-byte pieces, the same cut every run
    parts, i = [], 0
    while i < len(body):
        n = rng.randint(1, 64)
        parts.append(body[i:i + n])
        i += n
    return Canned(fx.status, headers, parts)


def test_every_fixture_names_its_public_source() -> None:
    assert len(FIXTURES) >= 2
    for fx in FIXTURES:
        assert fx.source.startswith("https://"), fx.name
        assert fx.expect, fx.name


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fx", FIXTURES, ids=[f.name for f in FIXTURES])
async def test_replay(fx: Fixture, mode: str, replay: ReplayServer, client: httpx.AsyncClient) -> None:
    replay.add(_canned(fx, mode))
    provider = make(replay, fx.kind, client)
    shown: list[str] = []
    thoughts: list[str] = []

    async def on_text(t: str) -> None:
        shown.append(t)

    kwargs: dict[str, Any] = {}
    if "thought" in fx.expect:
        async def on_thought(t: str) -> None:
            thoughts.append(t)
        kwargs["on_thought"] = on_thought
    want = fx.expect
    if "error" in want:
        with pytest.raises(ProviderError) as info:
            await provider.complete(system="s", messages=[Message(role="user", text="hi")], tools=[],
                                    on_text=on_text, **kwargs)
        err, exp = info.value, want["error"]
        for key in ("context_too_long", "retryable", "status", "quota"):
            if key in exp:
                assert getattr(err, key) == exp[key], (key, str(err))
        if "hint_has" in exp:
            assert exp["hint_has"] in err.hint, err.hint
        return
    reply = await provider.complete(system="s", messages=[Message(role="user", text="hi")], tools=[],
                                    on_text=on_text, **kwargs)
    msg = reply.message
    if "text" in want:
        assert msg.text == want["text"]
        assert "".join(shown) == want["text"]
    if "thought" in want:
        assert "".join(thoughts) == want["thought"]
    if "tool_calls" in want:
        got = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in msg.tool_calls]
        exp_calls = [{k: c[k] for k in ("id", "name", "arguments") if k in c} for c in want["tool_calls"]]
        got = [{k: g[k] for k in e} for g, e in zip(got, exp_calls, strict=False)]
        assert len(msg.tool_calls) == len(want["tool_calls"])
        assert got == exp_calls
        assert all(c.arguments_error is None for c in msg.tool_calls)
    if "finish_reason" in want:
        assert reply.finish_reason == want["finish_reason"]
    if "usage" in want:
        assert [reply.usage.input_tokens, reply.usage.output_tokens] == want["usage"]
    if "cache" in want:
        assert [reply.usage.cache_read_tokens, reply.usage.cache_write_tokens] == want["cache"]
