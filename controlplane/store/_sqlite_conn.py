"""One SQLite connection confined to one dedicated thread, and the file/PRAGMA setup of the database."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ._errors import StoreClosed, StoreError
from ._settings import StoreSettings
from ._sqlite_schema import migrate

T = TypeVar("T")

_PRIVATE = 0o600


class Connection:
    """A connection living on its own thread: calls run there one at a time, in submission order.

    Submission order is execution order (a single worker thread), which the store relies on: a status
    batch handed over before a delete is committed before it. Nothing touches SQLite on the event loop.
    ``sqlite3.Error`` is re-raised as ``StoreError`` (its messages carry no bound values, so no secrets).
    """

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._conn: sqlite3.Connection | None = None

    async def open(self, connect: Callable[[], sqlite3.Connection]) -> None:
        def run() -> None:
            try:
                self._conn = connect()
            except sqlite3.Error as exc:
                raise StoreError(f"sqlite: {exc}") from exc

        await self._submit(run)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._submit(partial(self._run, fn))

    async def close(self) -> None:
        def run() -> None:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

        try:
            await self._submit(run)
        finally:
            self._executor.shutdown(wait=False)

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            raise StoreClosed("the database connection is closed")
        try:
            return fn(self._conn)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}") from exc

    async def _submit(self, fn: Callable[[], T]) -> T:
        # A cancelled caller stops waiting; a call already running finishes on its thread regardless.
        return await asyncio.wrap_future(self._executor.submit(fn))


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: the write lock is taken up front (no failed lock upgrade)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _restrict(path: Path) -> None:
    """Make ``path`` owner-only if it exists and is wider (umask only narrows ``os.open``'s mode, but a
    file left by an older run or another tool may be wider)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if stat.S_IMODE(mode) & 0o077:
        path.chmod(_PRIVATE)


def prepare_file(path: Path) -> None:
    """Create the database file owner-only (0600) before SQLite opens it; SQLite gives its ``-wal`` and
    ``-shm`` files the database file's mode."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _PRIVATE)
    os.close(fd)
    _restrict(path)
    for suffix in ("-wal", "-shm"):
        _restrict(path.with_name(path.name + suffix))


def _enable_wal(conn: sqlite3.Connection, path: Path) -> None:
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(f"cannot enable WAL on {path} (journal_mode is {mode})")


def connect_writer(
    path: Path, settings: StoreSettings, *, then: Callable[[sqlite3.Connection], Any] | None = None
) -> sqlite3.Connection:
    """The single writing connection: file created 0600, WAL, schema migrated (and ``then`` run in the
    migration's transaction)."""
    prepare_file(path)
    conn = sqlite3.connect(path, isolation_level=None, timeout=settings.busy_timeout)
    try:
        _enable_wal(conn, path)
        conn.execute(f"PRAGMA synchronous={settings.synchronous.upper()}")
        # A big batch grows the WAL past the auto-checkpoint size; truncate it back afterwards.
        conn.execute("PRAGMA journal_size_limit=67108864")
        migrate(conn, then=then)
        for suffix in ("-wal", "-shm"):
            _restrict(path.with_name(path.name + suffix))
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: Path, settings: StoreSettings) -> sqlite3.Connection:
    """A read-only connection: with WAL, reads run beside the writer and see every committed write."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=settings.busy_timeout)
    conn.execute("PRAGMA query_only=ON")
    return conn
