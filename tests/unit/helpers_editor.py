"""A model of an LSP editor for in-process tests of the LSP frontend (``bridge.LspFrontend``).

The server's document store is pygls's real ``Workspace``; this model plays the client: it
owns the buffers, answers ``workspace/applyEdit`` (checking versions like Eglot and VS Code,
or not), answers approval prompts, and sends ``didChange`` now or later (Eglot sends it on
its idle timer, so an edit's echo can arrive after the next edit was computed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types as t
from pygls.workspace import Workspace


def _offset(text: str, pos: t.Position) -> int:
    lines = text.splitlines(keepends=True)
    if pos.line >= len(lines):
        return len(text)
    return sum(len(x) for x in lines[: pos.line]) + pos.character


def apply_lsp_edits(text: str, edits: list[Any]) -> str:
    spans = sorted(((_offset(text, e.range.start), _offset(text, e.range.end), getattr(e, "new_text", None)
                     if hasattr(e, "new_text") else e.text) for e in edits),
                   reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


class _Protocol:
    def __init__(self, editor: ModelEditor) -> None:
        self.editor = editor
        self._request_futures: dict[str, Any] = {}
        self.notifications: list[tuple[str, Any]] = []

    def send_request_async(self, method: str, params: Any, msg_id: str | None = None) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._request_futures[msg_id or ""] = fut
        try:
            self.editor.handle(method, params, fut)
        except Exception as exc:  # an error answer
            if not fut.done():
                fut.set_exception(exc)
        return fut

    def notify(self, method: str, params: Any) -> None:
        self.notifications.append((method, params))


class _Server:
    def __init__(self, editor: ModelEditor, caps: t.ClientCapabilities) -> None:
        self.client_capabilities = caps
        self.workspace = Workspace(editor.root.as_uri())
        self.protocol = _Protocol(editor)
        self.service = None
        self.messages: list[str] = []

    def window_show_message(self, params: t.ShowMessageParams) -> None:
        self.messages.append(params.message)

    # pygls's request helpers, for frontends that call them
    def workspace_apply_edit_async(self, params: Any) -> asyncio.Future[Any]:
        return self.protocol.send_request_async(t.WORKSPACE_APPLY_EDIT, params)

    def window_show_message_request_async(self, params: Any) -> asyncio.Future[Any]:
        return self.protocol.send_request_async(t.WINDOW_SHOW_MESSAGE_REQUEST, params)


class ModelEditor:
    def __init__(self, root: Path, *, check_versions: bool, apply_edit: bool = True,
                 annotations: bool = False, show_document: bool = False) -> None:
        self.root = root
        self.check_versions = check_versions
        caps = t.ClientCapabilities(
            workspace=t.WorkspaceClientCapabilities(
                apply_edit=apply_edit,
                workspace_edit=t.WorkspaceEditClientCapabilities(
                    document_changes=True,
                    change_annotation_support=(t.ChangeAnnotationsSupportOptions(groups_on_label=True)
                                               if annotations else None)),
            ),
            window=t.WindowClientCapabilities(
                show_document=t.ShowDocumentClientCapabilities(support=True) if show_document else None),
        )
        self.server = _Server(self, caps)
        self.buffers: dict[str, list[Any]] = {}  # uri -> [version, text]
        self.pending: list[tuple[str, int, Any]] = []  # didChange not sent yet
        self.hold_changes = False
        self.on_prompt: Callable[[], None] | None = None
        self.answer: str | None = "Apply"
        self.apply_error: str | None = None
        self.prompts: list[str] = []
        self.apply_requests: list[Any] = []

    # ---------------------------------------------------------------- buffers
    def open(self, path: Path, version: int = 1) -> None:
        uri = path.as_uri()
        text = path.read_text()
        self.buffers[uri] = [version, text]
        self.server.workspace.put_text_document(
            t.TextDocumentItem(uri=uri, language_id="python", version=version, text=text))

    def is_open(self, path: Path) -> bool:
        return path.as_uri() in self.buffers

    def text(self, path: Path) -> str:
        buf = self.buffers.get(path.as_uri())
        return buf[1] if buf is not None else path.read_text()

    def _change(self, uri: str, new_text: str, change: Any, send_now: bool) -> None:
        buf = self.buffers[uri]
        buf[0] += 1
        buf[1] = new_text
        self.pending.append((uri, buf[0], change))
        if send_now:
            self.flush()

    def type_line(self, path: Path, where: int, line: str, *, send_now: bool) -> None:
        uri = path.as_uri()
        text = self.buffers[uri][1]
        n = where % (text.count("\n") + 1)
        pos = t.Position(line=n, character=0)
        change = t.TextDocumentContentChangePartial(range=t.Range(start=pos, end=pos), text=line)
        self._change(uri, apply_lsp_edits(text, [change]), change, send_now and not self.hold_changes)

    def replace_text(self, path: Path, new_text: str) -> None:
        self._change(path.as_uri(), new_text, t.TextDocumentContentChangeWholeDocument(text=new_text), True)

    def flush(self) -> None:
        """The idle timer fires: every pending didChange goes out, in order."""
        pending, self.pending = self.pending, []
        for uri, version, change in pending:
            if uri in self.server.workspace.text_documents:
                self.server.workspace.update_text_document(
                    t.VersionedTextDocumentIdentifier(uri=uri, version=version), change)

    def save(self, path: Path) -> None:
        buf = self.buffers.get(path.as_uri())
        if buf is not None:
            path.write_text(buf[1])

    def close(self, path: Path) -> list[str]:
        """didClose (after the pending didChanges); returns the unsaved lines it dropped."""
        uri = path.as_uri()
        self.flush()
        text = self.buffers.pop(uri)[1]
        self.server.workspace.remove_text_document(uri)
        disk = path.read_text().splitlines(keepends=True)
        return [x for x in text.splitlines(keepends=True) if x not in disk]

    # ---------------------------------------------------------------- server requests
    def handle(self, method: str, params: Any, fut: asyncio.Future[Any]) -> None:
        if method == t.WINDOW_SHOW_MESSAGE_REQUEST:
            self.prompts.append(params.message)
            if self.on_prompt is not None:
                self.on_prompt()
            fut.set_result(t.MessageActionItem(title=self.answer) if self.answer else None)
        elif method == t.WORKSPACE_APPLY_EDIT:
            self.apply_requests.append(params)
            if self.apply_error:
                raise RuntimeError(self.apply_error)
            fut.set_result(self._apply(params.edit))
        elif method == t.WINDOW_SHOW_DOCUMENT:
            fut.set_result(t.ShowDocumentResult(success=True))
        else:
            fut.set_result(None)

    def _apply(self, edit: t.WorkspaceEdit) -> t.ApplyWorkspaceEditResult:
        changes = [c for c in edit.document_changes or [] if isinstance(c, t.TextDocumentEdit)]
        for change in changes:  # check every document first: all or nothing
            buf = self.buffers.get(change.text_document.uri)
            if buf is None:
                return t.ApplyWorkspaceEditResult(applied=False, failure_reason="not open")
            version = change.text_document.version
            if self.check_versions and version is not None and version != buf[0]:
                return t.ApplyWorkspaceEditResult(applied=False,
                                                  failure_reason=f"version {version}, buffer has {buf[0]}")
        for change in changes:
            uri = change.text_document.uri
            for e in change.edits:
                text = self.buffers[uri][1]
                partial = t.TextDocumentContentChangePartial(range=e.range, text=e.new_text)
                self._change(uri, apply_lsp_edits(text, [e]), partial, not self.hold_changes)
        return t.ApplyWorkspaceEditResult(applied=True)
