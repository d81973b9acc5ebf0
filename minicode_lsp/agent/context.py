"""Token estimates and fitting the history into the context window.

The estimate is chars/4 plus a small per-message overhead: good enough where no tokenizer
is available. ``fit_history`` drops the oldest messages first and never separates an
assistant message's tool calls from the tool results that answer them. The loop itself
uses ``compaction.ContextManager`` (calibrated counting in ``budget``, summaries instead of
plain drops); ``groups`` is the unit both keep together.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from .messages import Message, ToolSpec

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4
# Part of the window kept free for the model's answer.
MIN_OUTPUT_RESERVE = 1024

HistoryFitter = Callable[[list[Message], int], tuple[list[Message], int]]


def estimate_text(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def estimate_message(m: Message) -> int:
    n = MESSAGE_OVERHEAD + estimate_text(m.text)
    for tc in m.tool_calls:
        n += MESSAGE_OVERHEAD + estimate_text(tc.name) + estimate_text(json.dumps(tc.arguments))
    for tr in m.tool_results:
        n += MESSAGE_OVERHEAD + estimate_text(tr.content)
    return n


def estimate_messages(messages: list[Message]) -> int:
    return sum(estimate_message(m) for m in messages)


def estimate_tools(tools: list[ToolSpec]) -> int:
    return sum(
        estimate_text(t.name) + estimate_text(t.description) + estimate_text(json.dumps(t.parameters))
        for t in tools
    )


def output_reserve(window: int) -> int:
    return max(MIN_OUTPUT_RESERVE, window // 8)


def message_budget(window: int, system: str, tools: list[ToolSpec]) -> int:
    """Tokens left for the messages once the system prompt, tools and answer are counted."""
    return window - estimate_text(system) - estimate_tools(tools) - output_reserve(window)


def groups(messages: list[Message]) -> list[list[Message]]:
    """Units that are kept or dropped together: an assistant message with tool calls and the
    tool message answering it form one unit; every other message is its own unit."""
    out: list[list[Message]] = []
    for m in messages:
        if m.role == "tool" and out and out[-1][0].role == "assistant" and out[-1][0].tool_calls:
            out[-1].append(m)
        else:
            out.append([m])
    return out


def dropped_note(count: int) -> Message:
    return Message(
        role="user",
        text=f"[{count} earlier message(s) of this conversation were dropped to fit the context window]",
    )


def fit_history(messages: list[Message], budget: int) -> tuple[list[Message], int]:
    """Drop the oldest units until the estimate fits ``budget``; returns (kept, dropped count).

    The newest unit is always kept. When the kept part does not start with a user message,
    a short user note saying how much was dropped opens it (providers want a user message first).
    """
    sizes = [estimate_message(m) for m in messages]
    total = sum(sizes)
    if total <= budget:
        return messages, 0
    units = groups(messages)
    start = dropped = 0
    index = 0  # position in ``sizes`` of the first message of units[start]
    while start < len(units) - 1 and total > budget:
        for _ in units[start]:
            total -= sizes[index]
            index += 1
            dropped += 1
        start += 1
    kept = [m for unit in units[start:] for m in unit]
    if kept and kept[0].role != "user":
        kept = [dropped_note(dropped), *kept]
    return kept, dropped
