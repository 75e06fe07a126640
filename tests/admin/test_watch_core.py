"""The pure part of watches: collapsing a feed page into events, and which events a filtered watch sends."""

from __future__ import annotations

import json
from typing import cast

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlplane.admin._watch import WRITE_BATCH, Watch, WatchEvent, WatchHub, events_from, verdict
from controlplane.api import Cluster, ClusterStatus, Metadata, Phase
from controlplane.config import AdminSettings
from controlplane.store import Change, ChangeKind, ClusterQuery, LabelOp, LabelRequirement, Store, StoreError

K = ChangeKind


def _changes(*items: tuple[K, str]) -> list[Change]:
    return [Change(seq, kind, name, 0.0) for seq, (kind, name) in enumerate(items, start=1)]


def _cluster(name: str, labels: dict[str, str] | None = None, phase: Phase = Phase.NEW) -> Cluster:
    return Cluster(metadata=Metadata(name=name, labels=labels or {}), status=ClusterStatus(phase=phase))


def test_a_page_collapses_per_cluster_in_feed_order() -> None:
    changes = _changes(
        (K.CREATED, "a"),
        (K.STATUS, "b"),
        (K.STATUS, "a"),
        (K.SYNC, "b"),
        (K.SETTING, "eks-refresh-cron"),
        (K.DELETED, "c"),
        (K.STATUS, "gone"),
    )
    events = events_from(changes, {"a": _cluster("a"), "b": _cluster("b")})
    assert [(e.type, e.name, e.seq) for e in events] == [
        ("MODIFIED", "b", 2),
        ("ADDED", "a", 3),
        ("DELETED", "c", 6),
    ]


def test_delete_then_create_is_added_and_create_then_delete_is_deleted() -> None:
    events = events_from(_changes((K.DELETED, "a"), (K.CREATED, "a")), {"a": _cluster("a")})
    assert [(e.type, e.name) for e in events] == [("ADDED", "a")]
    events = events_from(_changes((K.CREATED, "a"), (K.DELETED, "a")), {})
    assert [(e.type, e.name) for e in events] == [("DELETED", "a")]


@given(st.lists(st.tuples(st.sampled_from(list(K)), st.sampled_from("abc")), max_size=20))
def test_events_are_one_per_cluster_in_increasing_order(items: list[tuple[K, str]]) -> None:
    changes = _changes(*items)
    events = events_from(changes, {n: _cluster(n) for n in "abc"})
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs))
    assert len({e.name for e in events}) == len(events)
    for e in events:  # each event stands for its cluster's last change in the page
        assert max(c.seq for c in changes if c.name == e.name and c.kind not in (K.SYNC,)) >= e.seq


def _event(type_: str, cluster: Cluster | None, *kinds: K) -> WatchEvent:
    name = cluster.metadata.name if cluster else "x"
    return WatchEvent(9, type_, name, cluster, frozenset(kinds))


def test_verdicts_of_a_filtered_watch() -> None:
    prod = ClusterQuery(labels=(LabelRequirement("env", LabelOp.EQUALS, ("prod",)),))
    active = ClusterQuery(phase=Phase.ACTIVE)
    dev = _cluster("a", {"env": "dev"})
    assert verdict(prod, _event("ADDED", _cluster("a", {"env": "prod"}), K.CREATED)) == "ADDED"
    assert verdict(prod, _event("ADDED", dev, K.CREATED)) is None
    assert verdict(prod, _event("MODIFIED", dev, K.UPDATED)) == "DELETED"  # labels moved it out
    assert verdict(prod, _event("MODIFIED", dev, K.STATUS)) is None  # a status cannot change labels
    assert verdict(active, _event("MODIFIED", dev, K.STATUS)) == "DELETED"
    assert verdict(active, _event("MODIFIED", dev, K.UPDATED)) is None
    assert verdict(prod, _event("DELETED", None, K.DELETED)) == "DELETED"
    assert verdict(ClusterQuery(name_prefix="y"), _event("DELETED", None, K.DELETED)) is None
    assert verdict(ClusterQuery(), _event("MODIFIED", dev, K.STATUS)) == "MODIFIED"


def _modified(seq: int, labels: dict[str, str] | None = None) -> WatchEvent:
    return WatchEvent(seq, "MODIFIED", f"c{seq}", _cluster(f"c{seq}", labels), frozenset({K.STATUS}))


def _hub(buffer: int = 16) -> WatchHub:
    # Nothing is replayed (watches start at the hub's position), so the store is never read.
    return WatchHub(cast(Store, None), AdminSettings(watch_buffer=buffer, watch_bookmark_interval=30.0))


