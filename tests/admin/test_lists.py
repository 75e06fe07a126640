"""``GET /v1/clusters`` pages, filters and summary rows, and ``GET /v1/fleet``, over HTTP."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from controlplane.admin._fleet import support_status
from controlplane.api import Cluster, ClusterStatus, Condition, Phase
from controlplane.store import ClusterQuery, in_conflict

from ._support import AUTH, Api, cluster, running_api

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as api:
        yield api


def _struct(name: str, labels: dict[str, str] | None = None, **eks: Any) -> Cluster:
    doc = cluster(name, **eks)
    doc["metadata"]["labels"] = labels or {}
    return msgspec.convert(doc, type=Cluster)


async def _get(api: Api, path: str, status: int = 200) -> Any:
    resp = await api.client.get(path, headers=AUTH)
    body = await resp.json()
    assert resp.status == status, body
    return body


async def _names(api: Api, query: str) -> list[str]:
    body = await _get(api, f"/v1/clusters?{query}")
    return [c["metadata"]["name"] for c in body["items"]]


async def test_pagination_over_5000_clusters_while_the_fleet_changes(api: Api) -> None:
    for i in range(0, 5000, 2):
        await api.store.create_cluster(_struct(f"c-{i:05d}"))
        await api.store.create_cluster(_struct(f"c-{i + 1:05d}"))
    stable = {f"c-{i:05d}" for i in range(5000) if i % 7}
    doomed = [f"c-{i:05d}" for i in range(0, 5000, 7)]
    created: list[str] = []
    pages = 0
    seen: list[str] = []
    rv = None
    path = "/v1/clusters?limit=500&view=summary"

    async def churn() -> None:
        rng = random.Random(1)
        rng.shuffle(doomed)
        for n, name in enumerate(doomed):
            await api.store.delete_cluster(name)
            fresh = f"c-{rng.randrange(5000):05d}-new{n}"
            await api.store.create_cluster(_struct(fresh))
            created.append(fresh)
            await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(churn)
        while True:
            body = await _get(api, path)
            pages += 1
            rv = rv or body["metadata"]["resourceVersion"]
            assert body["metadata"]["resourceVersion"] == rv  # every page answers the list's position
            seen += [row["name"] for row in body["items"]]
            token = body["metadata"].get("continue")
            if not token:
                break
            path = f"/v1/clusters?limit=500&view=summary&continue={token}"
    counts = Counter(seen)
    assert max(counts.values()) == 1, [n for n, c in counts.items() if c > 1][:5]
    assert stable <= set(seen)  # every cluster that existed throughout, exactly once
    assert set(seen) <= stable | set(doomed) | set(created)
    assert seen == sorted(seen)
    assert pages >= 10


async def test_default_and_maximum_limits(api: Api) -> None:
    for i in range(3):
        await api.store.create_cluster(_struct(f"x-{i}"))
    body = await _get(api, "/v1/clusters")
    assert body["kind"] == "ClusterList"
    assert body["apiVersion"] == "eks-controlplane.io/v1"
    assert "continue" not in body["metadata"]
    assert int(body["metadata"]["resourceVersion"]) == await api.store.head()
    body = await _get(api, "/v1/clusters?limit=2")
    assert [c["metadata"]["name"] for c in body["items"]] == ["x-0", "x-1"]
    token = body["metadata"]["continue"]
    assert await _names(api, f"limit=2&continue={token}") == ["x-2"]
    err = await _get(api, f"/v1/clusters?limit=2&continue={token}&phase=active", 400)
    assert "other filters" in err["error"]
    err = await _get(api, "/v1/clusters?limit=5001", 400)
    assert err["error"] == "invalid limit '5001'; expected an integer from 1 to 5000"


async def test_each_selector_form_and_its_errors(api: Api) -> None:
    fleet = {
        "a": {"env": "prod", "tier": "web", "team": "a"},
        "b": {"env": "prod", "tier": "dev", "team": "b"},
        "c": {"env": "dev", "team": "c"},
        "d": {"legacy": "yes"},
    }
    for name, labels in fleet.items():
        await api.store.create_cluster(_struct(name, labels))
    cases = {
        "env=prod": ["a", "b"],
        "env==prod": ["a", "b"],
        "tier!=dev": ["a", "c", "d"],
        "team in (a,b)": ["a", "b"],
        "team notin (a,b)": ["c", "d"],
        "team": ["a", "b", "c"],
        "!team": ["d"],
        "env=prod,tier!=dev,team in (a,b)": ["a"],
        "": ["a", "b", "c", "d"],
    }
    for selector, expected in cases.items():
        resp = await api.client.get("/v1/clusters", params={"labelSelector": selector}, headers=AUTH)
        names = [c["metadata"]["name"] for c in (await resp.json())["items"]]
        assert names == expected, selector
    resp = await api.client.get("/v1/clusters", params={"labelSelector": "env in prod"}, headers=AUTH)
    assert resp.status == 400
    assert (await resp.json())["error"] == (
        "invalid labelSelector: expected '(' to open a set of values at position 7"
    )
    resp = await api.client.get("/v1/clusters", params={"labelSelector": "Bad_Prefix/x"}, headers=AUTH)
    assert resp.status == 400
    assert "the prefix must be a DNS subdomain" in (await resp.json())["error"]


async def _set_status(api: Api, name: str, status: ClusterStatus) -> None:
    await api.store.write_status(name, status, durable=True)


async def test_status_filters_name_prefix_and_summary_rows(api: Api) -> None:
    for name in ("prod-1", "prod-2", "dev-1"):
        await api.store.create_cluster(_struct(name))
    await _set_status(api, "prod-1", ClusterStatus(phase=Phase.ACTIVE, last_sync_time="2026-01-01T00:00:00Z"))
    await _set_status(
        api,
        "prod-2",
        ClusterStatus(
            phase=Phase.UPDATING,
            conditions=[Condition(type="Conflict", status="True", message="nodeGroups: local kept")],
        ),
    )
    await _set_status(api, "dev-1", ClusterStatus(phase=Phase.ACTIVE, failure_message="AccessDenied"))
    assert await _names(api, "phase=active") == ["dev-1", "prod-1"]
    assert await _names(api, "conflict=true") == ["prod-2"]
    assert await _names(api, "failing=true") == ["dev-1"]
    assert await _names(api, "q=prod-") == ["prod-1", "prod-2"]
    assert await _names(api, "q=prod-&phase=active") == ["prod-1"]
    body = await _get(api, "/v1/clusters?view=summary&q=prod")
    assert body["kind"] == "ClusterSummaryList"
    assert body["items"][0] == {
        "name": "prod-1",
        "phase": "active",
        "version": "1.30",
        "nodeGroups": 1,
        "lastSyncTime": "2026-01-01T00:00:00Z",
        "message": "",
        "conflict": False,
    }
    assert body["items"][1]["phase"] == "updating"
    assert body["items"][1]["conflict"] is True
    assert body["items"][1]["message"] == "Conflict: nodeGroups: local kept"
    dev = (await _get(api, "/v1/clusters?view=summary&q=dev"))["items"][0]
    assert dev["failing"] is True
    assert dev["message"] == "AccessDenied"


async def test_fleet_totals_equal_a_slow_path_count(api: Api) -> None:
    rng = random.Random(4)
    versions = ["1.25", "1.29", "1.31", "1.33", None]
    for i in range(60):
        version = rng.choice(versions)
        c = _struct(f"f-{i:02d}", kubernetesVersion=version)
        await api.store.create_cluster(c)
        phase = rng.choice(list(Phase))
        conditions = [Condition(type="Conflict", status="True", message="x")] if rng.random() < 0.3 else []
        await api.store.write_status(
            c.metadata.name,
            ClusterStatus(
                phase=phase,
                conditions=conditions,
                failure_message="boom" if rng.random() < 0.2 else "",
                last_sync_time=rng.choice(["", "2026-01-01T00:00:00Z", "2020-05-05T00:00:00Z"]),
            ),
        )
    await api.store.flush()
    body = await _get(api, "/v1/fleet")
    # The slow path: every cluster through the list API, counted here.
    every: list[Cluster] = []
    after = ""
    while True:
        page = await api.store.list_page(ClusterQuery(), after=after, limit=7)
        every += page.items
        if not page.more:
            break
        after = page.items[-1].metadata.name
    assert body["total"] == len(every) == 60
    assert body["byPhase"] == dict(Counter(c.status.phase.value or "new" for c in every))
    assert body["byVersion"] == dict(
        Counter(c.spec.eks_config.kubernetes_version or "unknown" for c in every)
    )
    assert body["conflict"] == sum(in_conflict(c) for c in every)
    assert body["failing"] == sum(bool(c.status.failure_message) for c in every)
    today = dt.datetime.now(dt.UTC).date()
    states = Counter(support_status(c.spec.eks_config.kubernetes_version or "", today) for c in every)
    assert body["pastExtendedSupport"] == states["ended"] > 0
    assert body["extendedSupport"] == states["extended"]
    synced = [c.status.last_sync_time for c in every if c.status.last_sync_time]
    assert body["refreshLag"]["neverSynced"] == 60 - len(synced)
    assert body["refreshLag"]["oldestSyncTime"] == min(synced)
    assert body["refreshLag"]["olderThan"]["3600"] == len(synced)
    assert body["refreshLag"]["maxSeconds"] > 86400
    assert body["replica"] == "test-replica"
    assert body["awsCallsTotal"] >= 0


def test_support_status_follows_the_eks_calendar() -> None:
    assert support_status("1.29", dt.date(2025, 3, 1)) == "standard"
    assert support_status("1.29", dt.date(2025, 4, 1)) == "extended"
    assert support_status("1.29", dt.date(2026, 3, 24)) == "ended"
    assert support_status("1.20", dt.date(2020, 1, 1)) == "ended"  # older than the table
    assert support_status("1.99", dt.date(2030, 1, 1)) == "standard"  # newer than the table
    assert support_status("", dt.date(2030, 1, 1)) == "unknown"
