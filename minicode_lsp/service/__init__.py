"""Use-cases shared by the language server and the CLI. Imports no pygls."""

from .core import Service
from .errors import ServiceError
from .frontend import FileEdit, Frontend, HeadlessFrontend

__all__ = ["FileEdit", "Frontend", "HeadlessFrontend", "Service", "ServiceError"]