async def _sent(watch: Watch) -> list[bytes]:
    """What ``watch`` writes of the events published so far (it is ended after its first write)."""
    writes: list[bytes] = []

    async def write(data: bytes) -> None:
        writes.append(data)
        watch.end("client")  # the stream returns before its next wait

    await watch.stream(write, interval=30.0)
    return writes


@pytest.mark.anyio
async def test_the_events_published_for_a_watch_go_out_in_one_write() -> None:
    hub = _hub()
    watch = hub.open(ClusterQuery(), "summary", None, "owner")
    hub.publish([_modified(seq) for seq in range(1, 6)])
    writes = await _sent(watch)
    assert len(writes) == 1
    lines = [json.loads(line) for line in writes[0].splitlines()]
    assert [(e["type"], e["resourceVersion"], e["object"]["name"]) for e in lines] == [
        ("MODIFIED", str(seq), f"c{seq}") for seq in range(1, 6)
    ]
    assert watch.sent == 5


@pytest.mark.anyio
async def test_watches_share_one_log_and_each_sends_what_its_filter_selects() -> None:
    hub = _hub()
    everything = hub.open(ClusterQuery(), "summary", None, "owner")
    prod_only = ClusterQuery(labels=(LabelRequirement("env", LabelOp.EQUALS, ("prod",)),))
    prod = hub.open(prod_only, "summary", None, "owner")
    hub.publish([_modified(1, {"env": "dev"}), _modified(2, {"env": "prod"}), _modified(3)])
    names = [json.loads(line)["object"]["name"] for line in (await _sent(prod))[0].splitlines()]
    assert names == ["c2"]
    assert prod.sent == 2
    # The log keeps the events until the last watch has taken them, then drops them at the next page.
    hub.publish([])
    assert len(hub._log) == 3
    assert len((await _sent(everything))[0].splitlines()) == 3
    hub.publish([])
    assert hub._log == []


@pytest.mark.anyio
async def test_a_watch_further_behind_than_the_buffer_is_ended_and_the_log_trimmed() -> None:
    hub = _hub(buffer=4)
    slow = hub.open(ClusterQuery(), "summary", None, "owner")
    keeping_up = hub.open(ClusterQuery(), "summary", None, "owner")
    hub.publish([_modified(seq) for seq in range(1, 4)])
    assert [e.seq for e in hub.take(keeping_up)] == [1, 2, 3]
    hub.publish([_modified(4), _modified(5)])  # slow is 5 behind, over the 4 allowed
    assert slow.reason == "slow_reader" and slow.scope.cancel_called
    assert keeping_up.reason == "client" and not keeping_up.scope.cancel_called
    assert len(hub._log) == 2  # only what keeping_up has not taken
    assert hub.take(slow) == []  # a dropped position yields nothing, never another watch's events


@pytest.mark.anyio
async def test_a_long_backlog_goes_out_in_bounded_writes() -> None:
    hub = _hub(buffer=1000)
    watch = hub.open(ClusterQuery(), "summary", None, "owner")
    hub.publish([_modified(seq) for seq in range(1, WRITE_BATCH * 2 + 2)])
    writes: list[bytes] = []

    async def write(data: bytes) -> None:
        writes.append(data)

    async def stop_after_writing() -> None:
        await watch.stream(write, interval=30.0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(stop_after_writing)
        with anyio.fail_after(5):
            while watch.sent < WRITE_BATCH * 2 + 1:
                await anyio.sleep(0)
        watch.end("client")
        hub.publish([])  # wakes it to see that it was ended
    assert [len(w.splitlines()) for w in writes] == [WRITE_BATCH, WRITE_BATCH, 1]


class _FeedDown:
    """A store whose change feed fails after the hub has read its head."""

    async def head(self) -> int:
        return 0

    async def wait_for_change(self, after: int) -> int:
        raise StoreError("sqlite: disk I/O error")


@pytest.mark.anyio
async def test_a_quiet_watch_still_bookmarks_while_the_feed_cannot_be_read() -> None:
    hub = WatchHub(cast(Store, _FeedDown()), AdminSettings(watch_buffer=16, watch_bookmark_interval=0.2))
    watch = hub.open(ClusterQuery(), "summary", None, "owner")
    writes: list[bytes] = []

    async def write(data: bytes) -> None:
        writes.append(data)
        watch.end("client")

    async with anyio.create_task_group() as tg:
        tg.start_soon(hub.run)
        with anyio.fail_after(5):
            await watch.stream(write, interval=0.2)
        tg.cancel_scope.cancel()
    assert [json.loads(line)["type"] for line in writes] == ["BOOKMARK"]
