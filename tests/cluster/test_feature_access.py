"""Access: authenticationMode, bootstrapClusterCreatorAdminPermissions, accessEntries with their access
policies; and the seed's access problem (the cluster does not let our credential in) solved."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.api import AccessEntry, AccessPolicy, AccessScope

from ._features import (
    ADMIN,
    ME,
    POLICIES,
    ROLE,
    VIEW,
    existing,
    expected,
    gone_from_aws,
    tick_and_settle,
    until,
)
from .conftest import World, converged, mutating
from .manifests import created, imported

pytestmark = pytest.mark.anyio

OPS = ROLE + "ops"
DEV = ROLE + "dev"


def entry(arn: str, *policies: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"principalArn": arn, "accessPolicies": list(policies), **fields}


def policy(arn: str, *namespaces: str) -> dict[str, Any]:
    scope = {"type": "namespace", "namespaces": list(namespaces)} if namespaces else {"type": "cluster"}
    return {"policyArn": arn, "accessScope": scope}


def entries_in_aws(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["principalArn"]: e for e in cluster["accessEntries"]}


async def test_create_add_change_remove_and_delete(world: World) -> None:
    await world.apply(
        created(
            "acc1",
            nodeGroups=[],
            authenticationMode="API_AND_CONFIG_MAP",
            accessEntries=[entry(OPS, policy(VIEW, "team-a"), kubernetesGroups=["ops"])],
        )
    )
    c = await world.wait_for("acc1", converged, timeout=60, what="converged")
    aws = entries_in_aws(await world.sim_cluster("acc1"))
    assert set(aws) == {OPS, ME}  # ours: the creator's bootstrap admin entry EKS made
    assert aws[OPS]["kubernetesGroups"] == ["ops"]
    assert aws[OPS]["policies"] == {VIEW: {"type": "namespace", "namespaces": ["team-a"]}}
    upstream = c.status.eks_status.upstream_spec
    assert upstream is not None and [e.principal_arn for e in upstream.access_entries or []] == [OPS]
    assert c.status.service_account_token_secret  # we still get in: our entry was never touched

    # Add an entry, change a policy's scope and the groups of another.
    await world.edit(
        "acc1",
        access_entries=[
            AccessEntry(
                principal_arn=OPS,
                kubernetes_groups=["ops", "oncall"],
                access_policies=[AccessPolicy(policy_arn=VIEW, access_scope=AccessScope(type="cluster"))],
            ),
            AccessEntry(principal_arn=DEV, access_policies=[]),
        ],
    )
    await world.wait_for("acc1", converged, timeout=60, what="changed")
    aws = entries_in_aws(await world.sim_cluster("acc1"))
    assert set(aws) == {OPS, DEV, ME}
    assert aws[OPS]["kubernetesGroups"] == ["ops", "oncall"]
    assert aws[OPS]["policies"] == {VIEW: {"type": "cluster", "namespaces": []}}

    # [] is managed and empty: every entry goes, except what EKS owns for us.
    await world.edit("acc1", access_entries=[])
    await world.wait_for("acc1", converged, timeout=60, what="emptied")
    assert set(entries_in_aws(await world.sim_cluster("acc1"))) == {ME}

    await world.delete("acc1")
    await gone_from_aws(world)


async def test_import_keeps_the_spec_null_and_shows_entries_upstream(world: World) -> None:
    await existing(world, "acc2", authenticationMode="API")
    async with world.console() as eks:
        await eks.create_access_entry(clusterName="acc2", principalArn=OPS, kubernetesGroups=["ops"])
    before = mutating(await world.calls())
    await world.apply(imported("acc2"))
    c = await world.wait_for("acc2", converged, what="imported")
    assert c.spec.eks_config.access_entries is None and c.spec.eks_config.authentication_mode is None
    upstream = c.status.eks_status.upstream_spec
    assert upstream is not None and upstream.authentication_mode == "API"
    assert [(e.principal_arn, e.kubernetes_groups) for e in upstream.access_entries or []] == [(OPS, ["ops"])]
    await tick_and_settle(world, "acc2")
    assert mutating(await world.calls()) == before  # nothing managed, nothing pushed


@pytest.mark.parametrize("policy", POLICIES)
async def test_console_change_under_each_policy(world: World, policy: str) -> None:
    name = f"acc-{policy}"
    await existing(world, name, authenticationMode="API")
    manifest = imported(name, policy=policy, accessEntries=[entry(OPS, kubernetesGroups=["a"])])
    await world.apply(manifest)
    if policy == "observe":
        async with world.console() as eks:  # observe never creates it: the console does
            await eks.create_access_entry(clusterName=name, principalArn=OPS, kubernetesGroups=["a"])
    await world.wait_for(name, converged, what="converged")
    await until(lambda: _groups(world, name, ["a"]))
    async with world.console() as eks:
        await eks.update_access_entry(clusterName=name, principalArn=OPS, kubernetesGroups=["b"])
    await tick_and_settle(world, name)
    spec_value, aws_value = expected(policy, ["a"], ["b"])
    c = await world.get(name)
    assert [e.kubernetes_groups for e in c.spec.eks_config.access_entries or []] == [spec_value]
    await until(lambda: _groups(world, name, aws_value))
    upstream = c.status.eks_status.upstream_spec
    assert upstream is not None
    shown = [e.kubernetes_groups for e in upstream.access_entries or []]
    assert shown in ([["b"]], [aws_value])  # the refresh saw the console's value (pushed back since)


async def _groups(world: World, name: str, groups: list[str]) -> bool:
    aws = entries_in_aws(await world.sim_cluster(name))
    return OPS in aws and aws[OPS]["kubernetesGroups"] == groups


async def test_upgrading_the_mode_then_entries_in_order(world: World) -> None:
    await existing(world, "acc3")  # CONFIG_MAP
    await world.apply(
        imported("acc3", authenticationMode="API_AND_CONFIG_MAP", accessEntries=[entry(OPS, policy(ADMIN))])
    )
    await world.wait_for("acc3", converged, timeout=60, what="converged")
    cluster = await world.sim_cluster("acc3")
    assert cluster["authenticationMode"] == "API_AND_CONFIG_MAP"
    assert set(entries_in_aws(cluster)) == {OPS}
    updates = [u["type"] for u in cluster["updates"]]
    assert updates == ["AccessConfigUpdate"]


async def test_our_identity_refused_says_who_we_are_and_what_to_add(world: World) -> None:
    """The seed's access problem: the cluster lets in only access entries, and we are not one."""
    await world.apply(
        created(
            "acc4",
            nodeGroups=[],
            authenticationMode="API",
            bootstrapClusterCreatorAdminPermissions=False,
        )
    )
    c = await world.wait_for(
        "acc4", lambda c: "does not include it" in c.status.failure_message, timeout=60, what="refused"
    )
    updated = next(x for x in c.status.conditions if x.type == "Updated")
    assert updated.status == "False"
    message = updated.message
    assert "failed to communicate with cluster" in message
    assert (
        "as arn:aws:sts::123456789012:user/moto (IAM principal arn:aws:iam::123456789012:user/moto)"
        in message
    )
    assert "add this element to spec.eksConfig.accessEntries: " in message
    assert f'"principalArn": "{ME}"' in message and ADMIN in message
    assert not message.startswith("cannot access EKS")  # AWS accepted the credential: not a credential issue
    # Doing what it says fixes it.
    await world.edit(
        "acc4",
        access_entries=[
            AccessEntry(
                principal_arn=ME,
                access_policies=[AccessPolicy(policy_arn=ADMIN, access_scope=AccessScope(type="cluster"))],
            )
        ],
    )
    c = await world.wait_for("acc4", lambda c: converged(c) and not c.status.failure_message, timeout=60)
    assert c.status.service_account_token_secret
