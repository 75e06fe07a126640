"""The upstream spec's new fields, from botocore-shaped answers: what is shown, and what EKS owns and is
left out (so that no keyed list ever deletes it)."""

from __future__ import annotations

from typing import Any

from controlplane.api import (
    AccessEntry,
    AccessPolicy,
    AccessScope,
    Addon,
    AddonPodIdentity,
    EKSClusterConfigSpec,
    FargateProfile,
    FargateSelector,
    PodIdentityAssociation,
    Taint,
    UpgradePolicy,
)
from controlplane.sync import Extras, build_upstream_spec, iam_principal

A = "123456789012"
NODE_ROLE = f"arn:aws:iam::{A}:role/nodes"
POD_ROLE = f"arn:aws:iam::{A}:role/fargate-pods"
ME = f"arn:aws:iam::{A}:user/ops"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
ADDON_ARN = f"arn:aws:eks:us-east-1:{A}:addon/c/aws-ebs-csi-driver/1"


def cluster(**extra: Any) -> dict[str, Any]:
    return {
        "name": "c",
        "arn": f"arn:aws:eks:us-east-1:{A}:cluster/c",
        "version": "1.31",
        "status": "ACTIVE",
        "resourcesVpcConfig": {"subnetIds": ["subnet-a"], "endpointPublicAccess": True},
        "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
        "upgradePolicy": {"supportType": "STANDARD"},
        "deletionProtection": True,
        **extra,
    }


def entry(arn: str, type_: str = "STANDARD", **extra: Any) -> dict[str, Any]:
    return {"principalArn": arn, "type": type_, "kubernetesGroups": [], "username": arn, **extra}


EXTRAS = Extras(
    access_entries=[
        (
            entry(ME, tags={"t": "1"}),
            [{"policyArn": ADMIN, "accessScope": {"type": "cluster", "namespaces": []}}],
        ),
        (entry(NODE_ROLE, "EC2_LINUX"), []),  # EKS made it for the node group
        (entry(POD_ROLE, "FARGATE_LINUX"), []),  # EKS made it for the Fargate profile
        (entry(f"arn:aws:iam::{A}:role/self-managed", "EC2_LINUX"), []),  # the user's own
        (entry(f"arn:aws:iam::{A}:role/creator"), []),
    ],
    pod_identity_associations=[
        {"namespace": "apps", "serviceAccount": "app", "roleArn": "r1", "tags": {}},
        {"namespace": "kube-system", "serviceAccount": "ebs-sa", "roleArn": "r2", "ownerArn": ADDON_ARN},
    ],
    addons=[
        {"addonName": "aws-ebs-csi-driver", "addonVersion": "v1", "addonArn": ADDON_ARN, "status": "ACTIVE"},
        {"addonName": "coredns", "addonVersion": "v2", "addonArn": "x", "status": "DELETING"},
        {"addonName": "vpc-cni", "addonVersion": "v3", "addonArn": "y", "configurationValues": "a: 1"},
    ],
    fargate_profiles=[
        {
            "fargateProfileName": "fp",
            "podExecutionRoleArn": POD_ROLE,
            "subnets": ["subnet-p"],
            "selectors": [{"namespace": "batch", "labels": {"k": "v"}}, {"namespace": "jobs"}],
            "status": "ACTIVE",
            "tags": {},
        },
        {"fargateProfileName": "old", "podExecutionRoleArn": POD_ROLE, "status": "DELETING"},
    ],
    hidden_principals=frozenset({f"arn:aws:iam::{A}:role/creator"}),
)
NODEGROUP = {
    "nodegroupName": "ng",
    "status": "ACTIVE",
    "nodeRole": NODE_ROLE,
    "taints": [
        {"key": "gpu", "value": "", "effect": "NO_SCHEDULE"},
        {"key": "a", "value": "b", "effect": "NO_EXECUTE"},
    ],
    "updateConfig": {"maxUnavailablePercentage": 25},
}


def build(spec: EKSClusterConfigSpec | None = None, extras: Extras | None = EXTRAS) -> EKSClusterConfigSpec:
    spec = spec or EKSClusterConfigSpec(display_name="c", imported=True)
    return build_upstream_spec(spec, cluster(), [NODEGROUP], cluster_name="c", extras=extras).spec


def test_cluster_settings_and_node_group_taints() -> None:
    up = build()
    assert up.authentication_mode == "API_AND_CONFIG_MAP"
    assert up.upgrade_policy == UpgradePolicy(support_type="STANDARD")
    assert up.deletion_protection is True
    (ng,) = up.node_groups or []
    assert ng.taints == [
        Taint(key="gpu", effect="NO_SCHEDULE"),
        Taint(key="a", value="b", effect="NO_EXECUTE"),
    ]
    assert ng.update_config is not None and ng.update_config.max_unavailable_percentage == 25


def test_access_entries_without_what_eks_owns_or_the_caller_hides() -> None:
    up = build()
    assert up.access_entries == [
        AccessEntry(
            principal_arn=ME,
            type="STANDARD",
            kubernetes_groups=[],
            username=ME,
            tags={"t": "1"},
            access_policies=[AccessPolicy(policy_arn=ADMIN, access_scope=AccessScope(type="cluster"))],
        ),
        AccessEntry(
            principal_arn=f"arn:aws:iam::{A}:role/self-managed",
            type="EC2_LINUX",
            kubernetes_groups=[],
            username=f"arn:aws:iam::{A}:role/self-managed",
            tags={},
            access_policies=[],
        ),
    ]


def test_addons_own_their_associations_and_deleting_ones_are_gone() -> None:
    up = build()
    assert up.pod_identity_associations == [
        PodIdentityAssociation(namespace="apps", service_account="app", role_arn="r1", tags={})
    ]
    assert up.addons == [
        Addon(
            name="aws-ebs-csi-driver",
            version="v1",
            pod_identity_associations=[AddonPodIdentity(service_account="ebs-sa", role_arn="r2")],
        ),
        Addon(name="vpc-cni", version="v3", configuration_values="a: 1", pod_identity_associations=[]),
    ]
    assert up.fargate_profiles == [
        FargateProfile(
            name="fp",
            pod_execution_role_arn=POD_ROLE,
            subnets=["subnet-p"],
            selectors=[
                FargateSelector(namespace="batch", labels={"k": "v"}),
                FargateSelector(namespace="jobs"),
            ],
            tags={},
        )
    ]


def test_not_read_is_null_and_the_ebs_shortcut_hides_its_addon() -> None:
    up = build(extras=None)
    assert up.access_entries is None and up.addons is None and up.fargate_profiles is None
    shortcut = EKSClusterConfigSpec(display_name="c", ebs_csi_driver=True, addons=[Addon(name="vpc-cni")])
    assert [a.name for a in build(shortcut).addons or []] == ["vpc-cni"]
    named = EKSClusterConfigSpec(
        display_name="c", ebs_csi_driver=True, addons=[Addon(name="aws-ebs-csi-driver")]
    )
    assert [a.name for a in build(named).addons or []] == ["aws-ebs-csi-driver", "vpc-cni"]


def test_iam_principal_of_a_caller() -> None:
    assert iam_principal(f"arn:aws:sts::{A}:assumed-role/Admin/session-1") == f"arn:aws:iam::{A}:role/Admin"
    assert iam_principal(f"arn:aws:sts::{A}:user/moto") == f"arn:aws:iam::{A}:user/moto"
    assert iam_principal(f"arn:aws-cn:iam::{A}:user/u") == f"arn:aws-cn:iam::{A}:user/u"
