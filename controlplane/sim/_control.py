"""The ``/_sim/`` control API: pre-create clusters, change them as the console would, read state."""

from __future__ import annotations

from typing import Any

import msgspec

from . import _cluster_config, _clusters, _nodegroup_config, _nodegroups
from . import _errors as err
from ._backend import EksBackend
from ._model import LOG_TYPES, ClusterRec, NodegroupRec, render_update
from ._settings import EndpointAccess
from ._shapes import TaintIn
from ._updates import Plan, new_update
from ._wire import Json


class NodegroupSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    desiredSize: int = 2
    minSize: int = 1
    maxSize: int = 3
    instanceType: str = "t3.medium"
    labels: dict[str, str] = {}
    tags: dict[str, str] = {}
    version: str | None = None
    diskSize: int = 20
    subnets: list[str] | None = None
    nodeRole: str | None = None
    amiType: str = "AL2023_x86_64_STANDARD"
    capacityType: str = "ON_DEMAND"
    launchTemplate: dict[str, str] | None = None
    taints: list[dict[str, str]] = []


class ClusterSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    region: str | None = None
    version: str | None = None
    publicAccess: bool = True
    privateAccess: bool = False
    endpointAccess: EndpointAccess | None = None
    publicAccessSources: list[str] | None = None
    tags: dict[str, str] = {}
    loggingTypes: list[str] = []
    subnets: list[str] | None = None
    securityGroups: list[str] = []
    roleArn: str | None = None
    ipFamily: str = "ipv4"
    nodegroups: list[NodegroupSpec] = []
    authenticationMode: str = "CONFIG_MAP"
    supportType: str = "EXTENDED"
    deletionProtection: bool = False
    creatorArn: str | None = None
    """The IAM principal that made the cluster; None lets any caller in (and makes no creator entry)."""


class BatchSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    count: int
    prefix: str = "sim-"
    start: int = 0
    template: dict[str, Any] = {}


class NodegroupPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    desiredSize: int | None = None
    minSize: int | None = None
    maxSize: int | None = None
    labels: dict[str, str] | None = None
    tags: dict[str, str] | None = None
    version: str | None = None


class ClusterPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    region: str | None = None
    tags: dict[str, str] | None = None
    publicAccess: bool | None = None
    privateAccess: bool | None = None
    publicAccessSources: list[str] | None = None
    loggingTypes: list[str] | None = None
    version: str | None = None
    nodegroups: dict[str, NodegroupPatch] = {}
    deleteNodegroups: list[str] = []


def _fake_id(prefix: str, seed: str) -> str:
    return f"{prefix}-{abs(hash(seed)) % 16**17:017x}"


def create_cluster(b: EksBackend, spec: ClusterSpec) -> ClusterRec:
    """An ACTIVE cluster with ACTIVE node groups, as if it had been made outside the control plane."""
    s = b.settings
    region = spec.region or s.default_region
    _clusters.existing(b, region, spec.name, None)
    version = b.version(spec.version)
    _cluster_config.check_log_types(spec.loggingTypes)
    groups = [(ng, _nodegroup_version(b, spec.name, version, ng)) for ng in spec.nodegroups]
    subnets = spec.subnets or [_fake_id("subnet", spec.name + "a"), _fake_id("subnet", spec.name + "b")]
    cidrs = spec.publicAccessSources or _cluster_config.default_cidrs(spec.ipFamily)
    c = _clusters.new_cluster(
        b,
        region,
        spec.name,
        version=version,
        role_arn=spec.roleArn or f"arn:aws:iam::{s.account_id}:role/{spec.name}-eks-service-role",
        subnet_ids=subnets,
        security_group_ids=list(spec.securityGroups),
        public=spec.publicAccess,
        private=spec.privateAccess,
        cidrs=cidrs,
        ip_family=spec.ipFamily,
        logging=[t for t in LOG_TYPES if t in spec.loggingTypes],
        tags=dict(spec.tags),
        encryption=None,
        endpoint_access=spec.endpointAccess,
        status="ACTIVE",
        authentication_mode=spec.authenticationMode,
        creator_arn=spec.creatorArn,
        support_type=spec.supportType,
        deletion_protection=spec.deletionProtection,
    )
    for ng, ng_version in groups:
        _new_nodegroup(b, c, ng, ng_version, status="ACTIVE")
    return c


