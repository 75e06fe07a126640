"""Leases under load: a replica that stalled past its renew deadline keeps the shards nobody took meanwhile
(one more renewal at the epoch it holds succeeds); shards taken together stay leased while they start one
after the other (SQLite store, real leases)."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from controlplane.config import ReplicaSettings
from controlplane.metrics import REGISTRY
from controlplane.replicas import Membership
from controlplane.store import Fence, StoreError, open_store

pytestmark = pytest.mark.anyio

SHARDS = 8
SETTINGS = ReplicaSettings(
    shards=SHARDS, lease_duration=1.5, renew_deadline=1.0, retry_period=0.05, lease_margin=0.1
)


class Host:
    def __init__(self) -> None:
        self.started: list[int] = []
        self.stopped: list[int] = []

    async def start_shard(self, shard: int, fence: Fence) -> None:
        self.started.append(shard)

    async def stop_shard(self, shard: int) -> None:
        self.stopped.append(shard)


def _deadline_drops() -> float:
    sample = REGISTRY.get_sample_value("controlplane_lease_renewals_total", {"outcome": "deadline_passed"})
    return sample or 0.0


async def test_a_stall_past_the_deadline_keeps_the_shards_nobody_took(tmp_path: Path) -> None:
    stalled = 0.0
    host = Host()
    async with open_store("", data_dir=tmp_path, shards=SHARDS) as store:
        member = Membership(
            store,
            SETTINGS,
            replica_id="r1",
            address="",
            host=host,
            clock=lambda: time.monotonic() + stalled,
        )
        await member.join()
        assert member.shards() == list(range(SHARDS))
        # While "r1" stalls, its lease on shard 3 expires and another replica takes it (a new epoch).
        await anyio.sleep(SETTINGS.lease_duration + 0.1)
        taken = await store.acquire_leases("r2", [3], SETTINGS.lease_duration)
        assert [lease.shard for lease in taken] == [3]
        drops_before = _deadline_drops()
        stalled = 100.0  # the stall ends: every renew deadline has passed by the replica's clock
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(member.run)
                while 3 in member.shards():
                    await anyio.sleep(0.02)
                await anyio.sleep(0.3)  # a few more watchdog and renewal rounds
                tg.cancel_scope.cancel()
        assert host.stopped == [3]  # only the shard another replica took
        assert member.shards() == [s for s in range(SHARDS) if s != 3]
        assert all(member.valid_until(s) > time.monotonic() + stalled for s in member.shards())
        assert _deadline_drops() == drops_before  # shard 3 was lost (the store said so), not timed out


class SlowHost(Host):
    """Starting a shard takes a while (reading its clusters, spawning its actors on a busy process)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    async def start_shard(self, shard: int, fence: Fence) -> None:
        await anyio.sleep(self.seconds)
        await super().start_shard(shard, fence)


async def test_shards_taken_together_stay_leased_while_they_start_one_after_the_other(tmp_path: Path) -> None:
    # Starting all 8 takes 1.2 s, twice the lease: the last ones would expire before their turn came.
    settings = ReplicaSettings(
        shards=SHARDS, lease_duration=0.6, renew_deadline=0.4, retry_period=0.05, lease_margin=0.05
    )
    host = SlowHost(0.15)
    async with open_store("", data_dir=tmp_path, shards=SHARDS) as store:
        member = Membership(store, settings, replica_id="r1", address="", host=host)
        drops_before = _deadline_drops()
        with anyio.fail_after(10):
            await member.join()
            assert host.started == list(range(SHARDS))
            # Nothing was past its deadline at the end of the join, nor is after some watchdog rounds.
            assert all(member.valid_until(s) > time.monotonic() for s in range(SHARDS))
            async with anyio.create_task_group() as tg:
                tg.start_soon(member.run)
                await anyio.sleep(0.5)
                tg.cancel_scope.cancel()
        assert host.stopped == []
        assert member.shards() == list(range(SHARDS))
        assert _deadline_drops() == drops_before
        leases = {lease.shard: lease for lease in await store.list_leases()}
        assert all(leases[s].owner == "r1" for s in range(SHARDS))


class FailingHost(Host):
    """The store cannot read one shard's clusters, once."""

    def __init__(self, failing: int) -> None:
        super().__init__()
        self.failing: int | None = failing

    async def start_shard(self, shard: int, fence: Fence) -> None:
        if shard == self.failing:
            self.failing = None
            raise StoreError("database is locked")
        await super().start_shard(shard, fence)


async def test_a_shard_that_cannot_start_and_the_ones_after_it_are_taken_next_round(
    tmp_path: Path,
) -> None:
    host = FailingHost(failing=3)
    async with open_store("", data_dir=tmp_path, shards=SHARDS) as store:
        member = Membership(store, SETTINGS, replica_id="r1", address="", host=host)
        with pytest.raises(StoreError):
            await member.round()
        # Held are only the shards whose actors run: never one that was acquired and not started.
        assert member.shards() == [0, 1, 2] == host.started
        assert host.stopped == [3]
        await member.round()
        assert member.shards() == list(range(SHARDS))
        assert sorted(host.started) == list(range(SHARDS))
