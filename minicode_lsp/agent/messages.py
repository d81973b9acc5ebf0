"""Neutral message types shared by providers, the loop and the store.

Providers translate these to and from their wire formats (OpenAI chat completions,
Anthropic Messages). Everything here is plain data and JSON-serialisable via ``to_dict``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant", "tool"]

# ``ToolCall.arguments_error`` starts with this when the reply hit the output token limit while
# the model was writing the call (the arguments are cut, not invalid).
CUT_OFF = "ran out of output tokens"

# With prompt caching, the per-step context (step note, working memory, compaction summary) is
# sent after the conversation inside these tags; a provider puts its cache breakpoint before it.
TURN_CONTEXT_OPEN = "<turn-context>"
TURN_CONTEXT_CLOSE = "</turn-context>"


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    # Set when the provider sent arguments that are not valid JSON: the loop reports it to the model.
    arguments_error: str | None = None


@dataclass
class ToolResult:
    tool_call_id: str
    name: str
    content: str
    is_error: bool = False


@dataclass
class Usage:
    input_tokens: int = 0  # every prompt token, cached or not
    output_tokens: int = 0
    cache_read_tokens: int = 0  # of input_tokens: read from the provider's prompt cache
    cache_write_tokens: int = 0  # of input_tokens: written to it (Anthropic bills these at 1.25x)

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens

    def to_dict(self) -> dict[str, int]:
        out = {"inputTokens": self.input_tokens, "outputTokens": self.output_tokens}
        if self.cache_read_tokens or self.cache_write_tokens:
            out.update(cacheReadTokens=self.cache_read_tokens, cacheWriteTokens=self.cache_write_tokens)
        return out


@dataclass
class Message:
    """One conversation message.

    user: ``text``; assistant: ``text`` and/or ``tool_calls``; tool: ``tool_results``
    (one message carries all results of one assistant message).
    """

    role: Role
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    # Assistant reasoning the vendor wants back unchanged in the next request (Anthropic
    # ``thinking`` blocks with their ``signature``, ``redacted_thinking``): wire-format blocks.
    reasoning: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        calls, results = d.get("tool_calls"), d.get("tool_results")  # usually one of them is empty
        return cls(
            d["role"],
            d.get("text", ""),
            [ToolCall(**tc) for tc in calls] if calls else [],
            [ToolResult(**tr) for tr in results] if results else [],
            list(d.get("reasoning") or []),
        )


@dataclass
class ToolSpec:
    """A tool offered to the model: name, description, JSON schema of its parameters."""

    name: str
    description: str
    parameters: dict[str, Any]
