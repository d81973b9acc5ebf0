"""The Messages-API request as the scripted server recorded it."""

from __future__ import annotations

from minicode_lsp.agent.messages import Message, ToolCall, ToolResult, ToolSpec
from minicode_lsp.agent.providers.anthropic import to_anthropic_messages
from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import SECRET, MakeProvider

CONVERSATION = [
    Message(role="user", text="fix it"),
    Message(role="assistant", text="Reading.", tool_calls=[ToolCall(id="t1", name="read_file",
                                                                    arguments={"path": "a.py"})]),
    Message(role="tool", tool_results=[ToolResult(tool_call_id="t1", name="read_file", content="boom",
                                                  is_error=True)]),
    Message(role="user", text="and hurry"),
]


async def test_request_shape(server: ScriptedModelServer, make_provider: MakeProvider) -> None:
    tools = [ToolSpec("read_file", "Read", {"type": "object", "properties": {}})]
    await make_provider("anthropic", max_tokens=1234, prompt_caching=False).complete(
        system="be brief", messages=CONVERSATION, tools=tools)
    [req] = server.model_requests
    assert req.path == "/v1/messages"
    assert req.headers["x-api-key"] == SECRET
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in req.headers
    body = req.body
    assert body["max_tokens"] == 1234 and body["stream"] is True
    assert body["system"] == "be brief"
    assert body["tools"] == [{"name": "read_file", "description": "Read",
                              "input_schema": {"type": "object", "properties": {}}}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "Reading."},
        {"type": "tool_use", "id": "t1", "name": "read_file", "input": {"path": "a.py"}}]
    # the tool result and the following user text are merged into one user message
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "t1", "content": "boom", "is_error": True},
        {"type": "text", "text": "and hurry"}]


async def test_max_tokens_sent_and_no_system_when_empty(server: ScriptedModelServer,
                                                        make_provider: MakeProvider) -> None:
    await make_provider("anthropic", api_key=None).complete(system="", messages=CONVERSATION[:1], tools=[])
    body = server.model_requests[0].body
    assert body["max_tokens"] == 4096
    assert "system" not in body and "tools" not in body
    assert "x-api-key" not in server.model_requests[0].headers


async def test_base_url_ending_in_v1_is_tolerated(server: ScriptedModelServer,
                                                  make_provider: MakeProvider) -> None:
    provider = make_provider("anthropic", base_url=server.base_url + "/v1/")
    reply = await provider.complete(system="", messages=CONVERSATION[:1], tools=[])
    assert reply.message.text == "done"
    assert server.model_requests[0].path == "/v1/messages"


def test_empty_assistant_message_gets_a_placeholder() -> None:
    msgs = to_anthropic_messages([Message(role="user", text="a"), Message(role="assistant")])
    assert msgs[1]["content"] == [{"type": "text", "text": "(empty)"}]
