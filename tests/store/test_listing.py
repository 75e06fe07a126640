"""Paged, filtered lists and fleet totals: the SQL pushdown selects exactly what ``matches`` defines, pages
return every cluster once, and the aggregate totals equal a slow count over every cluster."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlplane.api import Cluster, ClusterStatus, Condition, Phase
from controlplane.store import (
    ClusterQuery,
    LabelOp,
    LabelRequirement,
    Store,
    StoreSettings,
    in_conflict,
    matches,
)
from controlplane.store import _sqlite_list as listing
from controlplane.store import _sqlite_ops as ops
from controlplane.store._codec import decode_clusters, decode_digests
from controlplane.store._query import prefix_upper_bound
from controlplane.store._sqlite_schema import migrate

from ._backends import Backend
from ._helpers import cluster, spec

pytestmark = pytest.mark.anyio

KEYS = ("env", "tier", "team", "example.com/owner")
VALUES = ("prod", "dev", "a", "b", "")
PHASES = list(Phase)
NAMES = [f"{p}-{i:03d}" for p in ("alpha", "beta", "betamax", "gamma") for i in range(30)]


def _random_fleet(seed: int) -> list[Cluster]:
    rng = random.Random(seed)
    out: list[Cluster] = []
    for name in NAMES:
        labels = {k: rng.choice(VALUES) for k in KEYS if rng.random() < 0.6}
        c = cluster(name, labels=labels)
        c.spec = spec(rng.choice(["1.29", "1.30", "1.31"]))
        conditions = [Condition(type="Provisioned", status="True")]
        if rng.random() < 0.2:
            conditions.append(Condition(type="Conflict", status=rng.choice(["True", "False"]), message="x"))
        c.status = ClusterStatus(
            phase=rng.choice(PHASES),
            failure_message="boom" if rng.random() < 0.15 else "",
            conditions=conditions,
            last_sync_time=rng.choice(["", "2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z"]),
        )
        out.append(c)
    return out


FLEET = _random_fleet(5)


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """A migrated database holding FLEET, written through the store's own SQL functions."""
    path = tmp_path_factory.mktemp("listing") / "store.db"
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    migrate(db)
    for seq, c in enumerate(FLEET, start=1):
        stored = msgspec.structs.replace(
            c, metadata=msgspec.structs.replace(c.metadata, resource_version="1")
        )
        ops.insert_cluster(db, stored, seq, 8)
    yield db
    db.close()


