"""``get`` with selections, pages and ``--watch``; ``sync``/``patch`` by selector; ``top``."""

from __future__ import annotations

import json

import anyio
import msgspec
import pytest

from controlplane.admin._keys import HUB
from controlplane.api import Cluster, ClusterStatus, Condition, Phase
from controlplane.cli._top import render

from ..admin._support import Api, cluster
from ._support import Run

pytestmark = pytest.mark.anyio


async def _fleet(api: Api) -> None:
    for name, env in (("a", "prod"), ("b", "prod"), ("c", "dev")):
        doc = cluster(name)
        doc["metadata"]["labels"] = {"env": env}
        await api.store.create_cluster(msgspec.convert(doc, type=Cluster))


async def test_get_selects_and_pages_transparently(api: Api, run: Run) -> None:
    await _fleet(api)
    code, out, err = await run("get", "-l", "env=prod", "--limit", "1")
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()] == ["NAME", "a", "b"]
    code, out, err = await run("get", "--limit", "2", "-o", "json")
    doc = json.loads(out)
    assert [c["metadata"]["name"] for c in doc["items"]] == ["a", "b", "c"]
    assert doc["metadata"]["resourceVersion"]
    code, out, _ = await run("get", "--prefix", "c", "-o", "json")
    assert [c["metadata"]["name"] for c in json.loads(out)["items"]] == ["c"]
    code, _, err = await run("get", "-l", "env in prod")
    assert code == 1
    assert "invalid labelSelector: expected '(' to open a set of values" in err
    code, _, err = await run("get", "a", "-l", "env=prod")
    assert code == 1
    assert "cannot be combined with NAME" in err


async def test_get_watch_prints_the_list_then_each_change(api: Api, run: Run) -> None:
    await _fleet(api)
    async with anyio.create_task_group() as tg:
        result: list[tuple[int, str, str]] = []

        async def watch() -> None:
            result.append(await run("get", "-l", "env=prod", "--watch", "--watch-timeout", "2", "-o", "json"))

        tg.start_soon(watch)
        hub = api.client.app[HUB]  # type: ignore[index]
        with anyio.fail_after(10):
            while hub.watches < 1:  # the watch is open once the hub counts it
                await anyio.sleep(0.01)
        doc = cluster("d")
        doc["metadata"]["labels"] = {"env": "prod"}
        await api.store.create_cluster(msgspec.convert(doc, type=Cluster))
        await api.store.create_cluster(msgspec.convert(cluster("e"), type=Cluster))  # not selected
    code, out, err = result[0]
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line.get("metadata", {}).get("name") for line in lines[:2]] == ["a", "b"]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines[2:]] == [("ADDED", "d")]


async def test_sync_and_patch_by_selector(api: Api, run: Run) -> None:
    await _fleet(api)
    start = await api.store.head()
    code, out, err = await run("sync", "-l", "env=prod", "--dry-run")
    assert code == 0, err
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["NAME", "RESULT"],
        ["a", "would"],
        ["b", "would"],
    ]
    assert "dry run: 2 cluster(s) selected: 2 would sync" in err
    assert await api.store.head() == start
    code, out, err = await run("sync", "-l", "env=prod")
    assert code == 0, err
    assert [(c.kind.value, c.name) for c in await api.store.changes_since(start)] == [
        ("sync", "a"),
        ("sync", "b"),
    ]
    code, _, err = await run("sync")
    assert code == 1
    assert "give a cluster NAME or a selection" in err

    patch = "{metadata: {labels: {tier: gold}}}"
    code, out, err = await run("patch", "-l", "env=prod", "-p", patch, "--dry-run")
    assert code == 0, err
    assert "a      would patch   metadata.labels.tier" in out
    a = await api.store.get_cluster("a")
    assert a is not None and "tier" not in a.metadata.labels
    code, out, err = await run("patch", "-l", "env=prod", "-p", patch)
    assert code == 0, err
    assert "2 cluster(s) selected: 2 patched" in err
    a = await api.store.get_cluster("a")
    assert a is not None and a.metadata.labels == {"env": "prod", "tier": "gold"}
    code, out, err = await run(
        "patch", "c", "-p", '{"metadata": {"labels": {"tier": "bronze"}}}', "--dry-run"
    )
    assert code == 0, err
    assert "c      would patch   metadata.labels.tier" in out
    code, out, err = await run("patch", "c", "-p", '{"metadata": {"labels": {"tier": "bronze"}}}')
    assert (code, out.strip()) == (0, "cluster/c patched"), err
    code, out, err = await run("patch", "-l", "env=prod", "-p", "{spec: {eksConfig: {kubernetesVersion: x}}}")
    assert code == 1
    assert "failed" in out
    code, _, err = await run("patch", "c", "-p", "[1, 2]")
    assert code == 1
    assert "a merge patch must be an object" in err


async def test_top_once(api: Api, run: Run) -> None:
    await _fleet(api)
    await api.store.write_status(
        "b",
        ClusterStatus(
            phase=Phase.ACTIVE, conditions=[Condition(type="Conflict", status="True", message="m")]
        ),
        durable=True,
    )
    code, out, err = await run("top", "--once")
    assert code == 0, err
    assert out.startswith("FLEET      3 clusters    replica test-replica")
    assert "conflict 1   failing 0" in out
    assert "b      active   1.30" in out


def test_render_a_frame() -> None:
    fleet = {
        "total": 2,
        "byPhase": {"active": 1, "new": 1},
        "byVersion": {"1.31": 2},
        "conflict": 0,
        "failing": 1,
        "extendedSupport": 0,
        "pastExtendedSupport": 2,
        "refreshLag": {"oldestSyncTime": "", "neverSynced": 1, "olderThan": {"60": 1, "3600": 0}},
        "replica": "r1",
        "time": 0,
    }
    rows = [{"name": "x", "phase": "active", "version": "1.31", "lastSyncTime": "", "message": "boom"}]
    frame = render(fleet, rows, 2.5)
    assert "PHASE      active 1   new 1" in frame
    assert "past extended support 2" in frame
    assert "REFRESH    oldest sync -   >1m 1   >1h 0" in frame
    assert "AWS        2.5 calls/s" in frame
    assert frame.splitlines()[-1].split() == ["x", "active", "1.31", "-", "boom"]
    assert render(fleet, [], None).endswith("Nothing needs attention.")
