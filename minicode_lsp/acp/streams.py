"""The protocol's byte streams: stdin in, a private copy of stdout out.

Editors start the agent with pipes (asyncio pipe transports); a file or a terminal on either side
(a user trying it by hand, a test redirecting to a file) gets a thread reader and blocking writes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from typing import Any, cast

log = logging.getLogger(__name__)


class _Drain(asyncio.Protocol):
    """Flow control for the writer: ``StreamWriter.drain`` waits while the pipe is full."""

    def __init__(self) -> None:
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        self._waiter = None

    async def _drain_helper(self) -> None:
        if self._paused:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter


class _BlockingWriteTransport(asyncio.WriteTransport):
    def __init__(self, file: Any) -> None:
        super().__init__()
        self._file = file  # kept: the descriptor closes with it
        self._fd = file.fileno()
        self._closing = False

    def write(self, data: Any) -> None:
        if self._closing:
            return
        view = memoryview(bytes(data))
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def can_write_eof(self) -> bool:
        return False

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def abort(self) -> None:
        self._closing = True


def _feed_from_thread(loop: asyncio.AbstractEventLoop, reader: asyncio.StreamReader) -> None:
    def pump() -> None:
        try:
            while True:
                data = sys.stdin.buffer.readline()
                if not data:
                    break
                loop.call_soon_threadsafe(reader.feed_data, data)
        finally:
            loop.call_soon_threadsafe(reader.feed_eof)

    threading.Thread(target=pump, name="acp-stdin", daemon=True).start()


async def open_streams(out_fd: int, limit: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except ValueError:  # not a pipe
        _feed_from_thread(loop, reader)
    protocol = _Drain()
    transport: asyncio.BaseTransport
    out = os.fdopen(out_fd, "wb", buffering=0)
    try:
        transport, _ = await loop.connect_write_pipe(lambda: protocol, out)
    except ValueError:
        transport = _BlockingWriteTransport(out)
    writer = asyncio.StreamWriter(cast(asyncio.WriteTransport, transport), protocol, None, loop)
    return reader, writer
