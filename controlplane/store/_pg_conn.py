"""The PostgreSQL store's connections: a bounded asyncpg pool for every read and write, a small pool kept
for the replica's membership (heartbeats and leases), one connection of its own that LISTENs for
change-feed notifications, and driver failures turned into ``StoreError``.

Why membership has connections of its own: at 50,000 clusters, hundreds of actor passes queue for the
shared pool during an import, and a lease renewal queued behind them missed its renew deadline by
seconds; the replica stopped its shards and the other replica took them, back and forth (measured:
18,000 actor stops in the first six minutes of the two-replica run)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio
import asyncpg

from controlplane.metrics import STORE_OPERATION_SECONDS

from ._errors import StoreClosed, StoreError
from ._pg_schema import NOTIFY_CHANNEL, Connection
from ._settings import StoreSettings

logger = logging.getLogger("controlplane.store")

_CLOSE_TIMEOUT = 10.0
_LISTEN_RETRY = 1.0
_CLIENT_ERRORS = (asyncpg.InterfaceError, asyncpg.InternalClientError)
"""The driver's own failures (a lost or broken connection, a protocol error), as opposed to the server's."""
APPLICATION_NAME = "eks-controlplane"
MEMBERSHIP_POOL_SIZE = 2
"""Connections for membership: the renewer and the balancing round run side by side. Opened on first
use (a store that never renews, such as the admin API's, holds none)."""


class PgConnections:
    """Connections to one database. ``url`` (redacted) is what messages show, never ``dsn``."""

    def __init__(self, dsn: str, url: str, settings: StoreSettings) -> None:
        self._dsn = dsn
        self.url = url
        self.settings = settings
        self._pool: asyncpg.Pool | None = None
        self._membership: asyncpg.Pool | None = None
        lock_ms = max(1, round(settings.busy_timeout * 1000))
        # lock_timeout: a write waits for another's row lock at most busy_timeout, as with SQLite.
        self._server_settings = {"application_name": APPLICATION_NAME, "lock_timeout": f"{lock_ms}ms"}

    async def connect(self) -> asyncpg.Connection:
        """A connection of its own (not from the pool); the caller closes it."""
        return await asyncpg.connect(self._dsn, server_settings=self._server_settings)

    async def open_pool(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=min(2, self.settings.pool_size),
            max_size=self.settings.pool_size,
            server_settings=self._server_settings,
        )
        self._membership = await asyncpg.create_pool(
            self._dsn,
            min_size=0,
            max_size=MEMBERSHIP_POOL_SIZE,
            server_settings=self._server_settings,
        )

    async def close(self) -> None:
        """Close the pools: connections in use get ``_CLOSE_TIMEOUT`` to come back, then are cut."""
        pools = [p for p in (self._pool, self._membership) if p is not None]
        self._pool = self._membership = None
        for pool in pools:
            with anyio.move_on_after(_CLOSE_TIMEOUT) as scope:
                await pool.close()
            if scope.cancelled_caught:
                pool.terminate()

    @contextmanager
    def errors(self, operation: str) -> Iterator[None]:
        """Driver and network failures become ``StoreError`` (the store's own errors pass through).
        Only the server's message is kept: its details may quote row values."""
        try:
            yield
        except StoreError:
            raise
        except asyncpg.PostgresError as exc:
            message = exc.args[0] if exc.args else type(exc).__name__
            raise StoreError(f"postgresql {operation}: {message} (SQLSTATE {exc.sqlstate})") from None
        except (TimeoutError, OSError, *_CLIENT_ERRORS) as exc:
            raise StoreError(f"postgresql {operation}: {type(exc).__name__}: {exc} ({self.url})") from None
        except ValueError as exc:
            # The driver parses the URL when it connects (a port that is not a number, a bad IPv6 host).
            raise StoreError(f"postgresql {operation}: the store url does not parse: {exc}") from None

    @asynccontextmanager
    async def acquire(
        self, operation: str, *, timed: bool = True, membership: bool = False
    ) -> AsyncIterator[Connection]:
        """A pooled connection for one operation (timed in ``STORE_OPERATION_SECONDS`` if ``timed``),
        from the membership pool if ``membership``."""
        pool = self._membership if membership else self._pool
        if pool is None:
            raise StoreClosed(f"store {self.url} is closed")
        with self.errors(operation):
            if not timed:
                async with pool.acquire() as conn:
                    yield conn
                return
            with STORE_OPERATION_SECONDS.labels(operation).time():
                async with pool.acquire() as conn:
                    yield conn

    async def listen(self, notified: Callable[[], None]) -> None:
        """Run forever: keep one connection LISTENing on the change feed's channel and call ``notified``
        on each notification (and after every reconnection, for what was missed meanwhile)."""
        while True:
            try:
                conn = await self.connect()
            except (TimeoutError, OSError, asyncpg.PostgresError, *_CLIENT_ERRORS) as exc:
                logger.warning("change-feed listener cannot connect (polling meanwhile): %s", exc)
                await anyio.sleep(_LISTEN_RETRY)
                continue
            lost = anyio.Event()
            try:
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(NOTIFY_CHANNEL, lambda *_args: notified())
                notified()
                await lost.wait()
                logger.warning("change-feed listener lost its connection (polling meanwhile)")
            except (OSError, asyncpg.PostgresError, *_CLIENT_ERRORS) as exc:
                logger.warning("change-feed listener failed (polling meanwhile): %s", exc)
            finally:
                with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT):
                    await conn.close()
            await anyio.sleep(_LISTEN_RETRY)
