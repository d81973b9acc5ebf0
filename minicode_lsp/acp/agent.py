"""The ACP agent: sessions, prompts, modes and slash commands over the shared service.

Sessions live in the same store as the language server's and the CLI's: the ACP ``sessionId``
is the store's session id, so a session started in Zed is listed by ``minicode-lsp sessions
list`` and the editors' panels, and the other way round. One service per workspace folder
(``cwd``), opened the first time a session names it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from acp import PROTOCOL_VERSION, RequestError, helpers
from acp.schema import (
    AgentCapabilities,
    AuthenticateResponse,
    AvailableCommand,
    AvailableCommandInput,
    AvailableCommandsUpdate,
    ClientCapabilities,
    CloseSessionResponse,
    ConfigOptionUpdate,
    Implementation,
    InitializeResponse,
    ListSessionsResponse,
    LoadSessionResponse,
    McpCapabilities,
    NewSessionResponse,
    PromptCapabilities,
    PromptResponse,
    ResumeSessionResponse,
    SessionCapabilities,
    SessionCloseCapabilities,
    SessionConfigOptionSelect,
    SessionConfigSelectOption,
    SessionInfo,
    SessionListCapabilities,
    SessionMode,
    SessionModeState,
    SessionResumeCapabilities,
    SetSessionConfigOptionResponse,
    SetSessionModeResponse,
    UnstructuredCommandInput,
    Usage,
)

from .. import __version__
from .. import protocol as p
from ..agent.fileio import decode_text
from ..config import McpServerConfig
from ..service import Service, ServiceError
from ..service.mcp import McpManager
from .frontend import CURRENT_SESSION, AcpFrontend
from .prompt import prompt_text
from .updates import EventMapper

log = logging.getLogger(__name__)

MODES = {
    "ask": ("Ask", "Asks before every edit and command"),
    "plan": ("Plan", "Read-only: looks and plans, changes nothing"),
    "auto": ("Auto", "Edits and runs commands freely; every change is checkpointed and can be rewound"),
}
# MiniCode stop reason -> ACP stop reason (provider_error and blocked are JSON-RPC errors instead)
STOP_REASONS = {
    "done": "end_turn",
    "await_user": "end_turn",
    "verification_failed": "end_turn",
    "max_steps": "max_turn_requests",
    "context_exhausted": "max_tokens",
    "cancelled": "cancelled",
    "interrupted": "cancelled",
}
SLASH_COMMANDS = [
    ("rewind", "Take back the agent's changes, keeping yours (shows the diff and asks first)",
     "latest | N | <group or turn id> | session"),
    ("rewind-undo", "Undo the last rewind", None),
    ("checkpoints", "List this session's checkpoints (edit groups)", None),
    ("sessions", "List the sessions of this workspace", None),
    ("readiness", "Can the agent work here, and if not why", None),
    ("memory", "Show the project and user memory entries", None),
]
LIST_PAGE = 50


class AcpSession:
    def __init__(self, session_id: str, svc: Service, mode: str) -> None:
        self.id = session_id
        self.svc = svc
        self.mode = mode
        self.mapper = EventMapper(svc.workspace.root, lambda group_id: group_diffs(svc, group_id))
        self.mapper.mode = mode
        self.edits_allowed = False  # "Allow for this session" on an edit
        self.lock = asyncio.Lock()  # prompts sent while a turn runs wait their turn here
        self.sent_title: str | None = None
        self.finished: dict[str, dict[str, Any]] = {}  # turn id -> turn.finished data
        self.errors: dict[str, dict[str, Any]] = {}  # turn id -> the last error event's data

    def title(self) -> str:
        try:
            return self.svc.workspace.sessions.get_session(self.id).title
        except Exception:
            return ""

    def observe(self, type: str, data: dict[str, Any], turn_id: str | None) -> None:
        if turn_id and type == p.EV_TURN_FINISHED:
            self.finished[turn_id] = data
        elif turn_id and type == p.EV_ERROR:
            self.errors[turn_id] = data


def group_diffs(svc: Service, group_id: str) -> list[tuple[str, str | None, str | None]]:
    group = svc.workspace.checkpoints.get_group(group_id)
    if group is None:
        return []
    out = []
    for f in group.files:
        try:
            old = decode_text(svc.workspace.blobs.get(f.pre_sha)) if f.pre_sha else None
            new = decode_text(svc.workspace.blobs.get(f.post_sha)) if f.post_sha else None
        except Exception:  # a pruned or unreadable image: the file is listed without its text
            old = new = None
        out.append((f.path, old, new))
    return out


def _error(exc: ServiceError) -> RequestError:
    return RequestError(exc.code, exc.message)


def invalid(message: str) -> RequestError:
    """Invalid params, with the reason as the message (what clients show)."""
    return RequestError(p.ERR_INVALID_PARAMS, message)


class MiniCodeAgent:
    """Routed by the SDK by attribute name: keep every attribute that is not a method of the
    protocol out of its names (an attribute called ``cancel`` would shadow ``session/cancel``)."""

    def __init__(self, launch_root: Path) -> None:
        self.launch_root = launch_root.resolve()
        self.workspaces: dict[Path, Service] = {}
        self.sessions: dict[str, AcpSession] = {}
        self.client: Any = None
        self._sends: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ plumbing
    def on_connect(self, conn: Any) -> None:
        self.client = conn

    def send_update(self, session_id: str, update: Any) -> None:
        """Queue a ``session/update``; sent in the order queued (the SDK's sender is FIFO)."""
        if self.client is None:
            return
        task = asyncio.get_running_loop().create_task(self.client.session_update(session_id=session_id, update=update))
        self._sends.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[Any]) -> None:
        self._sends.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("a session/update could not be sent: %s", task.exception())

    async def flush(self) -> None:
        """Every update queued so far has been handed to the transport (before a response)."""
        while self._sends:
            await asyncio.gather(*list(self._sends), return_exceptions=True)

    def workspace(self, cwd: str | None) -> Service:
        root = Path(cwd).expanduser() if cwd else self.launch_root
        if not root.is_absolute():
            raise invalid(f"cwd must be an absolute path, got {cwd!r}")
        root = root.resolve()
        if not root.is_dir():
            raise invalid(f"cwd {root} is not a folder")
        svc = self.workspaces.get(root)
        if svc is None:
            try:
                svc = Service(root, AcpFrontend(self, root), watch=True)
            except ServiceError as exc:
                raise _error(exc) from None
            except Exception as exc:  # e.g. a store folder that cannot be created
                raise RequestError(p.ERR_NOT_READY, f"cannot open the MiniCode store for {root}: {exc}") from None
            self.workspaces[root] = svc
        return svc

    def session(self, session_id: str) -> AcpSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise RequestError(p.ERR_UNKNOWN_SESSION, f"unknown session {session_id}: load or create it first")
        return session

    async def shutdown(self) -> None:
        for svc in self.workspaces.values():
            try:
                await svc.shutdown()
            finally:
                svc.close()

    # ------------------------------------------------------------------ protocol: setup
    async def initialize(self, protocol_version: int, client_capabilities: ClientCapabilities | None = None,
                         client_info: Implementation | None = None, **kwargs: Any) -> InitializeResponse:
        if client_info is not None:
            log.info("ACP client: %s %s", client_info.name, client_info.version)
        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(
                load_session=True,
                prompt_capabilities=PromptCapabilities(image=False, audio=False, embedded_context=True),
                mcp_capabilities=McpCapabilities(http=True, sse=False),
                session_capabilities=SessionCapabilities(
                    list=SessionListCapabilities(), resume=SessionResumeCapabilities(),
                    close=SessionCloseCapabilities(),
                ),
            ),
            agent_info=Implementation(name="minicode-lsp", title="MiniCode", version=__version__),
            auth_methods=[],
        )

    async def authenticate(self, method_id: str, **kwargs: Any) -> AuthenticateResponse:
        return AuthenticateResponse()  # keys come from the environment: nothing to do

    # ------------------------------------------------------------------ protocol: sessions
    async def new_session(self, cwd: str, mcp_servers: list[Any] | None = None,
                          additional_directories: list[str] | None = None, **kwargs: Any) -> NewSessionResponse:
        svc = self.workspace(cwd)
        row = svc.workspace.sessions.create_session("", str(svc.workspace.root))
        session = self._attach(row.id, svc, svc.workspace.settings.agent.permission_mode)
        self._use_mcp(session, mcp_servers)
        svc.workspace.notify_sessions(row.id, "created")
        self._after_answer(session)
        return NewSessionResponse(session_id=row.id, modes=self._modes(session),
                                  config_options=self._config_options(session))

    async def load_session(self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None,
                           additional_directories: list[str] | None = None, **kwargs: Any) -> LoadSessionResponse:
        session = self._open_stored(cwd, session_id)
        self._use_mcp(session, mcp_servers)
        mapper = EventMapper(session.svc.workspace.root, session.mapper.diffs)
        for event in session.svc.workspace.sessions.replay(session.id):
            for update in mapper.updates(event.type, event.data, event.turn_id, replay=True):
                self.send_update(session.id, update)
        await self.flush()  # the history is sent, *then* the answer
        self._after_answer(session)
        return LoadSessionResponse(modes=self._modes(session), config_options=self._config_options(session))

    async def resume_session(self, session_id: str, cwd: str, additional_directories: list[str] | None = None,
                             mcp_servers: list[Any] | None = None, **kwargs: Any) -> ResumeSessionResponse:
        session = self._open_stored(cwd, session_id)
        self._use_mcp(session, mcp_servers)
        self._after_answer(session)
        return ResumeSessionResponse(modes=self._modes(session), config_options=self._config_options(session))

    async def list_sessions(self, cwd: str | None = None, cursor: str | None = None,
                            **kwargs: Any) -> ListSessionsResponse:
        svc = self.workspace(cwd)
        try:
            data = svc.sessions.list(p.SessionListArgs(limit=LIST_PAGE, cursor=cursor))
        except ServiceError as exc:
            raise _error(exc) from None
        infos = [SessionInfo(session_id=s.id, cwd=s.workspace or str(svc.workspace.root), title=s.title or None,
                             updated_at=s.updated_at)
                 for s in data.sessions if Path(s.workspace or svc.workspace.root) == svc.workspace.root]
        return ListSessionsResponse(sessions=infos, next_cursor=data.next_cursor)

    async def close_session(self, session_id: str, **kwargs: Any) -> CloseSessionResponse:
        session = self.sessions.pop(session_id, None)
        if session is not None and session.id in session.svc.workspace.running:
            await session.svc.tasks.cancel(session.id)
        if session is not None and session.id in session.svc.workspace.session_mcp:
            await session.svc.workspace.session_mcp.pop(session.id).stop()
        return CloseSessionResponse()

    def _open_stored(self, cwd: str, session_id: str) -> AcpSession:
        svc = self.workspace(cwd)
        try:
            sid = svc.workspace.resolve_session(session_id)
        except ServiceError as exc:
            raise _error(exc) from None
        known = self.sessions.get(sid)
        if known is not None:
            return known
        return self._attach(sid, svc, stored_mode(svc, sid))

    def _use_mcp(self, session: AcpSession, servers: list[Any] | None) -> None:
        """The MCP servers the client sent (stdio, and HTTP) are used for this session's turns."""
        configs: dict[str, McpServerConfig] = {}
        for server in servers or []:
            data = server.model_dump()
            name = str(data.get("name") or f"server{len(configs) + 1}")
            if data.get("command"):
                configs[name] = McpServerConfig(
                    command=data["command"], args=list(data.get("args") or []),
                    env_values={e["name"]: e["value"] for e in data.get("env") or []})
            elif data.get("url") and data.get("type", "http") == "http":
                configs[name] = McpServerConfig(url=data["url"],
                                                headers={h["name"]: h["value"] for h in data.get("headers") or []})
            else:
                log.warning("MCP server %s from the client is not stdio or HTTP; left out", name)
        old = session.svc.workspace.session_mcp.get(session.id)
        if old is not None:
            old.configure(configs)
        elif configs:
            session.svc.workspace.session_mcp[session.id] = McpManager(session.svc.workspace.root, configs, scratch=session.svc.workspace.store_dir)

    def _attach(self, session_id: str, svc: Service, mode: str) -> AcpSession:
        session = AcpSession(session_id, svc, mode)
        session.sent_title = session.title() or None
        self.sessions[session_id] = session
        return session

    def _after_answer(self, session: AcpSession) -> None:
        """``available_commands_update`` goes out after the answer to new/load/resume."""
        commands = [AvailableCommand(name=name, description=desc,
                                     input=AvailableCommandInput(root=UnstructuredCommandInput(hint=hint))
                                     if hint else None)
                    for name, desc, hint in SLASH_COMMANDS]
        update = AvailableCommandsUpdate(session_update="available_commands_update", available_commands=commands)
        asyncio.get_running_loop().call_later(0.02, self.send_update, session.id, update)

    # ------------------------------------------------------------------ protocol: modes and options
    def _modes(self, session: AcpSession) -> SessionModeState:
        return SessionModeState(current_mode_id=session.mode, available_modes=[
            SessionMode(id=mode, name=name, description=desc) for mode, (name, desc) in MODES.items()])

    def _config_options(self, session: AcpSession) -> list[Any]:
        return [SessionConfigOptionSelect(
            id="mode", name="Mode", description="What the agent may do without asking", category="mode",
            type="select", current_value=session.mode,
            options=[SessionConfigSelectOption(value=mode, name=name, description=desc)
                     for mode, (name, desc) in MODES.items()],
        )]

    async def set_session_mode(self, session_id: str, mode_id: str, **kwargs: Any) -> SetSessionModeResponse:
        self._set_mode(self.session(session_id), mode_id)
        return SetSessionModeResponse()

    async def set_config_option(self, config_id: str, session_id: str, value: str | bool,
                                **kwargs: Any) -> SetSessionConfigOptionResponse:
        session = self.session(session_id)
        if config_id != "mode":
            raise invalid(f"unknown option {config_id!r}; MiniCode has: mode")
        self._set_mode(session, str(value))
        return SetSessionConfigOptionResponse(config_options=self._config_options(session))

    def _set_mode(self, session: AcpSession, mode: str) -> None:
        if mode not in MODES:
            raise invalid(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        if mode == session.mode:
            return
        session.mode = session.mapper.mode = mode
        session.svc.workspace.sessions.append_event(session.id, None, p.EV_MODE_CHANGED, {"mode": mode})
        # both spellings, for clients that know only one of them
        self.send_update(session.id, helpers.update_current_mode(mode))
        self.send_update(session.id, ConfigOptionUpdate(session_update="config_option_update",
                                                        config_options=self._config_options(session)))

    # ------------------------------------------------------------------ protocol: prompts
    async def prompt(self, session_id: str, prompt: list[Any], **kwargs: Any) -> PromptResponse:
        session = self.session(session_id)
        text = prompt_text(prompt, session.svc.workspace.root)
        if not text.strip():
            raise invalid("the prompt is empty")
        async with session.lock:  # a prompt sent while a turn runs waits here: queued, not refused
            token = CURRENT_SESSION.set(session.id)
            try:
                if text.lstrip().startswith("/"):
                    from .slash import run_slash

                    await run_slash(self, session, text.strip())
                    await self.flush()
                    return PromptResponse(stop_reason="end_turn")
                return await self._run_turn(session, text)
            finally:
                CURRENT_SESSION.reset(token)

    async def _run_turn(self, session: AcpSession, text: str) -> PromptResponse:
        svc = session.svc
        if not session.title():
            svc.workspace.sessions.set_title(session.id, " ".join(text.split())[:80])
        try:
            ids = svc.tasks.run(p.TaskRunArgs.model_validate(
                {"prompt": text, "sessionId": session.id, "permissionMode": session.mode}))
        except ServiceError as exc:
            raise _error(exc) from None
        running = svc.workspace.running.get(session.id)
        if running is not None and running.task is not None:
            await asyncio.wait({running.task})
        await self.flush()
        turn_id = ids.turn_id
        data = session.finished.pop(turn_id, None)
        error = session.errors.pop(turn_id, {})
        if data is None:  # the turn's task ended without recording its end: a bug, said as one
            raise RequestError(-32603, "MiniCode: the turn ended without a result (a bug; the log has the "
                               "details: minicode-lsp --log-file FILE acp)", {"turnId": turn_id})
        reason = str(data.get("stopReason") or "cancelled")
        usage = data.get("usage") or {}
        if reason in ("provider_error", "blocked"):
            message = str(data.get("error") or error.get("message") or reason)
            hint = error.get("hint")
            raise RequestError(-32603, f"MiniCode stopped ({reason}): {message}" + (f" (fix: {hint})" if hint else ""),
                               {"stopReason": reason, "turnId": turn_id, **({"hint": hint} if hint else {})})
        tokens_in, tokens_out = int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0)
        return PromptResponse(
            stop_reason=STOP_REASONS.get(reason, "end_turn"),  # type: ignore[arg-type]
            usage=Usage(total_tokens=tokens_in + tokens_out, input_tokens=tokens_in, output_tokens=tokens_out),
            field_meta={"minicode": {"stopReason": reason, "turnId": turn_id}},
        )

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        session = self.sessions.get(session_id)
        if session is not None and session.id in session.svc.workspace.running:
            await session.svc.tasks.cancel(session.id)


def stored_mode(svc: Service, session_id: str) -> str:
    """The mode a reattaching client gets back: the last one set, else the last turn's."""
    mode: str = svc.workspace.settings.agent.permission_mode
    for event in svc.workspace.sessions.replay(session_id):
        if event.type == p.EV_MODE_CHANGED:
            mode = str(event.data.get("mode") or mode)
        elif event.type == p.EV_TURN_STARTED:
            mode = str(event.data.get("permissionMode") or mode)
    return mode if mode in MODES else "ask"
