"""Tool-call ids as each vendor accepts them, when a conversation crosses vendors.

Ids are kept as the model sent them in the conversation (and in the store); each wire format
maps them on the way out. The mapping is a pure function of the stored id, so a replayed or
resumed session sends exactly the ids it sent before, a call and its result always map alike,
and an id that already fits the vendor's rule is sent unchanged.

- Anthropic: ``^[a-zA-Z0-9_-]+$`` (Kimi-style ``functions.add:0`` does not fit); kept to 64 chars.
- OpenAI: at most 40 characters (vLLM's ``chatcmpl-tool-…`` ids are 46).
"""

from __future__ import annotations

import hashlib
import re

_ANTHROPIC_OK = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NOT_ANTHROPIC = re.compile(r"[^A-Za-z0-9_-]")
OPENAI_MAX = 40


def _digest(tool_call_id: str) -> str:
    return hashlib.sha256(tool_call_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def anthropic_id(tool_call_id: str) -> str:
    if _ANTHROPIC_OK.fullmatch(tool_call_id):
        return tool_call_id
    clean = _NOT_ANTHROPIC.sub("_", tool_call_id)[:40] or "toolu"
    return f"{clean}_{_digest(tool_call_id)}"


def openai_id(tool_call_id: str) -> str:
    if 0 < len(tool_call_id) <= OPENAI_MAX:
        return tool_call_id
    return f"{tool_call_id[:OPENAI_MAX - 13]}_{_digest(tool_call_id)}"
