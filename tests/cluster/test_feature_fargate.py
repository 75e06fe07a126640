"""Fargate profiles: one CREATING or DELETING at a time, a change is a delete then a create, import,
console changes, delete."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.api import FargateProfile, FargateSelector

from ._features import POLICIES, ROLE, existing, expected, gone_from_aws, tick_and_settle, until
from .conftest import World, converged, mutating
from .manifests import created, imported

pytestmark = pytest.mark.anyio

POD_ROLE = ROLE + "fargate-pods"


def profile(name: str, *namespaces: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "podExecutionRoleArn": POD_ROLE,
        "selectors": [{"namespace": n} for n in namespaces],
        **fields,
    }


def profiles_in_aws(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in cluster["fargateProfiles"]}


async def test_one_at_a_time_and_a_change_is_a_delete_then_a_create(world: World) -> None:
    await world.apply(
        created(
            "fg1",
            nodeGroups=[],
            fargateProfiles=[profile("a", "batch"), profile("b", "jobs"), profile("c", "x")],
        )
    )
    await world.wait_for("fg1", converged, timeout=60, what="converged")
    aws = profiles_in_aws(await world.sim_cluster("fg1"))
    assert set(aws) == {"a", "b", "c"} and {f["status"] for f in aws.values()} == {"ACTIVE"}
    # Three creates and not one refused attempt: each waited for the one before.
    assert mutating(await world.calls())["eks:CreateFargateProfile"] == 3

    # A changed profile is deleted, then created again; a removed one is deleted.
    await world.edit(
        "fg1",
        fargate_profiles=[
            FargateProfile(
                name="a", pod_execution_role_arn=POD_ROLE, selectors=[FargateSelector(namespace="batch-2")]
            ),
            FargateProfile(
                name="b", pod_execution_role_arn=POD_ROLE, selectors=[FargateSelector(namespace="jobs")]
            ),
        ],
    )
    await world.wait_for("fg1", converged, timeout=60, what="changed")
    aws = profiles_in_aws(await world.sim_cluster("fg1"))
    assert set(aws) == {"a", "b"}
    assert aws["a"]["selectors"] == [{"namespace": "batch-2"}]
    events = [
        e.message for e in await world.svc.store.list_events("fg1") if e.reason.startswith("FargateProfile")
    ]
    replaced = [m for m in events if m.startswith("Fargate profile a ")]
    assert replaced[-2:] == ["Fargate profile a changed: replaced", "Fargate profile a requested"]
    calls = mutating(await world.calls())
    assert calls["eks:CreateFargateProfile"] == 4 and calls["eks:DeleteFargateProfile"] == 2

    # Delete with profiles: they go one at a time, then the cluster.
    await world.delete("fg1")
    await gone_from_aws(world)


async def test_import_shows_profiles_with_the_spec_null(world: World) -> None:
    await existing(world, "fg2")
    async with world.console() as eks:
        await eks.create_fargate_profile(
            clusterName="fg2",
            fargateProfileName="p",
            podExecutionRoleArn=POD_ROLE,
            selectors=[{"namespace": "a"}],
        )
    await world.apply(imported("fg2"))
    c = await world.wait_for("fg2", converged, what="imported")
    assert c.spec.eks_config.fargate_profiles is None
    upstream = c.status.eks_status.upstream_spec
    assert upstream is not None and [f.name for f in upstream.fargate_profiles or []] == ["p"]


@pytest.mark.parametrize("policy", POLICIES)
async def test_console_delete_under_each_policy(world: World, policy: str) -> None:
    name = f"fg-{policy}"
    await existing(world, name)
    async with world.console() as eks:
        await eks.create_fargate_profile(
            clusterName=name,
            fargateProfileName="p",
            podExecutionRoleArn=POD_ROLE,
            selectors=[{"namespace": "a"}],
        )
    await until(lambda: _status(world, name, "p", "ACTIVE"))
    await world.apply(imported(name, policy=policy, fargateProfiles=[profile("p", "a")]))
    await world.wait_for(name, converged, what="converged")
    async with world.console() as eks:
        await eks.delete_fargate_profile(clusterName=name, fargateProfileName="p")
    await until(lambda: _status(world, name, "p", None))
    await tick_and_settle(world, name)
    spec_value, aws_value = expected(policy, ["p"], [])
    c = await world.get(name)
    assert [f.name for f in c.spec.eks_config.fargate_profiles or []] == spec_value

    async def aws_has() -> bool:
        aws = profiles_in_aws(await world.sim_cluster(name))
        return sorted(n for n, f in aws.items() if f["status"] == "ACTIVE") == aws_value

    await until(aws_has)


async def _status(world: World, name: str, profile_name: str, status: str | None) -> bool:
    found = profiles_in_aws(await world.sim_cluster(name)).get(profile_name)
    return (found or {}).get("status") == status if status else found is None
