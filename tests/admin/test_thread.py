"""The admin API on its own loop, thread and store: it answers while the actors' loop is busy."""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web

from controlplane.admin import AdminThread
from controlplane.store import SQLiteStore, Store

from ._support import TOKEN, FakeReplica, admin_app


def _app(store: Store) -> web.Application:
    return admin_app(store, FakeReplica(store))


def test_the_admin_api_answers_while_the_calling_thread_never_yields(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with AdminThread(store=lambda: SQLiteStore(db), app=_app, host="127.0.0.1", port=0) as admin:
        answered: list[int] = []

        def client() -> None:
            for _ in range(5):
                req = urllib.request.Request(
                    f"{admin.url}/v1/clusters", headers={"Authorization": f"Bearer {TOKEN}"}
                )
                with urllib.request.urlopen(req, timeout=10) as resp:
                    answered.append(resp.status)

        thread = threading.Thread(target=client)
        thread.start()
        # This thread stands for the actors' event loop stuck in a long pass: it never awaits, so a
        # server on its loop could not answer until it is done. The admin API needs only the GIL.
        deadline = time.monotonic() + 20
        while thread.is_alive() and time.monotonic() < deadline:
            sum(range(10_000))
        busy_until_answered = not thread.is_alive()
        thread.join()
    assert busy_until_answered and answered == [200] * 5


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    with AdminThread(
        store=lambda: SQLiteStore(tmp_path / "a.db"), app=_app, host="127.0.0.1", port=0
    ) as first:
        port = int(first.url.rsplit(":", 1)[1])
        taken = AdminThread(
            store=lambda: SQLiteStore(tmp_path / "b.db"), app=_app, host="127.0.0.1", port=port
        )
        with pytest.raises(OSError):
            taken.start()
