"""A fallback chain: the primary provider first (with its own retries), then the others.

The chain is itself a ``Provider``. It only sends requests: a failed attempt returned no
reply, so no tool call of it was run and none is repeated (the loop runs tools, once, from
the reply that succeeded). Streamed text is passed through one ``TextGate`` for the whole
chain: text a failed provider already streamed is not streamed again when the next one
repeats it, and a divergent answer is preceded by ``retry.RETRY_MARKER``. The reply's own
text is authoritative.

Every switch calls ``on_fallback(from_name, to_name, reason)`` (the loop records a
``provider.fallback`` event). Retryable errors (429, 5xx, timeouts, connection errors,
malformed streams) and non-retryable ones (401, 400, 404) both move on; the reason says
which. A context-too-long error is raised at once: every provider would get the same
conversation, and the loop must compact it first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..messages import Message, ToolSpec
from .base import ModelReply, Provider, ProviderError, ProviderSpec, TextCallback
from .retry import TextGate

log = logging.getLogger(__name__)

FallbackCallback = Callable[[str, str, str], Awaitable[None]]


@dataclass
class Failure:
    provider: str
    error: ProviderError


def describe(error: ProviderError) -> str:
    """A one-line reason for a fallback, without secrets (ProviderError messages are redacted)."""
    kind = "retryable" if error.retryable else "not retryable"
    status = f"HTTP {error.status}" if error.status else "request failed"
    hint = f": {error.hint}" if error.hint else ""
    return f"{status} ({kind}){hint}"


class FallbackChain:
    """Tries each provider in order until one answers."""

    def __init__(self, providers: list[Provider], on_fallback: FallbackCallback | None = None) -> None:
        if not providers:
            raise ValueError("a fallback chain needs at least one provider")
        self.providers = list(providers)
        self.spec: ProviderSpec = self.providers[0].spec  # the chain stands for its primary
        self.on_fallback = on_fallback
        self.last_provider_name: str | None = None
        self.failures: list[Failure] = []  # of the last ``complete`` call

    async def complete(
        self,
        *,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec],
        on_text: TextCallback | None = None,
        on_thought: TextCallback | None = None,
        max_tokens: int | None = None,
        on_wait: Callable[[float], Awaitable[None]] | None = None,
    ) -> ModelReply:
        gate = TextGate(on_text)
        thoughts = TextGate(on_thought, marker=False)
        extra: dict[str, Any] = {"max_tokens": max_tokens} if max_tokens is not None else {}
        if on_thought is not None:
            extra["on_thought"] = thoughts.attempt
        if on_wait is not None:
            extra["on_wait"] = on_wait
        self.failures = []
        self.last_provider_name = None
        last: ProviderError | None = None
        for i, provider in enumerate(self.providers):
            try:
                more = {k: (v() if k == "on_thought" else v) for k, v in extra.items()}
                reply = await provider.complete(system=system, messages=messages, tools=tools,
                                                on_text=gate.attempt(), **more)
            except ProviderError as e:
                last = e
                self.failures.append(Failure(provider.spec.name, e))
                # info: the loop reports the final failure once, a fallback is its own event
                log.info("provider %s failed: %s", provider.spec.name, e)
                if e.context_too_long or i + 1 == len(self.providers):
                    raise
                nxt = self.providers[i + 1].spec.name
                if self.on_fallback is not None:
                    await self.on_fallback(provider.spec.name, nxt, describe(e))
                continue
            self.last_provider_name = provider.spec.name
            return reply
        assert last is not None  # unreachable: the loop returns or raises
        raise last
