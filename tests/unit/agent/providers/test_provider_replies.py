"""Both wire formats against the scripted server: text, tool calls, usage, non-streaming."""

from __future__ import annotations

from minicode_lsp.agent.messages import Message, ToolSpec
from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import MakeProvider

TOOLS = [ToolSpec("read_file", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}}})]
USER = [Message(role="user", text="hi")]


async def test_streams_text_and_records_usage(server: ScriptedModelServer, make_provider: MakeProvider,
                                              kind: str) -> None:
    server.enqueue({"text": "Hello there, world.", "usage": {"input_tokens": 12, "output_tokens": 5}})
    deltas: list[str] = []

    async def on_text(t: str) -> None:
        deltas.append(t)

    reply = await make_provider(kind).complete(system="sys", messages=USER, tools=TOOLS, on_text=on_text)
    assert reply.message.role == "assistant"
    assert reply.message.text == "Hello there, world."
    assert len(deltas) > 1 and "".join(deltas) == "Hello there, world."
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (12, 5)
    assert reply.finish_reason in ("stop", "end_turn")
    assert not reply.message.tool_calls


async def test_tool_calls_are_assembled_from_the_stream(server: ScriptedModelServer, make_provider: MakeProvider,
                                                        kind: str) -> None:
    server.enqueue({"text": "Let me look.", "tool_calls": [
        {"name": "read_file", "arguments": {"path": "src/app.py", "start_line": 3}},
        {"name": "search", "arguments": {"pattern": "def \\w+\\(", "glob": "*.py"}},
    ]})
    reply = await make_provider(kind).complete(system="s", messages=USER, tools=TOOLS)
    calls = reply.message.tool_calls
    assert [c.name for c in calls] == ["read_file", "search"]
    assert calls[0].arguments == {"path": "src/app.py", "start_line": 3}
    assert calls[1].arguments == {"pattern": "def \\w+\\(", "glob": "*.py"}
    assert all(c.id and c.arguments_error is None for c in calls)
    assert len({c.id for c in calls}) == 2
    assert reply.message.text == "Let me look."
    assert reply.finish_reason in ("tool_calls", "tool_use")


async def test_invalid_tool_json_becomes_an_arguments_error(server: ScriptedModelServer,
                                                            make_provider: MakeProvider, kind: str) -> None:
    server.enqueue({"fault": "invalid_tool_json", "name": "edit_file"})
    reply = await make_provider(kind).complete(system="s", messages=USER, tools=TOOLS)
    [call] = reply.message.tool_calls
    assert call.name == "edit_file"
    assert call.arguments == {}
    assert call.arguments_error and "JSON" in call.arguments_error


async def test_non_streaming_json_reply_is_accepted(server: ScriptedModelServer, make_provider: MakeProvider,
                                                    kind: str) -> None:
    server.enqueue({"text": "plain", "stream": False, "usage": {"input_tokens": 3, "output_tokens": 1},
                    "tool_calls": [{"name": "read_file", "arguments": {"path": "a"}}]})
    seen: list[str] = []

    async def on_text(t: str) -> None:
        seen.append(t)

    reply = await make_provider(kind).complete(system="s", messages=USER, tools=TOOLS, on_text=on_text)
    assert reply.message.text == "plain" and seen == ["plain"]
    assert reply.message.tool_calls[0].arguments == {"path": "a"}
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (3, 1)


async def test_empty_script_answers_done(make_provider: MakeProvider, kind: str) -> None:
    reply = await make_provider(kind).complete(system="", messages=USER, tools=[])
    assert reply.message.text == "done"


async def test_reply_function_sees_the_request(make_provider: MakeProvider, kind: str) -> None:
    def answer(body: dict) -> dict:
        return {"text": f"{len(body['messages'])} message(s) for {body['model']}"}

    with ScriptedModelServer(reply_fn=answer) as srv:
        reply = await make_provider(kind, srv).complete(system="", messages=USER, tools=[])
    assert reply.message.text == "1 message(s) for scripted-model"
