"""The user's MCP servers: started lazily, kept while the process lives, their tools offered to
the agent as ``mcp__<server>__<tool>``.

Each server runs in a task of its own that holds the SDK's transport and session open until
``stop``; calls go through that session with the server's ``timeoutS``. A server that dies is
started again once, on the next call that needs it. The ``mcp`` SDK is imported only when a
server is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import McpServerConfig
from ..wording import plural

if TYPE_CHECKING:  # the agent's tool modules load with the first turn, not with the service
    from ..agent.tools.base import ToolContext, ToolOutput
    from ..agent.tools.registry import Tool

log = logging.getLogger(__name__)

PREFIX = "mcp__"
# What of a tool's result goes to the model (a 50 MB answer must not fill the context).
RESULT_CHARS = 60_000
NAME_MAX = 64  # providers' tool-name limit (OpenAI, Anthropic: ^[a-zA-Z0-9_-]{1,64}$)
STDERR_TAIL = 600


def expand(value: str) -> str:
    """``${VAR}`` (and ``${VAR:-default}``) from the environment, as .mcp.json files write them."""
    def sub(m: re.Match[str]) -> str:
        name, _, default = m.group(1).partition(":-")
        return os.environ.get(name, default)

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?)\}", sub, value)


def safe_name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", text) or "_"


def tool_name(server: str, tool: str) -> str:
    return f"{PREFIX}{safe_name(server)}__{safe_name(tool)}"[:NAME_MAX]


@dataclass
class ServerState:
    name: str
    config: McpServerConfig
    tools: list[Any] = field(default_factory=list)  # mcp.types.Tool
    session: Any = None
    error: str | None = None
    starts: int = 0
    task: asyncio.Task[Any] | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    stderr_path: Path | None = None
    tools_changed: bool = False

    @property
    def alive(self) -> bool:
        return self.session is not None and self.task is not None and not self.task.done()

    def stderr_tail(self) -> str:
        if self.stderr_path is None:
            return ""
        try:
            data = self.stderr_path.read_bytes()[-STDERR_TAIL:]
        except OSError:
            return ""
        return data.decode("utf-8", "replace").strip()


class McpManager:
    """One per workspace service. ``configs``: the settings' ``mcpServers`` (enabled ones)."""

    def __init__(self, root: Path, configs: dict[str, McpServerConfig], *, scratch: Path | None = None) -> None:
        self.root = root
        self.scratch = scratch
        self.servers: dict[str, ServerState] = {}
        self.configure(configs)
        self._lock = asyncio.Lock()

    def configure(self, configs: dict[str, McpServerConfig]) -> None:
        """Take new settings: servers whose config changed or that were removed are stopped."""
        for name, state in list(self.servers.items()):
            if configs.get(name) != state.config:
                self._stop_later(state)
                del self.servers[name]
        for name, config in configs.items():
            if config.enabled and name not in self.servers:
                self.servers[name] = ServerState(name, config)

    # ------------------------------------------------------------------ lifecycle
    async def ensure_started(self, name: str) -> ServerState:
        state = self.servers[name]
        async with self._lock:
            if state.alive:
                return state
            if state.starts >= 2:  # started, died, restarted once, died again: give up until reconfigured
                return state
            await self._start(state)
        return state

    async def start_all(self) -> list[ServerState]:
        return list(await asyncio.gather(*(self.ensure_started(n) for n in self.servers)))

    async def _start(self, state: ServerState) -> None:
        state.starts += 1
        state.stop = asyncio.Event()
        state.ready = asyncio.Event()
        state.error = None
        state.session = None
        state.task = asyncio.create_task(self._run(state), name=f"mcp-{state.name}")
        waiter = asyncio.create_task(state.ready.wait())
        try:
            await asyncio.wait({waiter, state.task}, timeout=state.config.start_timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if state.ready.is_set() and state.session is not None:
            return
        if state.error is None:
            state.error = f"did not start and list its tools within {state.config.start_timeout_s:g} s (startTimeoutS)"
        state.task.cancel()
        tail = state.stderr_tail()
        if tail and "stderr:" not in state.error:
            state.error += f"; stderr: {tail}"
        log.info("MCP server %s: %s", state.name, state.error)

    async def _run(self, state: ServerState) -> None:
        try:
            from mcp import ClientSession

            async with contextlib.AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport(state))

                async def on_message(message: Any) -> None:
                    if type(getattr(message, "root", message)).__name__ == "ToolListChangedNotification":
                        state.tools_changed = True

                session = await stack.enter_async_context(ClientSession(
                    read, write, read_timeout_seconds=state.config.timeout_s, message_handler=on_message))
                await session.initialize()
                state.tools = await _list_all_tools(session)
                state.session = session
                state.ready.set()
                await state.stop.wait()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # an ExceptionGroup from the SDK's task group, an OSError ...
            state.error = describe_failure(state, exc)
        finally:
            state.session = None

    def _transport(self, state: ServerState) -> Any:
        cfg = state.config
        if cfg.url:
            from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

            headers = {h: expand(v) for h, v in cfg.headers.items()}
            headers.update({h: os.environ.get(var, "") for h, var in cfg.headers_env.items()})
            missing = [var for var in cfg.headers_env.values() if not os.environ.get(var)]
            if missing:
                raise RuntimeError(f"the environment variable{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                                   f"for its headers {'are' if len(missing) > 1 else 'is'} not set")
            return _http(streamable_http_client, create_mcp_http_client, cfg.url, headers)
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "USER", "TMPDIR", "TERM")}
        env.update({name: os.environ[name] for name in cfg.env if name in os.environ})
        env.update({name: expand(value) for name, value in cfg.env_values.items()})
        cwd = Path(cfg.cwd).expanduser() if cfg.cwd else self.root
        if not cwd.is_absolute():
            cwd = self.root / cwd
        state.stderr_path = Path(tempfile.mkstemp(prefix=f"mcp-{safe_name(state.name)}-", suffix=".stderr",
                                                  dir=self.scratch)[1])
        errlog = open(state.stderr_path, "w", encoding="utf-8")  # noqa: SIM115 - closed with the transport
        params = StdioServerParameters(command=cfg.command, args=list(cfg.args), env=env, cwd=cwd)
        return _closing(stdio_client(params, errlog=errlog), errlog)

    async def _forget(self, state: ServerState) -> None:
        """A server whose connection is gone: end its task, so the next call starts it again."""
        state.stop.set()
        if state.task is not None and not state.task.done():
            _, pending = await asyncio.wait({state.task}, timeout=2)
            for task in pending:
                task.cancel()
        state.session = None

    def _stop_later(self, state: ServerState) -> None:
        state.stop.set()

    async def stop(self) -> None:
        tasks = []
        for state in self.servers.values():
            state.stop.set()
            if state.task is not None:
                tasks.append(state.task)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=5)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)

    # ------------------------------------------------------------------ tools
    async def tools(self) -> tuple[list[Tool], list[str]]:
        """The agent's Tool objects of every server that runs, and a line per server that does not."""
        problems: list[str] = []
        out: list[Tool] = []
        for state in await self.start_all():
            if not state.alive:
                problems.append(f"MCP server {state.name}: {state.error or 'not running'}")
                continue
            if state.tools_changed and state.session is not None:
                state.tools_changed = False
                with contextlib.suppress(Exception):
                    state.tools = await _list_all_tools(state.session)
            out += [self._tool(state, t) for t in state.tools]
        return out, problems

    def _tool(self, state: ServerState, tool: Any) -> Tool:
        from ..agent.messages import ToolSpec
        from ..agent.tools.registry import Tool

        name = tool_name(state.name, tool.name)
        annotations = tool.annotations
        # readOnlyHint: runs in plan mode too, with no checkpoint group (it changes nothing)
        read_only = bool(annotations and annotations.read_only_hint)
        description = (tool.description or tool.title or tool.name).strip()
        spec = ToolSpec(name=name, description=f"[MCP server {state.name}] {description}"[:1024],
                        parameters=tool.input_schema or {"type": "object", "properties": {}})

        async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
            return await self.call(state.name, tool.name, args)

        return Tool(spec=spec, kind="read" if read_only else "external", run=run)

    def allowed(self) -> set[str]:
        """Tool names the user's config allows without asking (``allow = [...]``)."""
        return {tool_name(s.name, t) for s in self.servers.values() for t in s.config.allow}

    async def call(self, server: str, tool: str, args: dict[str, Any]) -> ToolOutput:
        from ..agent.tools.base import ToolOutput

        state = await self.ensure_started(server)
        if not state.alive:
            return ToolOutput(f"MCP server {server} is not running: {state.error}", is_error=True)
        try:
            result = await asyncio.wait_for(state.session.call_tool(tool, args), timeout=state.config.timeout_s)
        except TimeoutError:
            return ToolOutput(f"MCP server {server}: {tool} did not answer within {state.config.timeout_s:g} s "
                              f"(timeoutS)", is_error=True)
        except Exception as exc:
            if not state.alive or _connection_lost(exc):  # it died mid-call: the next call starts it again (once)
                await self._forget(state)
                tail = state.stderr_tail()
                return ToolOutput(f"MCP server {server} stopped during {tool} ({_message(exc)})"
                                  + (f"; stderr: {tail}" if tail else ""), is_error=True)
            return ToolOutput(f"MCP server {server}: {tool} failed: {_message(exc)}", is_error=True)
        return result_output(result)


