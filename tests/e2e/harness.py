"""A small, real editor for e2e tests: pytest-lsp's client driving the real `minicode-lsp serve`.

It keeps its open documents, applies the server's ``workspace/applyEdit`` to them (sending
``didChange`` back, as an editor does), answers questions from a script, and records every
MiniCode notification.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types as t
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from minicode_lsp import protocol as p

SERVER_CMD = [sys.executable, "-m", "minicode_lsp", "-v", "serve"]
PROFILES = {"vscode": "visual-studio-code", "neovim": "neovim@v0.11.0"}


def _fixed_converter() -> Any:
    # lsprotocol 2025.0.0 reads a CodeAction carrying a command as a bare Command (recipes/pygls2).
    from typing import Union

    conv = default_converter()

    def hook(obj: Any, _: Any) -> Any:
        if isinstance(obj, dict) and isinstance(obj.get("command"), str):
            return conv.structure(obj, t.Command)
        return conv.structure(obj, t.CodeAction)

    conv.register_structure_hook(Union[t.Command, t.CodeAction], hook)  # noqa: UP007
    return conv


def offset_of(text: str, pos: t.Position) -> int:
    lines = text.split("\n")
    off = sum(len(line) + 1 for line in lines[: pos.line])
    line = lines[pos.line] if pos.line < len(lines) else ""
    # UTF-16 code units -> characters
    units, chars = 0, 0
    while chars < len(line) and units < pos.character:
        units += 2 if ord(line[chars]) > 0xFFFF else 1
        chars += 1
    return off + chars


def apply_text_edits(text: str, edits: list[Any]) -> str:
    spans = sorted(((offset_of(text, e.range.start), offset_of(text, e.range.end), e.new_text) for e in edits),
                   reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


@dataclass
class Editor:
    client: LanguageClient
    root: Path
    profile: str
    docs: dict[str, list[Any]] = field(default_factory=dict)  # uri -> [version, text]
    events: list[dict[str, Any]] = field(default_factory=list)
    readiness: list[dict[str, Any]] = field(default_factory=list)
    session_changes: list[dict[str, Any]] = field(default_factory=list)
    applied: list[t.ApplyWorkspaceEditParams] = field(default_factory=list)
    apply_answers: list[bool] = field(default_factory=list)  # consumed first; default True
    questions: list[t.ShowMessageRequestParams] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)  # consumed first; default None
    shown_documents: list[str] = field(default_factory=list)
    init_result: Any = None
    # quirks of clients CI cannot run (tests/e2e/test_client_quirks.py)
    echo_delay_s: float = 0.0  # didChange for an applied edit sent this late (Eglot: its idle timer)
    apply_error: str | None = None  # answer applyEdit with this error (Eglot's "n": User cancelled server edit)
    questions_hang: bool = False  # never answer showMessageRequest (ALE answers no request)
    show_document_answer: str = "success"  # or "null", "error", "hang"
    withdrawn: list[str] = field(default_factory=list)  # requests the server withdrew ($/cancelRequest)
    # answers applyEdit instead (a raw JSON result, extension fields included)
    apply_override: Callable[[t.ApplyWorkspaceEditParams], Any] | None = None

    # ---------------------------------------------------------------- documents
    def open(self, rel: str, language: str = "python") -> str:
        path = self.root / rel
        uri = path.as_uri()
        text = path.read_bytes().decode("utf-8", errors="replace")
        self.docs[uri] = [1, text]
        self.client.text_document_did_open(
            t.DidOpenTextDocumentParams(t.TextDocumentItem(uri=uri, language_id=language, version=1, text=text))
        )
        return uri

    def type_text(self, uri: str, new_text: str, *, delay: float = 0.0) -> None:
        """The user edits a buffer (a full-text change); its didChange goes out after ``delay``."""
        doc = self.docs[uri]
        doc[0] += 1
        doc[1] = new_text
        params = t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=doc[0]),
            content_changes=[t.TextDocumentContentChangeWholeDocument(text=new_text)],
        )
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self.client.text_document_did_change, params)
        else:
            self.client.text_document_did_change(params)

    def text(self, uri: str) -> str:
        return self.docs[uri][1]

    def _on_apply(self, params: t.ApplyWorkspaceEditParams) -> Any:
        self.applied.append(params)
        if self.apply_override is not None:
            return self.apply_override(params)
        if self.apply_error:
            raise RuntimeError(self.apply_error)
        ok = self.apply_answers.pop(0) if self.apply_answers else True
        if not ok:
            return t.ApplyWorkspaceEditResult(applied=False, failure_reason="declined by the test user")
        for change in params.edit.document_changes or []:
            if isinstance(change, t.TextDocumentEdit):
                uri = change.text_document.uri
                doc = self.docs.get(uri)
                if doc is None:
                    continue  # not open here: the server writes the disk
                version = change.text_document.version
                if version is not None and version != doc[0]:
                    return t.ApplyWorkspaceEditResult(applied=False, failure_reason="stale version")
                self.type_text(uri, apply_text_edits(doc[1], list(change.edits)), delay=self.echo_delay_s)
        return t.ApplyWorkspaceEditResult(applied=True)

    # ---------------------------------------------------------------- commands
    async def command(self, name: str, args: Any = None) -> Any:
        arguments = None if args is None else [args]
        return await self.client.workspace_execute_command_async(
            t.ExecuteCommandParams(command=name, arguments=arguments)
        )

    async def run_task(self, prompt: str, **extra: Any) -> dict[str, Any]:
        result = await self.command(p.CMD_TASK_RUN, {"prompt": prompt, **extra})
        return dict(result)

    def turn_events(self, turn_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["turnId"] == turn_id]

    async def wait_turn(self, turn_id: str, timeout: float = 60) -> dict[str, Any]:
        """The turn.finished event's data, once it arrives."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events:
                if e["turnId"] == turn_id and e["type"] == p.EV_TURN_FINISHED:
                    return dict(e["data"])
            await asyncio.sleep(0.02)
        raise AssertionError(f"turn {turn_id} did not finish in {timeout}s; events: {self.turn_events(turn_id)}")

    async def wait_for(self, predicate: Any, timeout: float = 30, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")


def server_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "MINICODE_CONFIG": str(home / "user-config.toml"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


@asynccontextmanager
async def editor(
    root: Path,
    *,
    profile: str = "vscode",
    home: Path | None = None,
    env: dict[str, str] | None = None,
    init_options: dict[str, Any] | None = None,
    log_file: Path | None = None,
    capabilities: Any = None,
) -> AsyncIterator[Editor]:
    """``capabilities(caps)`` may change the client capabilities before ``initialize``."""
    client = LanguageClient(converter_factory=_fixed_converter)
    register_lsp_features(
        client, {m: f for m, f in DEFAULT_CLIENT_FEATURES.items() if m != t.WINDOW_SHOW_DOCUMENT}
    )
    ed = Editor(client=client, root=root, profile=profile)

    @client.feature(t.WORKSPACE_APPLY_EDIT)
    def on_apply(params: t.ApplyWorkspaceEditParams) -> t.ApplyWorkspaceEditResult:
        return ed._on_apply(params)

    async def never(what: str) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:  # the server sent $/cancelRequest for it
            ed.withdrawn.append(what)
            raise

    @client.feature(t.WINDOW_SHOW_MESSAGE_REQUEST)
    async def on_question(params: t.ShowMessageRequestParams) -> t.MessageActionItem | None:
        ed.questions.append(params)
        if ed.questions_hang:
            await never(t.WINDOW_SHOW_MESSAGE_REQUEST)
        answer = ed.answers.pop(0) if ed.answers else None
        return t.MessageActionItem(title=answer) if answer else None

    @client.feature(t.WINDOW_SHOW_DOCUMENT)
    async def on_show(params: t.ShowDocumentParams) -> t.ShowDocumentResult | None:
        ed.shown_documents.append(params.uri)
        if ed.show_document_answer == "hang":
            await never(t.WINDOW_SHOW_DOCUMENT)
        if ed.show_document_answer == "error":
            raise RuntimeError("no such window")
        if ed.show_document_answer == "null":
            return None
        return t.ShowDocumentResult(success=True)

    @client.feature(p.NOTIFY_EVENT)
    def on_event(params: Any) -> None:
        ed.events.append(_plain(params))

    @client.feature(p.NOTIFY_READINESS)
    def on_readiness(params: Any) -> None:
        ed.readiness.append(_plain(params))

    @client.feature(p.NOTIFY_SESSIONS)
    def on_sessions(params: Any) -> None:
        ed.session_changes.append(_plain(params))

    home = home or root.parent / "home"
    cmd = list(SERVER_CMD)
    if log_file is not None:
        cmd[3:3] = ["--log-file", str(log_file)]
    await client.start_io(*cmd, env=server_env(home, env))
    caps = client_capabilities(PROFILES[profile])
    caps.window = caps.window or t.WindowClientCapabilities()
    caps.window.work_done_progress = True
    if caps.window.show_document is None:
        caps.window.show_document = t.ShowDocumentClientCapabilities(support=True)
    if capabilities is not None:
        capabilities(caps)
    ed.init_result = await client.initialize_session(
        t.InitializeParams(
            capabilities=caps,
            root_uri=root.as_uri(),
            workspace_folders=[t.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=init_options,
        )
    )
    try:
        yield ed
    finally:
        try:
            await asyncio.wait_for(client.shutdown_session(), timeout=10)
        finally:
            await client.stop()


def _plain(params: Any) -> Any:
    """Custom notifications arrive as namedtuple-like objects; turn them back into plain data."""
    if hasattr(params, "_asdict"):
        return {k: _plain(v) for k, v in params._asdict().items()}
    if isinstance(params, dict):
        return {k: _plain(v) for k, v in params.items()}
    if isinstance(params, list | tuple):
        return [_plain(v) for v in params]
    return params
