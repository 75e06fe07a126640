"""Pure planning for the update pass: what to send to AWS next, in the order EKS accepts it.

Everything here is a function of (desired spec, upstream spec, status) and returns data; the actor does
the calls. The order and the comparisons follow eks-operator's ``updateUpstreamClusterState``: at most one
cluster-level mutation per pass (version, access, public CIDRs, tags, logging; then the authentication
mode, upgrade policy and deletion protection), then node groups (``_plan_nodegroups``).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import msgspec

from controlplane.api import EKSClusterConfigSpec

# Node-group planning lives in _plan_nodegroups; the actor reads all of it through this module.
from ._plan_nodegroups import (
    UserDataError,
    ami_type,
    launch_template_data,
    launch_template_differs,
    nodegroup_config_update,
    nodegroup_plan,
    nodegroup_tag_changes,
    nodegroup_version,
    tag_changes,
    wire_taints,
    wire_update_config,
)

__all__ = [  # the re-exported node-group planning (the names defined below are public too)
    "UserDataError",
    "ami_type",
    "launch_template_data",
    "launch_template_differs",
    "nodegroup_config_update",
    "nodegroup_plan",
    "nodegroup_tag_changes",
    "nodegroup_version",
    "tag_changes",
    "wire_taints",
    "wire_update_config",
]

LAUNCH_TEMPLATE_NAME_FORMAT = "rancher-managed-lt-{}"
LAUNCH_TEMPLATE_TAG_KEY = "rancher-managed-template"
LAUNCH_TEMPLATE_TAG_VALUE = "do-not-modify-or-delete"
PLACEHOLDER_USER_DATA = "cGxhY2Vob2xkZXIK"  # base64("placeholder\n"): AWS rejects an empty template
EBS_ADDON_NAME = "aws-ebs-csi-driver"
DEFAULT_ROOT_DEVICE = "/dev/xvda"
ALL_OPEN_V4 = ["0.0.0.0/0"]
ALL_OPEN_V6 = ["0.0.0.0/0", "::/0"]


_TOKEN_NAMESPACE = uuid.UUID("4d1c4b0e-3f0a-5b8e-9a76-2c2f1e6c8d51")
INTENTS_KEPT = 64
"""Bound of ``status.intents`` (the oldest entries are dropped)."""


def intent_token(cluster: str, created: str, intent: str, generation: int, count: int) -> str:
    """The idempotency token of a mutating call: the same for a retry of the same intent (same cluster,
    spec generation and number of earlier calls of it), new once a call of it went through."""
    return str(uuid.uuid5(_TOKEN_NAMESPACE, f"{cluster}\n{created}\n{intent}\n{generation}\n{count}"))


def vpc_stack_name(name: str) -> str:
    return f"{name}-eks-vpc"


def service_role_stack_name(name: str) -> str:
    return f"{name}-eks-service-role"


def node_role_stack_name(name: str) -> str:
    return f"{name}-node-instance-role"


def ebs_role_stack_name(name: str) -> str:
    return f"{name}-ebs-csi-driver-role"


def launch_template_name(name: str) -> str:
    return LAUNCH_TEMPLATE_NAME_FORMAT.format(name)


def is_ipv6(spec: EKSClusterConfigSpec) -> bool:
    return (spec.ip_family or "").lower() == "ipv6"


def parse_version(value: str) -> tuple[int, int, int]:
    """Tolerant semver (``1.30``, ``v1.30.2``); raises ValueError when there is no major.minor."""
    text = value.strip().lstrip("vV").split("-", 1)[0].split("+", 1)[0]
    parts = text.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:3]):
        raise ValueError(f"invalid version {value!r}")
    nums = [int(p) for p in parts[:3]] + [0] * (3 - len(parts[:3]))
    return nums[0], nums[1], nums[2]


def default_public_access_sources(spec: EKSClusterConfigSpec) -> list[str]:
    return list(ALL_OPEN_V6 if is_ipv6(spec) else ALL_OPEN_V4)


def filter_public_access_sources(sources: list[str], ipv6: bool) -> list[str]:
    """The operator's normalisation: an "all open" list compares as empty."""
    if not ipv6 and sources == ALL_OPEN_V4:
        return []
    if ipv6 and len(sources) == 2 and set(sources) == set(ALL_OPEN_V6):
        return []
    return sources


