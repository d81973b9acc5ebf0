"""Reflection at the end of a turn: the model proposes durable facts worth remembering.

One extra provider call with no tools, after a ``done`` turn, when the user opted in
(``memory.reflection``). The answer is read as JSON lines ``{"text": ..., "tags": [...]}``;
at most ``MAX_FACTS`` are kept. The caller stores them as *proposals* the user accepts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field

from .compaction import render_transcript
from .messages import Message
from .providers.base import Provider
from .tools.runner import Cancelled, race

log = logging.getLogger(__name__)

MAX_FACTS = 3
MAX_FACT_CHARS = 400
TRANSCRIPT_CHARS = 12_000

REFLECT_SYSTEM = (
    "You review a finished coding-agent task and propose facts about this project worth remembering "
    "in later sessions: durable knowledge (how to build or test, where things live, conventions, "
    "pitfalls), not details of this task. Answer with at most {n} JSON lines, one object per line: "
    '{{"text": "<one sentence>", "tags": ["<keyword>", ...]}}. Answer with nothing when there is '
    "nothing durable to remember. Do not repeat facts already known."
)
REFLECT_USER = "{known}The task: {prompt}\n\nWhat happened:\n{transcript}\n\nThe final answer: {answer}"


@dataclass
class Fact:
    text: str
    tags: list[str] = field(default_factory=list)


def parse_facts(text: str, known: list[str] | None = None) -> list[Fact]:
    """The facts of a reflection answer: JSON lines (``- `` bullets and fences tolerated)."""
    seen = {k.strip().casefold() for k in known or []}
    out: list[Fact] = []
    for line in text.splitlines():
        line = line.strip().removeprefix("- ").strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"].strip():
            continue
        fact = " ".join(obj["text"].split())[:MAX_FACT_CHARS]
        if fact.casefold() in seen:
            continue
        seen.add(fact.casefold())
        tags = obj.get("tags")
        out.append(Fact(fact, [str(t)[:40] for t in tags[:8]] if isinstance(tags, list) else []))
        if len(out) >= MAX_FACTS:
            break
    return out


async def reflect(
    provider: Provider,
    *,
    prompt: str,
    messages: list[Message],
    answer: str,
    known: list[str],
    cancel: asyncio.Event,
) -> list[Fact]:
    """Ask the model for up to ``MAX_FACTS`` facts; [] on any failure (reflection is best effort)."""
    known_text = "".join(f"- {k}\n" for k in known[:30])
    user = REFLECT_USER.format(
        known=f"Facts already known:\n{known_text}\n" if known_text else "",
        prompt=prompt[:2000],
        transcript=render_transcript(messages, TRANSCRIPT_CHARS),
        answer=answer[:2000],
    )
    try:
        reply = await race(
            provider.complete(
                system=REFLECT_SYSTEM.format(n=MAX_FACTS), messages=[Message(role="user", text=user)], tools=[]
            ),
            cancel,
        )
    except Cancelled:
        return []
    except Exception as e:  # ProviderError or a provider bug: no proposals this time
        log.warning("reflection failed: %s", e)
        return []
    return parse_facts(reply.message.text, known)
