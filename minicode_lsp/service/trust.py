"""Workspace trust in the service: the readiness check, and allowing the workspace file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import trust
from ..config import MCP_JSON, WORKSPACE_FILE, ConfigLoader
from ..protocol import ReadinessCheck, WorkspaceTrustArgs

if TYPE_CHECKING:
    from .core import Service

log = logging.getLogger(__name__)

CHECK_NAME = "workspace-trust"


def how_to_allow(root: Path) -> str:
    return (f"review {root / WORKSPACE_FILE}, then run `minicode-lsp trust --workspace {root}` "
            "(or the command minicode.workspace.trust from the editor)")


def workspace_trust_check(loader: ConfigLoader, root: Path) -> ReadinessCheck | None:
    """One check when settings were withheld for lack of trust; None when nothing was."""
    loader.settings()  # refreshes loader.withheld
    if not loader.withheld:
        return None
    parts = []
    for w in loader.withheld:
        where = (f"{root / WORKSPACE_FILE}" if w.source == "workspace" else f"{root / MCP_JSON}"
                 if w.source == MCP_JSON else f"the editor's settings ({w.source})")
        parts.append(f"{where} sets {', '.join(w.keys)}")
    detail = "; ".join(parts) + ": ignored until you allow "
    if loader.client_untrusted:
        detail += "it (the editor has not trusted this workspace: trust it in the editor first)"
    else:
        detail += "this file's exact content (any change asks again); nothing was probed with them"
    return ReadinessCheck(name=CHECK_NAME, status="warn", detail=detail, fix=how_to_allow(root))


async def trust_workspace(svc: Service, args: WorkspaceTrustArgs) -> dict[str, Any]:
    loader = svc.loader
    loader.load_file("workspace", svc.root / WORKSPACE_FILE)  # the content as it is now
    loader.load_mcp_json(svc.root / MCP_JSON)
    path = svc.root / WORKSPACE_FILE
    if loader.workspace_bytes is None and loader.mcp_json_bytes is not None:
        path = svc.root / MCP_JSON  # only a .mcp.json: it is what gets allowed
    elif loader.workspace_bytes is None:
        return {"path": str(path), "sha256": "", "trusted": False, "settings": [],
                "reason": f"there is no readable {WORKSPACE_FILE} in {svc.root}"}
    shown_bytes = loader.workspace_bytes if loader.workspace_bytes is not None else loader.mcp_json_bytes
    assert shown_bytes is not None
    digest = trust.content_hash(shown_bytes)
    withheld = loader.workspace_withheld() if loader.workspace_bytes is not None else None
    settings = trust.describe(withheld) if withheld else []
    mcp_digest = trust.content_hash(loader.mcp_json_bytes) if loader.mcp_json_bytes is not None else None
    settings += [f"{MCP_JSON}: MCP server {name!r}: {cfg.get('url') or cfg.get('command')}"
                 for name, cfg in loader.mcp_json_servers.items()]
    out: dict[str, Any] = {"path": str(path), "sha256": digest, "settings": settings}
    if args.sha256 is None:
        shown = "\n".join(f"  {line}" for line in settings) or "  (nothing beyond the always-allowed settings)"
        answer = await svc.frontend.choose(
            f"MiniCode: allow {path} (sha256 {digest[:12]})? It would enable:\n{shown}", ["Allow", "Cancel"])
        if answer != "Allow":
            return {**out, "trusted": False, "reason": "not allowed by the user"}
    if mcp_digest is not None and not loader.allow_mcp_json(mcp_digest if loader.workspace_bytes is not None
                                                            or args.sha256 is None else args.sha256):
        return {**out, "trusted": False, "reason": f"{MCP_JSON} changed since it was shown; review it again"}
    if loader.workspace_bytes is not None and not loader.allow_workspace(
            digest if args.sha256 is None else args.sha256):
        return {**out, "trusted": False, "reason": "the file's content is not the one shown (sha256 differs); "
                "review it again"}
    log.info("workspace config %s allowed (sha256 %s)", path, digest)
    svc.reload_settings()
    await svc.refresh_readiness(probe=True)
    if loader.client_untrusted:
        return {**out, "trusted": False, "reason": "recorded, but the editor has not trusted this workspace; "
                "trust it in the editor too"}
    return {**out, "trusted": True}
