"""initialize, initialized, configuration changes and shutdown."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

log = logging.getLogger(__name__)


def workspace_root(params: t.InitializeParams) -> Path:
    for uri in [f.uri for f in (params.workspace_folders or [])] + [params.root_uri or ""]:
        if uri:
            path = to_fs_path(uri)
            if path:
                return Path(path)
    if params.root_path:
        return Path(params.root_path)
    return Path(os.getcwd())


def register(server: LanguageServer) -> None:
    @server.feature(t.INITIALIZE)
    def on_initialize(ls: Any, params: t.InitializeParams) -> None:
        """Answered at once; the service (store, config, agent) opens right after the reply, and
        every handler that needs it waits for it (``ls.require_service()``)."""
        options = params.initialization_options
        ls.open_service(workspace_root(params), options.get("minicode", options) if isinstance(options, dict) else None)

    @server.feature(t.INITIALIZED)
    async def on_initialized(ls: Any, params: t.InitializedParams) -> None:
        service = await ls.service_opened()
        if service is None:
            return
        await service.readiness.refresh(probe=False)
        ws = service.workspace
        ws.tasks.run(service.readiness.watch(), name="readiness-watch")
        ws.tasks.run(ws.warm_snapshots(), name="snapshot-warmup")

    @server.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(ls: Any, params: t.DidChangeConfigurationParams) -> None:
        service = await ls.service_opened()
        if service is None:
            return
        settings = params.settings
        if isinstance(settings, dict):
            settings = settings.get("minicode", settings)
            service.workspace.loader.set_layer("didChangeConfiguration", settings)
        service.workspace.reload_settings()
        await service.readiness.refresh(probe=True)

    @server.feature(t.TEXT_DOCUMENT_DID_SAVE)
    async def on_save(ls: Any, params: t.DidSaveTextDocumentParams) -> None:
        """Saving .minicode.toml reloads the configuration at once."""
        service = await ls.service_opened()
        if service is None:
            return
        from ..config import WORKSPACE_FILE  # loaded with the service

        if not params.text_document.uri.endswith("/" + WORKSPACE_FILE):
            return
        service.workspace.reload_settings()
        await service.readiness.refresh(probe=True)

    @server.feature(t.SHUTDOWN)
    async def on_shutdown(ls: Any, params: Any) -> None:
        service = await ls.service_opened()
        if service is not None:
            await service.shutdown()
