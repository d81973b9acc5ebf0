"""The provider interface the loop talks to, and the errors providers raise."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..messages import Message, ToolSpec, Usage

ProviderKind = Literal["openai", "anthropic"]
TextCallback = Callable[[str], Awaitable[None]]


@dataclass(repr=False)
class ProviderSpec:
    """One configured provider, as the agent sees it (the service builds it from config).

    ``api_key`` is the key's value read from the environment variable named in config;
    it must never be logged, stored or put in an event.
    """

    name: str
    kind: ProviderKind
    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    max_tokens: int = 4096
    context_window: int = 32768
    max_retries: int = 2
    # Timeouts: to connect; until the reply's first byte (a local model may be loading); between
    # chunks once it streams. ``timeout_s`` bounds sending the request.
    connect_timeout_s: float = 10.0
    first_token_timeout_s: float = 300.0
    idle_timeout_s: float = 90.0
    # Size caps that keep memory bounded whatever a server sends.
    max_reply_bytes: int = 16 * 1024 * 1024
    max_tool_arguments_bytes: int = 2 * 1024 * 1024
    # Anthropic extended thinking: a token budget (0: off). Thinking streams as thought.delta.
    thinking_budget: int = 0
    # Anthropic prompt caching (cache_control breakpoints on tools, system and the conversation).
    prompt_caching: bool = True
    extra_headers: dict[str, str] = field(default_factory=dict)
    # The name of the environment variable the key came from (for hints; never the value).
    api_key_env: str = ""

    def __repr__(self) -> str:
        # Never show the key (nor extra header values, which may carry credentials).
        key = "<set>" if self.api_key else None
        return (
            f"ProviderSpec(name={self.name!r}, kind={self.kind!r}, base_url={self.base_url!r}, "
            f"model={self.model!r}, api_key={key}, api_key_env={self.api_key_env!r}, "
            f"timeout_s={self.timeout_s!r}, max_tokens={self.max_tokens!r}, "
            f"max_retries={self.max_retries!r}, extra_headers={sorted(self.extra_headers)!r})"
        )

    __str__ = __repr__


@dataclass
class ModelReply:
    message: Message  # role "assistant": text and/or tool_calls
    usage: Usage
    finish_reason: str = ""  # provider's own word: "stop", "tool_calls", "end_turn", "max_tokens", ...
    thought: str = ""  # the model's reasoning, if it showed any (never part of ``message.text``)


class ProviderError(Exception):
    """A request failed. ``retryable``: the same request may succeed later (or on a fallback)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
        hint: str = "",
        context_too_long: bool = False,
        quota: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.hint = hint
        self.context_too_long = context_too_long
        self.quota = quota  # out of quota/credits: not retried; a fallback may still answer


class Provider(Protocol):
    spec: ProviderSpec

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
        """Send one streaming request; call ``on_text`` for each text delta; return the reply.

        ``on_thought`` gets streamed reasoning (kept out of the reply's text); ``max_tokens``
        overrides ``spec.max_tokens`` for this request; ``on_wait(seconds)`` is called every few
        seconds while no byte of the reply has arrived yet.

        Raises ``ProviderError`` (after its own retries) on failure.
        """
        ...
