"""The retry table, Retry-After parsing, backoff, with_retries and the text gate."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from minicode_lsp.agent.providers.base import ProviderError, ProviderSpec
from minicode_lsp.agent.providers.retry import (
    MAX_DELAY_S,
    RETRY_MARKER,
    STATUS_RULES,
    TextGate,
    backoff_delay,
    error_from_exception,
    error_from_status,
    parse_retry_after,
    redact,
    with_retries,
)

from .conftest import SECRET, FakeSleep

SPEC = ProviderSpec(name="p", kind="openai", base_url="http://x/v1", model="m", api_key=SECRET,
                    api_key_env="MY_KEY", max_retries=3)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 529])
def test_retryable_statuses(status: int) -> None:
    assert error_from_status(SPEC, status, "").retryable


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_not_retryable_statuses(status: int) -> None:
    assert not error_from_status(SPEC, status, "").retryable


def test_unlisted_statuses_follow_their_class() -> None:
    assert error_from_status(SPEC, 599, "").retryable and not error_from_status(SPEC, 418, "").retryable
    assert set(STATUS_RULES) >= {400, 401, 403, 429, 500, 502, 503, 504, 529}


def test_auth_hint_names_the_env_var() -> None:
    err = error_from_status(SPEC, 401, '{"error": "bad key ' + SECRET + '"}')
    assert "MY_KEY" in err.hint and SECRET not in str(err)


@pytest.mark.parametrize("body", ["This model's maximum context length is 8192 tokens",
                                  '{"code": "context_length_exceeded"}', "prompt is too long: 5 > 4"])
def test_context_length_messages(body: str) -> None:
    err = error_from_status(SPEC, 400, body)
    assert err.context_too_long and not err.retryable


@pytest.mark.parametrize("exc,retryable", [
    (httpx.ReadTimeout("t"), True), (httpx.ConnectError("c"), True), (httpx.RemoteProtocolError("r"), True),
    (httpx.ReadError("r"), True), (httpx.UnsupportedProtocol("u"), False)])
def test_exception_table(exc: Exception, retryable: bool) -> None:
    assert error_from_exception(SPEC, exc).retryable is retryable


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("1.5") == 1.5
    now = 1_700_000_000.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    assert backoff_delay(0, rand=lambda: 0.0) == 0.25 and backoff_delay(0, rand=lambda: 1.0) == 0.5
    assert backoff_delay(3, rand=lambda: 1.0) == 4.0
    assert backoff_delay(30, rand=lambda: 1.0) == MAX_DELAY_S


def test_redact_masks_the_key_and_keylike_strings() -> None:
    assert SECRET not in redact(f"key {SECRET} and sk-proj-abcdef1234", SPEC)
    assert "sk-proj-abcdef1234" not in redact("sk-proj-abcdef1234", SPEC)


async def test_with_retries_stops_on_non_retryable() -> None:
    calls = 0
    sleep = FakeSleep()

    async def fn() -> str:
        nonlocal calls
        calls += 1
        raise ProviderError("nope", status=401)

    with pytest.raises(ProviderError):
        await with_retries(fn, SPEC, sleep)
    assert calls == 1 and sleep.delays == []


async def test_with_retries_converts_transport_errors_and_retries() -> None:
    sleep = FakeSleep()
    outcomes: list[Exception | str] = [httpx.ConnectError("down"), httpx.ReadTimeout("slow"), "ok"]

    async def fn() -> str:
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    assert await with_retries(fn, SPEC, sleep) == "ok"
    assert len(sleep.delays) == 2


async def test_text_gate_suppresses_repeats_and_marks_divergence() -> None:
    out: list[str] = []

    async def sink(t: str) -> None:
        out.append(t)

    gate = TextGate(sink)
    first = gate.attempt()
    assert first is not None
    await first("Hello ")
    await first("wor")
    second = gate.attempt()
    assert second is not None
    await first("ld")  # a stale attempt is ignored
    for t in ["Hel", "lo ", "world", "!"]:
        await second(t)
    assert "".join(out) == "Hello world!"
    third = gate.attempt()
    assert third is not None
    await third("Goodbye")
    await third(".")
    assert "".join(out) == "Hello world!" + RETRY_MARKER + "Goodbye."


def test_text_gate_without_callback() -> None:
    assert TextGate(None).attempt() is None
