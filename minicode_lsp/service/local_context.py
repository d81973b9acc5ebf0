"""The context length a local model server really serves (Ollama, llama.cpp), read at readiness.

Ollama truncates a prompt silently at its own context length (``num_ctx``), whatever the
client believes; llama.cpp refuses it. So for an Ollama base URL readiness reads
``/api/ps`` (the loaded model's ``context_length``) and ``/api/show`` (``num_ctx`` in the
model's parameters, and the model's trained maximum); for llama.cpp ``/props`` (``n_ctx``).
The value found is kept per (baseUrl, model) and a turn compacts against
``min(contextWindow, served)``. Readiness warns, with the fix, when it is too small to hold
the system prompt, the tools and a working margin.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import ProviderConfig

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0
# The system prompt and the tool schemas take ~3-4k tokens; below this a coding turn cannot work.
MIN_WORKING_CONTEXT = 8192
OLLAMA_DEFAULT_CONTEXT = 4096  # what Ollama serves when neither OLLAMA_CONTEXT_LENGTH nor num_ctx is set


HOSTED = ("api.openai.com", "openrouter.ai", "api.anthropic.com", "api.deepseek.com", "api.groq.com")


@dataclass(frozen=True)
class ServedContext:
    tokens: int
    server: str  # "ollama" or "llama.cpp"
    source: str  # where the number came from, for the readiness detail
    trained: int = 0  # the model's own maximum, when the server says


_served: dict[tuple[str, str], ServedContext] = {}


def served(base_url: str, model: str) -> ServedContext | None:
    """What readiness found for this provider (None: not a local server, or not probed)."""
    return _served.get((base_url.rstrip("/"), model))


def window_for(p: ProviderConfig) -> int:
    """The context window a turn compacts against: the configured one, or less if the server serves less."""
    found = served(p.base_url, p.model)
    return min(p.context_window, found.tokens) if found else p.context_window


def _root(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


async def _json(client: httpx.AsyncClient, method: str, url: str, body: Any = None) -> Any:
    import httpx

    try:
        resp = await client.request(method, url, json=body, timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError:
        return None
    if resp.status_code != 200:
        return None
    try:
        return resp.json()
    except ValueError:
        return None


def _same_model(name: str, model: str) -> bool:
    return name == model or name == f"{model}:latest" or name.split(":")[0] == model and ":" not in model


async def _ollama(p: ProviderConfig, client: httpx.AsyncClient, root: str) -> ServedContext | None:
    show = await _json(client, "POST", root + "/api/show", {"model": p.model})
    if not isinstance(show, dict):
        return None
    raw_info = show.get("model_info")
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    trained = next((int(v) for k, v in info.items() if k.endswith(".context_length") and isinstance(v, int)), 0)
    ps = await _json(client, "GET", root + "/api/ps")
    for m in (ps or {}).get("models", []) if isinstance(ps, dict) else []:
        if isinstance(m, dict) and _same_model(str(m.get("name") or m.get("model")), p.model) \
                and isinstance(m.get("context_length"), int):
            return ServedContext(m["context_length"], "ollama", "loaded now (/api/ps)", trained)
    params = str(show.get("parameters") or "")
    num_ctx = re.search(r"(?m)^\s*num_ctx\s+(\d+)", params)
    if num_ctx:
        return ServedContext(int(num_ctx.group(1)), "ollama", "num_ctx in the model's Modelfile", trained)
    return ServedContext(OLLAMA_DEFAULT_CONTEXT, "ollama", "Ollama's default (no num_ctx set; "
                         "OLLAMA_CONTEXT_LENGTH may raise it)", trained)


async def _llamacpp(client: httpx.AsyncClient, root: str) -> ServedContext | None:
    props = await _json(client, "GET", root + "/props")
    if not isinstance(props, dict):
        return None
    settings = props.get("default_generation_settings")
    n_ctx = props.get("n_ctx") or (settings.get("n_ctx") if isinstance(settings, dict) else None)
    if not isinstance(n_ctx, int) or n_ctx <= 0:
        return None
    return ServedContext(n_ctx, "llama.cpp", "/props n_ctx")


async def detect(p: ProviderConfig, client: httpx.AsyncClient) -> ServedContext | None:
    """Ask an Ollama or llama.cpp server what context it serves this model with (None: neither)."""
    if p.kind != "openai" or any(h in p.base_url for h in HOSTED):
        return None
    root = _root(p.base_url)
    version = await _json(client, "GET", root + "/api/version")
    found = (await _ollama(p, client, root) if isinstance(version, dict) and "version" in version
             else await _llamacpp(client, root))
    if found is not None:
        _served[(p.base_url.rstrip("/"), p.model)] = found
        log.info("%s serves %s with a context of %d tokens (%s)", p.base_url, p.model, found.tokens, found.source)
    return found


def check(p: ProviderConfig, found: ServedContext) -> tuple[str, str, str]:
    """(status, detail, fix) of the readiness check for a served context."""
    detail = (f"{found.server} serves {p.model} with a context of {found.tokens:,} tokens ({found.source}); "
              f"compaction uses {min(found.tokens, p.context_window):,}")
    if found.tokens >= MIN_WORKING_CONTEXT:
        return "ok", detail, ""
    want = max(MIN_WORKING_CONTEXT * 4, 32768)
    if found.trained:
        want = min(want, found.trained)
    if found.server == "ollama":
        fix = (f"give the model a larger context: start Ollama with OLLAMA_CONTEXT_LENGTH={want} "
               f"(e.g. `OLLAMA_CONTEXT_LENGTH={want} ollama serve`), or create a variant with a Modelfile "
               f"(`FROM {p.model}` and `PARAMETER num_ctx {want}`, then `ollama create {p.model}-{want // 1024}k "
               f"-f Modelfile`) and use that model")
    else:
        fix = f"start llama-server with a larger context, e.g. `-c {want}` (--ctx-size)"
    return "warn", detail + ": too small for the system prompt, the tools and a working margin", fix
