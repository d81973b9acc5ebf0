"""The service: the composition root of every use-case the editor, the CLI and ACP call, with
no pygls in sight. It opens one ``Workspace`` and hands it to each use-case; it forwards
nothing itself (callers reach the use-cases: ``svc.tasks.run(...)``, ``svc.rewind.apply(...)``).
"""

from __future__ import annotations

from pathlib import Path

from ..config import ConfigLoader
from .frontend import Frontend
from .memory import Memory
from .readiness import Readiness
from .rewind import Rewind
from .sessions import Sessions
from .tasks import Tasks
from .trust import WorkspaceTrust
from .workspace import Workspace


class Service:
    # no attribute beyond the use-cases: setting another one (``svc.frontend = ...``) fails
    # instead of silently reaching nothing
    __slots__ = ("memory", "readiness", "rewind", "sessions", "tasks", "trust", "workspace")

    def __init__(self, root: Path, frontend: Frontend, *, loader: ConfigLoader | None = None,
                 user_dir: Path | None = None, watch: bool = True) -> None:
        self.workspace = ws = Workspace(root, frontend, loader=loader, user_dir=user_dir, watch=watch)
        self.memory = Memory(ws)
        self.tasks = Tasks(ws, self.memory)
        self.sessions = Sessions(ws)
        self.rewind = Rewind(ws)
        self.readiness = Readiness(ws)
        self.trust = WorkspaceTrust(ws, self.readiness)

    async def shutdown(self) -> None:
        """Stop the turns and background tasks, then the MCP servers and the HTTP client."""
        await self.tasks.shutdown()
        await self.workspace.aclose()

    def close(self) -> None:
        """Close the stores (after ``shutdown``)."""
        self.workspace.close()
