"""workspace/executeCommand: every command of the wire contract, parsed then handed to the service."""

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
    shown = svc.show_session(a.session_id)
    if a.open_document:
        path = svc.transcript_path(a.session_id)
        shown["documentUri"] = path.as_uri()
        await svc.show_document(path)  # never fails: an editor that cannot gets a message instead
    return shown


async def _rewind_preview(svc: Service, a: models.RewindPreviewArgs) -> Any:
    return await svc.rewind_preview_shown(a) if a.show_document else svc.rewind_preview(a)


HANDLERS: dict[str, Handler] = {
    p.CMD_TASK_RUN: lambda svc, a: svc.run_task(a),
    p.CMD_TASK_CANCEL: lambda svc, a: svc.cancel(a.session_id),
    p.CMD_SESSION_LIST: lambda svc, a: svc.list_sessions(a),
    p.CMD_SESSION_SHOW: _session_show,
    p.CMD_SESSION_REPLAY: lambda svc, a: svc.replay(a),
    p.CMD_SESSION_SUMMARIZE: lambda svc, a: svc.summarize(a.session_id),
    p.CMD_SESSION_EXPORT: lambda svc, a: svc.export(a),
    p.CMD_SESSION_DELETE: lambda svc, a: svc.delete_session(a.session_id),
    p.CMD_CHECKPOINT_LIST: lambda svc, a: svc.list_checkpoints(a),
    p.CMD_REWIND_PREVIEW: _rewind_preview,
    p.CMD_REWIND_APPLY: lambda svc, a: svc.rewind_apply(a),
    p.CMD_REWIND_UNDO: lambda svc, a: svc.rewind_undo(a.session_id),
    p.CMD_READINESS: lambda svc, a: _readiness(svc, a),
    p.CMD_MEMORY_SHOW: lambda svc, a: svc.memory_show(a),
    p.CMD_MEMORY_ADD: lambda svc, a: svc.memory_add(a),
    p.CMD_MEMORY_REMOVE: lambda svc, a: svc.memory_remove(a),
    p.CMD_MEMORY_ACCEPT: lambda svc, a: svc.memory_accept(a),
    p.CMD_WORKSPACE_TRUST: lambda svc, a: svc.trust_workspace(a),
}


async def _readiness(svc: Service, a: models.ReadinessArgs) -> Any:
    if a.probe or svc.readiness is None:
        report = await svc.refresh_readiness(probe=a.probe)
    else:
        report = svc.readiness
    return report.wire()


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
        return result

    command.__name__ = name.replace(".", "_")
    return command


def register(server: LanguageServer) -> None:
    for name in p.COMMAND_IDS:
        server.command(name)(_make(name, HANDLERS[name]))