def _same_cidrs(desired: list[str], upstream: list[str]) -> bool:
    return len(desired) == len(upstream) and all(u in desired for u in upstream)


def logging_changes(desired: list[str], upstream: list[str]) -> tuple[list[str], list[str]]:
    """(types to enable, types to disable)."""
    enable = [t for t in desired if t not in upstream]
    disable = [t for t in upstream if t not in desired]
    return enable, disable


AUTHENTICATION_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
"""In EKS's one-way order."""


class ClusterMutation(msgspec.Struct, frozen=True):
    """One cluster-level call to make this pass."""

    kind: Literal[
        "version",
        "access",
        "cidrs",
        "tags",
        "logging",
        "authentication",
        "upgrade-policy",
        "deletion-protection",
    ]
    params: dict[str, Any]
    description: str


def next_cluster_mutation(
    desired: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec
) -> ClusterMutation | None:
    """The first cluster-level change needed, in the operator's order, or None.

    Unlike the operator, a downgrade or a jump of more than one minor version is not sent (EKS rejects
    both); the actor reports them through ``version_problem`` instead of retrying forever.
    """
    if desired.kubernetes_version and upstream.kubernetes_version:
        want = parse_version(desired.kubernetes_version)
        have = parse_version(upstream.kubernetes_version)
        if want > have and version_problem(desired.kubernetes_version, upstream.kubernetes_version) is None:
            return ClusterMutation(
                "version",
                {"version": desired.kubernetes_version},
                f"upgrade Kubernetes {upstream.kubernetes_version} -> {desired.kubernetes_version}",
            )
    access_differs = (
        desired.public_access is not None and desired.public_access != upstream.public_access
    ) or (desired.private_access is not None and desired.private_access != upstream.private_access)
    if access_differs:
        vpc: dict[str, Any] = {}
        # Both flags in one request: sending them apart can pass through "both disabled", which EKS refuses.
        vpc["endpointPublicAccess"] = (
            desired.public_access if desired.public_access is not None else upstream.public_access
        )
        vpc["endpointPrivateAccess"] = (
            desired.private_access if desired.private_access is not None else upstream.private_access
        )
        return ClusterMutation("access", {"resourcesVpcConfig": vpc}, "update endpoint access")
    if desired.public_access_sources is not None:
        ipv6 = is_ipv6(desired)
        want_cidrs = filter_public_access_sources(desired.public_access_sources, ipv6)
        have_cidrs = filter_public_access_sources(upstream.public_access_sources or [], is_ipv6(upstream))
        if not _same_cidrs(want_cidrs, have_cidrs):
            cidrs = desired.public_access_sources or default_public_access_sources(desired)
            return ClusterMutation(
                "cidrs", {"resourcesVpcConfig": {"publicAccessCidrs": cidrs}}, "update public access CIDRs"
            )
    if desired.tags is not None:
        add, remove = tag_changes(desired.tags, upstream.tags or {})
        if add or remove:
            return ClusterMutation("tags", {"add": add, "remove": remove}, "update cluster tags")
    if desired.logging_types is not None:
        enable, disable = logging_changes(desired.logging_types, upstream.logging_types or [])
        if enable or disable:
            setups = []
            if disable:
                setups.append({"types": disable, "enabled": False})
            if enable:
                setups.append({"types": enable, "enabled": True})
            return ClusterMutation("logging", {"logging": {"clusterLogging": setups}}, "update logging types")
    return _access_and_lifecycle_mutation(desired, upstream)


