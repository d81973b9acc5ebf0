"""Use-cases shared by the language server and the CLI. Imports no pygls.

The names below load on first use (PEP 562): ``Service`` pulls in pydantic, the store and the
agent, and the language server answers ``initialize`` before it needs any of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Service
    from .errors import ServiceError
    from .frontend import FileEdit, Frontend, HeadlessFrontend

__all__ = ["FileEdit", "Frontend", "HeadlessFrontend", "Service", "ServiceError"]

_WHERE = {"Service": ".core", "ServiceError": ".errors", "FileEdit": ".frontend", "Frontend": ".frontend",
          "HeadlessFrontend": ".frontend"}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value
