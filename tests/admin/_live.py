"""The admin API served from a thread with its own event loop, for synchronous clients (schemathesis)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import anyio
from aiohttp import web

from controlplane import metrics
from controlplane.admin import build_admin_app
from controlplane.api import Credential
from controlplane.config import AdminSettings
from controlplane.replicas import follow
from controlplane.store import SQLiteStore, StoreSettings

from ._support import SECRET, TOKEN, FakeReplica

SEEDED_SECRET = SECRET
"""The secret key of the credential stored before the fuzzer starts: it must never come back."""


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record) + " " + repr(record.__dict__))


@contextmanager
def live_api(tmp_path: Path, *, max_body_bytes: int = 64 * 1024) -> Iterator[tuple[str, _LogCapture]]:
    """Yields the base URL of an admin API over a real SQLite store (a fake replica follows its feed and
    finishes deletions), and the records its logger wrote."""
    started = threading.Event()
    stop: list[asyncio.Event] = []
    loops: list[asyncio.AbstractEventLoop] = []
    url: list[str] = []
    errors: list[BaseException] = []
    capture = _LogCapture()
    logger = logging.getLogger("test.admin.live")
    logger.addHandler(capture)
    logger.propagate = False

    async def serve() -> None:
        async with (
            SQLiteStore(tmp_path / "store.sqlite3", StoreSettings(feed_poll_interval=0.01)) as store,
            anyio.create_task_group() as tg,
        ):
            await store.put_credential(
                Credential(namespace="seeded", name="aws", access_key="AKIDSEEDED", secret_key=SEEDED_SECRET)
            )
            replica = FakeReplica(store, delete_removes=True)
            tg.start_soon(partial(follow, store, replica, after=await store.head()))
            app = build_admin_app(
                store=store,
                replica=replica,
                settings=AdminSettings(max_body_bytes=max_body_bytes),
                token=TOKEN,
                registry=metrics.REGISTRY,
                logger=logger,
            )
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            url.append(f"http://127.0.0.1:{port}")
            stop.append(asyncio.Event())
            loops.append(asyncio.get_running_loop())
            started.set()
            await stop[0].wait()
            await runner.cleanup()
            tg.cancel_scope.cancel()

    def thread_main() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:
            errors.append(exc)
            started.set()

    thread = threading.Thread(target=thread_main, name="live-admin-api", daemon=True)
    thread.start()
    started.wait(30)
    if errors or not url:
        raise RuntimeError(f"the admin API did not start: {errors}")
    try:
        yield url[0], capture
    finally:
        # Set from the server's own loop (asyncio primitives are not thread-safe).
        loops[0].call_soon_threadsafe(stop[0].set)
        thread.join(30)
        logger.removeHandler(capture)
