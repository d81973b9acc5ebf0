"""The HTTP plumbing both wire formats share: one POST, error statuses, SSE and JSON bodies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx

from ..messages import Message, ToolSpec
from .base import ModelReply, ProviderError, ProviderSpec, TextCallback
from .retry import TextGate, error_from_status, malformed, with_retries

log = logging.getLogger(__name__)

T = TypeVar("T")


WaitCallback = Callable[[float], Awaitable[None]]
WAIT_TICK_S = 5.0  # how often ``on_wait`` hears "still waiting" before the first byte
ERROR_BODY_MAX = 64 * 1024  # an error body is read up to this many bytes, the rest is dropped


class Transport:
    """Owns (or borrows) an ``httpx.AsyncClient`` and posts JSON for one provider."""

    def __init__(self, spec: ProviderSpec, client: httpx.AsyncClient | None) -> None:
        self.spec = spec
        self._client = client
        self._owns_client = client is None

    @property
    def timeout(self) -> httpx.Timeout:
        # Reads are timed here (first byte, then between chunks); httpx's read timeout is a backstop.
        s = self.spec
        backstop = max(s.first_token_timeout_s, s.idle_timeout_s) + 5.0
        return httpx.Timeout(s.timeout_s, connect=s.connect_timeout_s, read=backstop)

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        return self._client

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    @asynccontextmanager
    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str],
                   on_wait: WaitCallback | None = None) -> AsyncIterator[Reply]:
        """POST ``body``; yield the (unread) reply when its status is below 400, else raise."""
        log.debug("%s: POST %s (model %s, stream %s)", self.spec.name, url, self.spec.model, body.get("stream"))
        try:
            content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (a non-UTF-8 file name): send them escaped
            content = json.dumps(body).encode("utf-8")
        if not any(k.lower() == "content-type" for k in headers):
            headers = {**headers, "content-type": "application/json"}
        request = self.client().build_request("POST", url, content=content, headers=headers, timeout=self.timeout)
        clock = _Waiting(self.spec, on_wait)
        response = await clock.first(self.client().send(request, stream=True))
        reply = Reply(self.spec, response, clock)
        try:
            if response.status_code >= 400:
                raw = await reply.read(limit=ERROR_BODY_MAX, truncate=True)
                raise error_from_status(self.spec, response.status_code, raw.decode("utf-8", "replace"),
                                        response.headers)
            yield reply
        finally:
            await response.aclose()


class _Waiting:
    """Times the reply: ``firstTokenTimeoutS`` until its first byte (telling ``on_wait`` every few
    seconds), then ``idleTimeoutS`` between chunks."""

    def __init__(self, spec: ProviderSpec, on_wait: WaitCallback | None) -> None:
        self.spec = spec
        self.on_wait = on_wait
        self.started = time.monotonic()
        self.answered = False

    async def first(self, step: Awaitable[T]) -> T:
        return await self._timed(step)

    async def _timed(self, step: Awaitable[T]) -> T:
        task = asyncio.ensure_future(step)
        try:
            while True:
                if self.answered:
                    limit, since = self.spec.idle_timeout_s, time.monotonic()
                else:
                    limit, since = self.spec.first_token_timeout_s, self.started
                left = limit - (time.monotonic() - since)
                if left <= 0:
                    raise self._timeout()
                tick = left if self.answered or self.on_wait is None else min(left, WAIT_TICK_S)
                done, _ = await asyncio.wait({task}, timeout=tick)
                if done:
                    return task.result()
                if not self.answered and self.on_wait is not None:
                    try:
                        await self.on_wait(time.monotonic() - self.started)
                    except Exception:
                        log.exception("on_wait failed")
                if self.answered:
                    raise self._timeout()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    def _timeout(self) -> ProviderError:
        s = self.spec
        if self.answered:
            hint = (f"the model stopped sending for {s.idle_timeout_s:g} s in the middle of its reply "
                    "(idleTimeoutS)")
            return ProviderError(f"{s.name}: {hint}", retryable=True, hint=hint)
        hint = (f"the model did not start answering within {s.first_token_timeout_s:g} s (firstTokenTimeoutS); "
                "a local model may still be loading: raise firstTokenTimeoutS, or check the server")
        return ProviderError(f"{s.name}: {hint}", retryable=False, hint=hint)


class Reply:
    """A response whose body is read in bounded, timed pieces: never more than ``maxReplyBytes``."""

    def __init__(self, spec: ProviderSpec, response: httpx.Response, clock: _Waiting) -> None:
        self.spec = spec
        self.response = response
        self.headers = response.headers
        self._clock = clock
        self.received = 0

    async def aiter_bytes(self, limit: int | None = None) -> AsyncGenerator[bytes, None]:
        limit = self.spec.max_reply_bytes if limit is None else limit
        chunks = self.response.aiter_bytes().__aiter__()
        while True:
            try:
                chunk = await self._clock._timed(chunks.__anext__())
            except StopAsyncIteration:
                return
            if not chunk:
                continue
            self._clock.answered = True
            self.received += len(chunk)
            if self.received > limit:
                raise too_large(self.spec, f"the reply passed {limit:,} bytes (maxReplyBytes)")
            yield chunk

    async def read(self, limit: int | None = None, *, truncate: bool = False) -> bytes:
        limit = self.spec.max_reply_bytes if limit is None else limit
        out = bytearray()
        try:
            async for chunk in self.aiter_bytes(limit=limit + len(out) if truncate else limit):
                out += chunk
                if truncate and len(out) >= limit:
                    break
        except ProviderError:
            if not truncate:
                raise
        return bytes(out[:limit])


def too_large(spec: ProviderSpec, what: str) -> ProviderError:
    """A reply past its size cap: the step fails (not retried: the model would likely do it again)."""
    hint = f"{what}; the request was stopped so memory stays bounded"
    return ProviderError(f"{spec.name}: {hint}", retryable=False, hint=hint)


def arguments_too_large(spec: ProviderSpec, name: str) -> ProviderError:
    return too_large(spec, f"the arguments of the tool call {name or '(unnamed)'} passed "
                           f"{spec.max_tool_arguments_bytes:,} bytes (maxToolArgumentsBytes)")


def is_event_stream(response: Reply | httpx.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "")


_EOL = re.compile(rb"\r\n|\r|\n")


async def iter_sse(spec: ProviderSpec, reply: Reply) -> AsyncGenerator[tuple[str, str], None]:
    """Yield ``(event, data)`` pairs of a server-sent event stream (LF, CR or CRLF line ends).

    Our own small decoder, not httpx-sse's: that one gathers a line without limit, so an endless
    line would take all memory. Here every byte counts against ``maxReplyBytes``.
    """
    buf = bytearray()
    event, first = "", True
    data: list[str] = []

    def line_of(raw: bytes) -> tuple[str, str] | None:
        nonlocal event, data, first
        text = raw.decode("utf-8", "replace")
        if first:
            text, first = text.removeprefix("\ufeff"), False
        if not text:
            if not event and not data:
                return None
            out = (event or "message", "\n".join(data))
            event, data = "", []
            return out
        if text.startswith(":"):
            return None  # a comment (keep-alive)
        name, _, value = text.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        return None

    async for chunk in reply.aiter_bytes():
        scan = max(0, len(buf) - 1)  # the bytes before were searched already (all but a trailing CR)
        buf += chunk
        pos = 0
        while True:
            m = _EOL.search(buf, max(pos, scan))
            if m is None or (m.group() == b"\r" and m.end() == len(buf)):
                break  # no line end yet, or a CR whose LF may come in the next chunk
            done = line_of(bytes(buf[pos:m.start()]))
            pos = m.end()
            if done is not None:
                yield done
        del buf[:pos]
    if buf:
        done = line_of(bytes(buf))
        if done is not None:
            yield done
    done = line_of(b"")  # a last event without its blank line still counts
    if done is not None:
        yield done


def parse_json(spec: ProviderSpec, data: str | bytes) -> dict[str, Any]:
    """A JSON object, or a retryable ProviderError naming what arrived."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        snippet = data[:120] if isinstance(data, str) else data[:120].decode("utf-8", "replace")
        raise malformed(spec, f"invalid JSON ({e.__class__.__name__}): {snippet!r}") from e
    if not isinstance(value, dict):
        raise malformed(spec, f"expected a JSON object, got {type(value).__name__}")
    return value


