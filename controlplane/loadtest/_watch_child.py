"""The load run's watchers in a process of their own: ``python -m controlplane.loadtest._watch_child
URL COUNT`` holds COUNT watches open until SIGTERM, then prints their figures as one JSON line.

Why a process: 100 watchers decode some 16,000 events a second. In the harness's own loop they delayed
its timers and its timed admin GETs, so the admin latency it reported was partly its own lag. The admin
token comes in ``CONTROLPLANE_ADMIN_TOKEN`` (never on the command line, where ``ps`` shows it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp
import msgspec

from ._api_bench import TOKEN_ENV, Watchers
from ._clients import AdminClient


async def _watch(url: str, count: int, token: str) -> dict[str, object]:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with aiohttp.ClientSession() as http:
        watchers = Watchers(AdminClient(http, url, token), count)
        await watchers.run(stop)
    return watchers.figures()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: python -m controlplane.loadtest._watch_child URL COUNT", file=sys.stderr)
        return 2
    token = os.environ.get(TOKEN_ENV, "")
    figures = asyncio.run(_watch(argv[0], int(argv[1]), token))
    sys.stdout.buffer.write(msgspec.json.encode(figures) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
