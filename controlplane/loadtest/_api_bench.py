"""The list/watch figures of a load run: ``GET /v1/clusters?view=summary&limit=500`` latency while the
fleet ticks, and a fan-out of N concurrent watches (events delivered per second, and how far apart the
same event reaches the first and the last watcher)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

import aiohttp
import msgspec

from ._clients import AdminClient
from ._procs import child_env
from ._report import percentile

TOKEN_ENV = "CONTROLPLANE_ADMIN_TOKEN"
"""Where the watcher process finds the admin token (``_watch_child`` reads it)."""

PAGE = 500


async def summary_page(admin: AdminClient, token: str) -> tuple[float, str]:
    """One timed ``view=summary`` page of 500 after ``token``; returns the seconds and the next token
    ("" at the end of the fleet, so the walk starts over)."""
    path = f"/v1/clusters?view=summary&limit={PAGE}" + (f"&continue={token}" if token else "")
    seconds, body = await admin.timed_get_body(path)
    following: str = msgspec.json.decode(body).get("metadata", {}).get("continue", "") if body else ""
    return seconds, following


class Watchers:
    """``count`` watches of every cluster, held open until ``stop`` is set."""

    def __init__(self, admin: AdminClient, count: int) -> None:
        self.admin = admin
        self.count = count
        self.arrivals: dict[int, list[float]] = {}  # seq -> [first arrival, last arrival, watchers]
        self.delivered = 0
        self.disconnects = 0
        self.errors = 0
        self.error_kinds: dict[str, int] = {}
        self.resumed = 0
        self.started = 0.0
        self.stopped = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        self.started = time.monotonic()
        # A session of their own: held-open watches must not take the connections the rest of the
        # harness (samples, timed requests) needs from the shared pool.
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http, asyncio.TaskGroup() as tg:
            admin = self.admin.on(http)
            tasks = [tg.create_task(self._one(admin)) for _ in range(self.count)]
            await stop.wait()
            self.stopped = time.monotonic()
            for task in tasks:
                task.cancel()

    async def _one(self, admin: AdminClient) -> None:
        """One watcher, as a Kubernetes client behaves: when the stream ends (the server's watch timeout, a
        slow reader cut off) or fails, it watches again from the last resourceVersion it saw (from the
        head after an error: a 410 means the position is gone), until cancelled."""
        last = ""
        while True:
            path = "/v1/clusters?watch=true&view=summary" + (f"&resourceVersion={last}" if last else "")
            try:
                async for event in admin.watch(path):
                    if event.get("type") == "BOOKMARK":
                        last = str(event.get("resourceVersion") or last)
                        continue
                    now = time.monotonic()
                    self.delivered += 1
                    last = str(event["resourceVersion"])
                    seen = self.arrivals.setdefault(int(last), [now, now, 0])
                    seen[1] = now
                    seen[2] += 1
                self.disconnects += 1  # the server ended the stream (its timeout, or this reader fell behind)
            except (aiohttp.ClientError, OSError, ValueError, RuntimeError) as exc:
                self.errors += 1
                kind = type(exc).__name__
                self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
                last = ""
                await asyncio.sleep(1.0)  # a client backs off before it watches again
            self.resumed += 1

    def figures(self) -> dict[str, Any]:
        spread = [last - first for first, last, n in self.arrivals.values() if n == self.count]
        seconds = max(1e-9, (self.stopped or time.monotonic()) - self.started)
        return {
            "watchers": self.count,
            "watch_events_delivered": self.delivered,
            "watch_events_per_second": self.delivered / seconds,
            "watch_fanout_lag_seconds_p99": percentile(spread, 0.99) if spread else 0.0,
            "watch_disconnects": self.disconnects,
            "watch_errors": self.errors,
            "watch_error_kinds": self.error_kinds,
            "watch_resumed": self.resumed,
        }


class WatcherProcess:
    """``Watchers`` run in a child process (``_watch_child``), so that their decoding does not delay the
    harness's own timers and timed requests. Same ``run``/``figures`` contract as ``Watchers``."""

    def __init__(self, url: str, token: str, count: int) -> None:
        self.url = url
        self._token = token
        self.count = count
        self._figures: dict[str, Any] = {}

    async def run(self, stop: asyncio.Event) -> None:
        env = child_env({TOKEN_ENV: self._token})
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "controlplane.loadtest._watch_child", self.url, str(self.count),
            env=env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await stop.wait()
        finally:
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
            try:
                out, _ = await asyncio.wait_for(child.communicate(), timeout=30.0)
            except BaseException:
                if child.returncode is None:
                    child.kill()
                await child.wait()
                raise
        if child.returncode != 0 or not out.strip():
            raise RuntimeError(f"the watcher process exited with {child.returncode} and no figures")
        self._figures = msgspec.json.decode(out.strip().splitlines()[-1])

    def figures(self) -> dict[str, Any]:
        """The child's figures (empty until ``run`` has returned)."""
        return self._figures