async def mcp_checks(manager: McpManager, *, probe: bool) -> list[Any]:
    """One readiness check per configured server: started with its tools listed, or the error."""
    from ..protocol import ReadinessCheck

    checks = []
    states = await manager.start_all() if probe else list(manager.servers.values())
    for state in states:
        name = f"mcp:{state.name}"
        if state.alive:
            names = ", ".join(t.name for t in state.tools[:12]) + (" ..." if len(state.tools) > 12 else "")
            checks.append(ReadinessCheck(name=name, status="ok", detail=f"{plural(len(state.tools), 'tool')}: {names}"))
        elif state.error:
            checks.append(ReadinessCheck(name=name, status="warn", detail=state.error,
                                         fix=f"fix mcpServers.{state.name} in the config, or set enabled = false"))
        else:
            checks.append(ReadinessCheck(name=name, status="ok", detail="configured; starts with the first turn"))
    return checks


def result_output(result: Any) -> ToolOutput:
    from ..agent.tools.base import ToolOutput

    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} {getattr(block, 'mime_type', '')}: {len(getattr(block, 'data', '') or '')} "
                         "base64 characters, not shown]")
        elif kind == "resource":
            res = block.resource
            text = getattr(res, "text", None)
            parts.append(text if text is not None else f"[resource {res.uri}: binary, not shown]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.uri}]")
    structured = getattr(result, "structured_content", None)
    if structured is not None and not parts:
        import json

        parts.append(json.dumps(structured, ensure_ascii=False, indent=1))
    text = "\n".join(parts) or "(no content)"
    if len(text) > RESULT_CHARS:
        text = text[:RESULT_CHARS] + f"\n... (cut: the result had {len(text):,} characters)"
    return ToolOutput(text, is_error=bool(getattr(result, "is_error", False)))