requirements = st.builds(
    LabelRequirement,
    key=st.sampled_from(KEYS),
    op=st.sampled_from(list(LabelOp)),
    values=st.lists(st.sampled_from(VALUES), min_size=1, max_size=3).map(tuple),
).map(
    lambda r: (
        msgspec.structs.replace(r, values=())
        if r.op in (LabelOp.EXISTS, LabelOp.NOT_EXISTS)
        else msgspec.structs.replace(r, values=r.values[:1])
        if r.op in (LabelOp.EQUALS, LabelOp.NOT_EQUALS)
        else r
    )
)
queries = st.builds(
    ClusterQuery,
    labels=st.lists(requirements, max_size=3).map(tuple),
    phase=st.none() | st.sampled_from(PHASES),
    name_prefix=st.sampled_from(["", "beta", "betam", "g", "zzz", "alpha-01"]),
    conflict=st.booleans(),
    failing=st.booleans(),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(query=queries)
def test_pushdown_selects_exactly_what_matches_defines(conn: sqlite3.Connection, query: ClusterQuery) -> None:
    pushed = [c.metadata.name for c, _ in listing.scan_page(conn, query, "", 10_000, decode_clusters)]
    assert pushed == [c.metadata.name for c in FLEET if matches(query, c)]
    digests = [d.metadata.name for d, _ in listing.scan_page(conn, query, "", 10_000, decode_digests)]
    assert digests == pushed


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(query=queries, after=st.sampled_from(["", "alpha-029", "beta-5", "gamma-029", "zz"]))
def test_pushdown_starts_after_the_given_name(
    conn: sqlite3.Connection, query: ClusterQuery, after: str
) -> None:
    pushed = [c.metadata.name for c, _ in listing.scan_page(conn, query, after, 10_000, decode_clusters)]
    assert pushed == [c.metadata.name for c in FLEET if matches(query, c) and c.metadata.name > after]


@given(prefix=st.text(min_size=1, max_size=4), name=st.text(max_size=6))
def test_prefix_upper_bound_brackets_exactly_the_names_with_the_prefix(prefix: str, name: str) -> None:
    upper = prefix_upper_bound(prefix)
    in_range = name >= prefix and (upper is None or name < upper)
    assert in_range == name.startswith(prefix)
    # Code-point order is UTF-8 byte order, which is how SQLite compares TEXT.
    if upper is not None and name.startswith(prefix):
        assert name.encode("utf-8", "surrogatepass") < upper.encode("utf-8", "surrogatepass")


def test_label_requirement_semantics() -> None:
    labels = {"env": "prod"}
    assert LabelRequirement("env", LabelOp.EQUALS, ("prod",)).matches(labels)
    assert not LabelRequirement("env", LabelOp.NOT_EQUALS, ("prod",)).matches(labels)
    assert LabelRequirement("tier", LabelOp.NOT_EQUALS, ("dev",)).matches(labels)  # absent key matches !=
    assert LabelRequirement("tier", LabelOp.NOT_IN, ("dev",)).matches(labels)
    assert not LabelRequirement("tier", LabelOp.IN, ("dev",)).matches(labels)
    assert LabelRequirement("env", LabelOp.EXISTS).matches(labels)
    assert LabelRequirement("tier", LabelOp.NOT_EXISTS).matches(labels)


def test_fleet_totals_equal_a_slow_count(conn: sqlite3.Connection) -> None:
    now = time.time()
    totals = listing.fleet_totals(conn, now, [60, 3600])
    assert totals.total == len(FLEET)
    by_phase: dict[str, int] = {}
    by_version: dict[str, int] = {}
    for c in FLEET:
        by_phase[c.status.phase.value] = by_phase.get(c.status.phase.value, 0) + 1
        v = c.spec.eks_config.kubernetes_version or ""
        by_version[v] = by_version.get(v, 0) + 1
    assert totals.by_phase == by_phase
    assert totals.by_version == by_version
    assert totals.conflict == sum(in_conflict(c) for c in FLEET)
    assert totals.failing == sum(bool(c.status.failure_message) for c in FLEET)
    synced = [c.status.last_sync_time for c in FLEET if c.status.last_sync_time]
    assert totals.never_synced == len(FLEET) - len(synced)
    assert totals.oldest_sync == min(synced)
    old = sum(t == "2026-01-01T00:00:00Z" for t in synced) if now > 1767225600 + 3600 else 0
    assert totals.sync_older_than[3600] == old


# --- through the store, against every backend ------------------------------------------------------


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    async with backend.open(StoreSettings(flush_interval=10.0)) as s:
        yield s


async def _everything(store: Store, query: ClusterQuery, limit: int) -> list[str]:
    """Every name the pages hold; the pages of digests must be the same pages."""
    names: list[str] = []
    after = ""
    while True:
        page = await store.list_page(query, after=after, limit=limit)
        digests = await store.list_digests(query, after=after, limit=limit)
        names += [c.metadata.name for c in page.items]
        assert [d.metadata.name for d in digests.items] == [c.metadata.name for c in page.items]
        assert digests.more == page.more
        assert len(page.items) <= limit
        if not page.more:
            return names
        after = page.items[-1].metadata.name


async def test_pages_select_exactly_what_matches_defines(store: Store) -> None:
    for c in FLEET:
        await store.create_cluster(c)
        await store.write_status(c.metadata.name, c.status)
    await store.flush()
    stored = {c.metadata.name: c for c in FLEET}
    rng = random.Random(9)
    for _ in range(40):
        query = _random_query(rng)
        expected = {n for n, c in stored.items() if matches(query, c)}
        names = await _everything(store, query, rng.choice([1, 7, 50]))
        assert len(names) == len(set(names)), query  # none twice
        assert set(names) == expected, query
    totals = await store.fleet_totals(sync_older_than=[3600])
    assert totals.total == len(FLEET)
    assert totals.conflict == sum(in_conflict(c) for c in FLEET)
    assert totals.failing == sum(bool(c.status.failure_message) for c in FLEET)
    assert totals.by_phase == dict(Counter(c.status.phase.value for c in FLEET))
    assert totals.by_version == dict(Counter(c.spec.eks_config.kubernetes_version or "" for c in FLEET))
    synced = [c.status.last_sync_time for c in FLEET if c.status.last_sync_time]
    assert totals.never_synced == len(FLEET) - len(synced)
    assert totals.oldest_sync == min(synced)
    cutoff = time.time() - 3600
    old = sum(dt.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() < cutoff for t in synced)
    assert totals.sync_older_than == {3600: old}


def _random_query(rng: random.Random) -> ClusterQuery:
    labels: list[LabelRequirement] = []
    for _ in range(rng.randrange(3)):
        op = rng.choice(list(LabelOp))
        count = (
            0
            if op in (LabelOp.EXISTS, LabelOp.NOT_EXISTS)
            else 1
            if op in (LabelOp.EQUALS, LabelOp.NOT_EQUALS)
            else 2
        )
        labels.append(LabelRequirement(rng.choice(KEYS), op, tuple(rng.sample(VALUES, count))))
    return ClusterQuery(
        labels=tuple(labels),
        phase=rng.choice([None, *PHASES]),
        name_prefix=rng.choice(["", "beta", "betam", "g", "zzz"]),
        conflict=rng.random() < 0.2,
        failing=rng.random() < 0.2,
    )


async def test_pages_cover_every_cluster_once(store: Store) -> None:
    for i in range(57):
        await store.create_cluster(cluster(f"c-{i:03d}", labels={"odd": str(i % 2)}))
    assert await _everything(store, ClusterQuery(), 10) == [f"c-{i:03d}" for i in range(57)]
    odd = ClusterQuery(labels=(LabelRequirement("odd", LabelOp.EQUALS, ("1",)),))
    page = await store.list_page(odd, limit=28)
    assert [c.metadata.name for c in page.items] == [f"c-{i:03d}" for i in range(1, 57, 2)]
    assert not page.more
    page = await store.list_page(odd, limit=27)
    assert page.more
    with pytest.raises(ValueError, match="limit"):
        await store.list_page(odd, limit=0)
    with pytest.raises(ValueError, match="limit"):
        await store.list_digests(odd, limit=0)


async def test_status_filters_see_the_unflushed_status(store: Store) -> None:
    await store.create_cluster(cluster("a"))
    await store.create_cluster(cluster("b"))
    # flush_interval is 10 s: this status is pending, yet the page shows it (read-your-writes) ...
    await store.write_status("a", ClusterStatus(phase=Phase.ACTIVE, failure_message="no"))
    page = await store.list_page(ClusterQuery(), limit=10)
    assert page.items[0].status.failure_message == "no"
    # ... and a filter that the committed row passes is re-judged on the overlaid status.
    page = await store.list_page(ClusterQuery(phase=Phase.NEW), limit=10)
    assert [c.metadata.name for c in page.items] == ["b"]
    # Digests too: the pending status is decoded as a digest's status and re-judged the same way.
    digests = await store.list_digests(ClusterQuery(), limit=10)
    assert [(d.status.phase, d.status.failure_message) for d in digests.items] == [
        (Phase.ACTIVE, "no"),
        (Phase.NEW, ""),
    ]
    digests = await store.list_digests(ClusterQuery(phase=Phase.NEW), limit=10)
    assert [d.metadata.name for d in digests.items] == ["b"]
    got = await store.get_clusters(["a", "b", "missing"])
    assert sorted(got) == ["a", "b"]
    assert got["a"].status.phase is Phase.ACTIVE
    assert await store.get_clusters([]) == {}
    totals = await store.fleet_totals(sync_older_than=[60])
    assert totals.total == 2
    assert totals.sync_older_than == {60: 0}
