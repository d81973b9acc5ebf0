"""Fixtures for the replay suite: the raw replay server and providers over the real httpx client."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from minicode_lsp.agent.providers.anthropic import AnthropicProvider
from minicode_lsp.agent.providers.base import ProviderSpec
from minicode_lsp.agent.providers.openai_compat import OpenAICompatProvider

from .server import ReplayServer


class NoSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture(scope="session")
def _replay_server() -> Iterator[ReplayServer]:
    with ReplayServer() as srv:
        yield srv


@pytest.fixture
def replay(_replay_server: ReplayServer) -> ReplayServer:
    _replay_server.reset()
    return _replay_server


# One TLS context for every client: building one per test (certifi) costs ~0.1 s each.
_TLS = ssl.create_default_context()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=_TLS, trust_env=False) as c:
        yield c


def make(srv: ReplayServer, kind: str, client: httpx.AsyncClient | None = None,
         sleep: NoSleep | None = None, **kw: Any) -> OpenAICompatProvider | AnthropicProvider:
    base = srv.base_url + ("/v1" if kind == "openai" else "")
    fields: dict[str, Any] = {"name": f"{kind}-replay", "kind": kind, "base_url": base, "model": "m",
                              "api_key": "sk-replay-0123456789", "timeout_s": 10.0, "max_retries": 0}
    fields.update(kw)
    spec = ProviderSpec(**fields)
    cls = OpenAICompatProvider if kind == "openai" else AnthropicProvider
    return cls(spec, client, sleep=sleep or NoSleep())
