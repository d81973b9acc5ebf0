"""Every recorded ACP frame checked against the protocol's own JSON Schema (npm
``@agentclientprotocol/sdk``, ``schema/v1/schema.json``), by method and direction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

# method -> (params schema, result schema) for requests; (params schema, None) for notifications
CLIENT_TO_AGENT = {
    "initialize": ("InitializeRequest", "InitializeResponse"),
    "authenticate": ("AuthenticateRequest", "AuthenticateResponse"),
    "session/new": ("NewSessionRequest", "NewSessionResponse"),
    "session/load": ("LoadSessionRequest", "LoadSessionResponse"),
    "session/list": ("ListSessionsRequest", "ListSessionsResponse"),
    "session/resume": ("ResumeSessionRequest", "ResumeSessionResponse"),
    "session/close": ("CloseSessionRequest", "CloseSessionResponse"),
    "session/set_mode": ("SetSessionModeRequest", "SetSessionModeResponse"),
    "session/set_config_option": ("SetSessionConfigOptionRequest", "SetSessionConfigOptionResponse"),
    "session/prompt": ("PromptRequest", "PromptResponse"),
    "session/cancel": ("CancelNotification", None),
}
AGENT_TO_CLIENT = {
    "session/update": ("SessionNotification", None),
    "session/request_permission": ("RequestPermissionRequest", "RequestPermissionResponse"),
    "fs/write_text_file": ("WriteTextFileRequest", "WriteTextFileResponse"),
    "fs/read_text_file": ("ReadTextFileRequest", "ReadTextFileResponse"),
}


class FrameChecker:
    def __init__(self, schema_path: Path) -> None:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        self.defs = schema["$defs"]
        self._validators: dict[str, Draft202012Validator] = {}

    def validator(self, name: str) -> Draft202012Validator:
        if name not in self._validators:
            self._validators[name] = Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": self.defs})
        return self._validators[name]

    def check_log(self, log: Path) -> tuple[int, list[str]]:
        """(frames checked, problems) for a tap log; frames that are not ours to know are problems too."""
        pending: dict[tuple[str, Any], str] = {}  # (direction of the request, id) -> method
        problems: list[str] = []
        count = 0
        for raw in log.read_text(encoding="utf-8").splitlines():
            entry = json.loads(raw)
            direction, frame = entry["dir"], json.loads(entry["line"])
            count += 1
            table = CLIENT_TO_AGENT if direction == "in" else AGENT_TO_CLIENT
            if "method" in frame:
                names = table.get(frame["method"])
                if names is None:
                    problems.append(f"{direction}: unexpected method {frame['method']}")
                    continue
                self._check(names[0], frame.get("params"), frame, problems)
                if "id" in frame:
                    pending[(direction, frame["id"])] = frame["method"]
                continue
            asked = "out" if direction == "in" else "in"  # a response answers the other side's request
            method = pending.pop((asked, frame.get("id")), None)
            if method is None:
                problems.append(f"{direction}: a response to no request: {raw[:200]}")
                continue
            if "error" in frame:
                err = frame["error"]
                if not (isinstance(err.get("code"), int) and isinstance(err.get("message"), str)):
                    problems.append(f"{direction}: malformed error for {method}: {err}")
                continue
            result_name = (CLIENT_TO_AGENT if asked == "in" else AGENT_TO_CLIENT)[method][1]
            if result_name:
                self._check(result_name, frame.get("result"), frame, problems)
        return count, problems

    def _check(self, name: str, value: Any, frame: dict[str, Any], problems: list[str]) -> None:
        for error in self.validator(name).iter_errors(value):
            problems.append(f"{name}: {error.message} at {list(error.absolute_path)} in {json.dumps(frame)[:300]}")
