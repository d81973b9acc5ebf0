"""bench/_common.py's raw JSON-RPC client reads a reply larger than a pipe holds (a 2,000-event
``session.replay`` is about 0.5 MB; RawLsp reads the server's stdout unbuffered)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _common import frame, read_frame  # noqa: E402


def test_a_reply_larger_than_a_pipe_is_read_whole() -> None:
    msg = {"jsonrpc": "2.0", "id": 1, "result": {"events": ["x" * 1000] * 1000}}  # ~1 MB
    r, w = os.pipe()
    reader = os.fdopen(r, "rb", buffering=0)  # as RawLsp reads the server's stdout

    def write() -> None:
        try:
            with os.fdopen(w, "wb", buffering=0) as out:
                out.write(frame(msg) + frame({"jsonrpc": "2.0", "id": 2, "result": None}))
        except BrokenPipeError:  # the reader gave up (the old code: a short read)
            pass

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert read_frame(reader) == msg
        assert read_frame(reader) == {"jsonrpc": "2.0", "id": 2, "result": None}
        assert read_frame(reader) is None  # the stream ended
    finally:
        reader.close()
        writer.join()