def _nodegroup_version(b: EksBackend, cluster: str, cluster_version: str, ng: NodegroupSpec) -> str:
    """The new node group's version, after the checks CreateNodegroup makes of its values."""
    _nodegroup_config.check_scaling(ng.minSize, ng.maxSize, ng.desiredSize)
    version = b.version(ng.version or cluster_version)
    _nodegroup_config.check_version(cluster, cluster_version, version, ng.name)
    return version


def _new_nodegroup(b: EksBackend, c: ClusterRec, ng: NodegroupSpec, version: str, status: str) -> None:
    lt = ng.launchTemplate
    _nodegroups.new_nodegroup(
        b,
        c,
        ng.name,
        version=version,
        min_size=ng.minSize,
        max_size=ng.maxSize,
        desired_size=ng.desiredSize,
        subnets=ng.subnets or list(c.subnet_ids),
        node_role=ng.nodeRole or f"arn:aws:iam::{b.settings.account_id}:role/{c.name}-node-instance-role",
        instance_types=None if lt else [ng.instanceType],
        disk_size=None if lt else ng.diskSize,
        ami_type=ng.amiType,
        capacity_type=ng.capacityType,
        labels=dict(ng.labels),
        taints=[_nodegroup_config.taint(TaintIn(**t)) for t in ng.taints],
        tags=dict(ng.tags),
        launch_template=lt,
        remote_access=None,
        status=status,
    )


def patch_cluster(b: EksBackend, region: str, name: str, p: ClusterPatch) -> Json:
    """Change a cluster as the console would. Version, endpoint and logging changes and node group
    scaling/label/version changes go through UPDATING with update IDs; tags change at once. The
    values are checked as the API checks them, all before anything changes; but unlike the API,
    several updates may start in one patch, whatever the cluster is doing (the test author asked
    for all of them)."""
    c = b.cluster(region, name)
    if c.status not in ("ACTIVE", "UPDATING"):
        raise err.in_use(f"Cluster {name} is {c.status}.", clusterName=name)
    updates: list[tuple[str, Plan, NodegroupRec | None]] = []
    if p.version is not None and p.version != c.version:
        updates.append(("VersionUpdate", _cluster_config.version_plan(b.version(p.version)), None))
    if p.publicAccess is not None or p.privateAccess is not None or p.publicAccessSources is not None:
        public = c.public_access if p.publicAccess is None else p.publicAccess
        private = c.private_access if p.privateAccess is None else p.privateAccess
        plan = _cluster_config.endpoint_plan(c, public, private, p.publicAccessSources)
        updates.append(("EndpointAccessUpdate", plan, None))
    if p.loggingTypes is not None:
        _cluster_config.check_log_types(p.loggingTypes)
        on = set(p.loggingTypes)
        updates.append(("LoggingUpdate", _cluster_config.logging_plan(c, on, set(LOG_TYPES) - on), None))
    created: list[tuple[NodegroupSpec, str]] = []
    edited: list[tuple[NodegroupRec, NodegroupPatch]] = []
    for ng_name, ngp in p.nodegroups.items():
        n = c.nodegroups.get(ng_name)
        if n is None:
            given = {k: v for k, v in msgspec.structs.asdict(ngp).items() if v is not None}
            spec = NodegroupSpec(name=ng_name, **given)
            created.append((spec, _nodegroup_version(b, c.name, c.version, spec)))
            continue
        edited.append((n, ngp))
        labels = n.labels if ngp.labels is None else ngp.labels
        plan = _nodegroup_config.config_plan(
            n,
            min_size=ngp.minSize,
            max_size=ngp.maxSize,
            desired_size=ngp.desiredSize,
            labels_add={k: v for k, v in labels.items() if n.labels.get(k) != v},
            labels_remove=[k for k in n.labels if k not in labels],
        )
        if plan.changes:
            updates.append(("ConfigUpdate", plan, n))
        if ngp.version is not None and ngp.version != n.version:
            updates.append(("VersionUpdate", _nodegroup_config.version_plan(b.version(ngp.version)), n))
    doomed = [c.nodegroups.get(ng_name) or _no_nodegroup(name, ng_name) for ng_name in p.deleteNodegroups]
    # Everything is checked: now the changes, in the order the patch lists them.
    if p.tags is not None:
        c.tags = dict(p.tags)
    for n, ngp in edited:
        if ngp.tags is not None:
            n.tags = dict(ngp.tags)
    for spec, version in created:
        _new_nodegroup(b, c, spec, version, status="CREATING")
    started = [render_update(new_update(b, c, type_, plan, nodegroup=n)) for type_, plan, n in updates]
    for n in doomed:
        if n.status != "DELETING":
            _nodegroups.start_delete(b, c, n)
    b.touch(c)
    return {"updates": started}


