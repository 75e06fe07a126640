"""A bounded LRU of open aiobotocore clients with reference counts.

A client evicted while calls use it is closed only when its last call returns, so no call ever
runs on a closed connection pool. Creation is single-flight per key: concurrent first calls for
the same (identity, region, service) share one client instead of racing to build several.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from controlplane.metrics import AWS_CLIENTS

ClientKey = tuple[str, str, str]
"""(credential identity, region, service)."""

ClientFactory = Callable[[ClientKey, Any], Awaitable[Any]]
"""``async (key, context) -> client``; ``context`` is what the caller passed to ``acquire``."""
ClientCloser = Callable[[Any], Awaitable[None]]


class AdapterClosedError(RuntimeError):
    """The AWS adapter (or its client cache) is not open."""


class ClientEntry:
    """One cached client and the number of calls currently using it."""

    __slots__ = ("client", "closed", "evicted", "key", "refs")

    def __init__(self, key: ClientKey, client: Any) -> None:
        self.key = key
        self.client = client
        self.refs = 0
        self.evicted = False
        self.closed = False


class ClientCache:
    """LRU cache of clients keyed by (identity, region, service); see the module docstring."""

    def __init__(self, max_size: int, factory: ClientFactory, closer: ClientCloser) -> None:
        if max_size < 1:
            raise ValueError("max_size must be >= 1")
        self._max_size = max_size
        self._factory = factory
        self._closer = closer
        self._entries: OrderedDict[ClientKey, ClientEntry] = OrderedDict()
        self._pending: dict[ClientKey, asyncio.Future[ClientEntry]] = {}
        self._busy: set[ClientEntry] = set()  # evicted entries still in use
        self._drained = asyncio.Event()
        self._closing = False
        self.open_clients = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    async def acquire(self, key: ClientKey, context: Any = None) -> ClientEntry:
        """The client for ``key`` with one more reference; pair with ``release()``."""
        while True:
            if self._closing:
                raise AdapterClosedError("the AWS adapter is closed")
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                entry.refs += 1
                return entry
            entry = await self._create(key, context)
            if entry is not None:
                return entry
            # Another task built it and it was already evicted and closed again: look again.

    async def release(self, entry: ClientEntry) -> None:
        """Drop one reference; close the client if it was evicted and this was the last one."""
        entry.refs -= 1
        if entry.refs == 0 and entry.evicted:
            self._busy.discard(entry)
            await self._close_entry(entry)
            if self._closing and not self._busy:
                self._drained.set()

    async def _create(self, key: ClientKey, context: Any) -> ClientEntry | None:
        """Build the client (the caller gets a reference), or wait for the task building it."""
        while (pending := self._pending.get(key)) is not None:
            try:
                entry = await asyncio.shield(pending)
                if entry.closed:
                    return None
                entry.refs += 1
                return entry
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not pending.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The creator was cancelled, not us: try again (possibly as the creator).
        if key in self._entries:
            return None
        future: asyncio.Future[ClientEntry] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            client = await self._factory(key, context)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            del self._pending[key]
        entry = ClientEntry(key, client)
        self.open_clients += 1
        AWS_CLIENTS.inc()
        if self._closing:
            # Shutdown began while this client was being built: nobody may use it.
            await self._close_entry(entry)
            closed = AdapterClosedError("the AWS adapter is closed")
            future.set_exception(closed)
            future.exception()
            raise closed
        self._entries[key] = entry
        entry.refs += 1  # before any await below, so eviction cannot close it under us
        future.set_result(entry)
        await self._evict_overflow()
        return entry

    async def _evict_overflow(self) -> None:
        while len(self._entries) > self._max_size:
            _, oldest = self._entries.popitem(last=False)
            await self._evict(oldest)

    async def _evict(self, entry: ClientEntry) -> None:
        entry.evicted = True
        if entry.refs == 0:
            await self._close_entry(entry)
        else:
            self._busy.add(entry)

    async def _close_entry(self, entry: ClientEntry) -> None:
        if entry.closed:
            return
        entry.closed = True
        self.open_clients -= 1
        AWS_CLIENTS.dec()
        # Shielded: a cancelled caller must not leave a half-closed connection pool behind.
        with anyio.CancelScope(shield=True):
            await self._closer(entry.client)

    async def close(self, grace: float) -> None:
        """Evict everything; wait up to ``grace`` seconds for calls in flight, then close the rest."""
        self._closing = True
        while self._entries:
            _, entry = self._entries.popitem(last=False)
            await self._evict(entry)
        if self._busy:
            with anyio.move_on_after(grace):
                await self._drained.wait()
        for entry in list(self._busy):
            await self._close_entry(entry)
        self._busy.clear()
