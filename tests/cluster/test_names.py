"""Any valid cluster name works, including the names of system actors (issue 17).

Today's defect: cluster actors and the scheduler shared one name registry, so a cluster called
``scheduler`` had its messages delivered to the scheduler (which raised), and after a restart the service
refused to start (``DuplicateActor``). Driven through the admin API, as a user would, across a restart.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from controlplane.api import Credential, Phase
from controlplane.metrics import REGISTRY
from controlplane.service import Service
from controlplane.sim import SimSettings, Simulator

from .conftest import FAST, service_settings
from .manifests import imported

pytestmark = pytest.mark.anyio

NAMES = ["scheduler", "system", "cluster"]


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Simulator]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDDEFAULT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "default-secret")
    async with Simulator(SimSettings(time_scale=FAST)) as simulator:
        yield simulator


async def _api(svc: Service, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {svc.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.request(method, f"{svc.url}{path}", json=body) as resp,
    ):
        return resp.status, await resp.json()


async def _wait_synced(svc: Service, name: str) -> dict[str, Any]:
    """Until the cluster is active and refreshed, asking for a refresh again while it is not (a sync
    request that arrives while it is still importing is counted as busy)."""
    with anyio.fail_after(30):
        while True:
            status, body = await _api(svc, "GET", f"/v1/clusters/{name}")
            assert status == 200, body
            st = body.get("status") or {}
            if st.get("phase") == Phase.ACTIVE.value and st.get("lastSyncTime"):
                return body  # type: ignore[no-any-return]
            await _api(svc, "POST", f"/v1/clusters/{name}/sync")
            await anyio.sleep(0.05)


async def test_system_actor_names_work_as_cluster_names(tmp_path: Path, sim: Simulator) -> None:
    settings = service_settings(tmp_path, sim.url)
    async with aiohttp.ClientSession() as http:
        for name in NAMES:
            async with http.post(f"{sim.url}/_sim/clusters", json={"name": name, "region": "us-west-2"}) as r:
                assert r.status == 201
    async with Service(settings) as svc:
        await svc.store.put_credential(
            Credential(namespace="default", name="test", access_key="AKIDTEST", secret_key="test-secret")
        )
        for name in NAMES:
            status, body = await _api(svc, "POST", "/v1/clusters", imported(name))
            assert status == 201, body
        for name in NAMES:
            await _wait_synced(svc, name)
        # The scheduler itself still takes its messages.
        status, body = await _api(svc, "PUT", "/v1/settings/eks-refresh-cron", {"value": "@every 2h"})
        assert status == 200, body
        refreshed = _refreshed()
    # A restart starts every actor (it used to fail with DuplicateActor), and its initial round (spread
    # over 0 s here) refreshes the clusters named like system actors too.
    async with Service(settings) as svc:
        status, body = await _api(svc, "GET", "/readyz")
        assert status == 200, body
        assert sorted(svc.fleet.names()) == sorted(NAMES)
        with anyio.fail_after(30):
            while _refreshed() < refreshed + len(NAMES):
                await anyio.sleep(0.02)
        for name in NAMES:
            status, body = await _api(svc, "POST", f"/v1/clusters/{name}/sync")
            assert status == 202, body


def _refreshed() -> float:
    """Ticks that reached a cluster and found it refreshed (just now, or recently enough)."""
    return sum(
        REGISTRY.get_sample_value("controlplane_sync_ticks_total", {"outcome": outcome}) or 0.0
        for outcome in ("refreshed", "skipped_fresh")
    )


async def test_idle_actors_keep_their_cluster_encoded_and_a_restart_decodes_none(
    tmp_path: Path, sim: Simulator
) -> None:
    # The initial round after the restart is spread over 1,000 s ("parked" is due after 524 s): no tick
    # comes before the checks below.
    settings = service_settings(
        tmp_path, sim.url, sync={"refresh_cron": "@every 1h", "initial_round_spread": 100_000.0}
    )
    body = {"name": "parked", "region": "us-west-2"}
    async with aiohttp.ClientSession() as http, http.post(f"{sim.url}/_sim/clusters", json=body) as r:
        assert r.status == 201
    async with Service(settings) as svc:
        await svc.store.put_credential(
            Credential(namespace="default", name="test", access_key="AKIDTEST", secret_key="test-secret")
        )
        status, body = await _api(svc, "POST", "/v1/clusters", imported("parked"))
        assert status == 201, body
        with anyio.fail_after(20):  # a sync request refreshes it once it is active
            while not ((await _api(svc, "GET", "/v1/clusters/parked"))[1].get("status") or {}).get(
                "lastSyncTime"
            ):
                await _api(svc, "POST", "/v1/clusters/parked/sync")
                await anyio.sleep(0.05)
        actor = svc.fleet.actor("parked")
        assert actor is not None
        with anyio.fail_after(10):
            while actor.mailbox_depth or actor._cluster is not None:
                await anyio.sleep(0.01)
        assert actor._cluster is None  # between messages: only the encoded form
        assert actor.cluster == await svc.store.get_cluster("parked")
    # A restart starts the actor from the stored bytes: nothing is decoded before its first message.
    async with Service(settings) as svc:
        actor = svc.fleet.actor("parked")
        assert actor is not None and actor._cluster is None and actor._encoded is None
        status, _ = await _api(svc, "POST", "/v1/clusters/parked/sync")
        assert status == 202
        with anyio.fail_after(10):  # decoded for the tick, encoded again once it was handled
            while actor._encoded is None or actor.mailbox_depth or actor._cluster is not None:
                await anyio.sleep(0.01)


async def test_the_first_round_after_a_restart_calls_aws_only_for_stale_clusters(
    tmp_path: Path, sim: Simulator
) -> None:
    settings = service_settings(tmp_path, sim.url, sync={"refresh_cron": "@every 1h"})
    names = ["fresh-a", "fresh-b", "fresh-c"]
    async with aiohttp.ClientSession() as http:
        for name in names:
            async with http.post(f"{sim.url}/_sim/clusters", json={"name": name, "region": "us-west-2"}) as r:
                assert r.status == 201
    async with Service(settings) as svc:
        await svc.store.put_credential(
            Credential(namespace="default", name="test", access_key="AKIDTEST", secret_key="test-secret")
        )
        for name in names:
            status, body = await _api(svc, "POST", "/v1/clusters", imported(name))
            assert status == 201, body
        with anyio.fail_after(30):
            for name in names:
                while not ((await _api(svc, "GET", f"/v1/clusters/{name}"))[1].get("status") or {}).get(
                    "lastSyncTime"
                ):
                    await _api(svc, "POST", f"/v1/clusters/{name}/sync")
                    await anyio.sleep(0.05)
    fresh = REGISTRY.get_sample_value("controlplane_sync_ticks_total", {"outcome": "skipped_fresh"}) or 0.0
    async with aiohttp.ClientSession() as http, http.get(f"{sim.url}/_sim/calls") as r:
        before = (await r.json())["eks"].get("DescribeCluster", 0)
    # The restart's initial round (spread over 0 s here) checks in with every cluster; all three were
    # refreshed seconds ago, within the hour-long period: no AWS call.
    async with Service(settings) as svc:
        with anyio.fail_after(10):
            while (
                REGISTRY.get_sample_value("controlplane_sync_ticks_total", {"outcome": "skipped_fresh"})
                or 0.0
            ) < fresh + len(names):
                await anyio.sleep(0.02)
        async with aiohttp.ClientSession() as http, http.get(f"{sim.url}/_sim/calls") as r:
            assert (await r.json())["eks"].get("DescribeCluster", 0) == before
        # An explicit sync request still refreshes at once.
        status, _ = await _api(svc, "POST", "/v1/clusters/fresh-a/sync")
        assert status == 202
        with anyio.fail_after(10):
            while True:
                async with aiohttp.ClientSession() as http, http.get(f"{sim.url}/_sim/calls") as r:
                    if (await r.json())["eks"].get("DescribeCluster", 0) > before:
                        break
                await anyio.sleep(0.02)


async def test_botocore_data_is_loaded_before_the_first_aws_call(tmp_path: Path, sim: Simulator) -> None:
    # No cluster, so no AWS call: EC2's model is there because the service warmed it up before freezing.
    async with Service(service_settings(tmp_path, sim.url)) as svc:
        session: Any = svc.deps.aws._session
        cache = session.get_component("data_loader")._cache
        loaded = {key[1:3] for key in cache if key[0] == "load_service_model"}
        assert ("ec2", "service-2") in loaded and ("cloudformation", "service-2") in loaded
        assert gc.get_freeze_count() > 0
