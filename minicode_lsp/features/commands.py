"""workspace/executeCommand: every command of the wire contract: parse (its argument model), call
(the service), convert (its result model to the wire)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pygls.lsp.server import LanguageServer

from .. import protocol_ids as p
from ..command_rpc import parse_args, rpc_error
from ..service.errors import ServiceError

if TYPE_CHECKING:  # loaded with the service, after the initialize reply
    from .. import protocol as models
    from ..service import Service

log = logging.getLogger(__name__)

Handler = Callable[["Service", Any], Any]


async def _session_show(svc: Service, a: models.SessionShowArgs) -> Any:
    shown = svc.sessions.show(a.session_id)
    if a.open_document:
        path = svc.sessions.transcript_path(a.session_id)
        shown.document_uri = path.as_uri()
        await svc.workspace.show_document(path)  # never fails: an editor that cannot gets a message instead
    return shown


async def _rewind_preview(svc: Service, a: models.RewindPreviewArgs) -> Any:
    return await svc.rewind.preview_shown(a) if a.show_document else svc.rewind.preview(a)


async def _readiness(svc: Service, a: models.ReadinessArgs) -> Any:
    return await svc.readiness.current(probe=a.probe)


HANDLERS: dict[str, Handler] = {
    p.CMD_TASK_RUN: lambda svc, a: svc.tasks.run(a),
    p.CMD_TASK_CANCEL: lambda svc, a: svc.tasks.cancel(a.session_id),
    p.CMD_SESSION_LIST: lambda svc, a: svc.sessions.list(a),
    p.CMD_SESSION_SHOW: _session_show,
    p.CMD_SESSION_REPLAY: lambda svc, a: svc.sessions.replay(a),
    p.CMD_SESSION_SUMMARIZE: lambda svc, a: svc.sessions.summarize(a.session_id),
    p.CMD_SESSION_EXPORT: lambda svc, a: svc.sessions.export(a),
    p.CMD_SESSION_DELETE: lambda svc, a: svc.sessions.delete(a.session_id),
    p.CMD_CHECKPOINT_LIST: lambda svc, a: svc.rewind.list_checkpoints(a),
    p.CMD_REWIND_PREVIEW: _rewind_preview,
    p.CMD_REWIND_APPLY: lambda svc, a: svc.rewind.apply(a),
    p.CMD_REWIND_UNDO: lambda svc, a: svc.rewind.undo(a.session_id),
    p.CMD_READINESS: _readiness,
    p.CMD_MEMORY_SHOW: lambda svc, a: svc.memory.show(a),
    p.CMD_MEMORY_ADD: lambda svc, a: svc.memory.add(a),
    p.CMD_MEMORY_REMOVE: lambda svc, a: svc.memory.remove(a),
    p.CMD_MEMORY_ACCEPT: lambda svc, a: svc.memory.accept(a),
    p.CMD_WORKSPACE_TRUST: lambda svc, a: svc.trust.allow(a),
}


def _store_unavailable(reason: str) -> Any:
    from .. import protocol

    check = protocol.ReadinessCheck(name="store", status="fail", detail=reason,
                                    fix="set store.path to a folder you can write (see the detail), then reload")
    return protocol.ReadinessReport(state="blocked", checks=[check]).wire()


def _make(name: str, handler: Handler) -> Callable[..., Awaitable[Any]]:
    async def command(ls: Any, *args: Any) -> Any:
        await ls.service_opened()  # opens right after the initialize reply; protocol.py loads with it
        from .. import protocol

        parsed = parse_args(name, protocol.COMMAND_ARGS[name], args)
        if name == p.CMD_READINESS and await ls.service_opened() is None and ls.service_error:
            return _store_unavailable(ls.service_error)  # readiness says why nothing else works
        svc = await ls.require_service()
        try:
            result = handler(svc, parsed)
            if isinstance(result, Awaitable):
                result = await result
        except ServiceError as exc:
            raise rpc_error(exc) from None
        return result.wire() if isinstance(result, protocol.Model) else result

    command.__name__ = name.replace(".", "_")
    return command


def register(server: LanguageServer) -> None:
    for name in p.COMMAND_IDS:
        server.command(name)(_make(name, HANDLERS[name]))
