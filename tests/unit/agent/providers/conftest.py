"""Fixtures: the scripted model server on 127.0.0.1 and providers over the real httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from minicode_lsp.agent.providers.anthropic import AnthropicProvider
from minicode_lsp.agent.providers.base import ProviderSpec
from minicode_lsp.agent.providers.openai_compat import OpenAICompatProvider
from minicode_lsp.testing.model_server import ScriptedModelServer

SECRET = "sk-test-SECRET0123456789abcdef"

Provider = OpenAICompatProvider | AnthropicProvider


class FakeSleep:
    """Records the delays asked for instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as srv:
        yield srv


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


def spec_for(server: ScriptedModelServer, kind: str, **kw: Any) -> ProviderSpec:
    base = server.openai_base_url if kind == "openai" else server.base_url
    fields: dict[str, Any] = {"name": f"{kind}-test", "kind": kind, "base_url": base, "model": "scripted-model",
                              "api_key": SECRET, "api_key_env": "TEST_API_KEY", "timeout_s": 5.0}
    fields.update(kw)
    return ProviderSpec(**fields)


MakeProvider = Callable[..., Provider]


@pytest.fixture
def make_provider(server: ScriptedModelServer, client: httpx.AsyncClient, sleep: FakeSleep) -> MakeProvider:
    def make(kind: str, srv: ScriptedModelServer | None = None, **kw: Any) -> Provider:
        spec = spec_for(srv or server, kind, **kw)
        cls = OpenAICompatProvider if kind == "openai" else AnthropicProvider
        return cls(spec, client, sleep=sleep)

    return make


@pytest.fixture(params=["openai", "anthropic"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)
