"""The fallback chain over two scripted servers and the real httpx client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from minicode_lsp.agent.messages import Message
from minicode_lsp.agent.providers import FallbackChain, make_provider
from minicode_lsp.agent.providers.base import ProviderError
from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import FakeSleep, MakeProvider, spec_for

USER = [Message(role="user", text="hi")]


@pytest.fixture
def secondary() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as srv:
        yield srv


class Recorder:
    def __init__(self) -> None:
        self.switches: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    async def on_fallback(self, src: str, dst: str, reason: str) -> None:
        self.switches.append((src, dst, reason))

    async def on_text(self, t: str) -> None:
        self.text.append(t)


async def test_primary_500_falls_back_to_secondary(server: ScriptedModelServer, secondary: ScriptedModelServer,
                                                   make_provider: MakeProvider, sleep: FakeSleep) -> None:
    server.enqueue(*[{"fault": "500"}] * 3)
    secondary.enqueue({"text": "from the secondary", "tool_calls": [{"name": "read_file",
                                                                      "arguments": {"path": "x"}}]})
    rec = Recorder()
    chain = FallbackChain([make_provider("openai", name="primary", max_retries=2),
                           make_provider("anthropic", secondary, name="secondary")], rec.on_fallback)
    reply = await chain.complete(system="s", messages=USER, tools=[], on_text=rec.on_text)
    assert reply.message.text == "from the secondary"
    assert [c.name for c in reply.message.tool_calls] == ["read_file"]
    assert chain.last_provider_name == "secondary"
    [(src, dst, reason)] = rec.switches
    assert (src, dst) == ("primary", "secondary") and "500" in reason and "retryable" in reason
    assert len(server.model_requests) == 3 and len(secondary.model_requests) == 1
    assert len(sleep.delays) == 2  # the primary's own retries
    assert "".join(rec.text) == "from the secondary"
    assert [f.provider for f in chain.failures] == ["primary"]


async def test_primary_answers_without_fallback(server: ScriptedModelServer, secondary: ScriptedModelServer,
                                                make_provider: MakeProvider) -> None:
    rec = Recorder()
    chain = FallbackChain([make_provider("openai", name="a"), make_provider("openai", secondary, name="b")],
                          rec.on_fallback)
    assert (await chain.complete(system="", messages=USER, tools=[])).message.text == "done"
    assert chain.last_provider_name == "a" and rec.switches == [] and secondary.model_requests == []
    assert chain.spec.name == "a"


async def test_non_retryable_errors_also_fall_over_and_say_so(server: ScriptedModelServer,
                                                              secondary: ScriptedModelServer,
                                                              make_provider: MakeProvider) -> None:
    server.enqueue({"fault": "401"})
    rec = Recorder()
    chain = FallbackChain([make_provider("anthropic", name="a"), make_provider("openai", secondary, name="b")],
                          rec.on_fallback)
    assert (await chain.complete(system="", messages=USER, tools=[])).message.text == "done"
    [(_, _, reason)] = rec.switches
    assert "401" in reason and "not retryable" in reason and "TEST_API_KEY" in reason
    assert len(server.model_requests) == 1


async def test_all_failing_raises_the_last_error(server: ScriptedModelServer, secondary: ScriptedModelServer,
                                                 make_provider: MakeProvider) -> None:
    server.enqueue({"fault": "503"})
    secondary.enqueue({"fault": "429", "retry_after": 999})
    rec = Recorder()
    chain = FallbackChain([make_provider("openai", name="a", max_retries=0),
                           make_provider("openai", secondary, name="b", max_retries=0)], rec.on_fallback)
    with pytest.raises(ProviderError) as info:
        await chain.complete(system="", messages=USER, tools=[])
    assert info.value.status == 429
    assert chain.last_provider_name is None and len(rec.switches) == 1
    assert [f.error.status for f in chain.failures] == [503, 429]


async def test_context_too_long_does_not_fall_over(server: ScriptedModelServer, secondary: ScriptedModelServer,
                                                   make_provider: MakeProvider) -> None:
    server.enqueue({"fault": "context_too_long"})
    rec = Recorder()
    chain = FallbackChain([make_provider("openai", name="a"), make_provider("openai", secondary, name="b")],
                          rec.on_fallback)
    with pytest.raises(ProviderError) as info:
        await chain.complete(system="", messages=USER, tools=[])
    assert info.value.context_too_long and rec.switches == [] and secondary.model_requests == []


async def test_partial_text_of_a_failed_provider_is_not_repeated(server: ScriptedModelServer,
                                                                 secondary: ScriptedModelServer,
                                                                 make_provider: MakeProvider) -> None:
    text = "one two three four five six seven eight nine ten"
    server.enqueue({"fault": "drop", "text": text})
    secondary.enqueue({"text": text})
    rec = Recorder()
    chain = FallbackChain([make_provider("openai", name="a", max_retries=0),
                           make_provider("anthropic", secondary, name="b")], rec.on_fallback)
    reply = await chain.complete(system="", messages=USER, tools=[], on_text=rec.on_text)
    assert reply.message.text == text and "".join(rec.text) == text


async def test_make_provider_by_kind(server: ScriptedModelServer) -> None:
    for kind in ("openai", "anthropic"):
        provider = make_provider(spec_for(server, kind))
        assert (await provider.complete(system="", messages=USER, tools=[])).message.text == "done"
        await provider.aclose()  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        make_provider(spec_for(server, "gemini"))
    assert [r.wire for r in server.model_requests] == ["openai", "anthropic"]


def test_empty_chain_is_refused() -> None:
    with pytest.raises(ValueError):
        FallbackChain([])
