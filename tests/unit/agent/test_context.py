from __future__ import annotations

from minicode_lsp.agent.context import groups
from minicode_lsp.agent.messages import Message, ToolCall, ToolResult


def test_a_tool_call_and_its_results_form_one_unit() -> None:
    call = Message(role="assistant", text="", tool_calls=[ToolCall(id="1", name="read_file", arguments={})])
    result = Message(role="tool", tool_results=[ToolResult(tool_call_id="1", name="read_file", content="x")])
    user, answer = Message(role="user", text="hi"), Message(role="assistant", text="done")
    assert groups([user, call, result, answer]) == [[user], [call, result], [answer]]


def test_a_tool_message_without_its_call_stands_alone() -> None:
    orphan = Message(role="tool", tool_results=[ToolResult(tool_call_id="9", name="x", content="")])
    plain = Message(role="assistant", text="no tools")
    assert groups([plain, orphan]) == [[plain], [orphan]]
