"""A bare pygls 2 language server with one command: the startup baseline for bench/startup.py.

It pays what any pygls server pays (Python, pygls, lsprotocol, cattrs, the JSON-RPC loop)
and nothing of MiniCode. ``python bench/bare_server.py`` talks LSP over stdio.
"""

from __future__ import annotations

from typing import Any

from pygls.lsp.server import LanguageServer

server = LanguageServer("bare-pygls", "0")


@server.command("bare.hello")
def hello(ls: LanguageServer, *args: Any) -> dict[str, str]:
    return {"hello": "world"}


if __name__ == "__main__":
    server.start_io()
