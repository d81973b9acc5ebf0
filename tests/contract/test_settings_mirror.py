"""The VS Code plugin's package.json settings == config.py (the protocol mirrors: test_generated.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from minicode_lsp.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "editors/vscode/package.json"

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
    # every agent setting can be set in VS Code, except the secret file list: a repository may
    # only add to it, and a workspace's VS Code setting would replace the user's
    agent = {k for k in defaults if k.startswith("minicode.agent.")} - {"minicode.agent.secretFiles"}
    assert agent <= set(settings), f"agent settings missing from package.json: {sorted(agent - set(settings))}"
    provider_props = settings["minicode.providers"]["items"]["properties"]
    from minicode_lsp.config import ProviderConfig

    wire_names = set(ProviderConfig().wire().keys()) if hasattr(ProviderConfig, "wire") else {
        f.alias or n for n, f in ProviderConfig.model_fields.items()}
    assert set(provider_props) <= wire_names, f"unknown provider keys {set(provider_props) - wire_names}"
