"""initialize, initialized, configuration changes and shutdown."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from ..config import WORKSPACE_FILE, ConfigLoader
from ..service import Service

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
        root = workspace_root(params)
        loader = ConfigLoader()
        options = params.initialization_options
        if isinstance(options, dict):
            loader.set_layer("initializationOptions", options.get("minicode", options))
        try:
            ls.service = Service(root, ls.frontend, loader=loader, user_dir=ls.user_dir)
            ls.service_error = None
            log.info("minicode-lsp serving %s (store %s)", root, ls.service.store_dir)
        except Exception as exc:  # the server stays up and says why in every answer
            log.exception("cannot open the MiniCode store for %s", root)
            ls.service = None
            ls.service_error = f"cannot open the store for {root}: {exc}"

    @server.feature(t.INITIALIZED)
    async def on_initialized(ls: Any, params: t.InitializedParams) -> None:
        if ls.service is None:
            return
        await ls.service.refresh_readiness(probe=False)
        ls.service.tasks.run(ls.service.watch_readiness(), name="readiness-watch")
        ls.service.tasks.run(ls.service.warm_snapshots(), name="snapshot-warmup")

    @server.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(ls: Any, params: t.DidChangeConfigurationParams) -> None:
        if ls.service is None:
            return
        settings = params.settings
        if isinstance(settings, dict):
            settings = settings.get("minicode", settings)
            ls.service.loader.set_layer("didChangeConfiguration", settings)
        ls.service.reload_settings()
        await ls.service.refresh_readiness(probe=True)

    @server.feature(t.TEXT_DOCUMENT_DID_SAVE)
    async def on_save(ls: Any, params: t.DidSaveTextDocumentParams) -> None:
        """Saving .minicode.toml reloads the configuration at once."""
        if ls.service is None or not params.text_document.uri.endswith("/" + WORKSPACE_FILE):
            return
        ls.service.reload_settings()
        await ls.service.refresh_readiness(probe=True)

    @server.feature(t.SHUTDOWN)
    async def on_shutdown(ls: Any, params: Any) -> None:
        if ls.service is not None:
            await ls.service.shutdown()
