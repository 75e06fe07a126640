"""A cluster that can make no progress shows why, and costs bounded work (issue 15.10).

Found by running eks-operator's ``import-example.yaml`` (no region) against the service: the actor
crashed on every pass with ``ValueError("an AWS scope needs a region")``, was restarted in a tight loop
(about 90,000 log lines in 40 s), and phase, failureMessage and conditions stayed empty.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from actors import ActorError, Supervision
from controlplane import service as service_module
from controlplane.api import Credential
from controlplane.cluster import ClusterActor, SyncTick
from controlplane.service import Service
from controlplane.sim import SimSettings, Simulator

from .conftest import FAST, World, service_settings
from .manifests import imported

pytestmark = pytest.mark.anyio

MAX_RESTARTS = 3


def conditions(cluster: Any) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.message) for c in cluster.status.conditions}


@pytest.fixture
async def strict_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    """The service with a small restart intensity, so that giving up is reached in a test."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDDEFAULT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "default-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")

    def supervision(**policy: Any) -> Supervision:
        return Supervision(**{**policy, "max_restarts": MAX_RESTARTS})

    monkeypatch.setattr(service_module, "Supervision", supervision)
    async with (
        Simulator(SimSettings(time_scale=FAST)) as sim,
        aiohttp.ClientSession() as http,
        Service(service_settings(tmp_path, sim.url)) as svc,
    ):
        await svc.store.put_credential(
            Credential(namespace="default", name="test", access_key="AKIDTEST", secret_key="test-secret")
        )
        yield World(sim, svc, http)


async def test_a_stored_spec_without_region_fails_visibly_without_crashing(world: World) -> None:
    # A spec that reached the store without a region (the admin API fills the default one in; this one
    # came around it): an expected failure with the rule's message, retried with the work-queue backoff.
    manifest = imported("noregion")
    del manifest["spec"]["eksConfig"]["region"]
    await world.apply(manifest)
    cluster = await world.wait_for("noregion", lambda c: bool(c.status.failure_message), what="failure")
    assert cluster.status.failure_message.startswith("region is required")
    assert conditions(cluster)["Provisioned"] == ("False", cluster.status.failure_message)
    actor = world.svc.fleet.actor("noregion")
    assert actor is not None and actor.restart_count == 0  # not a crash: no supervisor restarts


async def test_an_unexpected_failure_on_every_pass_is_shown_and_restarts_are_bounded(
    strict_world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def broken(self: ClusterActor) -> Any:
        raise ValueError("an AWS scope needs a region")

    working = ClusterActor._pass
    monkeypatch.setattr(ClusterActor, "_pass", broken)
    world = strict_world
    await world.sim_post("/_sim/clusters", {"name": "stuck", "version": "1.30"})
    await world.apply(imported("stuck"))
    actor = world.svc.fleet.actor("stuck")
    assert actor is not None
    # Sync ticks keep coming while it fails (each one succeeds: a skipped tick): none buys a restart
    # past the limit.
    for _ in range(200):
        try:
            if not world.svc.fleet.send_tick("stuck", SyncTick(planned=0.0)):
                break
        except ActorError:  # stopping: as the scheduler does, count it undeliverable
            break
        await anyio.sleep(0)
    await actor.wait_stopped()
    assert actor.restart_count == MAX_RESTARTS
    cluster = await world.get("stuck")
    message = cluster.status.failure_message
    assert message == (
        "internal error: ValueError: an AWS scope needs a region; stopped retrying after "
        f"{MAX_RESTARTS} restarts within 600 s: change the cluster or restart the service to retry"
    )
    assert conditions(cluster)["Provisioned"] == ("False", message)
    # Bounded log volume: one line per failure, one for giving up (no loop, no flood).
    failures = [r for r in caplog.records if r.name == "actors" and "failed in" in r.getMessage()]
    assert len(failures) == MAX_RESTARTS + 1
    assert sum("stopping it" in r.getMessage() for r in caplog.records) == 1
    # Nothing respawns it behind the user's back: a sync tick finds no actor ...
    assert not world.svc.fleet.send_tick("stuck", SyncTick(planned=0.0))
    # ... and a change to the cluster is a new start (here, the bug fixed).
    monkeypatch.setattr(ClusterActor, "_pass", working)
    await world.edit("stuck", tags={"retry": "1"})
    fixed = await world.wait_for("stuck", lambda c: c.status.phase.value == "active", what="active")
    assert not fixed.status.failure_message


async def test_the_admin_api_fills_in_the_services_default_region(world: World) -> None:
    # eks-operator's import-example.yaml: no region. The service's is us-west-2 (AWS_DEFAULT_REGION).
    await world.sim_post("/_sim/clusters", {"name": "my-cluster", "version": "1.30"})
    manifest = (
        "apiVersion: eks.cattle.io/v1\nkind: EKSClusterConfig\nmetadata:\n  name: my-cluster\nspec:\n"
        '  displayName: my-cluster\n  imported: true\n  amazonCredentialSecret: "default:test"\n'
    )
    headers = {"Authorization": f"Bearer {world.svc.token}", "Content-Type": "application/yaml"}
    async with world.http.post(f"{world.svc.url}/v1/clusters", data=manifest, headers=headers) as resp:
        assert resp.status == 201, await resp.text()
    cluster = await world.wait_for("my-cluster", lambda c: c.status.phase.value == "active", what="active")
    assert cluster.spec.eks_config.region == "us-west-2"
    assert not cluster.status.failure_message
