"""Task use-cases: start a turn (``task.run``), cancel it, wait for the running ones, stop them all."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .. import protocol as p
from ..protocol import TaskRunArgs
from . import retention
from .errors import Busy
from .providers import require_runnable
from .turns import execute_turn
from .workspace import RunningTurn

if TYPE_CHECKING:
    from .memory import Memory
    from .workspace import Workspace

log = logging.getLogger(__name__)


class Tasks:
    def __init__(self, ws: Workspace, memory: Memory) -> None:
        self.ws = ws
        self.memory = memory
        self.approved: dict[str, set[str]] = {}  # session id -> commands allowed "for this session"

    def run(self, args: TaskRunArgs) -> p.TaskRunResult:
        ws = self.ws
        settings = ws.settings
        require_runnable(settings)
        mode = args.permission_mode or settings.agent.permission_mode
        profile = args.profile or settings.agent.profile
        if args.session_id:
            session_id = ws.resolve_session(args.session_id)
            if session_id in ws.running:
                raise Busy(f"session {session_id} already has a running turn; cancel it first")
            if session_id in ws.rewinding:
                raise Busy(f"session {session_id} is being rewound; start the turn once the rewind is done")
            change: p.SessionChange = "updated"
            turn = ws.sessions.start_turn(session_id, args.prompt, profile, mode)
        else:
            title = " ".join(args.prompt.split())[:80]
            with ws.db.transaction():  # one commit: a kill never leaves a session without its turn
                session_id = ws.sessions.create_session(title, str(ws.root)).id
                turn = ws.sessions.start_turn(session_id, args.prompt, profile, mode)
            change = "created"
            self.apply_retention(keep={session_id})
        running = RunningTurn(
            session_id=session_id, turn_id=turn.id, show_result=args.show_result, title=args.prompt[:80],
            approved=self.approved.setdefault(session_id, set()),
        )
        ws.running[session_id] = running
        running.task = ws.tasks.run(execute_turn(ws, self.memory, running, args, settings), name=f"turn-{turn.id}")
        ws.notify_sessions(session_id, change)
        return p.TaskRunResult(session_id=session_id, turn_id=turn.id)

    def apply_retention(self, keep: set[str]) -> None:
        ws = self.ws
        store = ws.settings.store
        try:
            live = ws.snapshotter.live_sizes()
            gone = retention.prune(ws.sessions, ws.checkpoints, ws.blobs, ws.db,
                                   max_sessions=store.max_sessions, max_bytes=store.max_bytes,
                                   keep=keep | set(ws.running), keep_newest=store.keep_sessions,
                                   keep_days=store.keep_days, snapshot=retention.snapshot_bytes(ws.checkpoints, live),
                                   store_dir=ws.store_dir)
        except Exception:  # retention must never stop a task from starting
            log.exception("retention failed")
            return
        for sid in gone:
            ws.notify_sessions(sid, "deleted")

    async def cancel(self, session_id: str) -> p.TaskCancelResult:
        ws = self.ws
        sid = ws.resolve_session(session_id)
        running = ws.running.get(sid)
        if running is None:
            return p.TaskCancelResult(cancelled=False)
        running.cancel.set()
        if running.task is not None:
            # the turn stops at its next step; one waiting for the editor (a prompt, an applyEdit)
            # is interrupted, its request withdrawn ($/cancelRequest): the turn ends within 1 s
            done, _ = await asyncio.wait({running.task}, timeout=0.4)
            if not done:
                running.task.cancel()
                done, _ = await asyncio.wait({running.task}, timeout=1.0)
        if ws.running.get(sid) is running and (running.task is None or not done):
            # the turn's task did not end even when cancelled: free the session anyway (its
            # task still records turn.finished when it ends; a new turn may start meanwhile)
            log.error("turn %s did not end within 2 s of task.cancel; its session is freed", running.turn_id)
            del ws.running[sid]
        return p.TaskCancelResult(cancelled=True)

    def cancel_turn(self, turn_id: str) -> None:
        """Ask the turn to stop (the editor cancelled its progress); returns at once."""
        for running in self.ws.running.values():
            if running.turn_id == turn_id:
                running.cancel.set()

    async def wait_idle(self, timeout: float | None = None) -> None:
        tasks = [r.task for r in self.ws.running.values() if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def shutdown(self) -> None:
        """Stop every running turn and background task of the workspace."""
        for running in list(self.ws.running.values()):
            running.cancel.set()
        await self.ws.tasks.cancel_all(timeout=1.5)
