"""Readiness reads the context a local server really serves (Ollama /api/ps and /api/show, llama.cpp
/props), warns with the fix when it is too small, and turns compact against it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from minicode_lsp.config import ProviderConfig, Settings
from minicode_lsp.service import local_context
from minicode_lsp.service.readiness import build_report

from .server import Canned, ReplayServer

JSON = {"content-type": "application/json"}


def answer(path: str, payload: object, status: int = 200) -> Canned:
    return Canned(status, JSON, json.dumps(payload).encode(), path=path)


async def _report(replay: ReplayServer, client: httpx.AsyncClient, tmp_path: Path, model: str):
    p = ProviderConfig(name="local", base_url=replay.base_url + "/v1", model=model)
    settings = Settings(providers=[p])
    (tmp_path / "ws").mkdir()
    (tmp_path / "store").mkdir()
    report = await build_report(settings, [], tmp_path / "ws", tmp_path / "store", probe=True, client=client)
    return p, {c.name: c for c in report.checks}


async def test_ollama_serving_a_small_context_is_found_warned_and_used(
        tmp_path: Path, replay: ReplayServer, client: httpx.AsyncClient) -> None:
    replay.add(answer("/v1/models", {"object": "list", "data": [{"id": "qwen2.5-coder:latest"}]}),
               answer("/api/version", {"version": "0.20.4"}),
               answer("/api/show", {"parameters": "stop \"<|im_end|>\"", "model_info": {
                   "general.architecture": "qwen2", "qwen2.context_length": 32768}}),
               answer("/api/ps", {"models": [{"name": "qwen2.5-coder:latest", "model": "qwen2.5-coder:latest",
                                              "context_length": 4096}]}))
    p, checks = await _report(replay, client, tmp_path, "qwen2.5-coder")
    check = checks["context:local"]
    assert check.status == "warn" and "4,096 tokens" in check.detail
    assert "OLLAMA_CONTEXT_LENGTH=32768" in check.fix and "PARAMETER num_ctx 32768" in check.fix
    assert local_context.window_for(p) == 4096  # what the turn compacts against
    shown = [r["body"] for r in replay.requests if r["path"] == "/api/show"]
    assert shown == [{"model": "qwen2.5-coder"}]


async def test_ollama_num_ctx_from_the_modelfile_when_not_loaded(
        tmp_path: Path, replay: ReplayServer, client: httpx.AsyncClient) -> None:
    replay.add(answer("/v1/models", {"data": [{"id": "coder32k:latest"}]}),
               answer("/api/version", {"version": "0.20.4"}),
               answer("/api/show", {"parameters": "num_ctx                        32768\nstop \"x\"",
                                    "model_info": {"llama.context_length": 131072}}),
               answer("/api/ps", {"models": []}))
    p, checks = await _report(replay, client, tmp_path, "coder32k")
    assert checks["context:local"].status == "ok" and "32,768" in checks["context:local"].detail
    assert local_context.window_for(p) == 32768


async def test_llamacpp_props_n_ctx(tmp_path: Path, replay: ReplayServer, client: httpx.AsyncClient) -> None:
    replay.add(answer("/v1/models", {"data": [{"id": "model.gguf"}]}),
               answer("/api/version", {"error": "not found"}, status=404),
               answer("/props", {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 1}))
    p, checks = await _report(replay, client, tmp_path, "model.gguf")
    check = checks["context:local"]
    assert check.status == "warn" and "llama.cpp" in check.detail and "-c 32768" in check.fix
    assert local_context.window_for(p) == 4096
