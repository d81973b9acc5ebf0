"""Where stores live: never inside the workspace (it must survive ``git clean -fdx``).

Default: ``<user state dir>/minicode-lsp/workspaces/<slug>-<sha256(root)[:12]>/``, one
folder per workspace root. A configured ``store.path`` replaces the state-dir part: the
per-workspace folder is then made under it, so one configured path shared by several
workspaces (e.g. in the user config file) still keeps their stores apart. A relative
configured path is taken relative to the workspace root (the user chose it).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import platformdirs

APP_NAME = "minicode-lsp"
USER_MEMORY_DB = "memory.sqlite3"


def workspace_key(workspace: Path) -> str:
    """``<slug>-<sha256(resolved root)[:12]>``: readable and unique per root."""
    root = Path(workspace).expanduser().resolve()
    digest = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    slug = re.sub(r"[^a-z0-9._-]+", "-", root.name.lower()).strip("-.")[:40] or "root"
    return f"{slug}-{digest}"


def default_store_root() -> Path:
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False)) / "workspaces"


def store_dir_for(workspace: Path, configured: str = "") -> Path:
    """The store folder for ``workspace`` (not created here: ``Database`` creates it 0700)."""
    configured = (configured or "").strip()
    if configured:
        base = Path(os.path.expandvars(configured)).expanduser()
        if not base.is_absolute():
            base = Path(workspace).expanduser().resolve() / base
    else:
        base = default_store_root()
    return base / workspace_key(workspace)


def user_data_dir() -> Path:
    """The user-level folder (user-scope memory lives here, shared by all workspaces)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_memory_db_path() -> Path:
    return user_data_dir() / USER_MEMORY_DB
