"""What only the PostgreSQL backend has: concurrent opens and migrations, the feed's in-order sequence
under concurrent writers, fences that hold against a concurrent take-over, notifications, the bounded
pool, and URLs with passwords."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest

from controlplane.api import Phase
from controlplane.store import (
    Fence,
    Fenced,
    PostgresStore,
    Store,
    StoreClosed,
    StoreError,
    StoreSettings,
    _pg_schema,
    shard_of,
)
from controlplane.store._pg_schema import SCHEMA_VERSION

from ._helpers import cluster, status

pytestmark = pytest.mark.anyio

FAST = StoreSettings(flush_interval=0.005, feed_poll_interval=0.01)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.key"
    path.write_bytes(base64.b64encode(os.urandom(32)))
    return path


@pytest.fixture
def open_store(pg_url: str, key_file: Path) -> Callable[..., PostgresStore]:
    def make(settings: StoreSettings = FAST, **kwargs: Any) -> PostgresStore:
        return PostgresStore(pg_url, settings, secret_key_file=key_file, **kwargs)

    return make


@pytest.fixture
async def store(open_store: Callable[..., PostgresStore]) -> AsyncIterator[PostgresStore]:
    async with open_store() as opened:
        yield opened


async def _fetchval(url: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def _woken_by(follower: Store, head: int, write: Awaitable[Any]) -> int:
    """What ``follower.wait_for_change(head)`` returns when ``write`` happens while it waits."""
    woke: list[int] = []

    async def wait() -> None:
        woke.append(await follower.wait_for_change(head))

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        await anyio.sleep(0.2)  # waiting, past its first look at the head
        assert not woke
        await write
    return woke[0]


def test_postgres_store_satisfies_protocol(pg_server: str) -> None:
    typed: Store = PostgresStore(pg_server)  # mypy checks the structural match
    assert isinstance(typed, PostgresStore)


# --- opening and migrations -----------------------------------------------------------------------------
async def test_replicas_opening_an_empty_database_at_once_migrate_it_once(
    open_store: Callable[..., PostgresStore], pg_url: str
) -> None:
    opened: list[PostgresStore] = []
    done = anyio.Event()

    async def replica() -> None:
        async with open_store(shards=16) as one:
            opened.append(one)
            await done.wait()

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(replica)  # all four race for the empty database
        with anyio.fail_after(20):
            while len(opened) < 4:
                await anyio.sleep(0.01)
        await opened[0].create_cluster(cluster("a"))
        for one in opened:
            assert await one.list_cluster_names() == ["a"]
        done.set()
    assert await _fetchval(pg_url, "SELECT version FROM schema_version") == SCHEMA_VERSION
    assert await _fetchval(pg_url, "SELECT count(*) FROM schema_version") == 1
    assert await _fetchval(pg_url, "SELECT count(*) FROM feed_head") == 1


async def test_opening_waits_for_another_replicas_migration_beyond_the_lock_timeout(
    open_store: Callable[..., PostgresStore], pg_url: str
) -> None:
    other = await asyncpg.connect(pg_url)
    try:
        migrating = other.transaction()
        await migrating.start()
        await other.execute("SELECT pg_advisory_xact_lock($1)", _pg_schema.MIGRATION_LOCK)
        opened: list[PostgresStore] = []
        done = anyio.Event()

        async def replica() -> None:
            async with open_store(StoreSettings(busy_timeout=0.05)) as one:
                opened.append(one)
                await done.wait()

        async with anyio.create_task_group() as tg:
            tg.start_soon(replica)
            await anyio.sleep(0.5)  # ten times the lock timeout
            assert opened == []
            await migrating.rollback()
            with anyio.fail_after(10):
                while not opened:
                    await anyio.sleep(0.01)
            done.set()
    finally:
        await other.close()


async def test_a_newer_schema_is_refused(open_store: Callable[..., PostgresStore], pg_url: str) -> None:
    async with open_store():
        pass
    conn = await asyncpg.connect(pg_url)
    await conn.execute("UPDATE schema_version SET version = 99")
    await conn.close()
    with pytest.raises(StoreError, match="newer than this program"):
        async with open_store():
            pass


async def test_a_failed_migration_changes_nothing(
    open_store: Callable[..., PostgresStore], pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = (*_pg_schema.MIGRATIONS[0], "CREATE TABLE clusters (name text)")  # already exists: fails
    monkeypatch.setattr(_pg_schema, "MIGRATIONS", (broken,))
    with pytest.raises(StoreError, match="already exists"):
        async with open_store():
            pass
    assert await _fetchval(pg_url, "SELECT to_regclass('schema_version') IS NULL")
    assert await _fetchval(pg_url, "SELECT to_regclass('clusters') IS NULL")


async def test_an_unreachable_server_is_a_store_error_without_the_password(
    key_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket_port() as port:
        url = f"postgresql://cp:hunter2@127.0.0.1:{port}/cp"
        store = PostgresStore(url, FAST, secret_key_file=key_file)
        assert "hunter2" not in repr(store) and "cp:***@" in repr(store)
        with caplog.at_level(logging.DEBUG), pytest.raises(StoreError) as info:
            await store.__aenter__()
    assert "hunter2" not in str(info.value) and "hunter2" not in caplog.text
    with pytest.raises(StoreClosed):
        await store.get_cluster("a")


@pytest.mark.parametrize(
    "url", ["postgresql://cp:hunter2@127.0.0.1:notaport/cp", "postgresql://cp:hunter2@[::1/cp"]
)
async def test_a_url_the_driver_cannot_parse_is_a_store_error(key_file: Path, url: str) -> None:
    with pytest.raises(StoreError, match="the store url does not parse") as info:
        async with PostgresStore(url, FAST, secret_key_file=key_file):
            pass
    assert "hunter2" not in str(info.value)


def socket_port() -> Any:
    """A loopback port nothing listens on (bound, not listening, while the test runs)."""
    import contextlib  # noqa: PLC0415
    import socket  # noqa: PLC0415

    @contextlib.contextmanager
    def bound() -> Any:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            yield sock.getsockname()[1]

    return bound()


async def test_a_password_in_the_url_is_never_logged(
    pg_url: str, key_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The throwaway server trusts loopback, so the password is accepted and ignored.
    with_password = pg_url.replace("postgres@", "postgres:hunter2@", 1)
    with caplog.at_level(logging.DEBUG):
        async with PostgresStore(with_password, FAST, secret_key_file=key_file) as store:
            await store.create_cluster(cluster("a"))
            assert "hunter2" not in repr(store)
    assert "postgres:***@" in caplog.text
    assert "hunter2" not in caplog.text


# --- the change feed ------------------------------------------------------------------------------------
async def test_a_follower_never_skips_a_change_committed_late_with_a_lower_seq(
    open_store: Callable[..., PostgresStore],
) -> None:
    # Many writers in two processes' pools commit concurrently while a follower reads from its cursor:
    # it must see every sequence number exactly once, in order (a sequence that commits out of order
    # would let the cursor pass a number whose row commits afterwards).
    settings = StoreSettings(flush_interval=0.005, feed_poll_interval=0.01, pool_size=8)
    async with open_store(settings) as a, open_store(settings) as b:
        start = await a.head()
        seen: list[int] = []
        writers_done = anyio.Event()

        async def follow() -> None:
            cursor = start
            while True:
                batch = await a.changes_since(cursor, limit=50)
                seen.extend(c.seq for c in batch)
                if batch:
                    cursor = batch[-1].seq
                elif writers_done.is_set() and cursor == await a.head():
                    return
                await anyio.sleep(0)

        async def write(store: Store, worker: int) -> None:
            for i in range(25):
                await store.put_setting(f"w{worker}", str(i))

        async with anyio.create_task_group() as tg:
            tg.start_soon(follow)
            async with anyio.create_task_group() as writers:
                for worker in range(12):
                    writers.start_soon(write, a if worker % 2 else b, worker)
            writers_done.set()
        assert seen == list(range(start + 1, start + 1 + 12 * 25))


async def test_a_notification_wakes_a_follower_long_before_its_poll(
    open_store: Callable[..., PostgresStore],
) -> None:
    slow_poll = StoreSettings(flush_interval=0.005, feed_poll_interval=60.0)
    async with open_store(slow_poll) as follower, open_store(slow_poll) as writer:
        head = await follower.head()
        with anyio.fail_after(10):  # NOTIFY, not the 60 s poll
            assert await _woken_by(follower, head, writer.create_cluster(cluster("x"))) > head


async def test_the_store_recovers_when_the_server_drops_its_connections(
    open_store: Callable[..., PostgresStore], pg_url: str
) -> None:
    slow_poll = StoreSettings(flush_interval=0.005, feed_poll_interval=60.0)
    async with open_store(slow_poll) as store:
        await store.create_cluster(cluster("a"))
        database = pg_url.rsplit("/", 1)[1]
        killed = await _fetchval(
            pg_url,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        assert killed >= 2  # the pool's connections and the listener
        with anyio.fail_after(10):
            while True:  # a connection that died idle in the pool may fail a call; the pool reconnects
                try:
                    head = await store.head()
                    break
                except StoreError:
                    await anyio.sleep(0.05)
            while not await _fetchval(  # the listener reconnects after its retry delay
                pg_url,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN %'",
                database,
            ):
                await anyio.sleep(0.05)
            async with open_store(slow_poll) as writer:
                # Woken by NOTIFY on the listener's new connection, not by the 60 s poll.
                assert await _woken_by(store, head, writer.create_cluster(cluster("b"))) > head
        assert await store.list_cluster_names() == ["a", "b"]


async def test_the_pool_is_bounded(open_store: Callable[..., PostgresStore], pg_url: str) -> None:
    database = pg_url.rsplit("/", 1)[1]
    async with open_store(StoreSettings(pool_size=3)) as small:
        await small.create_cluster(cluster("a"))
        async with anyio.create_task_group() as tg:
            for _ in range(40):
                tg.start_soon(small.get_cluster, "a")
        used = await _fetchval(
            pg_url,
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = $1 AND application_name = 'eks-controlplane'",
            database,
        )
    assert 1 <= used <= 3 + 1  # the pool and the listener (membership's connections open on first use)


async def test_heartbeats_and_leases_never_queue_behind_a_busy_pool(
    open_store: Callable[..., PostgresStore],
) -> None:
    # At 50,000 clusters hundreds of actor passes queue for the pool during an import; a renewal that
    # queued behind them missed its renew deadline and the shards went back and forth between replicas.
    async with open_store(StoreSettings(pool_size=2)) as busy:
        held = anyio.Event()
        release = anyio.Event()
        holding = 0

        async def hold_a_connection() -> None:
            nonlocal holding
            async with busy._db.acquire("hold"):
                holding += 1
                if holding == 2:
                    held.set()
                await release.wait()

        async with anyio.create_task_group() as tg:
            tg.start_soon(hold_a_connection)
            tg.start_soon(hold_a_connection)
            await held.wait()
            with anyio.fail_after(5):  # the shared pool is exhausted until ``release``
                await busy.heartbeat("r1", "http://127.0.0.1:1", started=0.0)
                taken = await busy.acquire_leases("r1", [0, 1], 15.0)
                renewed = await busy.renew_leases("r1", {x.shard: x.epoch for x in taken}, 15.0)
                assert {x.shard for x in renewed} == {0, 1}
                assert {x.shard for x in await busy.list_leases()} >= {0, 1}
                assert [r.id for r in await busy.list_replicas()] == ["r1"]
                await busy.release_leases("r1", [0, 1])
            release.set()


# --- fences against a concurrent take-over --------------------------------------------------------------
async def test_a_fenced_write_waits_for_a_take_over_in_flight_and_is_then_refused(
    store: PostgresStore, pg_url: str
) -> None:
    name = "contested"
    shard = shard_of(name, store.shards)
    await store.create_cluster(cluster(name))
    [lease] = await store.acquire_leases("a", [shard], 30.0)
    rival = await asyncpg.connect(pg_url)
    try:
        take_over = rival.transaction()
        await take_over.start()
        # b's take-over is in flight (row updated, not committed) when a's fenced write checks its lease.
        await rival.execute("UPDATE leases SET owner = 'b', epoch = epoch + 1 WHERE shard = $1", shard)
        outcome: list[BaseException | None] = []

        async def write() -> None:
            try:
                await store.write_status(
                    name, status(Phase.ACTIVE, "a"), durable=True, fence=Fence("a", shard, 1)
                )
                outcome.append(None)
            except Fenced as exc:
                outcome.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(write)
            with anyio.fail_after(5):  # a's batch waits on the lease row's lock
                while not await rival.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                ):
                    await anyio.sleep(0.01)
            assert outcome == []
            await take_over.commit()
        assert len(outcome) == 1 and isinstance(outcome[0], Fenced)
    finally:
        await rival.close()
    got = await store.get_cluster(name)
    assert got is not None and got.status.phase == Phase.NEW
    assert lease.epoch == 1
