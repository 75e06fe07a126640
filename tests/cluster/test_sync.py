"""Sync scenarios with console changes (the simulator's PATCH /_sim/clusters): the merge policies."""

from __future__ import annotations

import anyio
import msgspec
import pytest

from controlplane.api import SyncPolicy
from controlplane.cluster import SyncTick
from controlplane.metrics import REGISTRY

from .conftest import World, converged, mutating
from .manifests import created, imported, nodegroup

pytestmark = pytest.mark.anyio


async def tick_and_settle(world: World, name: str) -> None:
    actor = world.svc.fleet.actor(name)
    assert actor is not None
    await actor.ask(SyncTick(), timeout=30)  # returns once the tick was handled
    await world.wait_for(name, converged, timeout=60, what="converged")


async def console_update_done(world: World, name: str) -> None:
    async def done() -> bool:
        c = await world.sim_cluster(name)
        return all(u["status"] != "InProgress" for u in c["updates"])

    with anyio.fail_after(10):
        while not await done():
            await anyio.sleep(0.02)


async def test_three_way_keeps_console_change_and_local_edit(world: World) -> None:
    """The race from the Rancher docs: privateAccess enabled in the console, tags edited locally."""
    await world.apply(created("race", nodeGroups=[nodegroup("a")]))
    await world.wait_for("race", converged, what="converged")
    await world.sim_patch("/_sim/clusters/race", {"privateAccess": True})
    await world.edit("race", tags={"team": "payments"})  # before any refresh saw the console change
    await world.wait_for(
        "race", lambda c: converged(c) and c.spec.eks_config.private_access is True, timeout=60, what="merged"
    )
    await console_update_done(world, "race")
    c = await world.sim_cluster("race")
    assert c["privateAccess"] is True, "the console change was reverted"
    assert c["tags"] == {"team": "payments"}, "the local edit was lost"
    reasons = [e.reason for e in await world.svc.store.list_events("race")]
    assert "Adopted" in reasons


async def test_rancher_policy_behaves_like_rancher_and_loses_the_console_change(world: World) -> None:
    await world.apply(created("race2", nodeGroups=[nodegroup("a")], policy="rancher"))
    await world.wait_for("race2", converged, what="converged")
    await world.sim_patch("/_sim/clusters/race2", {"privateAccess": True})
    await world.edit("race2", tags={"team": "payments"})
    await world.wait_for("race2", converged, timeout=60, what="converged")
    await console_update_done(world, "race2")
    await world.wait_for("race2", converged, timeout=60, what="converged")
    c = await world.sim_cluster("race2")
    assert c["tags"] == {"team": "payments"}
    assert c["privateAccess"] is False  # Rancher pushed its spec over the console change


async def test_conflict_keeps_local_value_and_says_so(world: World) -> None:
    await world.apply(created("conf", nodeGroups=[nodegroup("a")], tags={"env": "dev"}))
    await world.wait_for("conf", converged, what="converged")
    await world.sim_patch("/_sim/clusters/conf", {"tags": {"env": "console"}})
    await world.edit("conf", tags={"env": "local"})
    cluster = await world.wait_for("conf", converged, timeout=60, what="converged")
    assert (await world.sim_cluster("conf"))["tags"] == {"env": "local"}
    assert cluster.status.sync_conflicts == ["tags"]
    conditions = {c.type: c for c in cluster.status.conditions}
    assert conditions["Conflict"].status == "True"
    assert conditions["Conflict"].message == 'tags: local {"env":"local"} kept over AWS {"env":"console"}'
    events = await world.svc.store.list_events("conf")
    conflict = next(e for e in events if e.reason == "Conflict")
    assert '"local"' in conflict.message and '"console"' in conflict.message


@pytest.mark.parametrize(
    ("policy", "recreated"),
    [(SyncPolicy.THREE_WAY, False), (SyncPolicy.RANCHER, False), (SyncPolicy.DESIRED_WINS, True)],
)
async def test_nodegroup_deleted_in_console(world: World, policy: SyncPolicy, recreated: bool) -> None:
    name = f"ngdel-{policy.value}"
    await world.apply(created(name, nodeGroups=[nodegroup("a"), nodegroup("b")], policy=policy.value))
    await world.wait_for(name, converged, timeout=60, what="converged")
    await world.sim_patch(f"/_sim/clusters/{name}", {"deleteNodegroups": ["b"]})

    with anyio.fail_after(10):
        while any(g["name"] == "b" for g in (await world.sim_cluster(name))["nodegroups"]):
            await anyio.sleep(0.02)
    await tick_and_settle(world, name)
    if recreated:
        with anyio.fail_after(20):
            while not any(g["name"] == "b" for g in (await world.sim_cluster(name))["nodegroups"]):
                await anyio.sleep(0.02)
    await world.wait_for(name, converged, timeout=60, what="converged")
    spec_names = [g.nodegroup_name for g in (await world.get(name)).spec.eks_config.node_groups or []]
    aws_names = sorted(g["name"] for g in (await world.sim_cluster(name))["nodegroups"])
    if recreated:
        assert spec_names == ["a", "b"] and aws_names == ["a", "b"]
    else:
        assert spec_names == ["a"] and aws_names == ["a"]


