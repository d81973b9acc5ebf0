"""Every failure of a terminal command as one line, ``<what> (<fix>)``, and an exit code.

2: the user's input or arguments (usage); 1: anything else that failed.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class CliError(Exception):
    """A failure the command already knows how to describe."""

    def __init__(self, what: str, fix: str = "", code: int = EXIT_FAILURE) -> None:
        super().__init__(what)
        self.what, self.fix, self.code = what, fix, code

    def line(self) -> str:
        return f"{self.what} ({self.fix})" if self.fix else self.what


def _under(path: Path, folder: str) -> bool:
    try:
        return path.resolve().is_relative_to(Path(folder).resolve())
    except (OSError, ValueError):
        return False


def _fix_for_path(filename: str) -> str:
    import platformdirs

    path = Path(filename)
    if _under(path, platformdirs.user_state_dir()) or "XDG_STATE_HOME" in os.environ and _under(
            path, os.environ["XDG_STATE_HOME"]):
        return "make the state folder writable, point XDG_STATE_HOME at a writable folder, " \
               "or set store.path in the config"
    if _under(path, platformdirs.user_data_dir()):
        return "make the data folder writable, or point XDG_DATA_HOME at a writable folder"
    return f"check that {path.parent} exists and is writable"


def describe(exc: BaseException) -> tuple[int, str]:
    """(exit code, one line) for a failure that reached the top of a command."""
    if isinstance(exc, CliError):
        return exc.code, exc.line()
    from pydantic import ValidationError

    from .service import ServiceError

    if isinstance(exc, ServiceError):  # bad input, except a store that cannot be used
        return (EXIT_FAILURE if type(exc).__name__ == "StoreUnavailable" else EXIT_USAGE), exc.message
    if isinstance(exc, ValidationError):
        from .protocol import describe_validation_error

        return EXIT_USAGE, f"invalid arguments: {describe_validation_error(exc)}"
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc) or type(exc).__name__
        if exc.filename:
            return EXIT_FAILURE, f"{what}: {exc.filename} ({_fix_for_path(str(exc.filename))})"
        return EXIT_FAILURE, f"{what} (run again with --debug for the details)"
    if isinstance(exc, sqlite3.Error):
        return EXIT_FAILURE, (f"the session store cannot be used: {exc} (check that the state folder is "
                              "writable and not full; `minicode-lsp readiness` shows where it is)")
    return EXIT_FAILURE, (f"unexpected {type(exc).__name__}: {exc} "
                          "(run again with --debug for the traceback, and please report it)")
