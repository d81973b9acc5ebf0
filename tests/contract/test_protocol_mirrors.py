"""protocol.py == protocol.ts == protocol.lua, and package.json settings == config.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from minicode_lsp import protocol as p
from minicode_lsp.config import Settings

ROOT = Path(__file__).resolve().parents[2]
TS = ROOT / "editors/vscode/src/protocol.ts"
LUA = ROOT / "editors/neovim/lua/minicode/protocol.lua"
PACKAGE = ROOT / "editors/vscode/package.json"

STRING = re.compile(r"""["']([^"'\n]+)["']""")


def literals(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^\s*(//|--).*$", "", text, flags=re.M)  # comments do not count
    return set(STRING.findall(text))


def contract_sets(found: set[str]) -> dict[str, set[str]]:
    return {
        "commands": {s for s in found if re.fullmatch(r"minicode\.[a-z]+\.[a-zA-Z]+|minicode\.readiness", s)},
        "notifications": {s for s in found if re.fullmatch(r"minicode/[a-zA-Z]+", s)},
        "events": {s for s in found if s in p.EVENT_TYPES or re.fullmatch(r"(turn|text|tool|files|approval|provider|context|memory)\.[a-z]+", s)},
    }


EXPECTED = {
    "commands": set(p.COMMANDS),
    "notifications": set(p.NOTIFICATIONS),
    "events": set(p.EVENT_TYPES),
}


@pytest.mark.parametrize("mirror", [TS, LUA], ids=["protocol.ts", "protocol.lua"])
def test_mirror_has_exactly_the_contract(mirror: Path) -> None:
    if not mirror.exists():
        pytest.fail(f"{mirror.relative_to(ROOT)} is missing")
    found = contract_sets(literals(mirror))
    for kind, expected in EXPECTED.items():
        missing = expected - found[kind]
        extra = found[kind] - expected
        assert not missing and not extra, f"{mirror.name} {kind}: missing {sorted(missing)}, extra {sorted(extra)}"


def test_mirrors_list_every_stop_reason() -> None:
    for mirror in (TS, LUA):
        found = literals(mirror)
        missing = set(p.STOP_REASONS) - found
        assert not missing, f"{mirror.name} lacks stop reasons {sorted(missing)}"


def _config_defaults() -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, value in Settings().wire().items():
        if isinstance(value, dict):
            for key, default in value.items():
                flat[f"minicode.{section}.{key}"] = default
        else:
            flat[f"minicode.{section}"] = value
    return flat


def test_vscode_settings_match_config() -> None:
    if not PACKAGE.exists():
        pytest.fail("editors/vscode/package.json is missing")
    props = json.loads(PACKAGE.read_text())["contributes"]["configuration"]
    sections = props if isinstance(props, list) else [props]
    settings: dict[str, Any] = {}
    for section in sections:
        settings.update(section.get("properties", {}))
    defaults = _config_defaults()
    checked = 0
    for key, schema in settings.items():
        if key.startswith(("minicode.server.", "minicode.trace.", "minicode.approvals.")):  # client-only
            continue
        assert key in defaults, f"package.json setting {key} does not exist in config.py"
        if "default" in schema:
            assert schema["default"] == defaults[key], f"{key}: package.json default {schema['default']!r} != {defaults[key]!r}"
        checked += 1
    assert "minicode.agent.permissionMode" in settings and checked >= 5
    provider_props = settings["minicode.providers"]["items"]["properties"]
    from minicode_lsp.config import ProviderConfig

    wire_names = set(ProviderConfig().wire().keys()) if hasattr(ProviderConfig, "wire") else {
        f.alias or n for n, f in ProviderConfig.model_fields.items()}
    assert set(provider_props) <= wire_names, f"unknown provider keys {set(provider_props) - wire_names}"
