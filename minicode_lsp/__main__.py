"""``python -m minicode_lsp`` and the ``minicode-lsp`` script: Ctrl-C while the modules load ends
quietly with exit 130 (``cli.main`` takes over the handling once it runs)."""

import signal
import sys


def _interrupted_early(signum: int, frame: object) -> None:
    raise SystemExit(130)


def run() -> None:
    signal.signal(signal.SIGINT, _interrupted_early)
    from .cli import main

    sys.exit(main())


if __name__ == "__main__":
    run()
