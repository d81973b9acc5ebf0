"""Tests that configure a workspace through its .minicode.toml allow it, as a user would with
`minicode-lsp trust`: in this process's state folder and in the e2e servers' (<root>/../home)."""

from __future__ import annotations

from pathlib import Path

from minicode_lsp import trust
from minicode_lsp.config import WORKSPACE_FILE


def allow_workspace_config(root: Path, *homes: Path) -> None:
    path = root / WORKSPACE_FILE
    digest = trust.content_hash(path.read_bytes())
    trust.allow(path, digest)  # this process (XDG_STATE_HOME, set per test in tests/conftest.py)
    for home in (root.parent / "home", *homes):
        trust.allow(path, digest, base=home / "state" / trust.APP_NAME)  # harness.server_env's XDG_STATE_HOME
