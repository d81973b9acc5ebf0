"""Readiness: can the agent work here, and if not, exactly what to change."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ..config import (
    DEFAULT_LOCAL_URL,
    MCP_JSON,
    WORKSPACE_FILE,
    ConfigLoader,
    ConfigProblem,
    ProviderConfig,
    Settings,
    user_config_path,
)
from ..protocol import NOTIFY_READINESS, ProviderStatus, ReadinessCheck, ReadinessReport
from ..wording import plural
from .local_context import ServedContext
from .local_context import check as context_check
from .local_context import detect as detect_context
from .mcp import mcp_checks
from .retention import take_note as take_retention_note
from .store_open import take_note as take_store_note

if TYPE_CHECKING:
    import httpx

    from .workspace import Workspace

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0
TRUST_CHECK = "workspace-trust"
USER_CONFIG_CHECK = "user-config"


class Readiness:
    """The readiness report of a workspace: built on request and re-probed in the background;
    clients get ``minicode/readiness`` only when it changes."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.report: ReadinessReport | None = None

    async def refresh(self, *, probe: bool = True) -> ReadinessReport:
        ws = self.ws
        extra = [c for c in (workspace_trust_check(ws.loader, ws.root), user_config_check(ws.root)) if c]
        extra += await mcp_checks(ws.mcp, probe=probe)
        report = await build_report(
            ws.settings, ws.loader.all_problems(), ws.root, ws.store_dir, probe=probe,
            client=ws.http_client() if probe else None, extra_checks=extra,
        )
        changed = self.report is None or report.wire() != self.report.wire()
        self.report = report
        if changed:
            ws.frontend.publish(NOTIFY_READINESS, report.wire())
        return report

    async def current(self, *, probe: bool) -> ReadinessReport:
        """``minicode.readiness``: a fresh probe when asked (or none was made yet), else the last report."""
        if probe or self.report is None:
            return await self.refresh(probe=probe)
        return self.report

    async def watch(self, *, not_ready_s: float = 30.0, ready_s: float = 300.0) -> None:
        """Re-probe in the background: often while not ready (a local model may start later),
        rarely once ready."""
        while True:
            await self.refresh(probe=True)
            state = self.report.state if self.report else "blocked"
            await asyncio.sleep(ready_s if state == "ready" else not_ready_s)