def _access_and_lifecycle_mutation(
    desired: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec
) -> ClusterMutation | None:
    """After the operator's mutations: the authentication mode (forward only; ``mode_problem`` reports a
    step back), the upgrade policy, deletion protection. Each is an EKS update of its own."""
    mode, have = desired.authentication_mode, upstream.authentication_mode
    if mode and have and mode != have and mode_problem(mode, have) is None:
        return ClusterMutation(
            "authentication",
            {"accessConfig": {"authenticationMode": mode}},
            f"change authenticationMode {have} -> {mode}",
        )
    policy = desired.upgrade_policy
    if policy is not None and policy.support_type and policy != upstream.upgrade_policy:
        return ClusterMutation(
            "upgrade-policy",
            {"upgradePolicy": {"supportType": policy.support_type}},
            f"set the upgrade policy to {policy.support_type} support",
        )
    protect = desired.deletion_protection
    if (
        protect is not None
        and upstream.deletion_protection is not None
        and protect != upstream.deletion_protection
    ):
        return ClusterMutation(
            "deletion-protection",
            {"deletionProtection": protect},
            "turn deletion protection " + ("on" if protect else "off"),
        )
    return None


def mode_problem(desired: str, upstream: str) -> str | None:
    """Why EKS cannot move from the ``upstream`` authentication mode to ``desired`` (None when it can)."""
    order = AUTHENTICATION_MODES
    if desired in order and upstream in order and order.index(desired) < order.index(upstream):
        return (
            f"authenticationMode {desired} is a step back from the cluster's {upstream}: EKS only moves "
            "CONFIG_MAP -> API_AND_CONFIG_MAP -> API"
        )
    return None


def version_problem(desired: str, upstream: str) -> str | None:
    """Why a requested cluster version cannot be applied, or None when it can (or is equal)."""
    want, have = parse_version(desired), parse_version(upstream)
    if want < have:
        return f"kubernetes version {desired} is older than the cluster's {upstream}: EKS cannot downgrade"
    if want[0] != have[0] or want[1] - have[1] > 1:
        return (
            f"kubernetes version {desired} is more than one minor version ahead of {upstream}: "
            f"EKS upgrades one minor version at a time"
        )
    return None


def create_cluster_request(
    spec: EKSClusterConfigSpec, *, role_arn: str, subnets: list[str], security_groups: list[str]
) -> dict[str, Any]:
    """``CreateCluster`` parameters built like the operator's ``newClusterInput``."""
    logging_setup = (
        [{"types": list(spec.logging_types), "enabled": True}]
        if spec.logging_types
        else [{"types": [], "enabled": False}]
    )
    params: dict[str, Any] = {
        "name": spec.display_name,
        "roleArn": role_arn,
        "resourcesVpcConfig": {
            "subnetIds": subnets,
            "securityGroupIds": security_groups,
            "endpointPublicAccess": bool(spec.public_access),
            "endpointPrivateAccess": bool(spec.private_access),
            "publicAccessCidrs": spec.public_access_sources or default_public_access_sources(spec),
        },
        "logging": {"clusterLogging": logging_setup},
        "kubernetesNetworkConfig": {"ipFamily": "ipv6" if is_ipv6(spec) else "ipv4"},
    }
    if spec.kubernetes_version:
        params["version"] = spec.kubernetes_version
    if spec.tags:
        params["tags"] = dict(spec.tags)
    if spec.secrets_encryption:
        params["encryptionConfig"] = [{"provider": {"keyArn": spec.kms_key or ""}, "resources": ["secrets"]}]
    access: dict[str, Any] = {}
    if spec.authentication_mode:
        access["authenticationMode"] = spec.authentication_mode
    if spec.bootstrap_cluster_creator_admin_permissions is not None:
        access["bootstrapClusterCreatorAdminPermissions"] = spec.bootstrap_cluster_creator_admin_permissions
    if access:
        params["accessConfig"] = access
    if spec.upgrade_policy is not None and spec.upgrade_policy.support_type:
        params["upgradePolicy"] = {"supportType": spec.upgrade_policy.support_type}
    if spec.deletion_protection is not None:
        params["deletionProtection"] = spec.deletion_protection
    return params
