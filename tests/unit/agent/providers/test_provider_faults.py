"""Every fault of the scripted server, through the real httpx client, in both wire formats."""

from __future__ import annotations

import logging
import socket

import pytest

from minicode_lsp.agent.messages import Message
from minicode_lsp.agent.providers import _transport
from minicode_lsp.agent.providers.base import ProviderError
from minicode_lsp.agent.providers.retry import MAX_DELAY_S
from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import SECRET, FakeSleep, MakeProvider

USER = [Message(role="user", text="hi")]


async def ask(provider: object, collect: list[str] | None = None) -> str:
    async def on_text(t: str) -> None:
        if collect is not None:
            collect.append(t)

    reply = await provider.complete(system="", messages=USER, tools=[], on_text=on_text)  # type: ignore[attr-defined]
    return str(reply.message.text)


async def test_429_then_success_honours_retry_after(server: ScriptedModelServer, make_provider: MakeProvider,
                                                    sleep: FakeSleep, kind: str) -> None:
    server.enqueue({"fault": "429", "retry_after": 3}, {"text": "ok now"})
    assert await ask(make_provider(kind)) == "ok now"
    assert sleep.delays == [3.0]
    assert len(server.model_requests) == 2


async def test_retry_after_above_the_cap_gives_up_at_once(server: ScriptedModelServer,
                                                           make_provider: MakeProvider, sleep: FakeSleep,
                                                           kind: str) -> None:
    server.enqueue({"fault": "429", "retry_after": int(MAX_DELAY_S) + 40}, {"text": "never asked"})
    with pytest.raises(ProviderError) as info:
        await ask(make_provider(kind))
    assert info.value.status == 429 and info.value.retryable
    assert info.value.retry_after_s == MAX_DELAY_S + 40
    assert "rate limited" in info.value.hint
    assert sleep.delays == [] and len(server.model_requests) == 1


async def test_500_retries_with_backoff_then_succeeds(server: ScriptedModelServer, make_provider: MakeProvider,
                                                      sleep: FakeSleep, kind: str) -> None:
    server.enqueue({"fault": "500"}, {"fault": "503"}, {"text": "third time"})
    assert await ask(make_provider(kind)) == "third time"
    assert len(sleep.delays) == 2
    assert 0.25 <= sleep.delays[0] <= 0.5 and 0.5 <= sleep.delays[1] <= 1.0


async def test_500_exhausts_retries(server: ScriptedModelServer, make_provider: MakeProvider, sleep: FakeSleep,
                                    kind: str) -> None:
    server.enqueue(*[{"fault": "500"}] * 3)
    with pytest.raises(ProviderError) as info:
        await ask(make_provider(kind, max_retries=2))
    assert info.value.status == 500 and info.value.retryable
    assert len(server.model_requests) == 3 and len(sleep.delays) == 2


async def test_malformed_sse_is_retryable(server: ScriptedModelServer, make_provider: MakeProvider,
                                          kind: str) -> None:
    server.enqueue({"fault": "malformed_sse"})
    with pytest.raises(ProviderError) as info:
        await ask(make_provider(kind, max_retries=0))
    assert info.value.retryable and "malformed" in str(info.value)
    server.enqueue({"fault": "malformed_sse", "stream": False})
    with pytest.raises(ProviderError) as info:
        await ask(make_provider(kind, max_retries=0))
    assert info.value.retryable


async def test_malformed_sse_then_success(server: ScriptedModelServer, make_provider: MakeProvider,
                                          kind: str) -> None:
    server.enqueue({"fault": "malformed_sse"}, {"text": "fine"})
    assert await ask(make_provider(kind)) == "fine"


async def test_dropped_connection_is_retryable(server: ScriptedModelServer, make_provider: MakeProvider,
                                               kind: str) -> None:
    server.enqueue({"fault": "drop", "text": "one two three four five six seven"})
    with pytest.raises(ProviderError) as info:
        await ask(make_provider(kind, max_retries=0))
    assert info.value.retryable
    server.enqueue({"fault": "drop", "stream": False})
    with pytest.raises(ProviderError) as info:
        await ask(make_provider(kind, max_retries=0))
    assert info.value.retryable


async def test_drop_then_retry_does_not_repeat_streamed_text(server: ScriptedModelServer,
                                                             make_provider: MakeProvider, kind: str) -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    server.enqueue({"fault": "drop", "text": text}, {"text": text})
    seen: list[str] = []
    assert await ask(make_provider(kind), seen) == text
    assert "".join(seen) == text