async def test_version_upgraded_in_console_is_adopted(world: World) -> None:
    await world.apply(created("ver", kubernetesVersion="1.29", nodeGroups=[]))
    await world.wait_for("ver", converged, what="converged")
    await world.sim_patch("/_sim/clusters/ver", {"version": "1.30"})
    await console_update_done(world, "ver")
    await tick_and_settle(world, "ver")
    cluster = await world.get("ver")
    assert cluster.spec.eks_config.kubernetes_version == "1.30"


async def test_observe_never_mutates(world: World) -> None:
    await world.sim_post(
        "/_sim/clusters",
        {
            "name": "obs",
            "version": "1.30",
            "tags": {"a": "b"},
            "nodegroups": [{"name": "w", "desiredSize": 1, "minSize": 1, "maxSize": 2}],
        },
    )
    before = mutating(await world.calls())
    # Managed fields that differ from AWS: observe must still never push them.
    await world.apply(imported("obs", policy="observe", tags={"a": "changed"}, privateAccess=True))
    await world.wait_for("obs", converged, what="converged")
    await world.sim_patch("/_sim/clusters/obs", {"tags": {"a": "console"}})
    await tick_and_settle(world, "obs")
    cluster = await world.get("obs")
    assert cluster.status.eks_status.upstream_spec is not None
    assert cluster.status.eks_status.upstream_spec.tags == {"a": "console"}
    assert cluster.spec.eks_config.tags == {"a": "changed"}
    assert mutating(await world.calls()) == before


async def test_scheduler_refreshes_every_cluster_and_skips_busy_ones(world: World) -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    await world.sim_post("/_sim/clusters", {"name": "tick", "version": "1.30"})
    await world.apply(imported("tick"))
    await world.wait_for("tick", converged, what="imported")
    # A cluster that stays busy: creating with a long simulated create.
    await world.apply(created("busy", nodeGroups=[], serviceRole="no-such-role"))
    lag_before = sample("controlplane_sync_tick_lag_seconds_count")
    skipped_before = sample("controlplane_sync_ticks_total", outcome="skipped_busy")
    rounds_before = sample("controlplane_sync_round_seconds_count")
    await world.svc.store.put_setting("eks-refresh-cron", "@every 1s")  # the feed applies it: no restart
    first = await world.wait_for("tick", lambda c: bool(c.status.last_sync_time), what="first tick")
    with anyio.fail_after(10):
        while sample("controlplane_sync_round_seconds_count") < rounds_before + 2:
            await anyio.sleep(0.05)
    assert sample("controlplane_sync_tick_lag_seconds_count") > lag_before
    assert sample("controlplane_sync_ticks_total", outcome="skipped_busy") > skipped_before
    assert first.status.eks_status.upstream_spec is not None


async def nodegroup_settled(world: World, name: str, ng: str) -> dict[str, object]:
    with anyio.fail_after(10):
        while True:
            c = await world.sim_cluster(name)
            group = next(g for g in c["nodegroups"] if g["name"] == ng)
            if group["status"] == "ACTIVE" and all(u["status"] != "InProgress" for u in c["updates"]):
                return group  # type: ignore[no-any-return]
            await anyio.sleep(0.02)


async def label_edit(world: World, name: str, labels: dict[str, str]) -> dict[str, object]:
    """Edit node group ``a``'s labels; the ConfigUpdate EKS recorded for it (type -> value)."""
    current = await world.get(name)
    edited = [msgspec.structs.replace(g, labels=labels) for g in current.spec.eks_config.node_groups or []]
    await world.edit(name, node_groups=edited)
    await world.wait_for(
        name,
        lambda c: converged(c) and (c.spec.eks_config.node_groups or [])[0].labels == labels,
        timeout=60,
        what="labels applied",
    )
    scope = await world.svc.deps.aws.scope("default:test", "us-west-2")
    update_id = (await scope.list_updates(name, nodegroup_name="a"))[-1]
    update = await scope.describe_update(name, update_id, nodegroup_name="a")
    assert update["type"] == "ConfigUpdate"
    return {p["type"]: p["value"] for p in update["params"]}


@pytest.mark.parametrize(
    ("policy", "full_scaling", "desired_after"),
    [
        ("rancher", True, 2),  # the operator's rule: every config update carries the spec's sizes
        ("desired-wins", True, 2),
        ("three-way", False, 3),  # ours: sizes only when one differs, after adopting the console's
    ],
)
async def test_label_only_nodegroup_edit_and_the_scaling_config(
    world: World, policy: str, full_scaling: bool, desired_after: int
) -> None:
    name = f"lbl-{policy}"
    await world.apply(created(name, policy=policy, nodeGroups=[nodegroup("a", desiredSize=2, maxSize=4)]))
    await world.wait_for(name, converged, timeout=60, what="converged")
    # A label edit with the sizes as they are: what the request carries (the recorded update's params).
    params = await label_edit(world, name, {"tier": "web"})
    sizes = {"DesiredSize": "2", "MinSize": "1", "MaxSize": "4"}
    assert params == (
        {"LabelsToAdd": '{"tier":"web"}', **sizes} if full_scaling else {"LabelsToAdd": '{"tier":"web"}'}
    )
    # An autoscaler moved desiredSize, then a label edit: the operator's rule resets it to the spec.
    await world.sim_patch(f"/_sim/clusters/{name}", {"nodegroups": {"a": {"desiredSize": 3}}})
    await nodegroup_settled(world, name, "a")
    await label_edit(world, name, {"tier": "api"})
    group = await nodegroup_settled(world, name, "a")
    assert group["labels"] == {"tier": "api"}
    assert group["desiredSize"] == desired_after