def _url_ok(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _models_url(p: ProviderConfig) -> str:
    base = p.base_url.rstrip("/")
    if p.kind == "anthropic":
        return (base if base.endswith("/v1") else base + "/v1") + "/models"
    return base + "/models"


async def probe_provider(p: ProviderConfig, client: httpx.AsyncClient) -> tuple[str, str]:
    """A short reachability probe: (status, detail). Lists models when the endpoint does."""
    import httpx

    headers = {}
    key = os.environ.get(p.api_key_env) if p.api_key_env else None
    if key:
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"} if p.kind == "anthropic" else {
            "Authorization": f"Bearer {key}"
        }
    try:
        resp = await client.get(_models_url(p), headers=headers, timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        return "fail", f"nothing answers at {p.base_url} ({type(exc).__name__})"
    if resp.status_code in (401, 403):
        return "fail", f"{p.base_url} refused the API key (HTTP {resp.status_code})"
    if resp.status_code >= 400:
        return "warn", f"{p.base_url} answered HTTP {resp.status_code} to a model list request"
    try:
        ids = [str(m.get("id") or m.get("name")) for m in resp.json().get("data", resp.json().get("models", []))]
    except (ValueError, AttributeError):
        return "ok", f"{p.base_url} answers"
    if ids and p.model not in ids and not any(i.startswith(p.model + ":") for i in ids):
        more = f", and {len(ids) - 5} more" if len(ids) > 5 else ""
        return "warn", f"model {p.model!r} is not listed at {p.base_url} (it has: {', '.join(ids[:5])}{more})"
    return "ok", f"{p.base_url} answers, model {p.model} available"


def _model_fix(p: ProviderConfig, is_default: bool) -> str:
    """The model is not on the server: how to get it, or how to see and choose one it has."""
    where = "add a [[providers]] entry with the model (docs/configuration.md)" if is_default else \
        f"set model in [[providers]] {p.name!r} to one of them"
    if is_default or ":11434" in p.base_url:  # Ollama
        return f"`ollama pull {p.model}` downloads it; `ollama list` shows the models this Ollama has: {where}"
    return f"GET {_models_url(p)} lists every model this server offers: {where}"


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
    return ReadinessCheck(name=TRUST_CHECK, status="warn", detail=detail, fix=how_to_allow(root))


def user_config_check(root: Path) -> ReadinessCheck | None:
    """A warning when ``MINICODE_CONFIG`` names a file in this workspace, or in a folder that
    holds it: the workspace's content (a repository, a command the agent runs) could then
    change the user's own, always-trusted config, and the config's folder, which is off limits
    to the agent's file tools, takes in workspace files. None otherwise."""
    if not os.environ.get("MINICODE_CONFIG"):
        return None
    config = Path(os.path.realpath(user_config_path()))
    folder, here = config.parent, Path(os.path.realpath(root))
    if config.is_relative_to(here):
        where = f"inside this workspace ({here})"
    elif here.is_relative_to(folder):
        where = f"in {folder}, a folder that holds this workspace"
    else:
        return None
    off = "every file of this workspace" if here.is_relative_to(folder) else f"every file in {folder}"
    return ReadinessCheck(
        name=USER_CONFIG_CHECK, status="warn",
        detail=(f"MINICODE_CONFIG names {config}, {where}: what is in the workspace (a repository's files, a "
                "command the agent runs) can change your own config, which is always trusted; and the agent's "
                f"file tools refuse {off} (MiniCode's config folder is off limits to them)"),
        fix=("keep your config in a folder of its own outside every workspace (e.g. "
             "~/.config/minicode-lsp/config.toml, the default when MINICODE_CONFIG is not set) and point "
             "MINICODE_CONFIG there, or unset it"))


async def _none() -> None:
    return None


def _fix_for(p: ProviderConfig, is_default: bool) -> str:
    if is_default:
        return (
            f"Start Ollama (`ollama serve`, then `ollama pull {p.model}`) so {DEFAULT_LOCAL_URL} answers, "
            "or configure [[providers]] in .minicode.toml (see docs/configuration.md)"
        )
    return f"Check that {p.base_url} is running and reachable, or fix [[providers]] {p.name!r} in your config"


async def build_report(
    settings: Settings, problems: list[ConfigProblem], root: Path, store_dir: Path, *, probe: bool,
    client: Any = None, extra_checks: list[ReadinessCheck] | None = None,
) -> ReadinessReport:
    """``client``: the service's shared httpx client, used when probing. ``extra_checks``
    (e.g. workspace trust) are reported as they are."""
    checks: list[ReadinessCheck] = list(extra_checks or [])
    statuses: list[ProviderStatus] = []
    is_default = not settings.providers
    providers = settings.effective_providers()
    probes: list[tuple[str, str]] = []
    served: list[ServedContext | None] = [None] * len(providers)
    if probe and client is not None:
        probes = list(await asyncio.gather(*(probe_provider(p, client) for p in providers)))
        served = list(await asyncio.gather(*(
            detect_context(p, client) if probes[i][0] != "fail" else _none() for i, p in enumerate(providers))))
    for i, p in enumerate(providers):
        status, detail = "ok", "not probed yet"
        fix = ""
        if p.api_key_env and not os.environ.get(p.api_key_env):
            status, detail = "fail", f"environment variable {p.api_key_env} is not set"
            fix = f"export {p.api_key_env}=<your key> before starting the editor"
        elif p.kind == "anthropic" and not p.api_key_env:
            status, detail = "fail", "an Anthropic provider needs apiKeyEnv"
            fix = 'set apiKeyEnv = "ANTHROPIC_API_KEY" in the provider entry'
        elif not _url_ok(p.base_url):
            status, detail = "fail", f"baseUrl {p.base_url!r} is not an http(s) URL"
            fix = "set baseUrl to e.g. http://127.0.0.1:11434/v1"
        elif probes:
            status, detail = probes[i]
            if status != "ok":
                fix = _model_fix(p, is_default) if detail.startswith("model ") else _fix_for(p, is_default)
        statuses.append(
            ProviderStatus(name=p.name, kind=p.kind, model=p.model, base_url=p.base_url, status=status, detail=detail)  # type: ignore[arg-type]
        )
        checks.append(ReadinessCheck(name=f"provider:{p.name}", status=status, detail=detail, fix=fix))  # type: ignore[arg-type]
        if served[i] is not None:
            c_status, c_detail, c_fix = context_check(p, served[i])  # type: ignore[arg-type]
            checks.append(ReadinessCheck(name=f"context:{p.name}", status=c_status, detail=c_detail, fix=c_fix))  # type: ignore[arg-type]
    if len(providers) > 1:
        checks.append(ReadinessCheck(name="fallback", status="ok", detail=plural(len(providers) - 1, "fallback provider")))
    else:
        # advice, not a warning: one working provider is "ready" (DESIGN.md section 7)
        checks.append(ReadinessCheck(
            name="fallback", status="ok",
            detail="no fallback provider (optional: a second [[providers]] entry keeps turns going "
                   "through a 429 or an outage of the first)"))
    checks.append(_writable("workspace", root, "the agent cannot edit files here"))
    checks.append(_writable("store", store_dir, "sessions and checkpoints cannot be saved"))
    damaged = take_store_note(store_dir)  # shown once
    if damaged:
        checks.append(ReadinessCheck(name="store:recovered", status="warn", detail=damaged,
                                     fix="open the moved-aside file with sqlite3 to recover what it holds"))
    note = take_retention_note(store_dir)  # shown once
    if note:
        checks.append(ReadinessCheck(name="retention", status="ok", detail=note,
                                     fix="raise store.maxBytes, store.keepSessions or store.keepDays to keep more"))
    for problem in problems:
        checks.append(
            ReadinessCheck(
                name=f"config:{problem.key}",
                status="warn",
                detail=f"{problem.source}: {problem.message}",
                fix=f"fix or remove {problem.key}",
            )
        )
    provider_ok = any(s.status != "fail" for s in statuses)
    hard_fail = any(c.status == "fail" and c.name in ("workspace", "store") for c in checks)
    if not provider_ok or hard_fail:
        state = "blocked"
    elif any(c.status != "ok" for c in checks):
        state = "degraded"
    else:
        state = "ready"
    return ReadinessReport(state=state, checks=checks, providers=statuses, fallback=[p.name for p in providers[1:]])  # type: ignore[arg-type]


def _writable(name: str, folder: Path, consequence: str) -> ReadinessCheck:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".minicode-probe-"):
            pass
        return ReadinessCheck(name=name, status="ok", detail=f"{folder} is writable")
    except OSError as exc:
        return ReadinessCheck(
            name=name, status="fail", detail=f"{folder} is not writable ({exc.strerror}): {consequence}",
            fix=f"check the permissions of {folder}",
        )
