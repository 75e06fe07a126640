"""EKS resource records of the simulator and their wire rendering (pure; no I/O).

Records are mutable msgspec structs so that the whole state persists with one encode. ``due`` is the
event-loop time of the record's next lifecycle transition (None when it is stable); it is converted
to a relative delay when the state is saved.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._model_extras import AccessEntryRec, FargateRec, PodIdentityRec

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


class Taint(msgspec.Struct):
    key: str
    effect: str
    value: str | None = None


def render_taint(t: Taint) -> dict[str, str]:
    """A taint as EKS sends it: a taint without a value has no ``value`` member (never ``null``)."""
    out = {"key": t.key, "effect": t.effect}
    if t.value is not None:
        out["value"] = t.value
    return out


class UpdateRec(msgspec.Struct):
    id: str
    type: str
    status: str
    created_at: float
    params: list[tuple[str, str]]
    changes: dict[str, Any]
    """What the update applies when it completes (keys understood by its target resource's
    ``apply_update`` only; see ``_updates.Plan``)."""
    nodegroup: str | None = None
    addon: str | None = None
    token: str | None = None
    due: float | None = None


class NodegroupRec(msgspec.Struct):
    name: str
    arn: str
    status: str
    version: str
    release_version: str
    created_at: float
    modified_at: float
    capacity_type: str
    min_size: int
    max_size: int
    desired_size: int
    subnets: list[str]
    ami_type: str
    node_role: str
    asg_name: str
    labels: dict[str, str] = {}
    taints: list[Taint] = []
    tags: dict[str, str] = {}
    instance_types: list[str] | None = None
    disk_size: int | None = None
    launch_template: dict[str, str] | None = None
    remote_access: dict[str, Any] | None = None
    max_unavailable: int = 1
    max_unavailable_percentage: int | None = None
    """When set, the update config is this percentage instead of ``max_unavailable``."""
    token: str | None = None
    due: float | None = None


class AddonRec(msgspec.Struct):
    name: str
    arn: str
    status: str
    version: str
    created_at: float
    modified_at: float
    service_account_role_arn: str | None = None
    configuration_values: str | None = None
    tags: dict[str, str] = {}
    pod_identity_associations: list[str] = []
    """ARNs of the Pod Identity associations the add-on owns (their ``owner_arn`` is the add-on's ARN)."""
    token: str | None = None
    due: float | None = None


class ClusterRec(msgspec.Struct):
    name: str
    region: str
    arn: str
    id: str
    status: str
    version: str
    platform_version: str
    role_arn: str
    created_at: float
    endpoint_access: str
    """How the downstream endpoint behaves: public, unresolvable or blackhole."""
    subnet_ids: list[str]
    security_group_ids: list[str]
    cluster_security_group_id: str
    vpc_id: str
    public_access: bool
    private_access: bool
    public_access_cidrs: list[str]
    ip_family: str
    service_cidr: str
    oidc_id: str
    logging: list[str] = []
    encryption: list[dict[str, Any]] | None = None
    tags: dict[str, str] = {}
    authentication_mode: str = "CONFIG_MAP"
    bootstrap_admin: bool = True
    """bootstrapClusterCreatorAdminPermissions: the creator is a cluster admin."""
    creator_arn: str | None = None
    """The IAM principal that called CreateCluster; None for clusters made through the control API,
    whose creator is whoever asks (so any caller gets in, as before access was simulated)."""
    support_type: str = "EXTENDED"
    deletion_protection: bool = False
    nodegroups: dict[str, NodegroupRec] = {}
    addons: dict[str, AddonRec] = {}
    access_entries: dict[str, AccessEntryRec] = {}
    pod_identity: dict[str, PodIdentityRec] = {}
    fargate: dict[str, FargateRec] = {}
    updates: dict[str, UpdateRec] = {}
    endpoint: str = ""
    ca_data: str = ""
    token: str | None = None
    due: float | None = None


# --- rendering ------------------------------------------------------------------------------------


def render_logging(enabled: list[str]) -> dict[str, Any]:
    # Real EKS answers with the enabled setup first and the disabled one second; clients that read
    # only the first entry (eks-operator) depend on that order.
    on = [t for t in LOG_TYPES if t in enabled]
    off = [t for t in LOG_TYPES if t not in enabled]
    setups: list[dict[str, Any]] = []
    if on:
        setups.append({"types": on, "enabled": True})
    if off:
        setups.append({"types": off, "enabled": False})
    return {"clusterLogging": setups}


def render_cluster(c: ClusterRec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": c.name,
        "arn": c.arn,
        "createdAt": c.created_at,
        "version": c.version,
        "roleArn": c.role_arn,
        "resourcesVpcConfig": {
            "subnetIds": c.subnet_ids,
            "securityGroupIds": c.security_group_ids,
            "clusterSecurityGroupId": c.cluster_security_group_id,
            "vpcId": c.vpc_id,
            "endpointPublicAccess": c.public_access,
            "endpointPrivateAccess": c.private_access,
            "publicAccessCidrs": c.public_access_cidrs,
        },
        "kubernetesNetworkConfig": (
            {"serviceIpv6Cidr": c.service_cidr, "ipFamily": "ipv6"}
            if c.ip_family == "ipv6"
            else {"serviceIpv4Cidr": c.service_cidr, "ipFamily": "ipv4"}
        ),
        "logging": render_logging(c.logging),
        "status": c.status,
        "certificateAuthority": {},
        "platformVersion": c.platform_version,
        "tags": c.tags,
        "id": c.id,
        "health": {"issues": []},
        "accessConfig": {
            "authenticationMode": c.authentication_mode,
            "bootstrapClusterCreatorAdminPermissions": c.bootstrap_admin,
        },
        "upgradePolicy": {"supportType": c.support_type},
        "deletionProtection": c.deletion_protection,
    }
    if c.encryption:
        out["encryptionConfig"] = c.encryption
    # Like EKS, the endpoint, CA and OIDC issuer appear once the control plane exists.
    if c.status != "CREATING":
        out["endpoint"] = c.endpoint
        out["certificateAuthority"] = {"data": c.ca_data}
        out["identity"] = {"oidc": {"issuer": f"https://oidc.eks.{c.region}.amazonaws.com/id/{c.oidc_id}"}}
    if c.token is not None:
        out["clientRequestToken"] = c.token
    return out


def render_nodegroup(cluster: str, n: NodegroupRec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "nodegroupName": n.name,
        "nodegroupArn": n.arn,
        "clusterName": cluster,
        "version": n.version,
        "releaseVersion": n.release_version,
        "createdAt": n.created_at,
        "modifiedAt": n.modified_at,
        "status": n.status,
        "capacityType": n.capacity_type,
        "scalingConfig": {"minSize": n.min_size, "maxSize": n.max_size, "desiredSize": n.desired_size},
        "subnets": n.subnets,
        "amiType": n.ami_type,
        "nodeRole": n.node_role,
        "labels": n.labels,
        "resources": {"autoScalingGroups": [{"name": n.asg_name}]},
        "health": {"issues": []},
        "updateConfig": (
            {"maxUnavailablePercentage": n.max_unavailable_percentage}
            if n.max_unavailable_percentage is not None
            else {"maxUnavailable": n.max_unavailable}
        ),
        "tags": n.tags,
    }
    if n.taints:
        out["taints"] = [render_taint(t) for t in n.taints]
    if n.instance_types is not None:
        out["instanceTypes"] = n.instance_types
    if n.disk_size is not None:
        out["diskSize"] = n.disk_size
    if n.launch_template is not None:
        out["launchTemplate"] = n.launch_template
    if n.remote_access is not None:
        out["remoteAccess"] = n.remote_access
    return out


def render_addon(cluster: str, a: AddonRec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "addonName": a.name,
        "clusterName": cluster,
        "status": a.status,
        "addonVersion": a.version,
        "health": {"issues": []},
        "addonArn": a.arn,
        "createdAt": a.created_at,
        "modifiedAt": a.modified_at,
        "tags": a.tags,
    }
    if a.service_account_role_arn is not None:
        out["serviceAccountRoleArn"] = a.service_account_role_arn
    if a.configuration_values is not None:
        out["configurationValues"] = a.configuration_values
    if a.pod_identity_associations:
        out["podIdentityAssociations"] = list(a.pod_identity_associations)
    return out


def render_update(u: UpdateRec) -> dict[str, Any]:
    return {
        "id": u.id,
        "status": u.status,
        "type": u.type,
        "params": [{"type": t, "value": v} for t, v in u.params],
        "createdAt": u.created_at,
        "errors": [],
    }