async def test_no_first_token_in_time_is_not_retried_and_names_the_setting(
        server: ScriptedModelServer, make_provider: MakeProvider, kind: str) -> None:
    server.enqueue({"fault": "delay", "seconds": 5}, {"text": "never"})
    waits: list[float] = []

    async def on_wait(seconds: float) -> None:
        waits.append(seconds)

    tick, _transport.WAIT_TICK_S = _transport.WAIT_TICK_S, 0.1
    try:
        with pytest.raises(ProviderError) as info:
            await make_provider(kind, first_token_timeout_s=0.5, max_retries=2).complete(
                system="", messages=[Message(role="user", text="x")], tools=[], on_wait=on_wait)
    finally:
        _transport.WAIT_TICK_S = tick
    assert not info.value.retryable and "firstTokenTimeoutS" in info.value.hint
    assert len(server.model_requests) == 1
    assert len(waits) >= 3 and waits == sorted(waits)


async def test_a_stream_that_stalls_is_an_idle_timeout_and_retried(
        server: ScriptedModelServer, make_provider: MakeProvider, kind: str) -> None:
    server.enqueue({"text": "one two three four", "chunk_delay_s": 3}, {"text": "again"})
    assert await ask(make_provider(kind, idle_timeout_s=0.5, max_retries=1)) == "again"


async def test_delay_within_the_timeout_answers(server: ScriptedModelServer, make_provider: MakeProvider,
                                                kind: str) -> None:
    server.enqueue({"fault": "delay", "seconds": 0.2, "text": "late"})
    assert await ask(make_provider(kind)) == "late"


async def test_context_too_long_is_flagged_and_not_retried(server: ScriptedModelServer,
                                                           make_provider: MakeProvider, sleep: FakeSleep,
                                                           kind: str) -> None:
    server.enqueue({"fault": "context_too_long"}, {"text": "never"})
    with pytest.raises(ProviderError) as info:
        await ask(make_provider(kind))
    assert info.value.context_too_long and not info.value.retryable and info.value.status == 400
    assert sleep.delays == []


async def test_401_names_the_env_var_and_never_the_key(server: ScriptedModelServer,
                                                       make_provider: MakeProvider, kind: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.enqueue({"fault": "401", "message": f"Incorrect API key provided: {SECRET}"})
    provider = make_provider(kind)
    with pytest.raises(ProviderError) as info:
        await ask(provider)
    err = info.value
    assert err.status == 401 and not err.retryable
    assert "TEST_API_KEY" in err.hint
    assert SECRET not in str(err) and SECRET not in repr(err) and SECRET not in err.hint
    assert SECRET not in repr(provider.spec) and SECRET not in str(provider.spec)
    assert SECRET not in caplog.text
    assert len(server.model_requests) == 1


async def test_connection_refused_is_retryable(make_provider: MakeProvider, kind: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}" + ("/v1" if kind == "openai" else "")
    with pytest.raises(ProviderError) as info:
        await ask(make_provider(kind, base_url=base, max_retries=0))
    assert info.value.retryable and "baseUrl" in info.value.hint


async def test_error_event_mid_stream(server: ScriptedModelServer, make_provider: MakeProvider,
                                     sleep: FakeSleep, kind: str) -> None:
    """An error inside a 200 stream (OpenRouter, Anthropic overloaded) is a retryable ProviderError."""
    server.enqueue({"fault": "stream_error", "status": 529, "text": "partial answer"}, {"text": "recovered"})
    assert await ask(make_provider(kind)) == "recovered"
    assert len(sleep.delays) == 1
    server.enqueue({"fault": "stream_error", "status": 529})
    with pytest.raises(ProviderError) as info:
        await ask(make_provider(kind, max_retries=0))
    assert info.value.status == 529 and info.value.retryable


async def test_cancel_during_a_slow_stream_is_prompt(server: ScriptedModelServer, make_provider: MakeProvider,
                                                     kind: str) -> None:
    import asyncio
    import time

    server.enqueue({"text": " ".join(["word"] * 50), "chunk_delay_s": 0.2})
    seen: list[str] = []
    task = asyncio.create_task(ask(make_provider(kind), seen))
    while not seen:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.5


async def test_bad_base_url_is_a_provider_error(make_provider: MakeProvider, kind: str) -> None:
    with pytest.raises(ProviderError) as info:
        await ask(make_provider(kind, base_url="ftp://example.invalid"))
    assert not info.value.retryable and "baseUrl" in info.value.hint
