"""Runs an ACP agent command and records every frame both ways (JSON lines) while passing them on.

Usage: python acp_tap.py LOG -- COMMAND...   (the recorder an ACP client starts as its agent)
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import IO


def pump(src: IO[bytes], dst: IO[bytes], log: IO[str], direction: str, lock: threading.Lock) -> None:
    for line in iter(src.readline, b""):
        with lock:
            log.write(json.dumps({"dir": direction, "line": line.decode("utf-8", "replace")}) + "\n")
            log.flush()
        dst.write(line)
        dst.flush()
    dst.close()


def main() -> int:
    log_path, sep, *command = sys.argv[1:]
    assert sep == "--" and command, __doc__
    lock = threading.Lock()
    with open(log_path, "a", encoding="utf-8") as log:
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert child.stdin is not None and child.stdout is not None
        to_agent = threading.Thread(target=pump, args=(sys.stdin.buffer, child.stdin, log, "in", lock), daemon=True)
        to_agent.start()
        pump(child.stdout, sys.stdout.buffer, log, "out", lock)
        return child.wait()


if __name__ == "__main__":
    sys.exit(main())
