"""What every tool shares: its context, its output, its error, and text decoding.

A tool is a module with ``SPEC`` (a ``ToolSpec``), ``KIND`` (``"read"``, ``"edit"`` or
``"shell"``) and ``async def run(args, ctx) -> ToolOutput``. A tool signals a failure the
model should see by raising ``ToolError``; the registry turns it into an error result.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..fileio import encoding_of
from ..ports import Ports
from .paths import display_path, resolve_path

ToolKind = Literal["read", "edit", "shell", "external"]  # external: a tool of an MCP server

BOM = b"\xef\xbb\xbf"


class ToolError(Exception):
    """A failure reported to the model as an error tool result (never a crash)."""


@dataclass
class ToolContext:
    ports: Ports
    # Edits need the user's confirmation (ask mode).
    confirm: bool = False
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    tool_call_id: str = ""

    @property
    def root(self) -> Path:
        return self.ports.roots[0]

    def resolve(self, raw: Any) -> Path:
        if not isinstance(raw, str):
            raise ToolError("path must be a string")
        return resolve_path(raw, self.ports.roots, self.ports.forbidden, secret_files=self.ports.secret_files)

    def show(self, path: Path) -> str:
        return display_path(path, self.ports.roots)


@dataclass
class ToolOutput:
    content: str
    is_error: bool = False
    # Facts the kernel uses (e.g. exit_code, timed_out, path).
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class TextFile:
    """A decoded file and how to encode it back the same way."""

    text: str
    encoding: str = "utf-8"  # "utf-8" or "latin-1"
    bom: bool = False
    newline: str = "\n"  # "\r\n" when the file mostly uses CRLF

    def encode(self, text: str) -> bytes:
        data = text.encode(self.encoding)
        return BOM + data if self.bom else data

    def to_file_newlines(self, text: str) -> str:
        """The model writes ``\\n``; give it the file's line endings."""
        text = text.replace("\r\n", "\n")
        return text.replace("\n", "\r\n") if self.newline == "\r\n" else text


def decode(data: bytes) -> TextFile:
    bom = data.startswith(BOM)
    if bom:
        data = data[len(BOM) :]
    encoding = encoding_of(data)
    text = data.decode(encoding)
    crlf = text.count("\r\n")
    newline = "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"
    return TextFile(text=text, encoding=encoding, bom=bom, newline=newline)


def str_arg(args: dict[str, Any], name: str, *, required: bool = True, default: str = "") -> str:
    value = args.get(name)
    if value is None:
        if required:
            raise ToolError(f"missing required argument '{name}'")
        return default
    if not isinstance(value, str):
        raise ToolError(f"argument '{name}' must be a string")
    return value


def int_arg(args: dict[str, Any], name: str) -> int | None:
    value = args.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ToolError(f"argument '{name}' must be an integer")
    try:
        return int(value)
    except ValueError:
        raise ToolError(f"argument '{name}' must be an integer") from None


def bool_arg(args: dict[str, Any], name: str) -> bool:
    value = args.get(name, False)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def root_of(path: Path, roots: list[Path]) -> Path:
    """The (resolved) workspace root that contains ``path``; the first root otherwise."""
    for r in roots:
        real = Path(os.path.realpath(r))
        if path == real or path.is_relative_to(real):
            return real
    return Path(os.path.realpath(roots[0]))
