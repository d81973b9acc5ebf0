"""What a turn carries over from the last one, and what it proposes to remember.

Working memory (and the compaction state inside it) is stored in each ``turn.finished``
event as ``workingMemory`` and handed to the next turn of the session. Reflection (opt-in,
``memory.reflection``) asks the model for durable facts after a ``done`` turn and stores
them as proposals, which take no part in any prompt until the user accepts them
(``minicode.memory.accept``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from ..agent.messages import Message
from ..protocol import EV_TURN_FINISHED

if TYPE_CHECKING:
    from ..agent.providers.base import Provider
    from .core import Service

log = logging.getLogger(__name__)


def load_working_memory(svc: Service, session_id: str) -> dict[str, Any] | None:
    """The working memory the session's latest finished turn left, if any."""
    row = svc.db.query_one(
        "SELECT data FROM events WHERE session_id = ? AND type = ? "
        "AND json_extract(data, '$.workingMemory') IS NOT NULL ORDER BY seq DESC LIMIT 1",
        (session_id, EV_TURN_FINISHED),
    )
    if row is None:
        return None
    try:
        wm = json.loads(row["data"]).get("workingMemory")
    except (ValueError, AttributeError):
        return None
    return wm if isinstance(wm, dict) else None


async def propose_memories(
    svc: Service,
    provider: Provider,
    *,
    session_id: str,
    prompt: str,
    messages: list[Message],
    answer: str,
    cancel: asyncio.Event,
) -> list[dict[str, Any]]:
    """Ask the model for up to three facts and store them as proposals; their wire forms."""
    from ..agent.reflection import reflect

    known = [e.text for e in svc.memory.list(include_proposed=True)[:100]]
    facts = await reflect(provider, prompt=prompt, messages=messages, answer=answer, known=known, cancel=cancel)
    proposed = []
    for fact in facts:
        try:
            entry = svc.memory.add(fact.text, "project", fact.tags, source_session=session_id, proposed=True)
        except ValueError:
            continue
        proposed.append(entry.to_wire())
    if proposed:
        log.info("reflection proposed %d memory entr(y/ies)", len(proposed))
    return proposed
