"""The coordination part of the store contract: the change feed, shard leases, fences, replicas,
shard assignment and the EKS-identity index. Written against ``Store``; runs against every backend."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import msgspec
import pytest

from controlplane.api import Cluster, Credential, Event, Phase
from controlplane.store import (
    ChangeKind,
    ChangesExpired,
    Fence,
    Fenced,
    NotFound,
    Store,
    StoreSettings,
    shard_of,
)

from ._backends import Backend
from ._helpers import cluster, spec, status

pytestmark = pytest.mark.anyio

SHARDS = 8
FAST = StoreSettings(flush_interval=0.005, feed_poll_interval=0.01)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    async with backend.open(FAST, shards=SHARDS) as opened:
        yield opened


async def _kinds(store: Store, after: int = 0) -> list[tuple[ChangeKind, str]]:
    return [(c.kind, c.name) for c in await store.changes_since(after)]


# --- the change feed ------------------------------------------------------------------------------------
async def test_every_write_that_matters_appends_one_change_in_order(store: Store) -> None:
    start = await store.head()
    await store.create_cluster(cluster("a"))
    current = await store.get_cluster("a")
    assert current is not None
    await store.update_spec("a", spec("1.30"), expected_resource_version=current.metadata.resource_version)
    await store.update_spec("a", spec("1.30"), expected_resource_version=None)  # no change: no row
    await store.update_spec("a", spec("1.30"), expected_resource_version=None, annotations={"x": "y"})
    await store.request_sync("a")
    await store.write_status("a", status(Phase.ACTIVE), durable=True)
    await store.mark_deleting("a")
    await store.put_setting("eks-refresh-cron", "@hourly")
    await store.put_credential(Credential(namespace="ns", name="c", access_key="AK", secret_key="SK"))
    await store.delete_credential("ns", "c")
    await store.delete_cluster("a")
    assert await _kinds(store, start) == [
        (ChangeKind.CREATED, "a"),
        (ChangeKind.UPDATED, "a"),
        (ChangeKind.UPDATED, "a"),
        (ChangeKind.SYNC, "a"),
        (ChangeKind.STATUS, "a"),
        (ChangeKind.UPDATED, "a"),
        (ChangeKind.SETTING, "eks-refresh-cron"),
        (ChangeKind.CREDENTIAL, "ns:c"),
        (ChangeKind.CREDENTIAL, "ns:c"),
        (ChangeKind.DELETED, "a"),
    ]
    changes = await store.changes_since(start)
    assert [c.seq for c in changes] == sorted({c.seq for c in changes})  # strictly increasing
    assert changes[-1].seq == await store.head()
    assert await store.changes_since(changes[-1].seq) == []
    assert [c.seq for c in await store.changes_since(start, limit=3)] == [c.seq for c in changes[:3]]


async def test_request_sync_of_an_unknown_cluster_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.request_sync("nope")


async def test_trimmed_changes_are_gone_and_asking_for_them_expires(backend: Backend) -> None:
    settings = StoreSettings(flush_interval=0.005, change_retention=0.05, feed_poll_interval=0.01)
    async with backend.open(settings, shards=SHARDS) as store:
        await store.create_cluster(cluster("a"))
        first = await store.head()
        with anyio.fail_after(5):
            while True:
                try:
                    await store.changes_since(0)
                except ChangesExpired as exc:
                    assert exc.after == 0 and exc.oldest >= first
                    break
                await anyio.sleep(0.01)
        assert await store.head() == first  # trimming never reuses or lowers sequence numbers
        await store.create_cluster(cluster("b"))
        assert [c.seq for c in await store.changes_since(first)] == [first + 1]


async def test_wait_for_change_wakes_on_this_process_and_on_another(backend: Backend) -> None:
    async with backend.open(FAST, shards=SHARDS) as store, backend.open(FAST, shards=SHARDS) as other:
        head = await store.head()
        with anyio.move_on_after(0.05) as idle:
            await store.wait_for_change(head)
        assert idle.cancelled_caught  # nothing happened: it waits
        async with anyio.create_task_group() as tg:
            woke: list[int] = []

            async def wait() -> None:
                woke.append(await store.wait_for_change(head))

            tg.start_soon(wait)
            await anyio.sleep(0.02)
            await store.create_cluster(cluster("mine"))
        assert woke and woke[0] > head
        head = woke[0]
        with anyio.fail_after(2):  # a write through another connection (another process) is seen too
            async with anyio.create_task_group() as tg:
                tg.start_soon(other.create_cluster, cluster("theirs"))
                assert await store.wait_for_change(head) > head


# --- leases and fences ----------------------------------------------------------------------------------
async def test_leases_acquire_renew_release_and_epochs(store: Store) -> None:
    got = await store.acquire_leases("a", [0, 1, 2], 30.0)
    assert [(lease.shard, lease.owner, lease.epoch) for lease in got] == [
        (0, "a", 1),
        (1, "a", 1),
        (2, "a", 1),
    ]
    assert await store.acquire_leases("b", [1, 3], 30.0) == [
        lease for lease in await store.list_leases() if lease.shard == 3
    ]  # shard 1 is held by a live owner; 3 was free
    assert (await store.acquire_leases("a", [0], 30.0))[0].epoch == 1  # our own: same epoch
    renewed = await store.renew_leases("a", {0: 1, 1: 1, 3: 1}, 30.0)
    assert [lease.shard for lease in renewed] == [0, 1]  # 3 is b's
    await store.release_leases("a", [1])
    taken = await store.acquire_leases("b", [1], 30.0)
    assert [(lease.owner, lease.epoch) for lease in taken] == [("b", 2)]  # a new owner bumps the epoch
    assert await store.renew_leases("a", {1: 1}, 30.0) == []  # a lost its lease on 1


async def test_an_expired_lease_can_be_taken_and_the_old_owner_cannot_renew_it(store: Store) -> None:
    await store.acquire_leases("a", [5], 0.01)
    await anyio.sleep(0.03)
    [lease] = await store.acquire_leases("b", [5], 30.0)
    assert (lease.owner, lease.epoch) == ("b", 2)
    assert lease.expires > time.time() + 20
    assert await store.renew_leases("a", {5: 1}, 30.0) == []


async def test_fenced_writes_land_only_under_a_held_lease(store: Store) -> None:
    name = "fenced"
    shard = shard_of(name, SHARDS)
    await store.create_cluster(cluster(name))
    [lease] = await store.acquire_leases("a", [shard], 30.0)
    fence = Fence("a", shard, lease.epoch)
    await store.write_status(name, status(Phase.ACTIVE, "a-1"), durable=True, fence=fence)
    await store.append_event(name, Event(time="t", type="Normal", reason="r", message="m"), fence=fence)
    await store.put_secret(f"{name}/token", {"t": "1"}, fence=fence)
    current = await store.get_cluster(name)
    assert current is not None and current.status.last_sync_time == "a-1"
    # b takes the shard over (a's lease was released or expired): a's fence no longer holds.
    await store.release_leases("a", [shard])
    await store.acquire_leases("b", [shard], 30.0)
    with pytest.raises(Fenced):
        await store.write_status(name, status(Phase.ACTIVE, "a-2"), durable=True, fence=fence)
    await store.write_status(name, status(Phase.ACTIVE, "a-3"), fence=fence)  # not durable: dropped
    await store.flush()
    for write in (
        store.append_event(name, Event(time="t", type="Normal", reason="r", message="m"), fence=fence),
        store.put_secret(f"{name}/token", {"t": "2"}, fence=fence),
        store.delete_secret(f"{name}/token", fence=fence),
        store.update_spec(name, spec("1.29"), expected_resource_version=None, fence=fence),
        store.delete_cluster(name, fence=fence),
    ):
        with pytest.raises(Fenced):
            await write
    after = await store.get_cluster(name)
    assert after is not None and after.status.last_sync_time == "a-1"
    assert after.spec == spec()
    assert await store.get_secret(f"{name}/token") == {"t": "1"}
    assert len(await store.list_events(name)) == 1
    # The new owner's fence holds; an unfenced (API) write always lands.
    [now_b] = [lease for lease in await store.list_leases() if lease.shard == shard]
    await store.write_status(
        name, status(Phase.ACTIVE, "b-1"), durable=True, fence=Fence("b", shard, now_b.epoch)
    )
    await store.update_spec(name, spec("1.29"), expected_resource_version=None)


async def test_a_fence_whose_lease_expired_is_refused_even_if_nobody_took_it(store: Store) -> None:
    name = "lapsed"
    shard = shard_of(name, SHARDS)
    await store.create_cluster(cluster(name))
    [lease] = await store.acquire_leases("a", [shard], 0.01)
    await anyio.sleep(0.03)
    with pytest.raises(Fenced):
        await store.write_status(name, status(), durable=True, fence=Fence("a", shard, lease.epoch))


async def test_status_sequence_survives_a_hand_over_between_processes(backend: Backend) -> None:
    # Each process numbers its status writes; after a hand-over the new owner's writes must still land
    # on rows the old owner wrote (a per-process counter starting lower would be refused as stale).
    async with backend.open(FAST, shards=SHARDS) as a, backend.open(FAST, shards=SHARDS) as b:
        await a.create_cluster(cluster("x"))
        for i in range(50):
            await a.write_status("x", status(Phase.ACTIVE, f"a{i}"))
        await a.flush()
        await b.write_status("x", status(Phase.UPDATING, "b"), durable=True)
        got = await a.get_cluster("x")
        assert got is not None and got.status.last_sync_time == "b"


# --- replicas, shards, identities -----------------------------------------------------------------------
async def test_heartbeats_list_and_remove_replicas(store: Store) -> None:
    t1 = await store.heartbeat("r1", "http://127.0.0.1:1", started=1.0)
    await store.heartbeat("r2", "http://127.0.0.1:2", started=2.0)
    t2 = await store.heartbeat("r1", "http://127.0.0.1:9", started=5.0)
    assert t2 >= t1
    replicas = await store.list_replicas()
    assert [(r.id, r.address, r.started) for r in replicas] == [
        ("r1", "http://127.0.0.1:9", 1.0),  # started is kept from the first heartbeat
        ("r2", "http://127.0.0.1:2", 2.0),
    ]
    assert replicas[0].heartbeat == t2
    await store.remove_replica("r1")
    assert [r.id for r in await store.list_replicas()] == ["r2"]


async def test_clusters_by_shard_and_by_identity(store: Store) -> None:
    names = [f"c{i}" for i in range(30)]
    for name in names:
        await store.create_cluster(cluster(name))
    by_shard: dict[int, list[str]] = {}
    for name in names:
        by_shard.setdefault(shard_of(name, SHARDS), []).append(name)
    for shard, members in by_shard.items():
        assert [c.metadata.name for c in await store.list_clusters_in_shards([shard])] == sorted(members)
    assert len(await store.list_clusters_in_shards(range(SHARDS))) == 30
    assert await store.count_clusters_by_shard() == {s: len(m) for s, m in by_shard.items()}
    assert await store.find_identity("prod", "us-east-1") == {n: "cattle-global-data:aws" for n in names}
    assert await store.find_identity("prod", "eu-west-1") == {}


async def test_a_new_shard_count_reassigns_every_cluster(backend: Backend) -> None:
    async with backend.open(FAST, shards=4) as store:
        for i in range(20):
            await store.create_cluster(cluster(f"c{i}"))
    async with backend.open(FAST, shards=16) as store:
        for shard in range(16):
            members = [c.metadata.name for c in await store.list_clusters_in_shards([shard])]
            assert all(shard_of(n, 16) == shard for n in members)
        assert len(await store.list_clusters_in_shards(range(16))) == 20


def test_shard_of_is_stable_and_spread() -> None:
    assert shard_of("prod-use1", 256) == shard_of("prod-use1", 256)
    assert shard_of("prod-use1", 256) == 111  # fixed forever: every replica and release agrees
    counts = [0] * 16
    for i in range(16_000):
        counts[shard_of(f"cluster-{i}", 16)] += 1
    assert min(counts) > 850 and max(counts) < 1150
    with pytest.raises(ValueError):
        shard_of("x", 0)


async def test_raw_clusters_decode_to_the_stored_clusters_with_unflushed_statuses(store: Store) -> None:
    names = [f"raw{i}" for i in range(12)]
    for name in names:
        await store.create_cluster(cluster(name))
    await store.update_spec("raw3", spec("1.30"), expected_resource_version=None, labels={"x": "y"})
    await store.flush()
    # A status not flushed yet wins over the row, as every read does (read-your-writes).
    await store.write_status("raw5", status(Phase.UPDATING, "pending"))
    shards = sorted({shard_of(n, SHARDS) for n in names})
    raw = await store.list_raw_clusters_in_shards(shards)
    decoded = await store.list_clusters_in_shards(shards)
    assert [r.name for r in raw] == [c.metadata.name for c in decoded] == sorted(names)
    for r, c in zip(raw, decoded, strict=True):
        assert msgspec.json.decode(r.data, type=Cluster) == c
        assert r.phase == c.status.phase.value
    assert next(r for r in raw if r.name == "raw5").phase == "updating"
    again = msgspec.json.decode(next(r.data for r in raw if r.name == "raw3"), type=Cluster)
    assert (again.metadata.resource_version, again.metadata.generation, again.metadata.labels) == (
        "2",
        2,
        {"x": "y"},
    )
