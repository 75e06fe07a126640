"""The admin API on an event loop of its own, in a thread of its own, with a store connection of its own.

Why: the actors' loop may be busy (50,000 clusters refreshing, a GC pass); an admin request queued
behind their passes would wait for all of them. Here it only waits for the GIL, which Python hands
over every few milliseconds. Nothing asyncio is shared between the two loops: the admin opens its own
store (a second SQLite connection pair, or a second PostgreSQL pool), exactly as another replica's API
would, and reads what the actors committed; the change feed carries its writes to the actors.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web

from ..store import Store

AppFactory = Callable[[Store], web.Application]


class AdminThread:
    """``with AdminThread(...) as admin: admin.url``; leaving stops the server and closes its store."""

    def __init__(
        self,
        *,
        store: Callable[[], Store],
        app: AppFactory,
        host: str,
        port: int,
        reuse_port: bool = False,
        start_timeout: float = 60.0,
    ) -> None:
        self._make_store = store
        self._make_app = app
        self._host = host
        self._port = port
        self._reuse_port = reuse_port
        self._start_timeout = start_timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.url = ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> str:
        """Start the thread and wait until the server listens (re-raises what stopped it from starting)."""
        self._thread = threading.Thread(target=self._run, name="admin-api", daemon=True)
        self._thread.start()
        if not self._started.wait(self._start_timeout):
            raise TimeoutError(f"the admin API did not start within {self._start_timeout:g}s")
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self.url

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, finish the requests in flight (aiohttp's shutdown), close the store, join."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # handed to the starting thread; nothing else can see it
            self._error = exc
        finally:
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self._make_store() as store:
            runner = web.AppRunner(self._make_app(store), access_log=None, handle_signals=False)
            await runner.setup()
            try:
                site = web.TCPSite(runner, self._host, self._port, reuse_port=self._reuse_port or None)
                await site.start()
                sockets = getattr(site._server, "sockets", None) or []
                bound = sockets[0].getsockname()[1] if sockets else self._port
                host = f"[{self._host}]" if ":" in self._host else self._host
                self.url = f"http://{host}:{bound}"
                self._started.set()
                await self._stop.wait()
            finally:
                await runner.cleanup()
