"""The chat-completions request as the scripted server recorded it."""

from __future__ import annotations

import json

from minicode_lsp.agent.messages import Message, ToolCall, ToolResult, ToolSpec
from minicode_lsp.agent.providers.openai_compat import to_openai_messages
from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import SECRET, MakeProvider

CONVERSATION = [
    Message(role="user", text="fix it"),
    Message(role="assistant", text="", tool_calls=[
        ToolCall(id="c1", name="read_file", arguments={"path": "a.py"}),
        ToolCall(id="c2", name="run_command", arguments={"command": "pytest"}),
    ]),
    Message(role="tool", tool_results=[
        ToolResult(tool_call_id="c1", name="read_file", content="print(1)"),
        ToolResult(tool_call_id="c2", name="run_command", content="exit 1", is_error=True),
    ]),
]


async def test_request_shape(server: ScriptedModelServer, make_provider: MakeProvider) -> None:
    tools = [ToolSpec("read_file", "Read", {"type": "object", "properties": {}})]
    await make_provider("openai").complete(system="be brief", messages=CONVERSATION, tools=tools)
    [req] = server.model_requests
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {SECRET}"
    body = req.body
    assert body["model"] == "scripted-model"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["tools"] == [{"type": "function", "function": {
        "name": "read_file", "description": "Read", "parameters": {"type": "object", "properties": {}}}}]
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "tool"]
    assert body["messages"][0]["content"] == "be brief"
    calls = body["messages"][2]["tool_calls"]
    assert [c["id"] for c in calls] == ["c1", "c2"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"path": "a.py"}
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "c1", "content": "print(1)"}
    assert body["messages"][4]["tool_call_id"] == "c2" and "exit 1" in body["messages"][4]["content"]


async def test_no_authorization_header_without_a_key(server: ScriptedModelServer,
                                                     make_provider: MakeProvider) -> None:
    await make_provider("openai", api_key=None).complete(system="", messages=CONVERSATION[:1], tools=[])
    [req] = server.model_requests
    assert "authorization" not in req.headers
    assert "tools" not in req.body
    assert [m["role"] for m in req.body["messages"]] == ["user"]


async def test_base_url_with_trailing_slash(server: ScriptedModelServer, make_provider: MakeProvider) -> None:
    provider = make_provider("openai", base_url=server.openai_base_url + "/")
    await provider.complete(system="", messages=CONVERSATION[:1], tools=[])
    assert server.model_requests[0].path == "/v1/chat/completions"


def test_assistant_text_with_tool_calls_keeps_text() -> None:
    msgs = to_openai_messages("", [Message(role="assistant", text="hm", tool_calls=[
        ToolCall(id="x", name="search", arguments={"pattern": "a"})])])
    assert msgs[0]["content"] == "hm"
    assert to_openai_messages("", CONVERSATION)[1]["content"] is None
