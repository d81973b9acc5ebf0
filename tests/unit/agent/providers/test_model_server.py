"""The scripted model server itself: wire output, control endpoints, the CLI in another process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from minicode_lsp.testing.model_server import ScriptedModelServer


def test_openai_stream_on_the_wire(server: ScriptedModelServer) -> None:
    server.enqueue({"text": "a b", "tool_calls": [{"id": "c9", "name": "search", "arguments": {"pattern": "x"}}]})
    body = {"model": "m", "stream": True, "stream_options": {"include_usage": True}, "messages": []}
    r = httpx.post(server.openai_base_url + "/chat/completions", json=body)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert any(c["choices"] and c["choices"][0]["finish_reason"] == "tool_calls" for c in chunks)


def test_non_streaming_both_formats(server: ScriptedModelServer) -> None:
    server.enqueue({"text": "x"}, {"text": "y", "tool_calls": [{"name": "read_file", "arguments": {"path": "p"}}]})
    o = httpx.post(server.openai_base_url + "/chat/completions", json={"model": "m", "messages": []}).json()
    assert o["choices"][0]["message"]["content"] == "x" and o["usage"]["prompt_tokens"] >= 1
    a = httpx.post(server.base_url + "/v1/messages", json={"model": "m", "max_tokens": 5, "messages": []}).json()
    assert a["content"][1] == {"type": "tool_use", "id": a["content"][1]["id"], "name": "read_file",
                               "input": {"path": "p"}}
    assert a["stop_reason"] == "tool_use"


def test_anthropic_stream_on_the_wire(server: ScriptedModelServer) -> None:
    server.enqueue({"text": "hi"})
    r = httpx.post(server.base_url + "/v1/messages", json={"model": "m", "stream": True, "messages": []})
    names = [line[7:] for line in r.text.splitlines() if line.startswith("event: ")]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]


def test_models_and_records(server: ScriptedModelServer) -> None:
    assert httpx.get(server.openai_base_url + "/models").json()["data"][0]["id"] == "scripted-model"
    assert httpx.get(server.base_url + "/api/tags").json()["models"][0]["name"] == "scripted-model"
    httpx.post(server.openai_base_url + "/chat/completions", json={"messages": [{"role": "user", "content": "q"}]},
               headers={"x-test": "1"})
    [get, _tags, post] = server.requests
    assert get.method == "GET" and get.path == "/v1/models"
    assert post.headers["x-test"] == "1" and post.body["messages"][0]["content"] == "q" and post.wire == "openai"


def test_control_endpoints(server: ScriptedModelServer) -> None:
    url = server.base_url
    assert httpx.post(url + "/_control/script", json=[{"text": "one"}, {"text": "two"}]).json()["remaining"] == 2
    httpx.post(url + "/_control/enqueue", json={"text": "three"})
    assert [r["text"] for r in server.remaining] == ["one", "two", "three"]
    httpx.post(url + "/v1/messages", json={"model": "m", "messages": []})
    recorded = httpx.get(url + "/_control/requests").json()
    assert [r["path"] for r in recorded] == ["/v1/messages"]
    assert httpx.post(url + "/_control/script", json={"not": "a list"}).status_code == 400
    httpx.post(url + "/_control/reset")
    assert server.requests == [] and server.remaining == []


def test_stop_is_prompt_even_with_a_slow_reply() -> None:
    srv = ScriptedModelServer([{"fault": "delay", "seconds": 30}])
    srv.start()
    with httpx.Client() as c:
        import threading

        t = threading.Thread(target=lambda: _swallow(lambda: c.post(srv.openai_base_url + "/chat/completions",
                                                                    json={"messages": []}, timeout=10)))
        t.start()
        time.sleep(0.2)
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < 2
        t.join(5)
        assert not t.is_alive()


def _swallow(fn: object) -> None:
    try:
        fn()  # type: ignore[operator]
    except httpx.HTTPError:
        pass


def test_cli_ready_line_port_file_and_control(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "scripted hello"}]))
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, "-m", "minicode_lsp.testing.model_server", "--script", str(script),
                             "--port", "0", "--port-file", str(port_file), "--model", "qwen"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("READY http://127.0.0.1:")
        base = line.split()[1]
        assert port_file.read_text() == base
        assert httpx.get(base + "/v1/models").json()["data"][0]["id"] == "qwen"
        r = httpx.post(base + "/v1/chat/completions", json={"messages": []}).json()
        assert r["choices"][0]["message"]["content"] == "scripted hello"
        httpx.post(base + "/_control/enqueue", json=[{"fault": "500"}])
        assert httpx.post(base + "/v1/messages", json={"messages": []}).status_code == 500
        assert len(httpx.get(base + "/_control/requests").json()) == 3
    finally:
        proc.terminate()
        assert proc.wait(5) == 0
