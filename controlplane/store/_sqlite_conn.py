"""One SQLite connection confined to one dedicated thread, and the file/PRAGMA setup of the database."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AsyncExitStack, contextmanager
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

    One exception to the order: an ``urgent`` call (heartbeats and leases) runs before every ordinary
    call still waiting. Those rows are no cluster's, so no cluster write's order changes; and a lease
    renewal that waited behind an import's writes could miss its renew deadline (it did on PostgreSQL,
    where membership now has connections of its own for the same reason).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._conn: sqlite3.Connection | None = None
        self._urgent: deque[_Call] = deque()
        self._ordinary: deque[_Call] = deque()
        self._wake = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._running = 0  # written by the worker thread; read racily, only to pick the least busy reader

    @property
    def load(self) -> int:
        """Calls waiting or running (a hint: another thread may change it at any time)."""
        return len(self._urgent) + len(self._ordinary) + self._running

    async def open(self, connect: Callable[[], sqlite3.Connection]) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self._name}: already opened")
        # Named after the thread that opens it (``admin-api/store-reader``): CPU by thread then tells the
        # admin API's reads apart from the actors' (``controlplane_thread_cpu_seconds_total``).
        owner = threading.current_thread().name
        self._thread = threading.Thread(target=self._serve, name=f"{owner}/{self._name}", daemon=True)
        self._thread.start()

        def run() -> None:
            try:
                self._conn = connect()
            except sqlite3.Error as exc:
                raise StoreError(f"sqlite: {exc}") from exc

        await self._submit(run)

    async def call(self, fn: Callable[[sqlite3.Connection], T], *, urgent: bool = False) -> T:
        return await self._submit(partial(self._run, fn), urgent=urgent)

    async def close(self) -> None:
        def run() -> None:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

        try:
            if self._thread is not None:
                await self._submit(run)
        finally:
            with self._wake:
                self._closing = True
                self._wake.notify()

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            raise StoreClosed("the database connection is closed")
        try:
            return fn(self._conn)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}") from exc

    async def _submit(self, fn: Callable[[], T], *, urgent: bool = False) -> T:
        # A cancelled caller stops waiting; a call already running finishes on its thread regardless.
        future: Future[T] = Future()
        with self._wake:
            if self._closing or self._thread is None:
                raise StoreClosed("the database connection is closed")
            (self._urgent if urgent else self._ordinary).append(_Call(fn, future))
            self._wake.notify()
        return await asyncio.wrap_future(future)

    def _serve(self) -> None:
        while True:
            with self._wake:
                while not self._urgent and not self._ordinary and not self._closing:
                    self._wake.wait()
                if self._urgent:
                    call = self._urgent.popleft()
                elif self._ordinary:
                    call = self._ordinary.popleft()
                else:
                    return  # closing, and nothing left to run
                self._running = 1
            call.run(self._done)

    def _done(self) -> None:
        # Before the caller can learn that its call finished, so that the next read it submits sees
        # this reader idle (else a tie could send it behind a long scan on the other reader).
        self._running = 0


class Readers:
    """Read-only connections, each on a thread of its own; a call goes to the one with the least work
    waiting. With one reader, a point read (an admin GET, a head poll) queued behind a long scan (a
    summary page of 500 clusters) waited for all of it; with two, it runs beside the scan. Reads need
    no order among themselves: each sees every write committed before it starts (WAL)."""

    def __init__(self, name: str, count: int) -> None:
        if count < 1:
            raise ValueError(f"{name}: at least one reader, got {count}")
        names = [name] if count == 1 else [f"{name}-{i}" for i in range(1, count + 1)]
        self._connections = [Connection(n) for n in names]

    async def open(self, connect: Callable[[], sqlite3.Connection]) -> None:
        for connection in self._connections:
            await connection.open(connect)

    async def call(self, fn: Callable[[sqlite3.Connection], T], *, urgent: bool = False) -> T:
        connection = min(self._connections, key=_load)
        return await connection.call(fn, urgent=urgent)

    async def close(self) -> None:
        """Close every connection (each is closed even when closing another failed)."""
        async with AsyncExitStack() as stack:
            for connection in self._connections:
                stack.push_async_callback(connection.close)


def _load(connection: Connection) -> int:
    return connection.load


class _Call:
    """One submitted call and the future its caller awaits (skipped if the caller cancelled first)."""

    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[], Any], future: Future[Any]) -> None:
        self.fn = fn
        self.future = future

    def run(self, done: Callable[[], None]) -> None:
        """Run ``fn`` (unless its caller cancelled first), call ``done``, then hand the outcome over."""
        if not self.future.set_running_or_notify_cancel():
            done()
            return
        try:
            result = self.fn()
        except BaseException as exc:  # handed to the awaiting caller, as an executor would
            done()
            self.future.set_exception(exc)
        else:
            done()
            self.future.set_result(result)


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
