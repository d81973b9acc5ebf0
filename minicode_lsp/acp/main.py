"""``minicode-lsp acp``: run the ACP agent on stdio until the client closes it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

log = logging.getLogger(__name__)

MISSING_SDK = ("minicode-lsp: error: `acp` needs the Agent Client Protocol SDK "
               "(pip install 'minicode-lsp[acp]', or pip install 'agent-client-protocol>=0.12.1,<0.13')")
# The largest message either side may send (a whole file in a prompt or a diff).
LINE_LIMIT = 50 * 1024 * 1024


def sdk_available() -> bool:
    try:
        import acp  # noqa: F401
    except ImportError:
        return False
    return True


def main(workspace: str | None = None) -> int:
    if not sdk_available():
        print(MISSING_SDK, file=sys.stderr)
        return 2
    # stdout is the transport: keep a private copy of it for the protocol and point fd 1 at
    # stderr, so nothing a library prints can ever corrupt a frame.
    protocol_out = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    root = Path(workspace or os.getcwd())
    try:
        return asyncio.run(_serve(root, protocol_out))
    except KeyboardInterrupt:
        return 130


async def _serve(root: Path, protocol_out: int) -> int:
    from acp.core import AgentSideConnection

    from .agent import MiniCodeAgent
    from .streams import open_streams

    loop = asyncio.get_running_loop()
    reader, writer = await open_streams(protocol_out, LINE_LIMIT)

    agent = MiniCodeAgent(root)
    conn = AgentSideConnection(agent, writer, reader,  # type: ignore[arg-type]
                               listening=False, use_unstable_protocol=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    listening = asyncio.ensure_future(conn.listen())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({listening, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (listening, stopping):
            task.cancel()
        await agent.shutdown()
    log.info("ACP client closed the connection")
    return 130 if stop.is_set() else 0
