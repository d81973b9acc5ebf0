"""The HTTP plumbing both wire formats share: one POST, error statuses, SSE and JSON bodies."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from ..messages import Message, ToolSpec
from .base import ModelReply, ProviderSpec, TextCallback
from .retry import TextGate, error_from_status, malformed, with_retries

log = logging.getLogger(__name__)


class Transport:
    """Owns (or borrows) an ``httpx.AsyncClient`` and posts JSON for one provider."""

    def __init__(self, spec: ProviderSpec, client: httpx.AsyncClient | None) -> None:
        self.spec = spec
        self._client = client
        self._owns_client = client is None

    @property
    def timeout(self) -> httpx.Timeout:
        t = self.spec.timeout_s
        return httpx.Timeout(t, connect=min(t, 10.0))

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        return self._client

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    @asynccontextmanager
    async def post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> AsyncIterator[httpx.Response]:
        """POST ``body``; yield the (unread) response when its status is below 400, else raise."""
        log.debug("%s: POST %s (model %s, stream %s)", self.spec.name, url, self.spec.model, body.get("stream"))
        try:
            content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (a non-UTF-8 file name): send them escaped
            content = json.dumps(body).encode("utf-8")
        if not any(k.lower() == "content-type" for k in headers):
            headers = {**headers, "content-type": "application/json"}
        request = self.client().build_request("POST", url, content=content, headers=headers, timeout=self.timeout)
        response = await self.client().send(request, stream=True)
        try:
            if response.status_code >= 400:
                raw = await response.aread()
                raise error_from_status(self.spec, response.status_code, raw.decode("utf-8", "replace"),
                                        response.headers)
            yield response
        finally:
            await response.aclose()


def is_event_stream(response: httpx.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "")


async def iter_sse(spec: ProviderSpec, response: httpx.Response) -> AsyncGenerator[tuple[str, str], None]:
    """Yield ``(event, data)`` pairs; a malformed stream raises a retryable ProviderError."""
    try:
        async for sse in EventSource(response).aiter_sse():
            yield sse.event, sse.data
    except SSEError as e:
        raise malformed(spec, f"bad event stream: {e}") from e


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
                    on_thought: TextCallback | None = None) -> ModelReply:
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
    ) -> ModelReply:
        body = self.request_body(system, messages, tools, max_tokens)
        gate = TextGate(on_text)
        thoughts = TextGate(on_thought, marker=False)
        return await with_retries(lambda: self._once(body, gate.attempt(), thoughts.attempt()), self.spec,
                                  self._sleep)
