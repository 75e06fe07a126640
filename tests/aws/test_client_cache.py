"""ClientCache: LRU eviction closes clients, never while calls use them; single-flight creation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from controlplane.aws import AdapterClosedError
from controlplane.aws._clients import ClientCache, ClientKey


class FakeClient:
    def __init__(self, key: ClientKey) -> None:
        self.key = key
        self.closed = False


class Factory:
    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.created: list[FakeClient] = []
        self.delay = delay
        self.fail = fail

    async def create(self, key: ClientKey, context: Any) -> FakeClient:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise OSError("cannot build client")
        client = FakeClient(key)
        self.created.append(client)
        return client

    @staticmethod
    async def close(client: FakeClient) -> None:
        assert not client.closed, "closed twice"
        client.closed = True


def key(n: int) -> ClientKey:
    return (f"id{n}", "us-east-1", "eks")


@pytest.mark.anyio
async def test_lru_eviction_closes_least_recently_used() -> None:
    factory = Factory()
    cache = ClientCache(2, factory.create, factory.close)
    for n in (1, 2):
        await cache.release(await cache.acquire(key(n)))
    await cache.release(await cache.acquire(key(1)))  # 1 is now the most recently used
    await cache.release(await cache.acquire(key(3)))  # evicts 2
    c1, c2, c3 = factory.created
    assert c2.closed and not c1.closed and not c3.closed
    assert key(2) not in cache and key(1) in cache and len(cache) == 2
    assert cache.open_clients == 2
    # The same key again reuses the cached client.
    entry = await cache.acquire(key(1))
    assert entry.client is c1
    await cache.release(entry)
    assert len(factory.created) == 3


@pytest.mark.anyio
async def test_eviction_of_busy_client_waits_for_last_release() -> None:
    factory = Factory()
    cache = ClientCache(1, factory.create, factory.close)
    busy = await cache.acquire(key(1))
    busy_again = await cache.acquire(key(1))
    await cache.release(await cache.acquire(key(2)))  # evicts 1 while two calls use it
    assert not busy.client.closed
    assert cache.open_clients == 2
    await cache.release(busy)
    assert not busy.client.closed
    await cache.release(busy_again)
    assert busy.client.closed
    assert cache.open_clients == 1


@pytest.mark.anyio
async def test_concurrent_first_use_creates_one_client() -> None:
    factory = Factory(delay=0.005)
    cache = ClientCache(4, factory.create, factory.close)
    entries = await asyncio.gather(*(cache.acquire(key(1)) for _ in range(20)))
    assert len(factory.created) == 1
    assert {id(e) for e in entries} == {id(entries[0])}
    assert entries[0].refs == 20
    for entry in entries:
        await cache.release(entry)


@pytest.mark.anyio
async def test_failed_creation_propagates_to_all_waiters_and_is_retried() -> None:
    factory = Factory(delay=0.002, fail=True)
    cache = ClientCache(4, factory.create, factory.close)
    results = await asyncio.gather(*(cache.acquire(key(1)) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
    factory.fail = False
    entry = await cache.acquire(key(1))
    assert isinstance(entry.client, FakeClient)
    await cache.release(entry)


@pytest.mark.anyio
async def test_cancelled_creator_does_not_fail_waiters() -> None:
    factory = Factory(delay=0.01)
    cache = ClientCache(4, factory.create, factory.close)
    creator = asyncio.create_task(cache.acquire(key(1)))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(cache.acquire(key(1)))
    await asyncio.sleep(0)
    creator.cancel()
    entry = await waiter
    assert isinstance(entry.client, FakeClient)
    with pytest.raises(asyncio.CancelledError):
        await creator
    await cache.release(entry)


@pytest.mark.anyio
async def test_close_waits_for_calls_then_closes_everything() -> None:
    factory = Factory()
    cache = ClientCache(4, factory.create, factory.close)
    idle = await cache.acquire(key(1))
    await cache.release(idle)
    busy = await cache.acquire(key(2))

    async def finish_call() -> None:
        await asyncio.sleep(0.005)
        assert not busy.client.closed  # never closed under a call in flight
        await cache.release(busy)

    task = asyncio.create_task(finish_call())
    await cache.close(grace=5.0)
    await task
    assert idle.client.closed and busy.client.closed
    assert cache.open_clients == 0
    with pytest.raises(AdapterClosedError):
        await cache.acquire(key(1))


@pytest.mark.anyio
async def test_close_grace_expires_and_forces_close() -> None:
    factory = Factory()
    cache = ClientCache(4, factory.create, factory.close)
    stuck = await cache.acquire(key(1))
    await cache.close(grace=0.01)
    assert stuck.client.closed
    await cache.release(stuck)  # a late release does not close twice
    assert cache.open_clients == 0