async def _list_all_tools(session: Any) -> list[Any]:
    tools: list[Any] = []
    cursor = None
    for _ in range(50):
        from mcp import types

        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
        tools += page.tools
        cursor = getattr(page, "next_cursor", None)
        if not cursor:
            break
    return tools


def _connection_lost(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _leaves(exc)}
    return bool(names & {"ClosedResourceError", "BrokenResourceError", "EndOfStream", "BrokenPipeError",
                         "ConnectionResetError"}) or "connection closed" in str(exc).lower()


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _message(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _message(exc.exceptions[0])
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def describe_failure(state: ServerState, exc: BaseException) -> str:
    """The error a user can act on: a missing command, an exit with its stderr, an HTTP status."""
    inner = exc
    while isinstance(inner, BaseExceptionGroup) and inner.exceptions:
        inner = inner.exceptions[0]
    cfg = state.config
    if isinstance(inner, FileNotFoundError) and cfg.command:
        return f"command not found: {cfg.command} (install it, or give its full path in mcpServers.{state.name}.command)"
    status = getattr(getattr(inner, "response", None), "status_code", None)
    if status is not None:
        return f"HTTP {status} from {cfg.url}"
    tail = state.stderr_tail()
    text = _message(inner)
    return f"{text}; stderr: {tail}" if tail else text


@contextlib.asynccontextmanager
async def _closing(cm: Any, file: Any) -> Any:
    try:
        async with cm as streams:
            yield streams
    finally:
        file.close()


@contextlib.asynccontextmanager
async def _http(client_fn: Callable[..., Any], make_client: Callable[..., Any], url: str,
                headers: dict[str, str]) -> Any:
    async with make_client(headers=headers) as http, client_fn(url, http_client=http) as streams:
        yield streams[0], streams[1]


__all__ = ["PREFIX", "McpManager", "ServerState", "tool_name"]
