"""The service: every use-case the editor and the CLI call, with no pygls in sight."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from ..config import ConfigLoader, Settings, load_for_workspace, user_config_path
from ..log import register_secret
from ..protocol import (
    NOTIFY_READINESS,
    NOTIFY_SESSIONS,
    CheckpointListArgs,
    MemoryAcceptArgs,
    MemoryAddArgs,
    MemoryRemoveArgs,
    MemoryShowArgs,
    ReadinessReport,
    RewindApplyArgs,
    RewindPreviewArgs,
    SessionExportArgs,
    SessionListArgs,
    SessionReplayArgs,
    TaskRunArgs,
    WorkspaceTrustArgs,
)
from ..store import export as exporting
from ..store.blobs import BlobStore
from ..store.checkpoints import CheckpointStore
from ..store.ids import AmbiguousId as StoreAmbiguous
from ..store.ids import UnknownId, resolve_prefix
from ..store.locations import store_dir_for, user_memory_db_path
from ..store.memory import MemoryStore
from ..store.redact import Redactor
from ..store.sessions import SessionStore
from ..store.shell_state import ShellState
from ..store.snapshots import Snapshotter
from . import retention, rewind_disk
from .diskio import remove_temps
from .errors import AmbiguousId, Busy, InvalidParams, NotFound, NotReady, OutsideWorkspace, UnknownSession
from .frontend import Frontend
from .mcp import McpManager, mcp_checks
from .readiness import build_report
from .rewind import RewindService
from .store_open import check_folder, open_database
from .tasks import TaskRunner
from .trust import trust_workspace, workspace_trust_check
from .turns import RunningTurn, execute_turn, missing_key, secret_values, summarize_with_model

if TYPE_CHECKING:
    from ..agent.loop import TurnOutcome

log = logging.getLogger(__name__)
SHOWN_TEXT_CHARS = 4000  # of a showResult answer sent as a message to an editor that cannot open it


class Service:
    def __init__(self, root: Path, frontend: Frontend, *, loader: ConfigLoader | None = None,
                 user_dir: Path | None = None, watch: bool = True) -> None:
        self.root = root.resolve()
        self.frontend = frontend
        self.loader = load_for_workspace(self.root, loader)
        # the user's own AGENTS.md / MINICODE.md live next to their config file
        self.user_dir = user_dir if user_dir is not None else user_config_path().parent
        self.tasks = TaskRunner()
        self.running: dict[str, RunningTurn] = {}
        self.rewinding: set[str] = set()  # sessions whose rewind is being applied: no turn starts
        self.allowed_commands: dict[str, set[str]] = {}
        self.readiness: ReadinessReport | None = None
        self._http: Any = None
        self.snapshot_lock = asyncio.Lock()
        self._open_store(watch)
        self.mcp = McpManager(self.root, self._settings.mcp_servers, scratch=self.store_dir)
        self.session_mcp: dict[str, McpManager] = {}  # servers an ACP client sent for one session
        self.rewinds = RewindService(self)

    # ------------------------------------------------------------------ setup
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
            log.warning("marked %d interrupted turn(s) from an earlier run", len(interrupted))
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

    def reload_settings(self) -> None:
        self.loader = load_for_workspace(self.root, self.loader)
        self._settings = self.loader.settings()
        self.mcp.configure(self._settings.mcp_servers)
        for secret in secret_values(self._settings):
            self.redactor.add_secret(secret)
            register_secret(secret)

    def http_client(self) -> Any:
        """One httpx client for every provider request of this service (its TLS context and
        connections are reused: a new client loads the CA bundle again, 150-280 ms here)."""
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient()
        return self._http

    def close(self) -> None:
        self.snapshotter.close()
        ShellState(self.checkpoints, self.snapshotter).release()
        self.checkpoints.close()  # drains staged blobs to files before the database closes
        self.db.close()

    # ------------------------------------------------------------------ helpers
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

    def resolve_session(self, prefix: str) -> str:
        try:
            return self.sessions.resolve_session(prefix)
        except StoreAmbiguous as exc:
            raise AmbiguousId(str(exc)) from None
        except UnknownId as exc:
            raise UnknownSession(str(exc)) from None

    def resolve_id(self, table: str, prefix: str, kind: str) -> str:
        """The full id of a turn (``turns``) or an edit group (``edit_groups``) from any unique
        prefix, in any case: the CLI prints short ids and takes them back."""
        want = prefix.strip()
        escaped = want.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.db.query(f"SELECT id FROM {table} WHERE id LIKE ? ESCAPE '\\' LIMIT 50", (escaped + "%",)) \
            if want else []
        try:
            return resolve_prefix(want, [r["id"] for r in rows], kind)
        except StoreAmbiguous as exc:
            raise AmbiguousId(str(exc)) from None
        except UnknownId:
            raise NotFound(f"unknown {kind} {prefix}") from None

    def resolve_session_or_latest(self, prefix: str | None) -> str | None:
        if prefix:
            return self.resolve_session(prefix)
        rows, _ = self.sessions.list_sessions(limit=1)
        return rows[0].id if rows else None

    def notify_sessions(self, session_id: str, change: str) -> None:
        self.frontend.publish(NOTIFY_SESSIONS, {"sessionId": session_id, "change": change})

    # ------------------------------------------------------------------ tasks
    def run_task(self, args: TaskRunArgs) -> dict[str, Any]:
        settings = self.settings
        providers = settings.effective_providers()
        if providers and all(missing_key(prov) for prov in providers):
            raise NotReady("no provider can run: " + "; ".join(
                f"{prov.name} needs the environment variable {prov.api_key_env}, which is not set"
                for prov in providers) + ". Set it where the editor (or this terminal) is started; "
                "minicode.readiness shows every check")
        mode = args.permission_mode or settings.agent.permission_mode
        profile = args.profile or settings.agent.profile
        if args.session_id:
            session_id = self.resolve_session(args.session_id)
            if session_id in self.running:
                raise Busy(f"session {session_id} already has a running turn; cancel it first")
            if session_id in self.rewinding:
                raise Busy(f"session {session_id} is being rewound; start the turn once the rewind is done")
            change = "updated"
            turn = self.sessions.start_turn(session_id, args.prompt, profile, mode)
        else:
            title = " ".join(args.prompt.split())[:80]
            with self.db.transaction():  # one commit: a kill never leaves a session without its turn
                session_id = self.sessions.create_session(title, str(self.root)).id
                turn = self.sessions.start_turn(session_id, args.prompt, profile, mode)
            change = "created"
            self._apply_retention(keep={session_id})
        running = RunningTurn(
            session_id=session_id, turn_id=turn.id, show_result=args.show_result, title=args.prompt[:80]
        )
        self.running[session_id] = running
        running.task = self.tasks.run(execute_turn(self, running, args, settings), name=f"turn-{turn.id}")
        self.notify_sessions(session_id, change)
        return {"sessionId": session_id, "turnId": turn.id}

    def _apply_retention(self, keep: set[str]) -> None:
        store = self.settings.store
        try:
            live = self.snapshotter.live_sizes()
            gone = retention.prune(self.sessions, self.checkpoints, self.blobs, self.db,
                                   max_sessions=store.max_sessions, max_bytes=store.max_bytes,
                                   keep=keep | set(self.running), keep_newest=store.keep_sessions,
                                   keep_days=store.keep_days, snapshot=retention.snapshot_bytes(self.db, live),
                                   store_dir=self.store_dir)
        except Exception:  # retention must never stop a task from starting
            log.exception("retention failed")
            return
        for sid in gone:
            self.notify_sessions(sid, "deleted")

    def turn_finished(self, running: RunningTurn, outcome: TurnOutcome) -> None:
        if self.running.get(running.session_id) is running:
            del self.running[running.session_id]

    async def cancel(self, session_id: str) -> dict[str, Any]:
        sid = self.resolve_session(session_id)
        running = self.running.get(sid)
        if running is None:
            return {"cancelled": False}
        running.cancel.set()
        if running.task is not None:
            # the turn stops at its next step; one waiting for the editor (a prompt, an applyEdit)
            # is interrupted, its request withdrawn ($/cancelRequest): the turn ends within 1 s
            done, _ = await asyncio.wait({running.task}, timeout=0.4)
            if not done:
                running.task.cancel()
                done, _ = await asyncio.wait({running.task}, timeout=1.0)
        if self.running.get(sid) is running and (running.task is None or not done):
            # the turn's task did not end even when cancelled: free the session anyway (its
            # task still records turn.finished when it ends; a new turn may start meanwhile)
            log.error("turn %s did not end within 2 s of task.cancel; its session is freed", running.turn_id)
            del self.running[sid]
        return {"cancelled": True}

    def cancel_turn_by_id(self, turn_id: str) -> None:
        for running in self.running.values():
            if running.turn_id == turn_id:
                running.cancel.set()

    async def wait_idle(self, timeout: float | None = None) -> None:
        tasks = [r.task for r in self.running.values() if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def shutdown(self) -> None:
        for running in list(self.running.values()):
            running.cancel.set()
        await self.tasks.cancel_all(timeout=1.5)
        for manager in (self.mcp, *self.session_mcp.values()):
            await manager.stop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # ------------------------------------------------------------------ sessions
    def list_sessions(self, args: SessionListArgs) -> dict[str, Any]:
        try:
            rows, cursor = self.sessions.list_sessions(limit=args.limit, cursor=args.cursor, query=args.query)
        except ValueError as exc:  # a cursor we did not hand out
            raise InvalidParams(str(exc)) from None
        out: dict[str, Any] = {"sessions": [r.to_wire() for r in rows]}
        if cursor:
            out["nextCursor"] = cursor
        return out

    def show_session(self, session_id: str) -> dict[str, Any]:
        sid = self.resolve_session(session_id)
        shown = self.sessions.show_session(sid)
        groups = self.checkpoints.list_groups(session_id=sid, limit=10_000)
        by_turn: dict[str | None, list[dict[str, Any]]] = {}
        for g in reversed(groups):  # newest first from the store: the tree shows them as they happened
            by_turn.setdefault(g.turn_id, []).append(g.to_wire())
        for turn in shown["turns"]:
            turn["groups"] = by_turn.pop(turn["id"], [])
        # groups outside any turn (a rewind's safety group), and any whose turn is gone
        shown["safetyGroups"] = sorted((g for gs in by_turn.values() for g in gs), key=lambda g: g["createdAt"])
        shown["running"] = sid in self.running
        return shown

    def transcript_path(self, session_id: str) -> Path:
        sid = self.resolve_session(session_id)
        path = self.private_file("transcripts", f"{sid}.md")
        path.write_text(exporting.export_markdown(self.sessions, sid), encoding="utf-8")
        return path

    def replay(self, args: SessionReplayArgs) -> dict[str, Any]:
        sid = self.resolve_session(args.session_id)
        return {"events": [e.to_wire() for e in self.sessions.replay(sid, args.from_seq)]}

    async def summarize(self, session_id: str) -> dict[str, Any]:
        """The deterministic summary, plus the model's own when a provider answers."""
        sid = self.resolve_session(session_id)
        markdown = exporting.summary_markdown(self.sessions, sid)
        written = await summarize_with_model(self.settings, markdown, self.http_client())
        if written:
            markdown = f"{markdown.rstrip()}\n\n## Summary by {written[0]}\n\n{written[1].strip()}\n"
        return {"markdown": markdown, "modelSummary": bool(written)}

    def export(self, args: SessionExportArgs) -> dict[str, Any]:
        sid = self.resolve_session(args.session_id)
        if args.format == "jsonl":
            return {"content": exporting.export_jsonl(self.sessions, sid), "format": "jsonl"}
        return {"content": exporting.export_markdown(self.sessions, sid), "format": "markdown"}

    def delete_session(self, session_id: str) -> dict[str, Any]:
        sid = self.resolve_session(session_id)
        if sid in self.running:
            raise Busy(f"session {sid} has a running turn; cancel it first")
        # One write transaction: the check and the deletion, so no process starts a turn between.
        with self.db.transaction():
            owner = self.sessions.running_owner(sid)
            if owner is not None:
                pid, host = owner
                raise Busy(f"session {sid} has a turn running in another process (pid {pid} on {host}); "
                           "cancel it there or wait for it to end, then delete")
            self.checkpoints.delete_session(sid)
            self.sessions.delete_session(sid)
        self.checkpoints.gc()
        self.notify_sessions(sid, "deleted")
        return {}

    # ------------------------------------------------------------------ checkpoints and rewind
    def list_checkpoints(self, args: CheckpointListArgs) -> dict[str, Any]:
        sid = self.resolve_session(args.session_id) if args.session_id else None
        path = self.path_of_uri(args.uri) if args.uri else None
        groups = self.checkpoints.list_groups(session_id=sid, path=path, limit=args.limit)
        return {"groups": [g.to_wire() for g in groups]}

    def rewind_preview(self, args: RewindPreviewArgs) -> dict[str, Any]:
        return self.rewinds.preview(args)

    async def rewind_preview_shown(self, args: RewindPreviewArgs) -> dict[str, Any]:
        """The preview, with its diff also opened as a document (editors with no plugin)."""
        result = self.rewinds.preview(args)
        path = self.private_file("previews", f"{result['previewId']}.diff")
        path.write_text("\n".join(f["diff"] for f in result["files"]) or "nothing to rewind\n", encoding="utf-8")
        result["documentUri"] = path.as_uri()
        await self.frontend.show_document(path)
        return result

    def private_file(self, folder: str, name: str) -> Path:
        target = self.store_dir / folder
        target.mkdir(mode=0o700, exist_ok=True)
        path = target / name
        path.touch(mode=0o600, exist_ok=True)
        return path

    async def show_document(self, path: Path) -> bool:
        """Open ``path`` in the editor; an editor that cannot (no ``window/showDocument``, an
        error or ``null`` answer) gets a message naming the file instead. Never fails."""
        try:
            shown = await self.frontend.show_document(path)
        except Exception:  # an editor's answer must never fail the command that asked
            log.exception("showing %s", path)
            shown = False
        if not shown:
            self._inform(f"MiniCode: the result is in {path}")
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
                self._inform(body)

        self.tasks.run(show(), name=f"show-{path.name}")

    def _inform(self, message: str) -> None:
        inform = getattr(self.frontend, "inform", None)
        if inform is None:
            return
        try:
            inform(message)
        except Exception:  # the connection is gone
            log.debug("could not send a message to the editor", exc_info=True)

    async def rewind_apply(self, args: RewindApplyArgs) -> dict[str, Any]:
        return await self.rewinds.apply(args)

    async def rewind_undo(self, session_id: str | None) -> dict[str, Any]:
        return await self.rewinds.undo(session_id)

    # ------------------------------------------------------------------ readiness
    async def refresh_readiness(self, *, probe: bool = True) -> ReadinessReport:
        trust_check = workspace_trust_check(self.loader, self.root)
        extra = [trust_check] if trust_check else []
        extra += await mcp_checks(self.mcp, probe=probe)
        report = await build_report(
            self.settings, self.loader.all_problems(), self.root, self.store_dir, probe=probe,
            client=self.http_client() if probe else None, extra_checks=extra,
        )
        changed = self.readiness is None or report.wire() != self.readiness.wire()
        self.readiness = report
        if changed:
            self.frontend.publish(NOTIFY_READINESS, report.wire())
        return report

    async def warm_snapshots(self) -> None:
        """Hash the workspace once in the background, so the first command's snapshot is cheap."""
        async with self.snapshot_lock:
            snap = await asyncio.to_thread(self.snapshotter.baseline)
            # persist its stat cache now, so the first command's group writes only what changed
            await asyncio.to_thread(ShellState(self.checkpoints, self.snapshotter).persist, snap)
        log.info("workspace baseline: %d file(s), %d hashed, %.1f s%s", len(snap.files), snap.hashed,
                 snap.duration_s, f", skipped {len(snap.skipped)}" if snap.skipped else "")

    async def watch_readiness(self, *, not_ready_s: float = 30.0, ready_s: float = 300.0) -> None:
        """Re-probe in the background: often while not ready (a local model may start later),
        rarely once ready. Clients get ``minicode/readiness`` only when the report changes."""
        while True:
            await self.refresh_readiness(probe=True)
            state = self.readiness.state if self.readiness else "blocked"
            await asyncio.sleep(ready_s if state == "ready" else not_ready_s)

    # ------------------------------------------------------------------ workspace trust
    async def trust_workspace(self, args: WorkspaceTrustArgs) -> dict[str, Any]:
        """``minicode.workspace.trust``: allow the workspace's .minicode.toml as it is now."""
        return await trust_workspace(self, args)

    # ------------------------------------------------------------------ memory
    def _memory_for(self, scope: str) -> MemoryStore:
        if scope == "user":
            if self._user_memory is None:
                db = open_database(self.store_dir, self._settings.store.path, path=self.user_memory_path)
                self._user_memory = MemoryStore(db, redactor=self.redactor)
            return self._user_memory
        return self.memory

    def select_memories(self, prompt: str) -> list[Any]:
        """Project and user entries relevant to this prompt, within the memory token budget."""
        budget = self.settings.memory.budget_tokens
        chosen = self.memory.select(prompt, budget)
        used = sum(e.tokens for e in chosen)
        if self.user_memory_path.exists() and budget - used > 0:
            chosen += self._memory_for("user").select(prompt, budget - used)
        return chosen

    def memory_show(self, args: MemoryShowArgs) -> dict[str, Any]:
        scopes = [args.scope] if args.scope else ["project", "user"]
        entries = []
        for scope in scopes:
            entries += [e.to_wire() for e in self._memory_for(scope).list(scope=scope, include_proposed=True)]
        return {"entries": entries}

    def memory_add(self, args: MemoryAddArgs) -> dict[str, Any]:
        try:
            entry = self._memory_for(args.scope).add(args.text, args.scope, args.tags)
        except ValueError as exc:  # e.g. text that is only whitespace
            raise InvalidParams(str(exc)) from None
        return {"entry": entry.to_wire()}

    def memory_remove(self, args: MemoryRemoveArgs) -> dict[str, Any]:
        for scope in ("project", "user"):
            try:
                self._memory_for(scope).remove(args.id)
                return {"removed": True}
            except (UnknownId, KeyError):
                continue
            except StoreAmbiguous as exc:
                raise AmbiguousId(str(exc)) from None
        raise NotFound(f"no memory entry {args.id}")

    def memory_accept(self, args: MemoryAcceptArgs) -> dict[str, Any]:
        """A proposed entry (from reflection) becomes active: injected into later turns."""
        for scope in ("project", "user"):
            if scope == "user" and not self.user_memory_path.exists():
                continue
            try:
                return {"entry": self._memory_for(scope).accept(args.id).to_wire()}
            except (UnknownId, KeyError):
                continue
            except StoreAmbiguous as exc:
                raise AmbiguousId(str(exc)) from None
        raise NotFound(f"no memory entry {args.id}")
