"""Logging: stderr or a file, never stdout (the transport), and WARNING+ to window/logMessage.

Every handler's output passes through ``SCRUBBER``: the API keys the service resolved (by
value, by any prefix of 8+ characters and in vendors' masked forms) never reach a log line,
a traceback or the editor's log, whatever code logged them."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from .agent.secrets import SecretScrubber

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

SCRUBBER = SecretScrubber()


def register_secret(value: str) -> None:
    """A secret (an API key read from the environment) that no log line may show."""
    SCRUBBER.add(value)


class _Scrubbing(logging.Formatter):
    """Formats with ``inner``, then removes every known secret from the result."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return SCRUBBER.scrub(self.inner.format(record))


def _scrubbed(handler: logging.Handler, formatter: logging.Formatter) -> None:
    handler.setFormatter(_Scrubbing(formatter))


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


class _TerminalFormatter(logging.Formatter):
    """``minicode-lsp: warning: ...``: how the CLI's commands show a warning to a person."""

    def format(self, record: logging.LogRecord) -> str:
        return f"minicode-lsp: {record.levelname.lower()}: {record.getMessage()}"


class _Once(logging.Filter):
    """Each distinct message once (several parts of a command may warn about the same config)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = record.getMessage()
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def setup(verbosity: int, log_file: str | None, *, terminal: bool = False) -> None:
    """``terminal``: a CLI command (not ``serve``) with no log file and no ``-v``: warnings are
    shown as plain ``minicode-lsp: warning: ...`` lines, each once."""
    level = logging.WARNING - 10 * min(verbosity, 2)
    handler: logging.Handler
    if log_file:
        handler = logging.FileHandler(Path(log_file), encoding="utf-8")  # OSError: the caller says why
    else:
        handler = logging.StreamHandler(sys.stderr)
    if terminal and not log_file and verbosity == 0:
        _scrubbed(handler, _TerminalFormatter())
        handler.addFilter(_Once())
    else:
        _scrubbed(handler, logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("pygls").setLevel(max(level, logging.WARNING))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def attach_editor(server: Any, verbosity: int) -> None:
    handler = EditorLogHandler(server, logging.INFO if verbosity else logging.WARNING)
    _scrubbed(handler, logging.Formatter("%(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
