"""Run one request through a real provider in a fresh process and print what happened as JSON:
``{"error", "hint", "peak_rss_mib", "seconds"}``. Used by test_hostile (peak RSS is per process)."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

from minicode_lsp.agent.messages import Message
from minicode_lsp.agent.providers import make_provider
from minicode_lsp.agent.providers.base import ProviderError, ProviderSpec


async def main(base_url: str, kind: str, caps: dict[str, int]) -> dict[str, object]:
    spec = ProviderSpec(name="hostile", kind=kind, base_url=base_url, model="m", max_retries=0,  # type: ignore[arg-type]
                        **caps)
    provider = make_provider(spec)
    start = time.monotonic()
    out: dict[str, object] = {"error": None, "hint": None}
    try:
        await provider.complete(system="", messages=[Message(role="user", text="hi")], tools=[])
    except ProviderError as e:
        out = {"error": str(e), "hint": e.hint}
    finally:
        await provider.aclose()  # type: ignore[attr-defined]
    out["seconds"] = time.monotonic() - start
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))))
