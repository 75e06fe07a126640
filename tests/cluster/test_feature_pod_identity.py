"""Pod Identity associations: create, change, remove, import, console changes, and the agent add-on."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.api import Addon, PodIdentityAssociation

from ._features import POLICIES, ROLE, existing, expected, gone_from_aws, tick_and_settle, until
from .conftest import World, converged
from .manifests import created, imported

pytestmark = pytest.mark.anyio

AGENT = {"name": "eks-pod-identity-agent", "version": "default"}


def associations(cluster: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (a["namespace"], a["serviceAccount"]): a
        for a in cluster["podIdentityAssociations"]
        if not a["ownerArn"]
    }


async def test_create_change_remove_and_delete(world: World) -> None:
    pia = {"namespace": "apps", "serviceAccount": "app", "roleArn": ROLE + "one", "tags": {"team": "a"}}
    await world.apply(created("pi1", nodeGroups=[], addons=[AGENT], podIdentityAssociations=[pia]))
    await world.wait_for("pi1", converged, timeout=60, what="converged")
    aws = associations(await world.sim_cluster("pi1"))
    assert aws[("apps", "app")]["roleArn"] == ROLE + "one" and aws[("apps", "app")]["tags"] == {"team": "a"}
    await world.edit(
        "pi1",
        pod_identity_associations=[
            PodIdentityAssociation(
                namespace="apps", service_account="app", role_arn=ROLE + "two", tags={"team": "b"}
            ),
            PodIdentityAssociation(namespace="jobs", service_account="runner", role_arn=ROLE + "jobs"),
        ],
    )
    await world.wait_for("pi1", converged, timeout=60, what="changed")
    aws = associations(await world.sim_cluster("pi1"))
    assert aws[("apps", "app")]["roleArn"] == ROLE + "two" and aws[("apps", "app")]["tags"] == {"team": "b"}
    assert set(aws) == {("apps", "app"), ("jobs", "runner")}
    await world.edit("pi1", pod_identity_associations=[])
    await world.wait_for("pi1", converged, timeout=60, what="removed")
    assert associations(await world.sim_cluster("pi1")) == {}
    await world.delete("pi1")
    await gone_from_aws(world)


async def test_without_the_agent_the_message_says_to_add_it(world: World) -> None:
    await existing(world, "pi2")
    pia = {"namespace": "apps", "serviceAccount": "app", "roleArn": ROLE + "one"}
    await world.apply(imported("pi2", podIdentityAssociations=[pia]))
    c = await world.wait_for(
        "pi2", lambda c: "eks-pod-identity-agent" in c.status.failure_message, what="refused"
    )
    assert c.status.failure_message.startswith(
        "podIdentityAssociations need the eks-pod-identity-agent add-on"
    )
    assert associations(await world.sim_cluster("pi2")) == {}
    await world.edit("pi2", addons=[Addon(name="eks-pod-identity-agent", version="latest")])
    await world.wait_for("pi2", lambda c: converged(c) and not c.status.failure_message, timeout=60)
    assert set(associations(await world.sim_cluster("pi2"))) == {("apps", "app")}


async def test_import_shows_associations_with_the_spec_null(world: World) -> None:
    await existing(world, "pi3")
    async with world.console() as eks:
        await eks.create_pod_identity_association(
            clusterName="pi3", namespace="apps", serviceAccount="app", roleArn=ROLE + "one"
        )
    await world.apply(imported("pi3"))
    c = await world.wait_for("pi3", converged, what="imported")
    assert c.spec.eks_config.pod_identity_associations is None
    upstream = c.status.eks_status.upstream_spec
    assert upstream is not None
    assert [
        (a.namespace, a.service_account, a.role_arn) for a in upstream.pod_identity_associations or []
    ] == [("apps", "app", ROLE + "one")]


@pytest.mark.parametrize("policy", POLICIES)
async def test_console_change_under_each_policy(world: World, policy: str) -> None:
    name = f"pi-{policy}"
    await existing(world, name)
    async with world.console() as eks:
        await eks.create_addon(clusterName=name, addonName="eks-pod-identity-agent")
        created_ = await eks.create_pod_identity_association(
            clusterName=name, namespace="apps", serviceAccount="app", roleArn=ROLE + "one"
        )
    pia = {"namespace": "apps", "serviceAccount": "app", "roleArn": ROLE + "one"}
    await world.apply(imported(name, policy=policy, podIdentityAssociations=[pia]))
    await world.wait_for(name, converged, what="converged")
    async with world.console() as eks:
        await eks.update_pod_identity_association(
            clusterName=name, associationId=created_["association"]["associationId"], roleArn=ROLE + "console"
        )
    await tick_and_settle(world, name)
    spec_value, aws_value = expected(policy, ROLE + "one", ROLE + "console")
    c = await world.get(name)
    assert [a.role_arn for a in c.spec.eks_config.pod_identity_associations or []] == [spec_value]

    async def aws_has() -> bool:
        return bool(associations(await world.sim_cluster(name))[("apps", "app")]["roleArn"] == aws_value)

    await until(aws_has)
