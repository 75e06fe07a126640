"""A shard taken again while its actors still stop (a missed renewal, then the next round) ends with every
cluster run by one live actor, and the clusters gauge counts each cluster once."""

from __future__ import annotations

import anyio
import pytest

from actors import ActorStatus
from controlplane.api import Phase
from controlplane.cluster import SyncTick
from controlplane.metrics import REGISTRY
from controlplane.store import shard_of

from .conftest import World
from .manifests import imported

pytestmark = pytest.mark.anyio

NAME = "handback"


def _clusters_counted() -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "controlplane_clusters"
        for sample in metric.samples
    )


async def test_a_shard_taken_back_while_stopping_keeps_its_clusters_running(world: World) -> None:
    await world.sim_post("/_sim/clusters", {"name": NAME, "region": "us-west-2"})
    await world.apply(imported(NAME))
    await world.wait_phase(NAME, Phase.ACTIVE)
    fleet = world.svc.fleet
    shard = shard_of(NAME, world.svc.settings.replica.shards)
    fence = fleet.fence(shard)
    assert fence is not None
    counted = _clusters_counted()
    old = fleet.actor(NAME)
    assert old is not None
    # A pass in flight when the shard is stopped: every AWS call takes 0.3 s now.
    async with world.http.put(
        f"{world.sim.url}/_sim/faults",
        json={"latency": "fixed", "latency_seconds": 0.3, "services": ["eks"]},
    ) as resp:
        assert resp.status == 200, await resp.text()
    fleet.tell(NAME, SyncTick(fresh_for=0.0))
    await anyio.sleep(0.05)
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(fleet.stop_shard, shard)
            await anyio.sleep(0)  # the stop has begun: the old actor finishes its pass
            await fleet.start_shard(shard, fence)
    assert old.status is ActorStatus.STOPPED
    new = fleet.actor(NAME)
    assert new is not None and new is not old
    assert new.status is not ActorStatus.STOPPED
    assert _clusters_counted() == counted
