"""Bulk actions by selector (sync, merge patch, dry run) and metadata edits (labels, annotations)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from controlplane.api import Cluster

from ._support import AUTH, Api, cluster, running_api

pytestmark = pytest.mark.anyio
PATCH = {**AUTH, "Content-Type": "application/merge-patch+json"}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as api:
        for name, env in (("a", "prod"), ("b", "prod"), ("c", "dev")):
            doc = cluster(name)
            doc["metadata"]["labels"] = {"env": env}
            await api.store.create_cluster(msgspec.convert(doc, type=Cluster))
        yield api


async def _call(api: Api, method: str, path: str, status: int, body: Any = None) -> Any:
    resp = await api.client.request(method, path, json=body, headers=PATCH if body is not None else AUTH)
    answer = await resp.json()
    assert resp.status == status, answer
    return answer


async def test_bulk_sync_by_selector(api: Api) -> None:
    start = await api.store.head()
    answer = await _call(api, "POST", "/v1/clusters:sync?labelSelector=env%3Dprod&dryRun=All", 200)
    assert answer == {
        "dryRun": True,
        "matched": 2,
        "results": {"would sync": 2},
        "items": [{"name": "a", "result": "would sync"}, {"name": "b", "result": "would sync"}],
    }
    assert await api.store.head() == start  # a dry run writes nothing
    answer = await _call(api, "POST", "/v1/clusters:sync?labelSelector=env%3Dprod", 200)
    assert answer["results"] == {"sync queued": 2}
    assert [(c.kind.value, c.name) for c in await api.store.changes_since(start)] == [
        ("sync", "a"),
        ("sync", "b"),
    ]
    answer = await _call(api, "POST", "/v1/clusters:sync", 400)
    assert "a bulk action needs a selection" in answer["error"]
    answer = await _call(api, "POST", "/v1/clusters:sync?labelSelector=", 200)
    assert answer["matched"] == 3
    answer = await _call(api, "POST", "/v1/clusters:sync?labelSelector=env%20in", 400)
    assert "invalid labelSelector" in answer["error"]


async def test_bulk_patch_dry_run_then_for_real(api: Api) -> None:
    patch = {
        "metadata": {"labels": {"tier": "gold"}},
        "spec": {"eksConfig": {"tags": {"env": "test", "x": "1"}}},
    }
    start = await api.store.head()
    answer = await _call(api, "PATCH", "/v1/clusters?labelSelector=env%3Dprod&dryRun=All", 200, patch)
    assert answer["dryRun"] is True
    assert answer["results"] == {"would patch": 2}
    assert answer["items"][0] == {
        "name": "a",
        "result": "would patch",
        "changes": ["metadata.labels.tier", "spec.eksConfig.tags.x"],
    }
    assert await api.store.head() == start
    answer = await _call(api, "PATCH", "/v1/clusters?labelSelector=env%3Dprod", 200, patch)
    assert answer["results"] == {"patched": 2}
    a = await api.store.get_cluster("a")
    assert a is not None
    assert a.metadata.labels == {"env": "prod", "tier": "gold"}
    assert a.spec.eks_config.tags == {"env": "test", "x": "1"}
    c = await api.store.get_cluster("c")
    assert c is not None and "tier" not in c.metadata.labels
    answer = await _call(api, "PATCH", "/v1/clusters?labelSelector=env%3Dprod", 200, patch)
    assert answer["results"] == {"unchanged": 2}


async def test_bulk_patch_reports_each_invalid_cluster(api: Api) -> None:
    bad = {"spec": {"eksConfig": {"kubernetesVersion": "banana"}}}
    answer = await _call(api, "PATCH", "/v1/clusters?q=a", 200, bad)
    (item,) = answer["items"]
    assert item["result"] == "failed"
    assert item["errors"][0]["path"] == "spec.eksConfig.kubernetesVersion"
    answer = await _call(api, "PATCH", "/v1/clusters?q=a", 422, {"metadata": {"resourceVersion": "1"}})
    assert answer["errors"][0]["path"] == "metadata.resourceVersion"
    await _call(api, "PATCH", "/v1/clusters", 400, {"metadata": {"labels": {"x": "y"}}})


async def test_annotations_are_edited_by_patch_and_put(api: Api) -> None:
    body = await _call(api, "PATCH", "/v1/clusters/a", 200, {"metadata": {"annotations": {"owner": "ops"}}})
    assert body["metadata"]["annotations"] == {"owner": "ops"}
    rv = body["metadata"]["resourceVersion"]
    stored = await api.store.get_cluster("a")
    assert stored is not None and stored.metadata.annotations == {"owner": "ops"}
    body = await _call(
        api, "PATCH", "/v1/clusters/a", 200, {"metadata": {"annotations": {"owner": None, "note": "x"}}}
    )
    assert body["metadata"]["annotations"] == {"note": "x"}
    assert int(body["metadata"]["resourceVersion"]) == int(rv) + 1
    body = await _call(api, "PATCH", "/v1/clusters/a", 422, {"metadata": {"annotations": {"n": 1}}})
    assert body["errors"][0]["path"].startswith("metadata.annotations")
    doc = cluster("a")
    doc["metadata"]["annotations"] = {"put": "yes"}
    resp = await api.client.put("/v1/clusters/a", json=doc, headers=AUTH)
    assert resp.status == 200
    assert (await resp.json())["metadata"]["annotations"] == {"put": "yes"}
    del doc["metadata"]["annotations"]  # a manifest without annotations keeps them
    resp = await api.client.put("/v1/clusters/a", json=doc, headers=AUTH)
    assert (await resp.json())["metadata"]["annotations"] == {"put": "yes"}
