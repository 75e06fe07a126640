"""Cluster settings (upgradePolicy, deletionProtection, authenticationMode never stepping back) and
node-group taints and update configs."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from controlplane.api import NodeGroupUpdateConfig, Taint, UpgradePolicy

from ._features import POLICIES, existing, expected, gone_from_aws, tick_and_settle, until
from .conftest import World, converged, mutating
from .manifests import created, imported, nodegroup

pytestmark = pytest.mark.anyio


async def test_upgrade_policy_and_deletion_protection(world: World) -> None:
    await world.apply(
        created("set1", nodeGroups=[], upgradePolicy={"supportType": "STANDARD"}, deletionProtection=True)
    )
    c = await world.wait_for("set1", converged, timeout=60, what="converged")
    aws = await world.sim_cluster("set1")
    assert aws["supportType"] == "STANDARD" and aws["deletionProtection"] is True
    upstream = c.status.eks_status.upstream_spec
    assert upstream is not None and upstream.upgrade_policy == UpgradePolicy(support_type="STANDARD")
    assert c.status.eks_status.version_support == "STANDARD_SUPPORT"
    await world.edit("set1", upgrade_policy=UpgradePolicy(support_type="EXTENDED"))
    await world.wait_for("set1", converged, timeout=60, what="extended")
    assert (await world.sim_cluster("set1"))["supportType"] == "EXTENDED"
    # Turned off in the spec and deleted at once: the actor turns protection off in AWS first.
    await world.edit("set1", deletion_protection=False)
    await world.delete("set1")
    await gone_from_aws(world)


@pytest.mark.parametrize("policy", POLICIES)
async def test_upgrade_policy_console_change_under_each_policy(world: World, policy: str) -> None:
    name = f"set-{policy}"
    await existing(world, name, supportType="STANDARD")
    await world.apply(imported(name, policy=policy, upgradePolicy={"supportType": "STANDARD"}))
    await world.wait_for(name, converged, what="converged")
    async with world.console() as eks:
        await eks.update_cluster_config(name=name, upgradePolicy={"supportType": "EXTENDED"})
    await until(lambda: _support(world, name, "EXTENDED"))
    await until(lambda: _idle(world, name))
    await tick_and_settle(world, name)
    spec_value, aws_value = expected(policy, "STANDARD", "EXTENDED")
    policy_spec = (await world.get(name)).spec.eks_config.upgrade_policy
    assert policy_spec is not None and policy_spec.support_type == spec_value
    await until(lambda: _support(world, name, aws_value))


async def _support(world: World, name: str, support: str) -> bool:
    return bool((await world.sim_cluster(name))["supportType"] == support)


async def _idle(world: World, name: str) -> bool:
    return all(u["status"] != "InProgress" for u in (await world.sim_cluster(name))["updates"])


async def test_extended_support_is_recorded_for_the_warning(world: World) -> None:
    await existing(world, "set2", version="1.29")
    await world.apply(imported("set2"))
    c = await world.wait_for("set2", converged, what="imported")
    assert (c.status.eks_status.version_support_of, c.status.eks_status.version_support) == (
        "1.29",
        "EXTENDED_SUPPORT",
    )


async def test_an_authentication_mode_step_back_is_never_sent(world: World) -> None:
    await existing(world, "set3", authenticationMode="API")
    await world.apply(imported("set3", authenticationMode="CONFIG_MAP"))  # admission cannot know AWS's mode
    c = await world.wait_for("set3", lambda c: "step back" in c.status.failure_message, what="refused")
    assert "authenticationMode CONFIG_MAP is a step back from the cluster's API" in c.status.failure_message
    assert "eks:UpdateClusterConfig" not in mutating(await world.calls())


def taints_in_aws(cluster: dict[str, Any], group: str) -> list[dict[str, Any]]:
    ng = next(n for n in cluster["nodegroups"] if n["name"] == group)
    return sorted(ng["taints"], key=lambda t: (t["key"], t["effect"]))


async def test_taints_and_update_config(world: World) -> None:
    ng = nodegroup(
        "ng1",
        taints=[
            {"key": "gpu", "value": "true", "effect": "NO_SCHEDULE"},
            {"key": "spot", "effect": "NO_EXECUTE"},
        ],
        updateConfig={"maxUnavailablePercentage": 25},
    )
    await world.apply(created("tnt1", nodeGroups=[ng]))
    c = await world.wait_for("tnt1", converged, timeout=60, what="converged")
    aws = await world.sim_cluster("tnt1")
    assert [(t["key"], t["effect"]) for t in taints_in_aws(aws, "ng1")] == [
        ("gpu", "NO_SCHEDULE"),
        ("spot", "NO_EXECUTE"),
    ]
    assert aws["nodegroups"][0]["maxUnavailablePercentage"] == 25
    groups = c.spec.eks_config.node_groups or []
    changed = msgspec.structs.replace(
        groups[0],
        taints=[
            Taint(key="gpu", value="false", effect="NO_SCHEDULE"),
            Taint(key="new", effect="PREFER_NO_SCHEDULE"),
        ],
        update_config=NodeGroupUpdateConfig(max_unavailable=2),
    )
    await world.edit("tnt1", node_groups=[changed])
    await world.wait_for("tnt1", converged, timeout=60, what="changed")
    aws = await world.sim_cluster("tnt1")
    assert [(t["key"], t["value"], t["effect"]) for t in taints_in_aws(aws, "ng1")] == [
        ("gpu", "false", "NO_SCHEDULE"),
        ("new", None, "PREFER_NO_SCHEDULE"),
    ]
    assert (
        aws["nodegroups"][0]["maxUnavailable"] == 2
        and aws["nodegroups"][0]["maxUnavailablePercentage"] is None
    )
    updates = [u for u in aws["updates"] if u["nodegroup"] == "ng1" and u["type"] == "ConfigUpdate"]
    assert len(updates) == 1  # taints added, changed and removed, and the update config: one ConfigUpdate
    await world.delete("tnt1")
    await gone_from_aws(world)


@pytest.mark.parametrize("policy", POLICIES)
async def test_taint_console_change_under_each_policy(world: World, policy: str) -> None:
    name = f"tnt-{policy}"
    taint = {"key": "gpu", "value": "a", "effect": "NO_SCHEDULE"}
    await existing(world, name, nodegroups=[{"name": "ng", "taints": [taint]}])
    ng = {"nodegroupName": "ng", "taints": [taint]}
    await world.apply(imported(name, policy=policy, nodeGroups=[ng]))
    await world.wait_for(name, converged, what="converged")
    async with world.console() as eks:
        await eks.update_nodegroup_config(
            clusterName=name,
            nodegroupName="ng",
            taints={"addOrUpdateTaints": [{"key": "gpu", "value": "b", "effect": "NO_SCHEDULE"}]},
        )
    await until(lambda: _idle(world, name))
    await tick_and_settle(world, name)
    spec_value, aws_value = expected(policy, "a", "b")
    groups = (await world.get(name)).spec.eks_config.node_groups or []
    assert [t.value for t in groups[0].taints or []] == [spec_value]

    async def aws_has() -> bool:
        cluster = await world.sim_cluster(name)
        return [t["value"] for t in taints_in_aws(cluster, "ng")] == [aws_value] and await _idle(world, name)

    await until(aws_has)
