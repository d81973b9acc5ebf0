"""Providers: the chain a turn or a summary runs on, from the settings, and the secrets it
carries (kept out of logs, sessions and the commands the agent runs)."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

from ..config import ProviderConfig, Settings
from .errors import NotReady
from .local_context import window_for

if TYPE_CHECKING:
    from ..agent.providers.base import ProviderSpec

log = logging.getLogger(__name__)


def missing_key(p: ProviderConfig) -> str | None:
    """The API key variable this provider needs and the environment lacks, if any."""
    return p.api_key_env if p.api_key_env and not os.environ.get(p.api_key_env) else None


def require_runnable(settings: Settings) -> None:
    """Refuse a turn no provider can run: every one lacks its API key variable."""
    providers = settings.effective_providers()
    if providers and all(missing_key(prov) for prov in providers):
        raise NotReady("no provider can run: " + "; ".join(
            f"{prov.name} needs the environment variable {prov.api_key_env}, which is not set"
            for prov in providers) + ". Set it where the editor (or this terminal) is started; "
            "minicode.readiness shows every check")


def provider_specs(settings: Settings) -> list[ProviderSpec]:
    """The chain, minus providers whose API key variable is not set (they could only fail;
    ``require_runnable`` refuses a turn when that leaves none)."""
    providers = settings.effective_providers()
    usable = [p for p in providers if missing_key(p) is None]
    for p in providers:
        if missing_key(p) is not None and usable:
            log.warning("provider %s skipped: environment variable %s is not set", p.name, p.api_key_env)
    return [spec_of(p) for p in usable or providers]


def spec_of(p: ProviderConfig) -> ProviderSpec:
    from ..agent.providers.base import ProviderSpec

    key = os.environ.get(p.api_key_env) if p.api_key_env else None
    return ProviderSpec(
        name=p.name,
        kind=p.kind,
        base_url=p.base_url,
        model=p.model,
        api_key=key or None,
        api_key_env=p.api_key_env or "",
        timeout_s=p.timeout_s,
        max_tokens=p.max_tokens,
        context_window=window_for(p),
        max_retries=p.max_retries,
        connect_timeout_s=p.connect_timeout_s,
        first_token_timeout_s=p.first_token_timeout_s,
        idle_timeout_s=p.idle_timeout_s,
        max_reply_bytes=p.max_reply_bytes,
        max_tool_arguments_bytes=p.max_tool_arguments_bytes,
        thinking_budget=p.thinking_budget,
        prompt_caching=p.prompt_caching,
    )


def secret_values(settings: Settings) -> list[str]:
    values = []
    for p in settings.effective_providers():
        if p.api_key_env and os.environ.get(p.api_key_env):
            values.append(os.environ[p.api_key_env])
    return values


def command_env(settings: Settings) -> dict[str, str]:
    """The environment for run_command: no provider API keys, by name or by value."""
    names = {p.api_key_env for p in settings.effective_providers() if p.api_key_env}
    secrets = set(secret_values(settings))
    return {
        k: v
        for k, v in os.environ.items()
        if k not in names and v not in secrets and not k.endswith("_API_KEY")
    }


SUMMARY_PROMPT = (
    "Summarize this coding-agent session for the developer in 3 to 6 short bullet points: what was "
    "asked, what changed (files), what was verified, and what is left open. Plain markdown, no preamble."
)


async def summarize_with_model(settings: Settings, facts: str, client: Any,
                               timeout_s: float = 20.0) -> tuple[str, str] | None:
    """(provider name, text) of a model-written summary, or None when no provider answers in time."""
    import httpx

    from ..agent.messages import Message
    from ..agent.providers import make_provider
    from ..agent.providers.base import ProviderError
    from ..agent.providers.fallback import FallbackChain

    try:
        chain = FallbackChain([make_provider(spec, client) for spec in provider_specs(settings)])
        reply = await asyncio.wait_for(
            chain.complete(system=SUMMARY_PROMPT, messages=[Message(role="user", text=facts)], tools=[]),
            timeout=timeout_s,
        )
    except (ProviderError, TimeoutError, httpx.HTTPError, ValueError) as exc:
        log.info("no model summary: %s", exc)
        return None
    text = reply.message.text.strip()
    return (chain.last_provider_name or "the model", text) if text else None
