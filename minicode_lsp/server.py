"""create_server(): wiring only."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer

from . import __version__
from .bridge import LspFrontend
from .features import code_actions, commands, lifecycle
from .lsp_support import AnsweringProtocol
from .service import Service

log = logging.getLogger(__name__)


class MiniCodeServer(LanguageServer):
    def __init__(self, *, user_dir: Path | None = None) -> None:
        super().__init__("minicode-lsp", __version__, text_document_sync_kind=t.TextDocumentSyncKind.Incremental,
                         protocol_cls=AnsweringProtocol)
        self.service: Service | None = None
        self.service_error: str | None = None
        self.user_dir = user_dir
        self.frontend = LspFrontend(self)

    def on_progress_cancel(self, turn_id: str) -> None:
        if self.service is not None:
            log.info("progress cancelled by the client: cancelling turn %s", turn_id)
            self.service.cancel_turn_by_id(turn_id)

    def report_server_error(self, error: Exception, source: Any) -> None:
        # Request errors already reach the requester; the rest goes to the log, not a popup.
        log.error("server error (%s): %s", getattr(source, "__name__", source), error)


def create_server(*, user_dir: Path | None = None) -> MiniCodeServer:
    server = MiniCodeServer(user_dir=user_dir)
    lifecycle.register(server)
    commands.register(server)
    code_actions.register(server)
    return server
