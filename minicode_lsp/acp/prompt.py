"""An ACP prompt (content blocks) -> the task text the agent gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

# An embedded file larger than this is cut (the model can read the rest with read_file).
EMBED_CHARS = 100_000


def _path_of(uri: str, root: Path) -> str:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)
    return uri


def prompt_text(blocks: list[Any], root: Path) -> str:
    """Text blocks joined; embedded resources (``@file`` in Zed) appended as context; links named."""
    parts: list[str] = []
    context: list[str] = []
    for block in blocks:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource":
            res = block.resource
            text = getattr(res, "text", None)
            name = _path_of(res.uri, root)
            if text is None:
                context.append(f"(attached {name}: binary content, not shown)")
                continue
            if len(text) > EMBED_CHARS:
                text = text[:EMBED_CHARS] + "\n... (cut; read the file for the rest)"
            context.append(f"Attached file {name}:\n```\n{text}\n```")
        elif kind == "resource_link":
            context.append(f"The user refers to {_path_of(block.uri, root)}.")
        elif kind in ("image", "audio"):
            context.append(f"(an attached {kind} was left out: this agent reads text only)")
    text = "".join(parts).strip()
    if context:
        text = (text + "\n\n" + "\n\n".join(context)).strip()
    return text
