"""The store contract (clusters, status batching, events, credentials, settings, secrets, lifecycle),
run unchanged against every backend."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec
import pytest

from controlplane.api import Credential, Event, Phase
from controlplane.store import (
    AlreadyExists,
    Conflict,
    NotFound,
    Store,
    StoreClosed,
    StoreError,
    StoreSettings,
)

from ._backends import Backend
from ._helpers import cluster, sample, spec, status

pytestmark = pytest.mark.anyio

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SLOW_FLUSH = StoreSettings(flush_interval=30.0)  # nothing flushes on its own during a test


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    async with backend.open(StoreSettings(flush_interval=0.005)) as opened:
        yield opened


# --- clusters --------------------------------------------------------------------------------------------
async def test_create_get_and_already_exists(store: Store) -> None:
    given = cluster("a", labels={"env": "prod"})
    created = await store.create_cluster(given)
    assert created.metadata.resource_version == "1"
    assert created.metadata.generation == 1
    assert RFC3339_UTC.match(created.metadata.creation_timestamp)
    assert given.metadata.resource_version == ""  # the caller's struct is not touched
    got = await store.get_cluster("a")
    assert got == created
    assert got is not None and got.spec == spec() and got.metadata.labels == {"env": "prod"}
    with pytest.raises(AlreadyExists):
        await store.create_cluster(cluster("a"))
    assert await store.get_cluster("missing") is None


async def test_null_and_empty_survive_the_store(store: Store) -> None:
    given = cluster("a")
    given.spec.eks_config.node_groups = []
    given.spec.eks_config.subnets = None
    await store.create_cluster(given)
    got = await store.get_cluster("a")
    assert got is not None
    assert got.spec.eks_config.node_groups == []
    assert got.spec.eks_config.subnets is None


async def test_list_and_phase_filter_including_unflushed(store: Store) -> None:
    for name in ("c", "a", "b"):
        await store.create_cluster(cluster(name))
    await store.write_status("a", status(Phase.ACTIVE))
    await store.write_status("b", status(Phase.ACTIVE))
    await store.flush()
    assert [c.metadata.name for c in await store.list_clusters()] == ["a", "b", "c"]
    assert await store.list_cluster_names() == ["a", "b", "c"]
    assert [c.metadata.name for c in await store.list_clusters(phase=Phase.ACTIVE)] == ["a", "b"]
    assert [c.metadata.name for c in await store.list_clusters(phase=Phase.NEW)] == ["c"]
    # Unflushed phase changes count: "b" leaves active, "c" becomes creating.
    await store.write_status("b", status(Phase.UPDATING))
    await store.write_status("c", status(Phase.CREATING))
    assert [c.metadata.name for c in await store.list_clusters(phase=Phase.ACTIVE)] == ["a"]
    assert [c.metadata.name for c in await store.list_clusters(phase=Phase.CREATING)] == ["c"]
    assert [c.metadata.name for c in await store.list_clusters(phase=Phase.NEW)] == []
    await store.flush()
    assert [c.metadata.name for c in await store.list_clusters(phase=Phase.UPDATING)] == ["b"]


async def test_update_spec_cas_generation_and_labels(store: Store) -> None:
    await store.create_cluster(cluster("a"))
    with pytest.raises(NotFound):
        await store.update_spec("nope", spec(), expected_resource_version=None)
    with pytest.raises(Conflict) as info:
        await store.update_spec("a", spec("1.32"), expected_resource_version="7")
    assert (info.value.expected, info.value.current) == ("7", "1")

    changed = await store.update_spec("a", spec("1.32"), expected_resource_version="1")
    assert (changed.metadata.resource_version, changed.metadata.generation) == ("2", 2)
    assert changed.spec.eks_config.kubernetes_version == "1.32"

    # Same spec, new labels: resourceVersion moves, generation does not.
    relabeled = await store.update_spec("a", spec("1.32"), expected_resource_version="2", labels={"x": "y"})
    assert (relabeled.metadata.resource_version, relabeled.metadata.generation) == ("3", 2)
    assert relabeled.metadata.labels == {"x": "y"}

    # Nothing changes: a no-op, still compare-and-swapped.
    same = await store.update_spec("a", spec("1.32"), expected_resource_version="3")
    assert (same.metadata.resource_version, same.metadata.generation) == ("3", 2)
    with pytest.raises(Conflict):
        await store.update_spec("a", spec("1.33"), expected_resource_version="2")

    unconditional = await store.update_spec("a", spec("1.32", desired=5), expected_resource_version=None)
    assert (unconditional.metadata.resource_version, unconditional.metadata.generation) == ("4", 3)
    assert unconditional.metadata.labels == {"x": "y"}  # labels=None leaves them alone
    assert unconditional.metadata.creation_timestamp == same.metadata.creation_timestamp


async def test_status_writes_do_not_bump_resource_version(store: Store) -> None:
    await store.create_cluster(cluster("a"))
    for i in range(3):
        await store.write_status("a", status(marker=str(i)), durable=True)
    got = await store.get_cluster("a")
    assert got is not None
    assert got.metadata.resource_version == "1"
    assert got.status.last_sync_time == "2"
    # A user's PUT with the resourceVersion read before the status writes still succeeds.
    updated = await store.update_spec("a", spec("1.32"), expected_resource_version="1")
    assert updated.status.last_sync_time == "2"  # the status is untouched by spec writes


async def test_mark_deleting_sets_timestamp_once(store: Store) -> None:
    await store.create_cluster(cluster("a"))
    with pytest.raises(NotFound):
        await store.mark_deleting("nope")
    first = await store.mark_deleting("a")
    assert RFC3339_UTC.match(first.metadata.deletion_timestamp)
    assert (first.metadata.resource_version, first.metadata.generation) == ("2", 1)
    again = await store.mark_deleting("a")
    assert again.metadata.deletion_timestamp == first.metadata.deletion_timestamp
    assert again.metadata.resource_version == "2"


async def test_delete_removes_cluster_events_and_pending_status(backend: Backend) -> None:
    async with backend.open(SLOW_FLUSH) as store:
        await store.create_cluster(cluster("a"))
        await store.append_event("a", Event(time="t", type="Normal", reason="Created", message="m"))
        await store.write_status("a", status(Phase.ACTIVE, "old"))
        assert await store.delete_cluster("a") is True
        assert await store.delete_cluster("a") is False
        assert await store.get_cluster("a") is None
        assert await store.list_events("a") == []
        # Re-created under the same name: the old cluster's status never lands on it.
        await store.create_cluster(cluster("a"))
        await store.flush()
        got = await store.get_cluster("a")
        assert got is not None and got.status.phase == Phase.NEW


async def test_stale_status_of_a_deleted_cluster_never_lands_on_its_successor(backend: Backend) -> None:
    async with backend.open(SLOW_FLUSH) as store:
        await store.create_cluster(cluster("a"))
        await store.delete_cluster("a")
        await store.write_status("a", status(Phase.ACTIVE, "late"))  # an actor still running
        await store.create_cluster(cluster("a"))
        got = await store.get_cluster("a")
        assert got is not None and got.status.phase == Phase.NEW
        await store.flush()
    assert await backend.raw_status("a") == msgspec.json.decode(b"{}", type=type(status()))


# --- status batching ------------------------------------------------------------------------------------
async def test_status_writes_coalesce_into_one_row_write(backend: Backend) -> None:
    async with backend.open(SLOW_FLUSH) as store:
        await store.create_cluster(cluster("a"))
        await store.create_cluster(cluster("b"))
        batches, rows = (
            sample("controlplane_store_batch_size_count"),
            sample("controlplane_store_batch_size_sum"),
        )
        for i in range(100):
            await store.write_status("a", status(marker=str(i)))
        await store.write_status("b", status(marker="b"))
        await store.flush()
        assert sample("controlplane_store_batch_size_count") - batches == 1
        assert sample("controlplane_store_batch_size_sum") - rows == 2
        assert sample("controlplane_store_pending_status_writes") == 0
    assert await backend.raw_status("a") == status(marker="99")


async def test_read_your_writes_before_flush(backend: Backend) -> None:
    async with backend.open(SLOW_FLUSH) as store:
        await store.create_cluster(cluster("a"))
        await store.write_status("a", status(Phase.CREATING, "pending"))
        got = await store.get_cluster("a")
        assert got is not None and got.status == status(Phase.CREATING, "pending")
        listed = await store.list_clusters()
        assert listed[0].status.last_sync_time == "pending"
        marked = await store.mark_deleting("a")
        assert marked.status.last_sync_time == "pending"
        assert await backend.raw_status("a") == msgspec.json.decode(
            b"{}", type=type(status())
        )  # not flushed yet


async def test_background_flusher_commits_after_interval(backend: Backend) -> None:
    async with backend.open(StoreSettings(flush_interval=0.01)) as store:
        await store.create_cluster(cluster("a"))
        await store.write_status("a", status(marker="bg"))
        with anyio.fail_after(2):
            while (found := await backend.raw_status("a")) is None or found.last_sync_time != "bg":
                await anyio.sleep(0.005)


async def test_durable_write_is_committed_when_it_returns(backend: Backend) -> None:
    async with backend.open(SLOW_FLUSH) as store:
        await store.create_cluster(cluster("a"))
        with anyio.fail_after(2):  # does not wait for the 30 s interval
            await store.write_status("a", status(marker="durable"), durable=True)
        assert await backend.raw_status("a") == status(marker="durable")
    async with backend.open() as reopened:
        got = await reopened.get_cluster("a")
        assert got is not None and got.status.last_sync_time == "durable"


async def test_concurrent_durable_writes_share_commits(backend: Backend) -> None:
    async with backend.open(SLOW_FLUSH) as store:
        names = [f"c{i}" for i in range(50)]
        for name in names:
            await store.create_cluster(cluster(name))
        batches = sample("controlplane_store_batch_size_count")

        async def durable(name: str) -> None:
            await store.write_status(name, status(marker=name), durable=True)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for name in names:
                    tg.start_soon(durable, name)
        assert sample("controlplane_store_batch_size_count") - batches <= 3
        for name in names:
            assert await backend.raw_status(name) == status(marker=name)


async def test_backpressure_waits_for_a_flush(backend: Backend) -> None:
    settings = StoreSettings(flush_interval=30.0, max_batch=1, max_pending=2)
    async with backend.open(settings) as store:
        for name in "abc":
            await store.create_cluster(cluster(name))
        await store.write_status("a", status(marker="a"))
        await store.write_status("b", status(marker="b"))
        await store.write_status("a", status(marker="a2"))  # coalesces: no wait
        batches = sample("controlplane_store_batch_size_count")
        with anyio.fail_after(2):  # without backpressure flushing at once, this would take 30 s
            await store.write_status("c", status(marker="c"))  # full: waits for a batch to leave
            while sample("controlplane_store_batch_size_count") == batches:
                await anyio.sleep(0.001)
        assert await backend.raw_status("a") == status(marker="a2")  # the oldest entry was flushed first
        assert sample("controlplane_store_pending_status_writes") <= 2
        await store.flush()
        assert await backend.raw_status("c") == status(marker="c")


async def test_failed_batch_reports_to_durable_writer_and_is_retried(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    def failing_once(real: Any) -> Any:
        def write(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise StoreError("disk I/O error")
            return real(*args, **kwargs)

        return write

    backend.patch_status_batches(monkeypatch, failing_once)
    async with backend.open(StoreSettings(flush_interval=0.005)) as store:
        await store.create_cluster(cluster("a"))
        with pytest.raises(StoreError, match="durable status write"):
            await store.write_status("a", status(marker="x"), durable=True)
        with anyio.fail_after(2):  # the flusher retries the batch after a backoff
            while (found := await backend.raw_status("a")) is None or found.last_sync_time != "x":
                await anyio.sleep(0.005)


async def test_close_flushes_and_everything_survives_a_restart(backend: Backend) -> None:
    async with backend.open(SLOW_FLUSH) as store:
        await store.create_cluster(cluster("a"))
        await store.create_cluster(cluster("b"))
        await store.update_spec("b", spec("1.32"), expected_resource_version="1")
        await store.write_status("a", status(Phase.ACTIVE, "last"))
        await store.append_event("a", Event(time="t1", type="Normal", reason="Created", message="m"))
        await store.put_credential(Credential(namespace="ns", name="c", access_key="AK", secret_key="SK"))
        await store.put_setting("eks-refresh-cron", "*/5 * * * *")
        await store.put_secret("a/token", {"token": "tok"})
        before = await store.list_clusters()
    async with backend.open(SLOW_FLUSH) as reopened:
        assert await reopened.list_clusters() == before
        assert before[0].status.last_sync_time == "last"
        assert [e.reason for e in await reopened.list_events("a")] == ["Created"]
        cred = await reopened.get_credential("ns", "c")
        assert cred is not None and cred.secret_key == "SK"
        assert await reopened.get_setting("eks-refresh-cron") == "*/5 * * * *"
        assert await reopened.get_secret("a/token") == {"token": "tok"}
        # Sequence numbers continue past the stored ones: a new status write is not mistaken for stale.
        await reopened.write_status("a", status(Phase.UPDATING, "after"))
        await reopened.flush()
    assert await backend.raw_status("a") == status(Phase.UPDATING, "after")


# --- events, credentials, settings, secrets --------------------------------------------------------------
async def test_events_bounded_newest_last(backend: Backend) -> None:
    async with backend.open(StoreSettings(events_per_cluster=5)) as store:
        await store.create_cluster(cluster("a"))
        await store.create_cluster(cluster("b"))
        for i in range(8):
            await store.append_event("a", Event(time=f"t{i}", type="Normal", reason=f"r{i}", message=""))
        await store.append_event("b", Event(time="t", type="Warning", reason="other", message=""))
        events = await store.list_events("a")
        assert [e.reason for e in events] == ["r3", "r4", "r5", "r6", "r7"]
        assert {e.cluster for e in events} == {"a"}
        assert [e.reason for e in await store.list_events("a", limit=2)] == ["r6", "r7"]
        assert [e.reason for e in await store.list_events("b")] == ["other"]
        with pytest.raises(NotFound):
            await store.append_event("nope", Event(time="t", type="Normal", reason="r", message=""))


async def test_credentials_round_trip(store: Store) -> None:
    stored = await store.put_credential(
        Credential(namespace="ns", name="b", access_key="AKB", secret_key="SKB", session_token="ST")
    )
    assert stored.created and stored.updated == stored.created
    await store.put_credential(Credential(namespace="ns", name="a", access_key="AKA", secret_key="SKA"))
    replaced = await store.put_credential(
        msgspec.structs.replace(stored, secret_key="SKB2", created="", updated="")
    )
    assert replaced.created == stored.created
    got = await store.get_credential("ns", "b")
    assert got is not None and (got.secret_key, got.session_token) == ("SKB2", "ST")
    assert [c.name for c in await store.list_credentials()] == ["a", "b"]
    assert "SKB2" not in repr(got)
    assert await store.delete_credential("ns", "a") is True
    assert await store.delete_credential("ns", "a") is False
    assert await store.get_credential("ns", "a") is None


async def test_settings(store: Store) -> None:
    assert await store.get_setting("x") is None
    await store.put_setting("x", "1")
    await store.put_setting("x", "2")
    await store.put_setting("a", "")
    assert await store.get_setting("x") == "2"
    assert await store.list_settings() == {"a": "", "x": "2"}


async def test_secrets(store: Store) -> None:
    assert await store.get_secret("s") is None
    await store.put_secret("s", {"token": "t1"})
    await store.put_secret("s", {"token": "t2", "ca": "c"})
    assert await store.get_secret("s") == {"token": "t2", "ca": "c"}
    assert await store.delete_secret("s") is True
    assert await store.delete_secret("s") is False
    assert await store.get_secret("s") is None


# --- lifecycle ---------------------------------------------------------------------------------------
async def test_lifecycle_misuse_is_a_precise_error(backend: Backend) -> None:
    store = backend.open()
    with pytest.raises(StoreClosed, match="not open yet"):
        await store.get_cluster("a")
    with pytest.raises(StoreClosed, match="not open yet"):
        await store.write_status("a", status())
    async with store:
        await store.create_cluster(cluster("a"))
    with pytest.raises(StoreClosed, match="closed"):
        await store.get_cluster("a")
    with pytest.raises(StoreClosed, match="closed"):
        await store.write_status("a", status())
    with pytest.raises(StoreClosed, match="closed"):
        await store.flush()
    with pytest.raises(StoreClosed, match="opens once"):
        await store.__aenter__()
    with pytest.raises(StoreClosed):
        await store.__aexit__(None, None, None)


async def test_close_under_cancellation_still_flushes(backend: Backend) -> None:
    with anyio.CancelScope() as scope:
        async with backend.open(SLOW_FLUSH) as store:
            await store.create_cluster(cluster("a"))
            await store.write_status("a", status(marker="kept"))
            scope.cancel()
            await anyio.sleep(1)
    assert await backend.raw_status("a") == status(marker="kept")
