"""create_server(): wiring, and opening the service once ``initialize`` has been answered."""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer

from . import __version__
from .answering_protocol import AnsweringProtocol, is_client_error
from .bridge import LspFrontend
from .command_rpc import not_available
from .features import code_actions, commands, lifecycle

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger(__name__)

# What opening the service imports: pydantic (config, protocol models), the store, the agent's
# kernel. Loaded after the ``initialize`` reply, in a worker thread, so the editor is not kept
# waiting and the event loop keeps reading messages meanwhile.
_SERVICE_MODULES = ("minicode_lsp.config", "minicode_lsp.protocol", "minicode_lsp.service.core")


def _import_service_modules() -> None:
    for name in _SERVICE_MODULES:
        importlib.import_module(name)


class MiniCodeServer(LanguageServer):
    def __init__(self, *, user_dir: Path | None = None) -> None:
        super().__init__("minicode-lsp", __version__, text_document_sync_kind=t.TextDocumentSyncKind.Incremental,
                         protocol_cls=AnsweringProtocol)
        self.service: Service | None = None
        self.service_error: str | None = None
        self.user_dir = user_dir
        self.frontend = LspFrontend(self)
        self._opening: asyncio.Task[None] | None = None
        self._answered = asyncio.Event()

    # ------------------------------------------------------------------ the service
    def open_service(self, root: Path, options: Any) -> None:
        """Called by the ``initialize`` handler: the service opens once the reply is written
        (``on_initialize_answered``), so its imports do not compete with sending it."""
        self._answered.clear()
        self._opening = asyncio.get_running_loop().create_task(self._open(root, options), name="open-service")

    def on_initialize_answered(self) -> None:
        gc.enable()  # off while the server started (cli.serve): the reply is out
        self._answered.set()

    async def _open(self, root: Path, options: Any) -> None:
        try:
            try:
                await asyncio.wait_for(self._answered.wait(), timeout=5)
            except TimeoutError:  # should not happen: the reply is sent right after the handler
                log.warning("initialize reply not seen after 5 s; opening the service anyway")
            await asyncio.to_thread(_import_service_modules)
            from .config import ConfigLoader
            from .service import Service

            loader = ConfigLoader()
            if options is not None:
                loader.set_layer("initializationOptions", options)
            self.service = Service(root, self.frontend, loader=loader, user_dir=self.user_dir)
            self.service_error = None
            log.info("minicode-lsp serving %s (store %s)", root, self.service.workspace.store_dir)
        except Exception as exc:  # the server stays up and says why in every answer (and readiness)
            self.service = None
            self.service_error = f"cannot open the store for {root}: {exc}"
            # one line, never a traceback: a StoreUnavailable carries the reason and the fix; anything
            # else (a bug) keeps its traceback at debug level only (serve -vv)
            log.error("%s", self.service_error)
            log.debug("opening the store failed", exc_info=True)

    async def service_opened(self) -> Service | None:
        """The service once it has opened (``None`` if it could not, or before ``initialize``)."""
        if self._opening is not None and not self._opening.done():
            await asyncio.shield(self._opening)
        return self.service

    async def require_service(self) -> Service:
        service = await self.service_opened()
        if service is None:
            raise not_available(self.service_error)
        return service

    def close_service(self) -> None:
        """At exit: flush staged checkpoint images to their blob files and close the store."""
        service, self.service = self.service, None
        if service is None:
            return
        try:
            service.close()
        except Exception:  # exiting anyway; what is staged is flushed at the next open
            log.exception("closing the store")

    # ------------------------------------------------------------------ pygls hooks
    def on_progress_cancel(self, turn_id: str) -> None:
        if self.service is not None:
            log.info("progress cancelled by the client: cancelling turn %s", turn_id)
            self.service.tasks.cancel_turn(turn_id)

    def report_server_error(self, error: Exception, source: Any) -> None:
        # Request errors already reach the requester; the rest goes to the log, not a popup.
        if is_client_error(error):  # a bad request, answered with its error
            log.info("answered a request with an error: %s", error)
            return
        log.error("server error (%s): %s", getattr(source, "__name__", source), error)


def create_server(*, user_dir: Path | None = None) -> MiniCodeServer:
    server = MiniCodeServer(user_dir=user_dir)
    lifecycle.register(server)
    commands.register(server)
    code_actions.register(server)
    return server
