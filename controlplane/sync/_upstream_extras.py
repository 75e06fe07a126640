"""The upstream spec's fields beyond Rancher's: access entries, Pod Identity associations, add-ons and
Fargate profiles (from their own EKS reads), and the cluster's access, upgrade and protection settings
and a node group's taints and update config (from DescribeCluster and DescribeNodegroup). Pure.

What EKS owns is left out, so that no keyed list can delete it: the access entries EKS made for the node
roles of managed node groups and the pod execution roles of Fargate profiles, any principal the caller
names in ``hidden_principals`` (the creator's bootstrap entry), and the Pod Identity associations an
add-on owns (they appear in that add-on's ``podIdentityAssociations``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import msgspec

from controlplane.api import (
    AccessEntry,
    AccessPolicy,
    AccessScope,
    Addon,
    AddonPodIdentity,
    EKSClusterConfigSpec,
    FargateProfile,
    FargateSelector,
    NodeGroupUpdateConfig,
    PodIdentityAssociation,
    Taint,
    UpgradePolicy,
)

Raw = Mapping[str, Any]
COMPUTE_ENTRY_TYPES = frozenset({"EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX"})
EBS_CSI_ADDON = "aws-ebs-csi-driver"


class Extras(msgspec.Struct, frozen=True, kw_only=True):
    """The answers of the reads beyond DescribeCluster and the node groups, as botocore parses them.
    None: not read this time (the field is then null in the upstream spec)."""

    access_entries: list[tuple[dict[str, Any], list[dict[str, Any]]]] | None = None
    """``(DescribeAccessEntry["accessEntry"], ListAssociatedAccessPolicies["associatedAccessPolicies"])``
    per entry ListAccessEntries returned; ``[]`` for a cluster whose mode is CONFIG_MAP."""
    pod_identity_associations: list[dict[str, Any]] | None = None
    """``DescribePodIdentityAssociation["association"]`` per association (add-on owned ones included)."""
    addons: list[dict[str, Any]] | None = None
    """``DescribeAddon["addon"]`` per add-on ListAddons returned."""
    fargate_profiles: list[dict[str, Any]] | None = None
    """``DescribeFargateProfile["fargateProfile"]`` per profile ListFargateProfiles returned."""
    hidden_principals: frozenset[str] = frozenset()
    """Access entries left out of the upstream spec (the creator's bootstrap entry of a cluster we made)."""


def iam_principal(arn: str) -> str:
    """The IAM ARN an access entry names for a caller ARN: an STS assumed-role session is its role
    (``arn:aws:sts::1:assumed-role/R/s`` -> ``arn:aws:iam::1:role/R``), an STS user its IAM user."""
    if not arn.startswith("arn:"):
        return arn
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "sts":
        return arn
    partition, account, resource = parts[1], parts[4], parts[5]
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        return f"arn:{partition}:iam::{account}:role/{rest.split('/', 1)[0]}"
    return f"arn:{partition}:iam::{account}:{resource}"


def cluster_fields(cluster: Raw) -> dict[str, Any]:
    """The cluster-level settings DescribeCluster reports, as spec attributes (None when absent)."""
    access = cluster.get("accessConfig") or {}
    policy = cluster.get("upgradePolicy") or {}
    return {
        "authentication_mode": access.get("authenticationMode"),
        "bootstrap_cluster_creator_admin_permissions": access.get("bootstrapClusterCreatorAdminPermissions"),
        "upgrade_policy": UpgradePolicy(support_type=policy["supportType"])
        if policy.get("supportType")
        else None,
        "deletion_protection": cluster.get("deletionProtection"),
    }


def taints(raw: Raw) -> list[Taint]:
    """A node group's taints (always a list, like its labels); an empty value reads as no value."""
    return [
        Taint(key=t.get("key"), value=t.get("value") or None, effect=t.get("effect"))
        for t in raw.get("taints") or []
    ]


def update_config(raw: Raw) -> NodeGroupUpdateConfig | None:
    config = raw.get("updateConfig")
    if not config:
        return None
    return NodeGroupUpdateConfig(
        max_unavailable=config.get("maxUnavailable"),
        max_unavailable_percentage=config.get("maxUnavailablePercentage"),
    )


def _policy(raw: Raw) -> AccessPolicy:
    scope = raw.get("accessScope") or {}
    return AccessPolicy(
        policy_arn=raw.get("policyArn"),
        access_scope=AccessScope(
            type=scope.get("type"), namespaces=list(scope.get("namespaces") or []) or None
        ),
    )


def access_entries(
    pairs: Sequence[tuple[Raw, Sequence[Raw]]], owned_by_eks: Collection[str]
) -> list[AccessEntry]:
    """The access entries, without those EKS made for its own compute or the caller hides."""
    out: list[AccessEntry] = []
    for entry, policies in pairs:
        arn = str(entry.get("principalArn") or "")
        if arn in owned_by_eks and entry.get("type") in COMPUTE_ENTRY_TYPES:
            continue
        out.append(
            AccessEntry(
                principal_arn=arn,
                type=entry.get("type"),
                kubernetes_groups=list(entry.get("kubernetesGroups") or []),
                username=entry.get("username"),
                tags=dict(entry.get("tags") or {}),
                access_policies=[_policy(p) for p in policies],
            )
        )
    return out


def pod_identity_associations(associations: Sequence[Raw]) -> list[PodIdentityAssociation]:
    """The associations nothing else owns (an add-on's are listed in the add-on)."""
    return [
        PodIdentityAssociation(
            namespace=a.get("namespace"),
            service_account=a.get("serviceAccount"),
            role_arn=a.get("roleArn"),
            tags=dict(a.get("tags") or {}),
        )
        for a in associations
        if not a.get("ownerArn")
    ]


def addons(described: Sequence[Raw], associations: Sequence[Raw]) -> list[Addon]:
    """The add-ons (DELETING ones left out), each with the Pod Identity associations it owns."""
    owned: dict[str, list[AddonPodIdentity]] = {}
    for a in associations:
        owner = a.get("ownerArn")
        if owner:
            owned.setdefault(str(owner), []).append(
                AddonPodIdentity(service_account=a.get("serviceAccount"), role_arn=a.get("roleArn"))
            )
    return [
        Addon(
            name=a.get("addonName"),
            version=a.get("addonVersion"),
            configuration_values=a.get("configurationValues") or None,
            service_account_role_arn=a.get("serviceAccountRoleArn"),
            pod_identity_associations=owned.get(str(a.get("addonArn") or ""), []),
        )
        for a in described
        if a.get("status") != "DELETING"
    ]


def fargate_profiles(described: Sequence[Raw]) -> list[FargateProfile]:
    """The Fargate profiles, DELETING ones left out."""
    return [
        FargateProfile(
            name=p.get("fargateProfileName"),
            pod_execution_role_arn=p.get("podExecutionRoleArn"),
            subnets=list(p.get("subnets") or []),
            selectors=[
                FargateSelector(
                    namespace=s.get("namespace"),
                    labels=dict(s["labels"]) if s.get("labels") is not None else None,
                )
                for s in p.get("selectors") or []
            ],
            tags=dict(p.get("tags") or {}),
        )
        for p in described
        if p.get("status") != "DELETING"
    ]


def extra_fields(extras: Extras, nodegroups: Sequence[Raw]) -> dict[str, Any]:
    """The keyed lists ``extras`` holds, as spec attributes (None for what was not read)."""
    owned_by_eks = {str(ng.get("nodeRole") or "") for ng in nodegroups}
    owned_by_eks |= {str(p.get("podExecutionRoleArn") or "") for p in extras.fargate_profiles or []}
    associations = extras.pod_identity_associations
    out: dict[str, Any] = {
        "access_entries": None,
        "pod_identity_associations": None,
        "addons": None,
        "fargate_profiles": None,
    }
    if extras.access_entries is not None:
        entries = access_entries(extras.access_entries, owned_by_eks)
        out["access_entries"] = [e for e in entries if e.principal_arn not in extras.hidden_principals]
    if associations is not None:
        out["pod_identity_associations"] = pod_identity_associations(associations)
    if extras.addons is not None:
        out["addons"] = addons(extras.addons, associations or [])
    if extras.fargate_profiles is not None:
        out["fargate_profiles"] = fargate_profiles(extras.fargate_profiles)
    return out


def hide_shortcut_addon(spec: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec) -> EKSClusterConfigSpec:
    """``ebsCSIDriver: true`` manages the EBS CSI add-on: a managed ``addons`` list that does not name it
    does not see it (so it is neither deleted nor adopted into the list)."""
    if not spec.ebs_csi_driver or spec.addons is None or upstream.addons is None:
        return upstream
    if any(a.name == EBS_CSI_ADDON for a in spec.addons):
        return upstream
    kept = [a for a in upstream.addons if a.name != EBS_CSI_ADDON]
    return msgspec.structs.replace(upstream, addons=kept)
