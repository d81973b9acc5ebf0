"""Process helpers shared by the crash and load tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any


class ForkServer:
    def __init__(self, log: Path) -> None:
        self._log = open(log, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("forkserver.py"))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     start_new_session=True)
        assert json.loads(self._readline()) == {"ready": True}

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("the fork server died")
        return line.decode()

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        return dict(json.loads(self._readline()))

    def spawn(self, argv: list[str], cwd: Path, env: dict[str, str], out: Path) -> int:
        return int(self._ask({"spawn": {"argv": argv, "cwd": str(cwd), "env": env, "out": str(out)}})["pid"])

    def wait(self, pid: int) -> int:
        return int(self._ask({"wait": pid})["status"])

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        finally:
            self._log.close()
