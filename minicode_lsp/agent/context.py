"""The units a conversation is kept or dropped in: a tool call never leaves its result.

Token estimates live in ``budget.py``; compaction (which drops whole units) in ``compaction.py``.
"""

from __future__ import annotations

from .messages import Message


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
