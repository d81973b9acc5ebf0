"""The editor as the service sees it, over ACP: updates, permission requests, file writes.

One ``AcpFrontend`` per workspace the connection opened. Which ACP session a call is about comes
from ``CURRENT_SESSION``, a context variable set where a prompt (or a slash command) starts: the
turn's task inherits it, so a permission asked from deep inside a tool goes to the right session.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acp import helpers
from acp.schema import (
    AllowedOutcome,
    PermissionOption,
    SessionInfoUpdate,
    ToolCallLocation,
    ToolCallUpdate,
    ToolKind,
)

from .. import protocol_ids as p
from ..agent.fileio import decode_text
from ..service.frontend import FileEdit, NoDocumentsNoProgress
from .updates import EventMapper, tool_kind, tool_title

if TYPE_CHECKING:
    from .agent import AcpSession, MiniCodeAgent

log = logging.getLogger(__name__)

CURRENT_SESSION: contextvars.ContextVar[str | None] = contextvars.ContextVar("acp_session", default=None)

ALLOW_ONCE = PermissionOption(option_id="allow_once", name="Allow once", kind="allow_once")
ALLOW_ALWAYS = PermissionOption(option_id="allow_always", name="Allow for this session", kind="allow_always")
REJECT_ONCE = PermissionOption(option_id="reject_once", name="Reject", kind="reject_once")
OPTIONS = [ALLOW_ONCE, ALLOW_ALWAYS, REJECT_ONCE]
# How long a permission request may stay unanswered (a client that never answers must not
# hold a turn for ever; session/cancel ends it sooner).
PERMISSION_TIMEOUT_S = 3600.0


class AcpFrontend(NoDocumentsNoProgress):
    supports_confirmation = True

    def __init__(self, agent: MiniCodeAgent, root: Path) -> None:
        self.agent = agent
        self.root = root

    # ------------------------------------------------------------------ reading
    def open_text(self, path: Path) -> str | None:
        return None  # ACP clients tell no open buffers; their fs/read is async and per request

    # ------------------------------------------------------------------ notifications
    def publish(self, method: str, payload: dict[str, Any]) -> None:
        if method == p.NOTIFY_EVENT:
            session = self.agent.sessions.get(str(payload.get("sessionId")))
            if session is None:
                return
            for update in session.mapper.updates(str(payload.get("type")), payload.get("data") or {},
                                                 payload.get("turnId")):
                self.agent.send_update(session.id, update)
            session.observe(str(payload.get("type")), payload.get("data") or {}, payload.get("turnId"))
        elif method == p.NOTIFY_SESSIONS and payload.get("change") in ("created", "updated"):
            session = self.agent.sessions.get(str(payload.get("sessionId")))
            if session is not None:
                title = session.title()
                if title and title != session.sent_title:
                    session.sent_title = title
                    self.agent.send_update(session.id, SessionInfoUpdate(
                        session_update="session_info_update", title=title))

    def notify_user(self, message: str) -> None:
        sid = CURRENT_SESSION.get()
        if sid is not None:
            self.agent.send_update(sid, helpers.update_agent_thought_text(f"{message}\n"))
        else:
            log.warning("%s", message)

    # ------------------------------------------------------------------ questions
    async def choose(self, message: str, actions: list[str]) -> str | None:
        """A command approval (or any other question) as ``session/request_permission``."""
        session = self._session()
        if session is None:
            log.warning("no ACP session to ask %r; answering no", message)
            return None
        by_kind = {_kind_of(a): a for a in actions}
        options = [o for o in OPTIONS if o.kind in by_kind]
        call_id = session.mapper.open_call or f"ask-{id(message):x}"
        name, arguments = session.mapper.call_info(call_id)
        tool_call = ToolCallUpdate(
            tool_call_id=call_id, title=tool_title(name, arguments) if name else message,
            kind=tool_kind(name) if name else "other", status="pending", raw_input=arguments,
            content=[helpers.tool_content(helpers.text_block(message))],
        )
        chosen = await self._ask(session, tool_call, options)
        if chosen is None:
            return None
        return by_kind.get(chosen)

    async def apply_edits(self, edits: list[FileEdit], *, label: str, description: str, confirm: bool) -> bool:
        """Only the question: ACP tells no open buffers, so the service writes every file on disk
        itself once this answers True (re-deriving the edit on the disk as it is then)."""
        session = self._session()
        if not confirm or (session is not None and session.edits_allowed):
            return True
        if session is None:
            return False
        call_id = session.mapper.open_call or f"edit-{id(edits):x}"
        content: list[Any] = [helpers.tool_diff_content(str(e.path), decode_text(e.new) if e.new is not None else "",
                                                        decode_text(e.old) if e.old is not None else None) for e in edits]
        kind: ToolKind = "delete" if all(e.new is None for e in edits) else "edit"
        tool_call = ToolCallUpdate(
            tool_call_id=call_id, title=label, kind=kind, status="pending", content=content,
            locations=[ToolCallLocation(path=str(e.path)) for e in edits],
        )
        chosen = await self._ask(session, tool_call, OPTIONS)
        if chosen == "allow_always":
            session.edits_allowed = True
        return chosen in ("allow_once", "allow_always")

    async def _ask(self, session: AcpSession, tool_call: ToolCallUpdate,
                   options: list[PermissionOption]) -> str | None:
        """The option id the user picked; None when cancelled, unanswered or the client failed."""
        try:
            response = await asyncio.wait_for(
                self.agent.client.request_permission(session_id=session.id, tool_call=tool_call, options=options),
                timeout=PERMISSION_TIMEOUT_S,
            )
        except TimeoutError:
            log.warning("no answer to a permission request in %.0f s: taken as a refusal", PERMISSION_TIMEOUT_S)
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an error answer is a refusal, never a crash of the tool
            log.info("permission request answered with an error (%s): taken as a refusal", exc)
            return None
        outcome = response.outcome
        chosen = outcome.option_id if isinstance(outcome, AllowedOutcome) else None
        if chosen in ("allow_once", "allow_always") and tool_call.tool_call_id:
            self.agent.send_update(session.id, helpers.update_tool_call(tool_call.tool_call_id, status="in_progress"))
        return chosen

    def _session(self) -> AcpSession | None:
        sid = CURRENT_SESSION.get()
        return self.agent.sessions.get(sid) if sid else None


def _kind_of(action: str) -> str:
    low = action.lower()
    if any(w in low for w in ("deny", "decline", "reject", "no", "cancel")):
        return "reject_once"
    if "session" in low or "always" in low:
        return "allow_always"
    return "allow_once"


__all__ = ["CURRENT_SESSION", "AcpFrontend", "EventMapper"]
