"""The workspace every use-case works in: its opened stores, settings, frontend, path helpers,
notifications and the state shared between use-cases (running turns, rewinds under way).

It knows no use-case: ``tasks``, ``sessions``, ``rewind``, ``memory``, ``readiness`` and
``trust`` each take a ``Workspace`` and never reach back into the ``Service`` that composes them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ..config import ConfigLoader, Settings, load_for_workspace, user_config_path
from ..log import register_secret
from ..protocol import NOTIFY_SESSIONS, SessionChange, SessionsChanged
from ..store.blobs import BlobStore
from ..store.checkpoints import CheckpointStore
from ..store.ids import AmbiguousId as StoreAmbiguous
from ..store.ids import UnknownId
from ..store.locations import store_dir_for, user_memory_db_path
from ..store.memory import MemoryStore
from ..store.redact import Redactor
from ..store.sessions import SessionStore
from ..store.shell_state import ShellState
from ..store.snapshots import Snapshotter
from ..wording import plural
from . import rewind_disk
from .background import TaskRunner
from .diskio import remove_temps
from .errors import AmbiguousId, InvalidParams, NotFound, OutsideWorkspace, UnknownSession
from .frontend import Frontend
from .mcp import McpManager
from .providers import secret_values
from .store_open import check_folder, open_database

log = logging.getLogger(__name__)
SHOWN_TEXT_CHARS = 4000  # of a showResult answer sent as a message to an editor that cannot open it


@dataclass
class RunningTurn:
    session_id: str
    turn_id: str
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    show_result: bool = False
    title: str = ""
    task: asyncio.Task[Any] | None = None
    proposals: list[dict[str, Any]] = field(default_factory=list)  # memory entries reflection proposed
    approved: set[str] = field(default_factory=set)  # commands allowed "for this session"


class Workspace:
    def __init__(self, root: Path, frontend: Frontend, *, loader: ConfigLoader | None = None,
                 user_dir: Path | None = None, watch: bool = True) -> None:
        self.root = root.resolve()
        self.frontend = frontend
        self.loader = load_for_workspace(self.root, loader)
        # the user's own AGENTS.md / MINICODE.md live next to their config file
        self.user_dir = user_dir if user_dir is not None else user_config_path().parent
        self.tasks = TaskRunner()
        self.running: dict[str, RunningTurn] = {}  # session id -> its turn running in this process
        self.rewinding: set[str] = set()  # sessions whose rewind is being applied: no turn starts
        self._http: Any = None
        self.snapshot_lock = asyncio.Lock()
        self._open_store(watch)
        self.mcp = McpManager(self.root, self._settings.mcp_servers, scratch=self.store_dir)
        self.session_mcp: dict[str, McpManager] = {}  # servers an ACP client sent for one session

    # ------------------------------------------------------------------ stores
    @property
    def settings(self) -> Settings:
        return self._settings

    def _open_store(self, watch: bool) -> None:
        self._settings = self.loader.settings()
        self.store_dir = store_dir_for(self.root, self._settings.store.path)
        self.db = open_database(self.store_dir, self._settings.store.path)
        self.redactor = Redactor(secret_values(self._settings))
        for secret in secret_values(self._settings):
            register_secret(secret)
        self.sessions = SessionStore(self.db, redactor=self.redactor)
        check_folder(self.store_dir / "blobs", "blobs", self.store_dir, self._settings.store.path)
        self.blobs = BlobStore(self.store_dir / "blobs", max_size=self._settings.store.max_blob_bytes)
        self.checkpoints = CheckpointStore(self.db, self.blobs)
        self.memory = MemoryStore(self.db, redactor=self.redactor)
        self.user_memory_path = user_memory_db_path()
        self._user_memory: MemoryStore | None = None
        snap = self._settings.snapshot
        self.snapshotter = Snapshotter(
            self.root, self.blobs, store_dir=self.store_dir, max_file_size=snap.max_file_bytes,
            max_files=snap.max_files, time_budget_s=snap.time_budget_s, watch=watch,
            secret_files=self._settings.agent.secret_files,
        )
        self.blobs.pin(self.snapshotter.live_shas)  # the next shell group's pre-images
        self._recover_rewind()
        interrupted = self.sessions.mark_interrupted()
        if interrupted:
            log.warning("marked %s from an earlier run as interrupted", plural(len(interrupted), "turn"))
            for group in self.checkpoints.open_groups():  # a kill inside a write leaves its temporary file
                if group.turn_id in interrupted:
                    for f in group.files:
                        remove_temps(Path(f.path))
        self.recover_shell_groups()

    def _recover_rewind(self) -> None:
        """A rewind killed half way is undone (its journal), its staging folder removed, and its
        unfinished safety group dropped: a rewind is all or nothing, even across a kill."""
        try:
            header = rewind_disk.recover(self.store_dir)
        except Exception:  # never stops the store from opening
            log.exception("could not recover an interrupted rewind")
            return
        group_id = header.get("group") if header else None
        if group_id:
            group = self.checkpoints.get_group(group_id)
            if group is not None and group.status == "open":
                self.checkpoints.resume_group(group).abort()

    def recover_shell_groups(self) -> None:
        """Shell groups whose process was killed while the command ran (their turn is no longer
        running): record what the command changed, from the before-snapshot kept with the group.
        Changes made on disk between the kill and now are counted as the command's."""
        ShellState(self.checkpoints, self.snapshotter).recover()

    def memory_for(self, scope: str) -> MemoryStore:
        """The project's memory store, or the user's (opened on first use)."""
        if scope == "user":
            if self._user_memory is None:
                db = open_database(self.store_dir, self._settings.store.path, path=self.user_memory_path)
                self._user_memory = MemoryStore(db, redactor=self.redactor)
            return self._user_memory
        return self.memory

    def reload_settings(self) -> None:
        self.loader = load_for_workspace(self.root, self.loader)
        self._settings = self.loader.settings()
        self.mcp.configure(self._settings.mcp_servers)
        for secret in secret_values(self._settings):
            self.redactor.add_secret(secret)
            register_secret(secret)

    def http_client(self) -> Any:
        """One httpx client for every provider request of this workspace (its TLS context and
        connections are reused: a new client loads the CA bundle again, 150-280 ms here)."""
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient()
        return self._http

    async def warm_snapshots(self) -> None:
        """Hash the workspace once in the background, so the first command's snapshot is cheap."""
        async with self.snapshot_lock:
            snap = await asyncio.to_thread(self.snapshotter.baseline)
            # persist its stat cache now, so the first command's group writes only what changed
            await asyncio.to_thread(ShellState(self.checkpoints, self.snapshotter).persist, snap)
        log.info("workspace baseline: %s, %d hashed, %.1f s%s", plural(len(snap.files), "file"), snap.hashed,
                 snap.duration_s, f", skipped {len(snap.skipped)}" if snap.skipped else "")

    async def aclose(self) -> None:
        """Stop the MCP servers and the HTTP client (the turns are the tasks use-case's)."""
        for manager in (self.mcp, *self.session_mcp.values()):
            await manager.stop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def close(self) -> None:
        self.snapshotter.close()
        ShellState(self.checkpoints, self.snapshotter).release()
        self.checkpoints.close()  # drains staged blobs to files before the database closes
        self.db.close()

    # ------------------------------------------------------------------ paths and ids
    def path_of_uri(self, uri: str) -> Path:
        parsed = urlparse(uri)
        if parsed.scheme not in ("file", ""):
            raise InvalidParams(f"not a file URI: {uri}")
        if "\x00" in unquote(parsed.path):
            raise InvalidParams(f"not a file path (NUL byte): {uri!r}")
        path = Path(unquote(parsed.path)).resolve()
        if not path.is_relative_to(self.root):
            raise OutsideWorkspace(f"{path} is outside the workspace {self.root}")
        return path

    def private_file(self, folder: str, name: str) -> Path:
        """A file only the user can read, in a folder of the store (answers, previews, transcripts)."""
        target = self.store_dir / folder
        target.mkdir(mode=0o700, exist_ok=True)
        path = target / name
        path.touch(mode=0o600, exist_ok=True)
        return path

    def resolve_session(self, prefix: str) -> str:
        try:
            return self.sessions.resolve_session(prefix)
        except StoreAmbiguous as exc:
            raise AmbiguousId(str(exc)) from None
        except UnknownId as exc:
            raise UnknownSession(str(exc)) from None

    def resolve_session_or_latest(self, prefix: str | None) -> str | None:
        if prefix:
            return self.resolve_session(prefix)
        rows, _ = self.sessions.list_sessions(limit=1)
        return rows[0].id if rows else None

    def resolve_turn(self, prefix: str) -> str:
        return _resolved(self.sessions.resolve_turn, prefix, "turn")

    def resolve_group(self, prefix: str) -> str:
        return _resolved(self.checkpoints.resolve_group, prefix, "group")

    # ------------------------------------------------------------------ the editor
    def notify_sessions(self, session_id: str, change: SessionChange) -> None:
        self.frontend.publish(NOTIFY_SESSIONS, SessionsChanged(session_id=session_id, change=change).wire())

    async def show_document(self, path: Path) -> bool:
        """Open ``path`` in the editor; an editor that cannot (no ``window/showDocument``, an
        error or ``null`` answer) gets a message naming the file instead. Never fails."""
        try:
            shown = await self.frontend.show_document(path)
        except Exception:  # an editor's answer must never fail the command that asked
            log.exception("showing %s", path)
            shown = False
        if not shown:
            self.inform(f"MiniCode: the result is in {path}")
        return shown

    def show_result_later(self, path: Path, text: str) -> None:
        """A turn's answer (showResult): opened as a document, or, in an editor that cannot,
        sent as a message. In the background: the session takes a follow-up at once."""

        async def show() -> None:
            try:
                shown = await self.frontend.show_document(path)
            except Exception:
                log.exception("showing %s", path)
                shown = False
            if not shown:
                body = text if len(text) <= SHOWN_TEXT_CHARS else text[:SHOWN_TEXT_CHARS] + f"\n... (all of it: {path})"
                self.inform(body)

        self.tasks.run(show(), name=f"show-{path.name}")

    def inform(self, message: str) -> None:
        inform = getattr(self.frontend, "inform", None)
        if inform is None:
            return
        try:
            inform(message)
        except Exception:  # the connection is gone
            log.debug("could not send a message to the editor", exc_info=True)


def _resolved(resolve: Any, prefix: str, kind: str) -> str:
    try:
        return str(resolve(prefix))
    except StoreAmbiguous as exc:
        raise AmbiguousId(str(exc)) from None
    except UnknownId:
        raise NotFound(f"unknown {kind} {prefix}") from None