def _no_nodegroup(cluster: str, name: str) -> NodegroupRec:
    raise err.nodegroup_not_found(cluster, name)


def delete_cluster(b: EksBackend, region: str, name: str) -> None:
    """Delete as the console does: node groups first, the cluster once they are gone."""
    c = b.cluster(region, name)
    for n in c.nodegroups.values():
        if n.status != "DELETING":
            _nodegroups.start_delete(b, c, n)
    delay = b.settings.cluster_delete_seconds
    if c.nodegroups:
        delay += b.settings.nodegroup_delete_seconds
    _clusters.start_delete(b, c, delay)


def state(b: EksBackend) -> list[Json]:
    out: list[Json] = []
    for c in b.clusters():
        out.append(
            {
                "name": c.name,
                "region": c.region,
                "arn": c.arn,
                "oidcIssuer": f"oidc.eks.{c.region}.amazonaws.com/id/{c.oidc_id}",
                "status": c.status,
                "version": c.version,
                "endpoint": c.endpoint,
                "endpointAccess": c.endpoint_access,
                "publicAccess": c.public_access,
                "privateAccess": c.private_access,
                "publicAccessSources": c.public_access_cidrs,
                "loggingTypes": c.logging,
                "tags": c.tags,
                "authenticationMode": c.authentication_mode,
                "supportType": c.support_type,
                "deletionProtection": c.deletion_protection,
                "accessEntries": [
                    {
                        "principalArn": e.principal_arn,
                        "type": e.type,
                        "kubernetesGroups": e.kubernetes_groups,
                        "username": e.username,
                        "tags": e.tags,
                        "policies": {
                            p.policy_arn: {"type": p.scope_type, "namespaces": p.namespaces}
                            for p in e.policies.values()
                        },
                    }
                    for e in c.access_entries.values()
                ],
                "podIdentityAssociations": [
                    {
                        "namespace": a.namespace,
                        "serviceAccount": a.service_account,
                        "roleArn": a.role_arn,
                        "tags": a.tags,
                        "ownerArn": a.owner_arn,
                    }
                    for a in c.pod_identity.values()
                ],
                "fargateProfiles": [
                    {
                        "name": f.name,
                        "status": f.status,
                        "podExecutionRoleArn": f.pod_execution_role_arn,
                        "selectors": f.selectors,
                        "tags": f.tags,
                    }
                    for f in c.fargate.values()
                ],
                "nodegroups": [
                    {
                        "name": n.name,
                        "arn": n.arn,
                        "status": n.status,
                        "version": n.version,
                        "desiredSize": n.desired_size,
                        "minSize": n.min_size,
                        "maxSize": n.max_size,
                        "labels": n.labels,
                        "tags": n.tags,
                        "launchTemplate": n.launch_template,
                        "taints": [msgspec.structs.asdict(t) for t in n.taints],
                        "maxUnavailable": n.max_unavailable,
                        "maxUnavailablePercentage": n.max_unavailable_percentage,
                    }
                    for n in c.nodegroups.values()
                ],
                "addons": [
                    {
                        "name": a.name,
                        "status": a.status,
                        "version": a.version,
                        "configurationValues": a.configuration_values,
                        "serviceAccountRoleArn": a.service_account_role_arn,
                    }
                    for a in c.addons.values()
                ],
                "updates": [
                    {
                        "id": u.id,
                        "type": u.type,
                        "status": u.status,
                        "nodegroup": u.nodegroup,
                        "addon": u.addon,
                    }
                    for u in c.updates.values()
                ],
            }
        )
    return out
