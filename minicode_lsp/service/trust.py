"""The workspace trust use-case: allowing the workspace's config file (its readiness check is in readiness.py)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .. import trust
from ..config import MCP_JSON, WORKSPACE_FILE
from ..protocol import WorkspaceTrustArgs, WorkspaceTrustResult

if TYPE_CHECKING:
    from .readiness import Readiness
    from .workspace import Workspace

log = logging.getLogger(__name__)

class WorkspaceTrust:
    def __init__(self, ws: Workspace, readiness: Readiness) -> None:
        self.ws = ws
        self.readiness = readiness

    async def allow(self, args: WorkspaceTrustArgs) -> WorkspaceTrustResult:
        """``minicode.workspace.trust``: allow the workspace's .minicode.toml as it is now."""
        ws = self.ws
        loader = ws.loader
        loader.load_file("workspace", ws.root / WORKSPACE_FILE)  # the content as it is now
        loader.load_mcp_json(ws.root / MCP_JSON)
        path = ws.root / WORKSPACE_FILE
        if loader.workspace_bytes is None and loader.mcp_json_bytes is not None:
            path = ws.root / MCP_JSON  # only a .mcp.json: it is what gets allowed
        elif loader.workspace_bytes is None:
            return WorkspaceTrustResult(path=str(path), sha256="", trusted=False, settings=[],
                                        reason=f"there is no readable {WORKSPACE_FILE} in {ws.root}")
        shown_bytes = loader.workspace_bytes if loader.workspace_bytes is not None else loader.mcp_json_bytes
        assert shown_bytes is not None
        digest = trust.content_hash(shown_bytes)
        withheld = loader.workspace_withheld() if loader.workspace_bytes is not None else None
        settings = trust.describe(withheld) if withheld else []
        mcp_digest = trust.content_hash(loader.mcp_json_bytes) if loader.mcp_json_bytes is not None else None
        settings += [f"{MCP_JSON}: MCP server {name!r}: {cfg.get('url') or cfg.get('command')}"
                     for name, cfg in loader.mcp_json_servers.items()]
        out: dict[str, Any] = {"path": str(path), "sha256": digest, "settings": settings}  # every answer's fields
        if args.sha256 is None:
            shown = "\n".join(f"  {line}" for line in settings) or "  (nothing beyond the always-allowed settings)"
            answer = await ws.frontend.choose(
                f"MiniCode: allow {path} (sha256 {digest[:12]})? It would enable:\n{shown}", ["Allow", "Cancel"])
            if answer != "Allow":
                return WorkspaceTrustResult(**out, trusted=False, reason="not allowed by the user")
        if mcp_digest is not None and not loader.allow_mcp_json(mcp_digest if loader.workspace_bytes is not None
                                                                or args.sha256 is None else args.sha256):
            return WorkspaceTrustResult(**out, trusted=False,
                                        reason=f"{MCP_JSON} changed since it was shown; review it again")
        if loader.workspace_bytes is not None and not loader.allow_workspace(
                digest if args.sha256 is None else args.sha256):
            return WorkspaceTrustResult(**out, trusted=False, reason="the file's content is not the one shown "
                                        "(sha256 differs); review it again")
        log.info("workspace config %s allowed (sha256 %s)", path, digest)
        ws.reload_settings()
        await self.readiness.refresh(probe=True)
        if loader.client_untrusted:
            return WorkspaceTrustResult(**out, trusted=False, reason="recorded, but the editor has not trusted "
                                        "this workspace; trust it in the editor too")
        return WorkspaceTrustResult(**out, trusted=True)
