"""The loop reads the stop reason: cut text is continued, a cut tool call is retried with a higher
limit and then reported as out of output tokens (never as invalid JSON); maxTokens reaches the wire."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from minicode_lsp.agent.loop import TurnSettings, run_turn
from minicode_lsp.agent.messages import Message
from minicode_lsp.agent.providers.base import ProviderSpec
from minicode_lsp.agent.providers.openai_compat import OpenAICompatProvider
from tests.unit.agent.fakes import make_ports

from .conftest import make
from .server import ReplayServer
from .wire import error, openai_call, openai_text

SETTINGS = TurnSettings(permission_mode="auto")


async def _turn(tmp_path: Path, provider: OpenAICompatProvider, prompt: str = "go"):
    fake = make_ports(tmp_path)
    out = await run_turn(prompt=prompt, history=[], provider=provider, ports=fake.ports, settings=SETTINGS,
                         cancel=asyncio.Event())
    return fake, out


async def test_a_text_cut_by_length_is_continued(tmp_path: Path, replay: ReplayServer,
                                                 client: httpx.AsyncClient) -> None:
    replay.add(openai_text("The first half of the answer, ", finish="length"), openai_text("and the second half."))
    fake, out = await _turn(tmp_path, make(replay, "openai", client))
    assert out.stop_reason == "done"
    assert out.text == "The first half of the answer, and the second half."
    assert len(replay.requests) == 2
    last = replay.requests[1]["body"]["messages"][-1]
    assert last["role"] == "user" and "cut off" in last["content"]


async def test_a_text_still_cut_after_continuing_ends_with_a_clear_note(tmp_path: Path, replay: ReplayServer,
                                                                        client: httpx.AsyncClient) -> None:
    replay.add(*[openai_text(f"part {i} ", finish="length") for i in range(3)])
    _fake, out = await _turn(tmp_path, make(replay, "openai", client, max_tokens=64))
    assert out.stop_reason == "done" and len(replay.requests) == 3
    assert out.text.startswith("part 0 part 1 part 2")
    assert "cut off at the output token limit (maxTokens = 64)" in out.text


async def test_a_cut_tool_call_is_retried_with_a_higher_limit(tmp_path: Path, replay: ReplayServer,
                                                              client: httpx.AsyncClient) -> None:
    replay.add(openai_call("write_file", '{"path": "a.py", "content": "print(', finish="length"),
               openai_call("write_file", '{"path": "a.py", "content": "print(1)\\n"}'),
               openai_call("read_file", '{"path": "a.py"}', call_id="call_2"), openai_text("written"))
    _fake, out = await _turn(tmp_path, make(replay, "openai", client, max_tokens=100))
    assert out.stop_reason == "done"
    assert [r["body"]["max_tokens"] for r in replay.requests] == [100, 200, 100, 100]
    assert (tmp_path / "a.py").read_text() == "print(1)\n"


async def test_a_tool_call_cut_twice_is_reported_as_out_of_output_tokens(tmp_path: Path, replay: ReplayServer,
                                                                         client: httpx.AsyncClient) -> None:
    cut = '{"path": "big.py", "content": "x = ['
    replay.add(openai_call("write_file", cut, finish="length"), openai_call("write_file", cut, finish="length"),
               openai_text("I will write it in parts."))
    fake, out = await _turn(tmp_path, make(replay, "openai", client, max_tokens=100))
    assert out.stop_reason == "done"
    tool_msgs = [m for m in replay.requests[2]["body"]["messages"] if m["role"] == "tool"]
    assert len(tool_msgs) == 1
    content = tool_msgs[0]["content"]
    assert "ran out of output tokens" in content and "maxTokens 200" in content
    assert "not valid JSON" not in content
    assert not (tmp_path / "big.py").exists()


async def test_max_tokens_is_sent_to_openai_compatible_servers(replay: ReplayServer,
                                                               client: httpx.AsyncClient) -> None:
    replay.add(openai_text("hi"))
    await make(replay, "openai", client, max_tokens=321).complete(
        system="", messages=[Message(role="user", text="x")], tools=[])
    assert replay.requests[0]["body"]["max_tokens"] == 321


def test_openai_itself_gets_max_completion_tokens() -> None:
    spec = ProviderSpec(name="o", kind="openai", base_url="https://api.openai.com/v1", model="gpt-5", max_tokens=7)
    body = OpenAICompatProvider(spec).request_body("", [], [])
    assert body["max_completion_tokens"] == 7 and "max_tokens" not in body


async def test_a_server_that_wants_max_completion_tokens_gets_it(replay: ReplayServer,
                                                                 client: httpx.AsyncClient) -> None:
    replay.add(error(400, {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this "
                                                "model. Use 'max_completion_tokens' instead.",
                                     "type": "invalid_request_error", "param": "max_tokens",
                                     "code": "unsupported_parameter"}}), openai_text("hi"))
    provider = make(replay, "openai", client, max_tokens=50)
    for _ in range(2):
        reply = await provider.complete(system="", messages=[Message(role="user", text="x")], tools=[])
        assert reply.message.text == "hi"
        replay.add(openai_text("hi"))
    bodies = [r["body"] for r in replay.requests]
    assert "max_tokens" in bodies[0] and bodies[1]["max_completion_tokens"] == 50 and "max_tokens" not in bodies[1]
    assert bodies[2]["max_completion_tokens"] == 50  # remembered
