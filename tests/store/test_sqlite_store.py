"""What only the SQLite backend has: the file, its modes, and what a non-database file does."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from controlplane.store import SQLiteStore, Store, StoreClosed, StoreError

from ._helpers import cluster

pytestmark = pytest.mark.anyio


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "store.db"


def test_sqlite_store_satisfies_protocol(db: Path) -> None:
    typed: Store = SQLiteStore(db)  # mypy checks the structural match
    assert isinstance(typed, SQLiteStore)


# --- files and lifecycle ---------------------------------------------------------------------------------
async def test_database_files_are_owner_only_whatever_the_umask(db: Path) -> None:
    old = __import__("os").umask(0)
    try:
        async with SQLiteStore(db) as store:
            await store.create_cluster(cluster("a"))
            for suffix in ("", "-wal", "-shm"):
                file = db.with_name(db.name + suffix)
                assert file.exists(), suffix
                assert file.stat().st_mode & 0o777 == 0o600, suffix
            assert db.parent.stat().st_mode & 0o777 == 0o700
    finally:
        __import__("os").umask(old)


async def test_existing_wide_file_is_narrowed(db: Path) -> None:
    async with SQLiteStore(db):
        pass
    db.chmod(0o644)
    async with SQLiteStore(db):
        assert db.stat().st_mode & 0o777 == 0o600


async def test_open_failure_leaves_a_closed_store(tmp_path: Path) -> None:
    not_a_db = tmp_path / "garbage.db"
    not_a_db.write_bytes(b"this is not a database" * 100)
    store = SQLiteStore(not_a_db)
    with pytest.raises(StoreError):
        await store.__aenter__()
    with pytest.raises(StoreClosed):
        await store.get_cluster("a")


# --- the connection's thread -----------------------------------------------------------------------------
async def test_an_urgent_call_runs_before_the_ordinary_calls_still_waiting() -> None:
    import sqlite3  # noqa: PLC0415
    import threading  # noqa: PLC0415

    import anyio  # noqa: PLC0415

    from controlplane.store._sqlite_conn import Connection  # noqa: PLC0415

    conn = Connection("test-conn")
    await conn.open(lambda: sqlite3.connect(":memory:", check_same_thread=False))
    ran: list[str] = []
    gate = threading.Event()

    def blocking(_: sqlite3.Connection) -> None:
        gate.wait(5)
        ran.append("blocking")

    def note(label: str) -> object:
        return lambda _c: ran.append(label)

    async with anyio.create_task_group() as tg:
        tg.start_soon(conn.call, blocking)
        await anyio.sleep(0.05)  # the thread is inside ``blocking``; what follows waits in line
        for label in ("ordinary-1", "ordinary-2"):
            tg.start_soon(conn.call, note(label))
            await anyio.sleep(0.01)
        tg.start_soon(partial(conn.call, note("urgent"), urgent=True))
        await anyio.sleep(0.05)
        gate.set()
    assert ran == ["blocking", "urgent", "ordinary-1", "ordinary-2"]
    await conn.close()
    with pytest.raises(StoreClosed):
        await conn.call(note("late"))


async def test_a_read_runs_beside_a_long_one_on_the_other_reader(db: Path) -> None:
    import sqlite3  # noqa: PLC0415
    import threading  # noqa: PLC0415

    import anyio  # noqa: PLC0415

    from controlplane.store._sqlite_conn import Readers  # noqa: PLC0415

    readers = Readers("test-reader", 2)
    await readers.open(lambda: sqlite3.connect(":memory:", check_same_thread=False))
    gate = threading.Event()
    threads: list[str] = []

    def long_scan(_: sqlite3.Connection) -> str:
        gate.wait(5)
        return threading.current_thread().name

    def point_read(c: sqlite3.Connection) -> int:
        threads.append(threading.current_thread().name)
        return int(c.execute("SELECT 1").fetchone()[0])

    async with anyio.create_task_group() as tg:
        tg.start_soon(readers.call, long_scan)
        await anyio.sleep(0.05)  # one reader is inside the scan
        with anyio.fail_after(2):  # with one reader this would wait for the gate (5 s)
            assert await readers.call(point_read) == 1
            assert await readers.call(point_read) == 1
        gate.set()
    assert len(set(threads)) == 1 and not threads[0].endswith("test-reader-1")  # both on the idle one
    await readers.close()
    with pytest.raises(StoreClosed):
        await readers.call(point_read)
    with pytest.raises(ValueError, match="at least one reader"):
        Readers("none", 0)
