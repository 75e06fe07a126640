"""Add-ons: every add-on (default/latest/explicit versions, configuration values checked against the
add-on's schema, IAM, Pod Identity), the upgrade order (control plane, add-ons, node groups), an
incompatible pinned version stopping an upgrade, and the ebsCSIDriver shortcut through the same path."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from controlplane.api import Addon, AddonPodIdentity

from ._features import POLICIES, ROLE, existing, expected, gone_from_aws, tick_and_settle, until
from .conftest import World, converged, mutating
from .manifests import created, imported, nodegroup

pytestmark = pytest.mark.anyio


def addons_in_aws(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in cluster["addons"]}


async def test_create_change_remove_and_delete(world: World) -> None:
    await world.apply(
        created(
            "ad1",
            nodeGroups=[],
            addons=[
                {"name": "vpc-cni", "version": "default"},
                {"name": "coredns", "version": "latest", "configurationValues": '{"replicaCount": 2}'},
                {
                    "name": "aws-ebs-csi-driver",
                    "podIdentityAssociations": [
                        {"serviceAccount": "ebs-csi-controller-sa", "roleArn": ROLE + "ebs"}
                    ],
                },
            ],
        )
    )
    c = await world.wait_for("ad1", converged, timeout=60, what="converged")
    aws = addons_in_aws(await world.sim_cluster("ad1"))
    assert aws["vpc-cni"]["version"] == "v1.19.2-eksbuild.1"  # the default for 1.30
    assert aws["coredns"]["version"] == "v1.11.4-eksbuild.2"  # the latest for 1.30
    assert aws["coredns"]["configurationValues"] == '{"replicaCount": 2}'
    owned = [a for a in (await world.sim_cluster("ad1"))["podIdentityAssociations"] if a["ownerArn"]]
    assert [(a["namespace"], a["serviceAccount"], a["roleArn"]) for a in owned] == [
        ("kube-system", "ebs-csi-controller-sa", ROLE + "ebs")
    ]
    assert c.spec.eks_config.addons is not None and c.spec.eks_config.addons[0].version == "default"
    upstream = c.status.eks_status.upstream_spec
    assert upstream is not None
    ebs = next(a for a in upstream.addons or [] if a.name == "aws-ebs-csi-driver")
    assert ebs.pod_identity_associations == [
        AddonPodIdentity(service_account="ebs-csi-controller-sa", role_arn=ROLE + "ebs")
    ]

    # A configuration the add-on's schema refuses is never sent.
    calls = mutating(await world.calls())
    await world.edit(
        "ad1",
        addons=[
            Addon(name="vpc-cni", version="default"),
            Addon(name="coredns", version="latest", configuration_values="replicaCount: many"),
        ],
    )
    c = await world.wait_for(
        "ad1", lambda c: "configurationValues" in c.status.failure_message, what="refused"
    )
    assert (
        "addons[coredns].configurationValues do not match the schema of coredns" in c.status.failure_message
    )
    assert "$.replicaCount: 'many' is not of type 'integer'" in c.status.failure_message
    assert mutating(await world.calls()).get("eks:UpdateAddon") == calls.get("eks:UpdateAddon")

    # A valid change is an add-on update; the add-on left out is deleted.
    await world.edit(
        "ad1",
        addons=[
            Addon(name="vpc-cni", version="default"),
            Addon(name="coredns", configuration_values="replicaCount: 3"),
        ],
    )
    await world.wait_for("ad1", lambda c: converged(c) and not c.status.failure_message, timeout=60)
    await until(lambda: _addon_names(world, "ad1", {"vpc-cni", "coredns"}))
    aws = addons_in_aws(await world.sim_cluster("ad1"))
    assert aws["coredns"]["configurationValues"] == "replicaCount: 3"
    assert not [a for a in (await world.sim_cluster("ad1"))["podIdentityAssociations"] if a["ownerArn"]]

    await world.delete("ad1")
    await gone_from_aws(world)


async def _addon_names(world: World, name: str, names: set[str]) -> bool:
    return set(addons_in_aws(await world.sim_cluster(name))) == names


async def test_import_keeps_addons_null_and_shows_them(world: World) -> None:
    await existing(world, "ad2")
    async with world.console() as eks:
        await eks.create_addon(clusterName="ad2", addonName="kube-proxy")
    await world.apply(imported("ad2"))
    c = await world.wait_for("ad2", converged, what="imported")
    assert c.spec.eks_config.addons is None
    upstream = c.status.eks_status.upstream_spec
    assert upstream is not None
    assert [(a.name, a.version) for a in upstream.addons or []] == [("kube-proxy", "v1.30.0-eksbuild.2")]


@pytest.mark.parametrize("policy", POLICIES)
async def test_console_change_under_each_policy(world: World, policy: str) -> None:
    name = f"ad-{policy}"
    await existing(world, name)
    async with world.console() as eks:
        await eks.create_addon(clusterName=name, addonName="coredns", configurationValues="replicaCount: 2")
    await until(lambda: _addon_status(world, name, "coredns", "ACTIVE"))
    manifest = imported(
        name, policy=policy, addons=[{"name": "coredns", "configurationValues": "replicaCount: 2"}]
    )
    await world.apply(manifest)
    await world.wait_for(name, converged, what="converged")
    async with world.console() as eks:
        await eks.update_addon(clusterName=name, addonName="coredns", configurationValues="replicaCount: 5")
    await until(lambda: _addon_status(world, name, "coredns", "ACTIVE"))
    await tick_and_settle(world, name)
    spec_value, aws_value = expected(policy, "replicaCount: 2", "replicaCount: 5")
    c = await world.get(name)
    assert [a.configuration_values for a in c.spec.eks_config.addons or []] == [spec_value]

    async def aws_has() -> bool:
        addon = addons_in_aws(await world.sim_cluster(name))["coredns"]
        return bool(addon["configurationValues"] == aws_value and addon["status"] == "ACTIVE")

    await until(aws_has)


async def _addon_status(world: World, name: str, addon: str, status: str) -> bool:
    aws = addons_in_aws(await world.sim_cluster(name))
    return addon in aws and aws[addon]["status"] == status


async def test_upgrade_order_control_plane_then_addons_then_node_groups(world: World) -> None:
    await world.apply(
        created(
            "up1",
            nodeGroups=[nodegroup("ng1")],
            addons=[{"name": "kube-proxy", "version": "latest"}, {"name": "coredns", "version": "default"}],
        )
    )
    await world.wait_for("up1", converged, timeout=60, what="converged")
    assert addons_in_aws(await world.sim_cluster("up1"))["kube-proxy"]["version"] == "v1.30.0-eksbuild.2"
    c = await world.get("up1")
    groups = [ng for ng in c.spec.eks_config.node_groups or []]

    await world.edit(
        "up1",
        kubernetes_version="1.31",
        node_groups=[msgspec.structs.replace(ng, version="1.31") for ng in groups],
    )
    await world.wait_for(
        "up1", lambda c: converged(c) and c.spec.eks_config.kubernetes_version == "1.31", timeout=60
    )
    cluster = await world.sim_cluster("up1")
    assert addons_in_aws(cluster)["kube-proxy"]["version"] == "v1.31.0-eksbuild.2"
    order = [
        (u["type"], u["addon"] or u["nodegroup"] or "cluster")
        for u in cluster["updates"]
        if u["type"] in ("VersionUpdate", "AddonUpdate")
    ]
    assert order[0] == ("VersionUpdate", "cluster")
    assert order[-1] == ("VersionUpdate", "ng1")
    assert ("AddonUpdate", "kube-proxy") in order[1:-1]


async def test_a_pinned_incompatible_addon_stops_the_upgrade(world: World) -> None:
    await world.apply(
        created("up2", nodeGroups=[], addons=[{"name": "kube-proxy", "version": "v1.30.0-eksbuild.2"}])
    )
    await world.wait_for("up2", converged, timeout=60, what="converged")
    await world.edit("up2", kubernetes_version="1.31")
    c = await world.wait_for("up2", lambda c: "kube-proxy" in c.status.failure_message, what="stopped")
    assert c.status.failure_message == (
        "add-on kube-proxy version v1.30.0-eksbuild.2 does not run on Kubernetes 1.31: the upgrade to 1.31 "
        "is stopped; set addons[kube-proxy].version to a version for 1.31, default or latest"
    )
    cluster = await world.sim_cluster("up2")
    assert cluster["version"] == "1.30" and not [
        u for u in cluster["updates"] if u["type"] == "VersionUpdate"
    ]


async def test_the_ebs_shortcut_is_one_more_addon(world: World) -> None:
    await world.apply(created("ebs1", nodeGroups=[], ebsCSIDriver=True, addons=[{"name": "vpc-cni"}]))
    c = await world.wait_for("ebs1", converged, timeout=60, what="converged")
    aws = addons_in_aws(await world.sim_cluster("ebs1"))
    assert set(aws) == {"vpc-cni", "aws-ebs-csi-driver"}
    assert aws["aws-ebs-csi-driver"]["serviceAccountRoleArn"]  # the IRSA role the stack made
    upstream = c.status.eks_status.upstream_spec
    assert upstream is not None and upstream.ebs_csi_driver is True
    assert [a.name for a in upstream.addons or []] == ["vpc-cni"]  # the shortcut's add-on is not in the list
    await tick_and_settle(world, "ebs1")
    assert set(addons_in_aws(await world.sim_cluster("ebs1"))) == {"vpc-cni", "aws-ebs-csi-driver"}
    await world.delete("ebs1")
    await gone_from_aws(world)
