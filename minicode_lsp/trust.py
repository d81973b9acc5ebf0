"""Workspace trust: which of a repository's settings may take effect, the way direnv allows
an ``.envrc``.

A workspace's ``.minicode.toml`` is written by whoever wrote the repository. Its settings
that could send data out or run code — ``providers`` (``baseUrl``, ``apiKeyEnv``, ``kind``),
a ``permissionMode`` looser than the user's, ``testCommand``, ``keepRunning``, ``mcpServers``, ``store.path``,
``rewind.confirm = false`` — take effect only once the user allowed that exact file content:
its SHA-256 is recorded, per file path, in ``<user state dir>/minicode-lsp/trusted.json``.
Any change to the file asks again. The rest of the file (snapshot limits, memory budget, a
stricter permission mode ...) always applies: a repository may make settings stricter, never
looser. The user's own config file is always trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

APP_NAME = "minicode-lsp"
TRUST_FILE = "trusted.json"
# Strictest first: a repository may move the mode left, never right.
MODE_RANK = {"plan": 0, "ask": 1, "auto": 2}


def state_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def trust_file(base: Path | None = None) -> Path:
    return (base if base is not None else state_dir()) / TRUST_FILE


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key(path: Path) -> str:
    # The file's absolute path, links in its folders resolved, the file name itself kept
    # (a link named .minicode.toml does not borrow the allow of the file it points to).
    path = Path(path)
    return str(Path(os.path.realpath(path.parent)) / path.name)


def _load(base: Path | None) -> dict[str, str]:
    try:
        data = json.loads(trust_file(base).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("cannot read the workspace trust file %s (%s): no workspace config is trusted", trust_file(base), exc)
        return {}
    allowed = data.get("allowed") if isinstance(data, dict) else None
    if not isinstance(allowed, dict):
        return {}
    return {str(k): str(v) for k, v in allowed.items() if isinstance(v, str)}


def is_allowed(path: Path, sha256: str, *, base: Path | None = None) -> bool:
    return _load(base).get(_key(path)) == sha256


def allow(path: Path, sha256: str, *, base: Path | None = None) -> Path:
    """Record that the user allowed ``path`` with content hash ``sha256``; returns the trust file."""
    _save({**_load(base), _key(path): sha256}, base)
    return trust_file(base)


def revoke(path: Path, *, base: Path | None = None) -> bool:
    allowed = _load(base)
    if allowed.pop(_key(path), None) is None:
        return False
    _save(allowed, base)
    return True


def _save(allowed: dict[str, str], base: Path | None) -> None:
    target = trust_file(base)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".trusted.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"version": 1, "allowed": allowed}, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------- gating
@dataclass
class Withheld:
    """Settings of one layer that were not applied, and why."""

    source: str
    keys: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


def gate(layer: dict[str, Any], user: dict[str, Any], source: str) -> tuple[dict[str, Any], Withheld]:
    """Split a cleaned (snake_case) settings layer into what may apply without trust and what
    is withheld. ``user`` is the user's own cleaned layer: the baseline a repository may only
    make stricter."""
    kept = {k: (dict(v) if isinstance(v, dict) else v) for k, v in layer.items()}
    withheld = Withheld(source)

    def hold(key: str, value: Any) -> None:
        withheld.keys.append(key)
        withheld.values[key] = value

    if "providers" in kept:
        hold("providers", kept.pop("providers"))
    agent = kept.get("agent") or {}
    if agent.get("test_command"):
        hold("agent.testCommand", agent.pop("test_command"))
    else:
        agent.pop("test_command", None)
    if agent.get("keep_running"):  # processes that outlive the turn
        hold("agent.keepRunning", agent.pop("keep_running"))
    if "permission_mode" in agent:
        baseline = (user.get("agent") or {}).get("permission_mode", "ask")
        if MODE_RANK.get(agent["permission_mode"], 99) > MODE_RANK.get(baseline, 1):
            hold("agent.permissionMode", agent.pop("permission_mode"))
    if "secret_files" in agent:  # a repository may add patterns, never drop one
        baseline_files = (user.get("agent") or {}).get("secret_files")
        if baseline_files is None:
            from .config import DEFAULT_SECRET_FILES

            baseline_files = list(DEFAULT_SECRET_FILES)
        if not set(baseline_files) <= set(agent["secret_files"] or []):
            hold("agent.secretFiles", agent.pop("secret_files"))
    store = kept.get("store") or {}
    if store.get("path"):
        hold("store.path", store.pop("path"))
    rewind = kept.get("rewind") or {}
    if rewind.get("confirm") is False and (user.get("rewind") or {}).get("confirm", True) is not False:
        hold("rewind.confirm", rewind.pop("confirm"))
    for raw in ("mcp_servers", "mcpServers"):
        if raw in kept:
            hold("mcpServers", kept.pop(raw))
    return kept, withheld


def describe(withheld: Withheld) -> list[str]:
    """One line per withheld setting, as ``minicode-lsp trust`` and the command show them."""
    lines = []
    for key in withheld.keys:
        value = withheld.values[key]
        if key == "providers" and isinstance(value, list):
            for p in value:
                if isinstance(p, dict):
                    lines.append(
                        f"provider {p.get('name', 'local')!r}: kind={p.get('kind', 'openai')} "
                        f"baseUrl={p.get('base_url', '(default)')} model={p.get('model', '(default)')} "
                        f"apiKeyEnv={p.get('api_key_env') or '(none)'}"
                    )
        else:
            lines.append(f"{key} = {json.dumps(value, default=str)}")
    return lines
