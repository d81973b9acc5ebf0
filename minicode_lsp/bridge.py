"""The service's Frontend implemented over LSP: buffers, applyEdit, questions, progress, notifications."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types as t
from pygls.uris import to_fs_path

from .service.diskio import decode
from .service.frontend import FileEdit

log = logging.getLogger(__name__)

AGENT_ANNOTATION = "minicode.agent"
ECHO_TIMEOUT_S = 2.0
SHOW_DOCUMENT_TIMEOUT_S = 10.0


def minimal_edit(old: str, new: str) -> tuple[t.Range, str]:
    """One TextEdit turning ``old`` into ``new``: the changed middle, so cursors elsewhere stay put."""
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    return t.Range(start=position_of(old, prefix), end=position_of(old, len(old) - suffix)), new[
        prefix : len(new) - suffix
    ]


def position_of(text: str, offset: int) -> t.Position:
    """LSP position (UTF-16 code units) of a character offset."""
    line = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    segment = text[line_start:offset]
    return t.Position(line=line, character=len(segment.encode("utf-16-le")) // 2)


class LspFrontend:
    def __init__(self, server: Any) -> None:
        """``server``: the MiniCodeServer (a pygls LanguageServer with ``on_progress_cancel``)."""
        self.server = server
        self.progress_tokens: dict[str, str] = {}

    # ------------------------------------------------------------------ capabilities
    @property
    def _caps(self) -> t.ClientCapabilities:
        return self.server.client_capabilities

    @property
    def supports_confirmation(self) -> bool:
        ws = self._caps.workspace
        edit = ws.workspace_edit if ws else None
        return bool(edit and edit.change_annotation_support is not None)

    def _supports_resource_ops(self) -> bool:
        ws = self._caps.workspace
        edit = ws.workspace_edit if ws else None
        ops = (edit.resource_operations if edit else None) or []
        return t.ResourceOperationKind.Create in ops and t.ResourceOperationKind.Delete in ops

    def _supports_progress(self) -> bool:
        return bool(self._caps.window and self._caps.window.work_done_progress)

    # ------------------------------------------------------------------ documents
    def _document(self, path: Path) -> Any:
        docs = self.server.workspace.text_documents
        doc = docs.get(path.as_uri())
        if doc is not None:
            return doc
        target = str(path)
        for uri, candidate in docs.items():
            fs_path = to_fs_path(uri)
            if fs_path and str(Path(fs_path).resolve()) == target:
                return candidate
        return None

    def open_text(self, path: Path) -> str | None:
        doc = self._document(path)
        return None if doc is None else doc.source

    # ------------------------------------------------------------------ edits
    async def apply_edits(self, edits: list[FileEdit], *, label: str, description: str, confirm: bool) -> bool:
        annotate = confirm and self.supports_confirmation
        ann = AGENT_ANNOTATION if annotate else None
        changes: list[Any] = []
        expected: dict[Path, str] = {}
        for edit in edits:
            doc = self._document(edit.path)
            uri = doc.uri if doc is not None else edit.path.as_uri()
            if edit.new is None:
                if self._supports_resource_ops():
                    changes.append(t.DeleteFile(uri=uri, options=t.DeleteFileOptions(ignore_if_not_exists=True),
                                                annotation_id=ann))
                continue  # no resource operations: the caller deletes on disk
            old_text = doc.source if doc is not None else (decode(edit.old) if edit.old is not None else "")
            if doc is None and edit.old is None:
                if not self._supports_resource_ops():
                    continue
                changes.append(t.CreateFile(uri=uri, options=t.CreateFileOptions(ignore_if_exists=True),
                                            annotation_id=ann))
            rng, text = minimal_edit(old_text, decode(edit.new))
            text_edit: Any = (
                t.AnnotatedTextEdit(range=rng, new_text=text, annotation_id=ann)
                if ann
                else t.TextEdit(range=rng, new_text=text)
            )
            version = doc.version if doc is not None else None
            if doc is not None:
                expected[edit.path] = decode(edit.new)
            changes.append(
                t.TextDocumentEdit(
                    text_document=t.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                    edits=[text_edit],
                )
            )
        if not changes:
            return True
        workspace_edit = t.WorkspaceEdit(
            document_changes=changes,
            change_annotations=(
                {AGENT_ANNOTATION: t.ChangeAnnotation(label=label, needs_confirmation=True, description=description)}
                if ann
                else None
            ),
        )
        result = await self.server.workspace_apply_edit_async(
            t.ApplyWorkspaceEditParams(edit=workspace_edit, label=label)
        )
        if not result.applied:
            log.info("editor did not apply %r: %s", label, result.failure_reason or "declined")
            return False
        await self._await_echo(expected)
        return True

    async def _await_echo(self, expected: dict[Path, str]) -> None:
        """Wait until the editor's didChange for each edited open buffer has arrived.

        Clients may send it after answering applyEdit (Neovim debounces it), and the agent's
        next read must see its own edit.
        """
        deadline = asyncio.get_running_loop().time() + ECHO_TIMEOUT_S
        while expected:
            for path, text in list(expected.items()):
                doc = self._document(path)
                if doc is None or doc.source == text:
                    del expected[path]
            if not expected or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.01)
        for path in expected:
            log.warning("no didChange for %s after applyEdit; reading it may show the old text", path)

    # ------------------------------------------------------------------ messages
    def publish(self, method: str, payload: dict[str, Any]) -> None:
        self.server.protocol.notify(method, payload)

    def notify_user(self, message: str) -> None:
        self.server.window_show_message(t.ShowMessageParams(type=t.MessageType.Error, message=message))

    async def choose(self, message: str, actions: list[str]) -> str | None:
        result = await self.server.window_show_message_request_async(
            t.ShowMessageRequestParams(
                type=t.MessageType.Info, message=message, actions=[t.MessageActionItem(title=a) for a in actions]
            )
        )
        return result.title if result is not None else None

    async def show_document(self, path: Path) -> bool:
        try:
            result = await asyncio.wait_for(
                self.server.window_show_document_async(t.ShowDocumentParams(uri=path.as_uri(), take_focus=True)),
                timeout=SHOW_DOCUMENT_TIMEOUT_S,
            )
        except TimeoutError:
            log.warning("the editor did not answer window/showDocument for %s", path)
            return False
        return bool(result and result.success)

    # ------------------------------------------------------------------ progress
    async def progress_begin(self, key: str, title: str, message: str) -> Any:
        if not self._supports_progress():
            return None
        token = f"minicode-{key}"
        progress = self.server.work_done_progress
        try:
            await asyncio.wait_for(progress.create_async(token), timeout=5)
        except Exception as exc:  # the client refused or never answered: no progress, the turn goes on
            log.info("no work-done progress for %s: %s", key, exc)
            return None
        self.progress_tokens[key] = token
        progress.begin(token, t.WorkDoneProgressBegin(title=title, message=message, cancellable=True))
        future = progress.tokens.get(token)
        if future is not None:
            future.add_done_callback(lambda f: f.cancelled() and self.server.on_progress_cancel(key))
        return token

    def progress_report(self, key: str, message: str) -> None:
        token = self.progress_tokens.get(key)
        if token is not None:
            self.server.work_done_progress.report(token, t.WorkDoneProgressReport(message=message))

    def progress_end(self, key: str, message: str) -> None:
        token = self.progress_tokens.pop(key, None)
        if token is not None:
            self.server.work_done_progress.end(token, t.WorkDoneProgressEnd(message=message))
            self.server.work_done_progress.tokens.pop(token, None)
