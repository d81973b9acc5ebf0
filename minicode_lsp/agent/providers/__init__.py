"""Model providers: OpenAI-compatible chat completions and Anthropic Messages, with retries
(``retry``) and a fallback chain (``fallback``). ``make_provider`` builds one from its spec."""

from __future__ import annotations

import httpx

from .anthropic import AnthropicProvider
from .base import ModelReply, Provider, ProviderError, ProviderSpec
from .fallback import FallbackChain
from .openai_compat import OpenAICompatProvider

__all__ = [
    "AnthropicProvider",
    "FallbackChain",
    "ModelReply",
    "OpenAICompatProvider",
    "Provider",
    "ProviderError",
    "ProviderSpec",
    "make_provider",
]


def make_provider(spec: ProviderSpec, client: httpx.AsyncClient | None = None) -> Provider:
    """The provider for ``spec.kind`` (``openai`` or ``anthropic``)."""
    if spec.kind == "openai":
        return OpenAICompatProvider(spec, client)
    if spec.kind == "anthropic":
        return AnthropicProvider(spec, client)
    raise ValueError(f"unknown provider kind {spec.kind!r} (expected 'openai' or 'anthropic')")