def parse_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """Tool-call arguments from the model: ``(arguments, error)``; invalid JSON gives ``({}, error)``."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError as e:
        return {}, f"the arguments were not valid JSON ({e}): {raw[:200]}"
    if not isinstance(value, dict):
        return {}, f"the arguments must be a JSON object, got {type(value).__name__}: {raw[:200]}"
    return value, None


def base_headers(spec: ProviderSpec) -> dict[str, str]:
    return {"content-type": "application/json", "accept": "text/event-stream, application/json",
            **spec.extra_headers}


class HttpProvider:
    """What the HTTP providers share: the transport, retries around one request, closing.

    Subclasses give ``request_body`` and ``_once`` (one streaming request, parsed).
    """

    def __init__(
        self,
        spec: ProviderSpec,
        client: httpx.AsyncClient | None = None,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.spec = spec
        self._transport = Transport(spec, client)
        self._sleep = sleep

    async def aclose(self) -> None:
        await self._transport.aclose()

    def request_body(self, system: str, messages: list[Message], tools: list[ToolSpec],
                     max_tokens: int | None = None) -> dict[str, Any]:
        raise NotImplementedError

    async def _once(self, body: dict[str, Any], on_text: TextCallback | None,
                    on_thought: TextCallback | None = None, on_wait: WaitCallback | None = None) -> ModelReply:
        raise NotImplementedError

    async def complete(
        self,
        *,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec],
        on_text: TextCallback | None = None,
        on_thought: TextCallback | None = None,
        max_tokens: int | None = None,
        on_wait: WaitCallback | None = None,
    ) -> ModelReply:
        body = self.request_body(system, messages, tools, max_tokens)
        gate = TextGate(on_text)
        thoughts = TextGate(on_thought, marker=False)
        return await with_retries(lambda: self._once(body, gate.attempt(), thoughts.attempt(), on_wait), self.spec,
                                  self._sleep)
