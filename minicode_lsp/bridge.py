"""The service's Frontend implemented over LSP: buffers, applyEdit, questions, progress, notifications."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

import attrs
from lsprotocol import types as t
from pygls.uris import to_fs_path

from . import protocol_ids as p
from .agent.fileio import decode_text
from .service.frontend import EditAnswer, FileEdit

log = logging.getLogger(__name__)


@attrs.define
class RawResponse:
    """A response whose result stays the JSON the client sent (extension fields included)."""

    id: Any
    jsonrpc: str
    result: Any = None

AGENT_ANNOTATION = "minicode.agent"
ECHO_TIMEOUT_S = 2.0
SHOW_DOCUMENT_TIMEOUT_S = 10.0
PROGRESS_TIMEOUT_S = 5.0
APPROVAL_TIMEOUT_S = 600.0  # a person answering a prompt; agent.approvalTimeoutS overrides it


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
    """Every request to the client is bounded (and withdrawn with ``$/cancelRequest`` when the
    turn that waits for it is cancelled); an error or ``null`` answer is a "no"; what is sent
    depends on what the client declared it supports."""

    def __init__(self, server: Any) -> None:
        """``server``: the MiniCodeServer (a pygls LanguageServer with ``on_progress_cancel``)."""
        self.server = server
        self.progress_tokens: dict[str, str] = {}
        # uri -> (document version when the edit was sent, its text after the edit): an edit the
        # client applied whose didChange has not arrived yet. Valid while the version is unchanged.
        self.applied: dict[str, tuple[int | None, str]] = {}
        self.sent_versions: dict[str, int | None] = {}  # uri -> version of the last edit sent
        self.echo_timeout_s = ECHO_TIMEOUT_S

    # ------------------------------------------------------------------ capabilities
    @property
    def _caps(self) -> t.ClientCapabilities:
        return self.server.client_capabilities

    @property
    def supports_confirmation(self) -> bool:
        ws = self._caps.workspace
        edit = ws.workspace_edit if ws else None
        return bool(edit and edit.change_annotation_support is not None)

    @property
    def can_edit_buffers(self) -> bool:
        """The client applies ``workspace/applyEdit`` (ALE declares it does not)."""
        ws = self._caps.workspace
        return bool(ws and ws.apply_edit)

    def _supports_resource_ops(self) -> bool:
        ws = self._caps.workspace
        edit = ws.workspace_edit if ws else None
        ops = (edit.resource_operations if edit else None) or []
        return t.ResourceOperationKind.Create in ops and t.ResourceOperationKind.Delete in ops

    def _supports_show_document(self) -> bool:
        window = self._caps.window
        return bool(window and window.show_document and window.show_document.support)

    def _supports_progress(self) -> bool:
        return bool(self._caps.window and self._caps.window.work_done_progress)

    @property
    def approval_timeout_s(self) -> float:
        service = getattr(self.server, "service", None)
        try:
            return float(service.workspace.settings.agent.approval_timeout_s)  # type: ignore[union-attr]
        except AttributeError:
            return APPROVAL_TIMEOUT_S

    # ------------------------------------------------------------------ requests
    async def _request(self, method: str, params: Any, timeout: float, *, raw: bool = False) -> tuple[bool, Any]:
        """(answered, result): ``answered`` False when the client answered with an error, or
        not within ``timeout`` (then the request is withdrawn with ``$/cancelRequest``). A
        cancelled caller withdraws it too, then the cancellation goes on. ``raw``: the result
        as the client sent it (JSON), extension fields included."""
        msg_id = str(uuid.uuid4())
        protocol = self.server.protocol
        try:
            future = protocol.send_request_async(method, params, msg_id=msg_id)
        except Exception as exc:  # the connection is gone
            log.info("could not send %s: %s", method, exc)
            return False, None
        types = getattr(protocol, "_result_types", None)
        if raw and isinstance(types, dict):  # set before any answer is read (nothing awaited since the send)
            types[msg_id] = RawResponse
        try:
            return True, await asyncio.wait_for(future, timeout=timeout)
        except TimeoutError:
            log.warning("the editor did not answer %s within %.0f s; taken as no", method, timeout)
            self._withdraw(msg_id)
            return False, None
        except asyncio.CancelledError:
            self._withdraw(msg_id)
            raise
        except Exception as exc:  # an error answer, or one that does not fit the method's type
            log.info("the editor answered %s with an error (taken as no): %s", method, exc)
            return False, exc

    def _withdraw(self, msg_id: str) -> None:
        protocol = self.server.protocol
        protocol._request_futures.pop(msg_id, None)
        try:
            protocol.notify(t.CANCEL_REQUEST, t.CancelParams(id=msg_id))
        except Exception:  # the connection is gone: nothing to withdraw
            log.debug("could not send $/cancelRequest for %s", msg_id)

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

    def _text(self, doc: Any) -> str:
        """The document as the client has it: with an applied edit whose didChange is late."""
        pending = self.applied.get(doc.uri)
        if pending is not None:
            if pending[0] == doc.version:
                return pending[1]
            del self.applied[doc.uri]  # a didChange arrived since: it carries the edit
        return str(doc.source)

    def open_text(self, path: Path) -> str | None:
        doc = self._document(path)
        if doc is None:
            self.applied.pop(path.as_uri(), None)
            return None
        return self._text(doc)

    async def settle(self, paths: list[Path]) -> None:
        """Wait (at most ``echo_timeout_s``) for the didChange of edits applied to these
        documents, so the next edit can carry the client's version. Correctness does not
        depend on it: an edit made for a version the client has left is refused by a client
        that checks versions, and made again (``moved_on``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.echo_timeout_s
        while loop.time() < deadline:
            docs = [d for d in (self._document(p) for p in paths) if d is not None]
            if not any(d.uri in self.applied and self.applied[d.uri][0] == d.version for d in docs):
                return
            await asyncio.sleep(0.02)

    async def moved_on(self, paths: list[Path]) -> bool:
        """After a refused edit: did (or does, within ``echo_timeout_s``) a didChange arrive for
        one of these documents since the edit was sent?"""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.echo_timeout_s
        while True:
            for path in paths:
                doc = self._document(path)
                if doc is not None and self.sent_versions.get(doc.uri, doc.version) != doc.version:
                    return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)

    def did_write(self, path: Path, data: bytes | None) -> None:
        """The server wrote a file that is open in a client that does not apply edits."""
        doc = self._document(path)
        if doc is not None and data is not None:
            self.applied[doc.uri] = (doc.version, decode_text(data))

    # ------------------------------------------------------------------ edits
    async def apply_edits(self, edits: list[FileEdit], *, label: str, description: str,
                          confirm: bool) -> bool | EditAnswer:
        """``old`` is each file's content now (the open document's, or the disk's). Files that
        are not open are sent only with ``confirm`` (annotated edits the editor shows for
        confirmation); the caller writes them on disk once accepted."""
        annotate = confirm and self.supports_confirmation
        ann = AGENT_ANNOTATION if annotate else None
        changes: list[Any] = []
        sent: list[tuple[Any, int | None, str]] = []
        for edit in edits:
            doc = self._document(edit.path)
            uri = doc.uri if doc is not None else edit.path.as_uri()
            if edit.new is None:
                if self._supports_resource_ops():
                    changes.append(t.DeleteFile(uri=uri, options=t.DeleteFileOptions(ignore_if_not_exists=True),
                                                annotation_id=ann))
                continue  # no resource operations: the caller deletes on disk
            old_text = self._text(doc) if doc is not None else (decode_text(edit.old) if edit.old is not None else "")
            if doc is None and edit.old is None:
                if not self._supports_resource_ops():
                    continue
                changes.append(t.CreateFile(uri=uri, options=t.CreateFileOptions(ignore_if_exists=True),
                                            annotation_id=ann))
            new_text = decode_text(edit.new)
            rng, text = minimal_edit(old_text, new_text)
            text_edit: Any = (
                t.AnnotatedTextEdit(range=rng, new_text=text, annotation_id=ann)
                if ann
                else t.TextEdit(range=rng, new_text=text)
            )
            # the last version the client told us: a client that checks versions refuses the
            # edit if it has moved on since (then it is made again on the new text)
            version = doc.version if doc is not None else None
            if doc is not None:
                self.sent_versions[doc.uri] = version
                sent.append((doc, version, new_text))
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
        answered, result = await self._request(
            t.WORKSPACE_APPLY_EDIT, t.ApplyWorkspaceEditParams(edit=workspace_edit, label=label),
            self.approval_timeout_s, raw=True)
        if isinstance(result, dict):  # the JSON as sent
            applied, why, extra = result.get("applied") is True, result.get("failureReason"), \
                result.get(p.APPLY_EDIT_ACCEPTED_TEXT)
        else:
            applied, why, extra = bool(getattr(result, "applied", False)), getattr(result, "failure_reason", None), None
        if not answered or not applied:
            log.info("editor did not apply %r: %s", label, (why if answered else result) or "declined")
            return False
        # a per-hunk review answers with the text accepted of each file it took only in part
        by_uri = {(d.uri if (d := self._document(e.path)) is not None else e.path.as_uri()): e.path for e in edits}
        accepted = {by_uri[uri]: text for uri, text in extra.items()
                    if uri in by_uri and isinstance(text, str)} if isinstance(extra, dict) else {}
        for doc, version, new_text in sent:
            if doc.version == version:  # no didChange yet: the server's copy has the edit at once
                self.applied[doc.uri] = (version, accepted.get(by_uri[doc.uri], new_text))
            else:
                self.applied.pop(doc.uri, None)
        return EditAnswer(applied=True, accepted=accepted)

    # ------------------------------------------------------------------ messages
    def publish(self, method: str, payload: dict[str, Any]) -> None:
        self.server.protocol.notify(method, payload)

    def notify_user(self, message: str) -> None:
        self.server.window_show_message(t.ShowMessageParams(type=t.MessageType.Error, message=message))

    def inform(self, message: str) -> None:
        self.server.window_show_message(t.ShowMessageParams(type=t.MessageType.Info, message=message))

    async def choose(self, message: str, actions: list[str]) -> str | None:
        answered, result = await self._request(
            t.WINDOW_SHOW_MESSAGE_REQUEST,
            t.ShowMessageRequestParams(
                type=t.MessageType.Info, message=message, actions=[t.MessageActionItem(title=a) for a in actions]
            ),
            self.approval_timeout_s,
        )
        title = getattr(result, "title", None) if answered else None
        return title if title in actions else None

    async def show_document(self, path: Path) -> bool:
        """True when the client showed it; never raises. A client that does not support
        ``window/showDocument`` is not asked."""
        if not self._supports_show_document():
            return False
        answered, result = await self._request(
            t.WINDOW_SHOW_DOCUMENT, t.ShowDocumentParams(uri=path.as_uri(), take_focus=True), SHOW_DOCUMENT_TIMEOUT_S)
        return bool(answered and result is not None and getattr(result, "success", False))

    # ------------------------------------------------------------------ progress
    async def progress_begin(self, key: str, title: str, message: str) -> Any:
        if not self._supports_progress():
            return None
        token = f"minicode-{key}"
        progress = self.server.work_done_progress
        answered, result = await self._request(
            t.WINDOW_WORK_DONE_PROGRESS_CREATE, t.WorkDoneProgressCreateParams(token=token), PROGRESS_TIMEOUT_S)
        if not answered:  # the client refused or never answered: no progress, the turn goes on
            log.info("no work-done progress for %s: %s", key, result)
            return None
        self.progress_tokens[key] = token
        progress._register_token(token)  # what create_async does once the client answered
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
