"""Import without touching what the spec leaves null; delete of created and imported clusters."""

from __future__ import annotations

import gc
import weakref

import anyio
import pytest

from controlplane.api import Phase
from controlplane.cluster import DeleteRequested, SyncTick

from .conftest import World, converged, mutating
from .manifests import created, imported

pytestmark = pytest.mark.anyio


async def existing(world: World, name: str, **fields: object) -> None:
    body = {
        "name": name,
        "region": "us-west-2",
        "version": "1.30",
        "tags": {"owner": "console"},
        "nodegroups": [{"name": "workers", "desiredSize": 2, "minSize": 1, "maxSize": 3}],
        **fields,
    }
    await world.sim_post("/_sim/clusters", body)


async def test_import_with_null_fields_never_modifies_anything(world: World) -> None:
    await existing(world, "imp1")
    before = mutating(await world.calls())
    await world.apply(imported("imp1"))
    cluster = await world.wait_for("imp1", converged, what="imported and converged")
    assert cluster.status.eks_status.subnets
    upstream = cluster.status.eks_status.upstream_spec
    assert upstream is not None and upstream.tags == {"owner": "console"}
    assert [g.nodegroup_name for g in upstream.node_groups or []] == ["workers"]
    # A refresh adopts nothing into null fields and pushes nothing.
    world.svc.fleet.tell("imp1", SyncTick())
    await world.wait_for("imp1", lambda c: bool(c.status.last_sync_time), what="refreshed")
    after = await world.get("imp1")
    assert after.spec.eks_config.tags is None and after.spec.eks_config.node_groups is None
    assert mutating(await world.calls()) == before
    conditions = {c.type: c.status for c in after.status.conditions}
    assert conditions["Pending"] == "True" and conditions["Provisioned"] == "True"


async def test_delete_imported_cluster_leaves_aws_untouched(world: World) -> None:
    await existing(world, "imp2")
    await world.apply(imported("imp2"))
    await world.wait_for("imp2", converged, what="imported")
    await world.svc.store.mark_deleting("imp2")
    world.svc.fleet.tell("imp2", DeleteRequested())
    await world.wait_gone("imp2")
    state = await world.state()
    assert [c["name"] for c in state["clusters"]] == ["imp2"]
    assert not [k for k in mutating(await world.calls()) if "Delete" in k]


async def test_delete_created_cluster_leaves_nothing_behind(world: World) -> None:
    await world.apply(created("del1", ebsCSIDriver=True))
    cluster = await world.wait_for("del1", converged, timeout=60, what="converged")
    assert cluster.status.service_account_token_secret
    await world.svc.store.mark_deleting("del1")
    world.svc.fleet.tell("del1", DeleteRequested())
    await world.wait_for("del1", lambda c: c.status.phase == Phase.DELETING, what="deleting")
    await world.wait_gone("del1", timeout=60)
    state = await world.state()
    assert state["clusters"] == []
    assert state["launchTemplates"] == []
    assert state["stacks"] == []
    token_secret = f"del1/{cluster.status.service_account_token_secret}"
    assert await world.svc.store.get_secret(token_secret) is None


async def test_delete_after_failed_create_removes_partial_stacks(world: World) -> None:
    # A service role that does not exist fails the create after the VPC stack was made.
    await world.apply(created("del2", serviceRole="no-such-role"))
    await world.wait_for("del2", lambda c: "error getting role" in c.status.failure_message, what="failure")
    state = await world.state()
    assert [s["name"] for s in state["stacks"]] == ["del2-eks-vpc"]
    await world.svc.store.mark_deleting("del2")
    world.svc.fleet.tell("del2", DeleteRequested())
    await world.wait_gone("del2", timeout=60)
    assert (await world.state())["stacks"] == []


async def test_a_deleted_clusters_actor_is_released_by_reference_counting_alone(world: World) -> None:
    # The heap is frozen as the fleet grows (controlplane._heap); a frozen actor that died inside a
    # reference cycle would never be collected. This one, which imported, refreshed and deleted its
    # cluster, must go with the cyclic collector off.
    await existing(world, "gone")
    await world.apply(imported("gone"))
    await world.wait_for("gone", converged, what="imported")
    world.svc.fleet.tell("gone", SyncTick())
    await world.wait_for("gone", lambda c: bool(c.status.last_sync_time), what="refreshed")
    actor = world.svc.fleet.actor("gone")
    assert actor is not None
    ref = weakref.ref(actor)
    del actor
    gc.collect()
    gc.disable()
    try:
        await world.svc.store.mark_deleting("gone")
        world.svc.fleet.tell("gone", DeleteRequested())
        await world.wait_gone("gone")
        with anyio.fail_after(10):
            while world.svc.fleet.actor("gone") is not None:
                await anyio.sleep(0.01)
        await anyio.sleep(0.05)  # the actor's task has returned
        assert ref() is None, [type(r).__name__ for r in gc.get_referrers(ref())]
    finally:
        gc.enable()
