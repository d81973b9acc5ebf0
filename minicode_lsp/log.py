"""Logging: stderr or a file, never stdout (the transport), and WARNING+ to window/logMessage."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class EditorLogHandler(logging.Handler):
    """Sends records to the editor through window/logMessage once the server is running."""

    LEVELS = {logging.ERROR: 1, logging.WARNING: 2, logging.INFO: 3, logging.DEBUG: 4}

    def __init__(self, server: Any, level: int) -> None:
        super().__init__(level)
        self.server = server
        self._emitting = False

    def emit(self, record: logging.LogRecord) -> None:
        if self._emitting or record.name.startswith("pygls"):
            return
        self._emitting = True
        try:
            from lsprotocol import types as t

            level = max((lv for lv in self.LEVELS if record.levelno >= lv), default=logging.DEBUG)
            self.server.window_log_message(
                t.LogMessageParams(type=t.MessageType(self.LEVELS[level]), message=self.format(record))
            )
        except Exception:  # the transport may be closed; never let logging raise
            pass
        finally:
            self._emitting = False


def setup(verbosity: int, log_file: str | None) -> None:
    level = logging.WARNING - 10 * min(verbosity, 2)
    handler: logging.Handler
    if log_file:
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("pygls").setLevel(max(level, logging.WARNING))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def attach_editor(server: Any, verbosity: int) -> None:
    handler = EditorLogHandler(server, logging.INFO if verbosity else logging.WARNING)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
