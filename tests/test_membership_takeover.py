"""Taking over a dead replica: its heartbeat does not outlive its leases, and a survivor's round is timed to
the moment its shards can be taken instead of its next regular round (SQLite store, real leases)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

from controlplane.config import ReplicaSettings
from controlplane.metrics import REGISTRY
from controlplane.replicas import Membership
from controlplane.store import Fence, Lease, Store, open_store

pytestmark = pytest.mark.anyio

SHARDS = 8


def _failover(*, le: str) -> float:
    sample = REGISTRY.get_sample_value("controlplane_replica_failover_seconds_bucket", {"le": le})
    return sample or 0.0


class Host:
    def __init__(self) -> None:
        self.started: list[int] = []

    async def start_shard(self, shard: int, fence: Fence) -> None:
        self.started.append(shard)

    async def stop_shard(self, shard: int) -> None:
        pass


class Recorded:
    """The store, with the order of heartbeats and renewals written down."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def heartbeat(self, replica_id: str, address: str, *, started: float) -> float:
        self.calls.append("heartbeat")
        return await self._store.heartbeat(replica_id, address, started=started)

    async def renew_leases(self, owner: str, held: Mapping[int, int], duration: float) -> list[Lease]:
        self.calls.append("renew")
        return await self._store.renew_leases(owner, held, duration)


async def test_the_heartbeat_goes_out_just_before_each_renewal_and_rounds_send_none(tmp_path: Path) -> None:
    # A heartbeat sent after the last renewal, as rounds used to send, outlives the leases: a replica dying
    # then still looked alive once its leases expired, and balancing kept its shards for it.
    settings = ReplicaSettings(
        shards=SHARDS, lease_duration=1.0, renew_deadline=0.6, retry_period=0.05, lease_margin=0.05
    )
    async with open_store("", data_dir=tmp_path, shards=SHARDS) as store:
        recorded = Recorded(store)
        member = Membership(cast(Store, recorded), settings, replica_id="r1", address="", host=Host())
        with anyio.fail_after(10):
            await member.join()
            assert member.shards() == list(range(SHARDS))
            recorded.calls.clear()
            async with anyio.create_task_group() as tg:
                tg.start_soon(member.run)
                while recorded.calls.count("renew") < 10:  # rounds run meanwhile, every 50 ms too
                    await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
        renewals = recorded.calls.count("renew")
        assert recorded.calls[: 2 * renewals] == ["heartbeat", "renew"] * renewals


@pytest.mark.parametrize(
    ("beat_after_renewal", "within"),
    [
        pytest.param(0.0, "0.5", id="died-after-renewing"),
        # Its last heartbeat came after its last renewal (a replica of an earlier version, or one that died
        # between the two calls): the shards are taken when that heartbeat is too old, not later.
        pytest.param(0.4, "1.0", id="heartbeat-newer-than-its-leases"),
    ],
)
async def test_a_dead_replicas_shards_are_taken_when_its_leases_expire_not_at_the_next_round(
    tmp_path: Path, beat_after_renewal: float, within: str
) -> None:
    # The survivor's regular rounds come every 2 s. The dead replica's leases expire 3 s after its last
    # renewal, that is between two of those rounds; the survivor must not wait for the next one.
    settings = ReplicaSettings(
        shards=SHARDS, lease_duration=3.0, renew_deadline=2.5, retry_period=2.0, lease_margin=0.1
    )
    async with open_store("", data_dir=tmp_path, shards=SHARDS) as store:
        dead = Membership(store, settings, replica_id="r1", address="", host=Host())
        await dead.join()  # takes every shard, then never runs again: as if SIGKILLed right after
        if beat_after_renewal:
            await anyio.sleep(beat_after_renewal)
            await store.heartbeat("r1", "", started=0.0)
        expiry = {lease.shard: lease.expires for lease in await store.list_leases()}
        within_before, all_before = _failover(le=within), _failover(le="+Inf")
        survivor_host = Host()
        survivor = Membership(store, settings, replica_id="r2", address="", host=survivor_host)
        with anyio.fail_after(20):
            await survivor.join()
            assert survivor.shards() == []  # r1 is alive and holds them all for now
            async with anyio.create_task_group() as tg:
                tg.start_soon(survivor.run)
                while survivor.shards() != list(range(SHARDS)):
                    await anyio.sleep(0.02)
                tg.cancel_scope.cancel()
        assert sorted(survivor_host.started) == list(range(SHARDS))
        leases = await store.list_leases()
        assert {lease.owner for lease in leases} == {"r2"}
        # The fail-over histogram says how long each shard went without running actors, from its lease's
        # expiry: within ``within`` seconds for all eight (a moment after the lease's expiry, or after the
        # heartbeat's), where the next regular round came about 1 s after them.
        assert _failover(le=within) - within_before == SHARDS
        assert _failover(le="+Inf") - all_before == SHARDS
        assert all(lease.renewed >= expiry[lease.shard] for lease in leases)  # never before the expiry


async def test_a_round_without_renewal_before_join_is_refused(tmp_path: Path) -> None:
    settings = ReplicaSettings(shards=SHARDS)
    async with open_store("", data_dir=tmp_path, shards=SHARDS) as store:
        member = Membership(store, settings, replica_id="r1", address="", host=Host())
        with pytest.raises(RuntimeError, match="after join"):
            await member.round(renew=False)
        assert all(lease.owner != "r1" for lease in await store.list_leases())  # nothing was taken
        assert await store.list_replicas() == []  # nor announced
